"""Stopped tasks as ECS reports them, for the deployments that fail (diagnostics read them back)."""

from __future__ import annotations

import copy
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
