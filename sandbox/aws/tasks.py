"""Stopped tasks as ECS reports them, for the deployments that fail (diagnostics read them back)."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from moto.ecs.models import Task


def record_stopped(
    ecs: Any,
    cluster_name: str,
    task_definition: str,
    service: str,
    started_by: str,
    count: int,
    reason: str,
    exit_code: int,
) -> None:
    """``count`` tasks of ``task_definition`` stopped with ``reason``, their containers exited with ``exit_code``."""
    cluster = ecs.clusters[cluster_name]
    # moto 5.2.5 cannot build an awsvpc task (its network interface lacks private_dns_name), and a
    # stopped task needs no network: describe it as a bridge task of the same definition.
    definition = copy.copy(ecs.describe_task_definition(task_definition))
    definition.network_mode = "bridge"
    for _ in range(count):
        task = Task(
            cluster, definition, None, None, ecs, group=f"service:{service}", launch_type="EC2", started_by=started_by
        )
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        task.stopped_reason = reason
        for container in task.containers:
            container.exitCode = exit_code
            container.last_status = "STOPPED"
        ecs.tasks.setdefault(cluster.name, {})[task.task_arn] = task


def _held(task: Task, status: str) -> None:
    """Pin a task at ``status``: moto's managed state would move a described RUNNING task on to
    DEACTIVATING, while a service's tasks keep running until ECS stops them."""
    task._transitions = [(status, status)]  # moto's own state machine: no public way to pin it
    task.desired_status = task.last_status = status


def _service_tasks(ecs: Any) -> dict[tuple[str, str], list[Task]]:
    found: dict[tuple[str, str], list[Task]] | None = getattr(ecs, "_sandbox_service_tasks", None)
    if found is None:
        found = {}
        ecs._sandbox_service_tasks = found
    return found


def keep_running(ecs: Any, cluster_name: str, service: str, wanted: dict[str, int], started_by: str) -> None:
    """The service's RUNNING tasks become ``wanted[task_definition]`` of each definition (the others stop),
    as ECS scales a service's deployments up and down."""
    mine = _service_tasks(ecs).setdefault((cluster_name, service), [])
    wanted = {arn: count for arn, count in wanted.items() if count > 0}
    if Counter(t.task_definition_arn for t in mine) == Counter(wanted):
        return
    kept: Counter[str] = Counter()
    for task in list(mine):
        kept[task.task_definition_arn] += 1
        if kept[task.task_definition_arn] > wanted.get(task.task_definition_arn, 0):
            _held(task, "STOPPED")
            task.stopped_reason = f"Scaling activity initiated by (deployment {started_by})"
            for container in task.containers:  # stopped on purpose: its containers exit cleanly
                container.exitCode, container.last_status = 0, "STOPPED"
            mine.remove(task)
    cluster = ecs.clusters[cluster_name]
    for arn, count in wanted.items():
        definition = copy.copy(ecs.describe_task_definition(arn))
        definition.network_mode = "bridge"  # as record_stopped: moto cannot build an awsvpc task
        for _ in range(count - min(count, kept[arn])):
            task = Task(cluster, definition, None, None, ecs, group=f"service:{service}", launch_type="EC2")
            task.started_by = started_by
            _held(task, "RUNNING")
            ecs.tasks.setdefault(cluster.name, {})[task.task_arn] = task
            mine.append(task)


def listed(ecs: Any, cluster: str, service: str | None, started_by: str | None, desired: str | None) -> list[str]:
    """ListTasks as ECS answers it: a service's own tasks when one is named, RUNNING unless another
    desired status is asked for (moto 5.2.5 ignores serviceName and lists every status)."""
    tasks = ecs.list_tasks(cluster, None, None, started_by, None, desired or "RUNNING")
    if service:
        tasks = [t for t in tasks if t.group == f"service:{service.rsplit('/', 1)[-1]}"]
    return [t.task_arn for t in tasks]
