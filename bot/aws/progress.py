"""Reading how deployments progress: one BatchGetDeployments per 25, the ECS target only where it pays.

The deployment itself (status, error, rollback) is read for every tracked deployment on every tick.
Its ECS target (lifecycle events, traffic weights) costs a GetDeploymentTarget per deployment, so those
reads are rationed to a few calls per tick: a failure's diagnostics first, then deployments whose
status just changed, then the one whose target is oldest. With a handful of deployments in flight
every target is read every tick; with a thousand, the reads stay within 1/20 of a GetDeployment per
deployment per tick, and a deployment not read this time shows its last target with a fresh status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from botocore.exceptions import ClientError

from ..domain.errors import DeployError
from ..domain.models import EventView, Snapshot

log = structlog.get_logger(__name__)
BATCH = 25  # BatchGetDeployments takes at most 25 ids
ACTIVE = ("InProgress", "Ready", "Baking", "Queued")  # not finished, and past Created
FINISHED = ("Succeeded", "Failed", "Stopped")
TARGET_CALLS = 8  # per tick, for targets beyond a failure's diagnostics (which are always read)
Call = Callable[..., Awaitable[Any]]


@dataclass
class _Seen:
    fingerprint: tuple[Any, ...]
    target: dict[str, Any] | None
    read_at: int  # the tick of the last target read
    target_id: str | None = None


def _fingerprint(info: dict[str, Any]) -> tuple[Any, ...]:
    """What changes in a deployment's own description when its target is worth reading again."""
    return (
        info.get("status"),
        info.get("instanceTerminationWaitTimeStarted"),
        tuple(sorted((info.get("deploymentOverview") or {}).items())),
        (info.get("errorInformation") or {}).get("code"),
        (info.get("rollbackInfo") or {}).get("rollbackDeploymentId"),
    )


class ProgressReader:
    def __init__(
        self,
        call: Call,
        translate: Callable[[ClientError], Exception],
        codedeploy: Any,
        ecs: Any,
        target_calls: int = TARGET_CALLS,
    ) -> None:
        self._call = call
        self._translate = translate
        self.codedeploy = codedeploy
        self.ecs = ecs
        self.target_calls = target_calls
        self._seen: dict[str, _Seen] = {}
        self._tick = 0

    async def snapshots(self, deployment_ids: Sequence[str]) -> list[Snapshot]:
        self._tick += 1
        infos: list[dict[str, Any]] = []
        for start in range(0, len(deployment_ids), BATCH):
            chunk = list(deployment_ids[start : start + BATCH])
            infos += (await self._call(self.codedeploy.batch_get_deployments, deploymentIds=chunk))["deploymentsInfo"]
        # Forget deployments no longer asked about (finished, or watched by another replica now).
        for gone in self._seen.keys() - set(deployment_ids):
            del self._seen[gone]
        due, diagnose = self._plan(infos)
        out = []
        for info in infos:
            dep_id = info["deploymentId"]
            seen = self._seen.get(dep_id)
            target = await self._read_target(info, seen) if dep_id in due else (seen.target if seen else None)
            snap = _snapshot(info, target)
            if dep_id in diagnose and snap.status == "Failed" and target:
                snap = snap.model_copy(update={"stopped_tasks": await self._stopped_tasks(target)})
            out.append(snap)
        return out

    def _plan(self, infos: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
        """This tick's target reads: every new failure (diagnostics), then within the budget the
        deployments whose status moved, then those whose target is oldest."""
        due: set[str] = set()
        diagnose: set[str] = set()
        budget = self.target_calls
        for info in sorted(infos, key=self._priority):
            dep_id, status = info["deploymentId"], info.get("status")
            if status not in ACTIVE and status not in FINISHED:
                continue  # Created at CodeDeploy: no target yet
            seen = self._seen.get(dep_id)
            changed = seen is None or seen.fingerprint != _fingerprint(info)
            if status in FINISHED and not changed:
                continue  # finished and read already: nothing new to learn
            if status in ("Failed", "Stopped"):
                due.add(dep_id)
                diagnose.add(dep_id)
                continue
            cost = 1 if seen is not None and seen.target_id else 2  # ListDeploymentTargets the first time
            if cost <= budget:
                due.add(dep_id)
                budget -= cost
        return due, diagnose

    def _priority(self, info: dict[str, Any]) -> tuple[int, int]:
        seen = self._seen.get(info["deploymentId"])
        if seen is None or seen.fingerprint != _fingerprint(info):
            return (0, seen.read_at if seen else -1)  # new, or its status moved: first
        return (1, seen.read_at)  # then whichever target is oldest

    async def _read_target(self, info: dict[str, Any], seen: _Seen | None) -> dict[str, Any] | None:
        dep_id = info["deploymentId"]
        target_id = seen.target_id if seen else None
        try:
            if target_id is None:
                ids = (await asyncio.to_thread(self.codedeploy.list_deployment_targets, deploymentId=dep_id))[
                    "targetIds"
                ]
                if not ids:
                    return None
                target_id = str(ids[0])
            resp = await asyncio.to_thread(
                self.codedeploy.get_deployment_target, deploymentId=dep_id, targetId=target_id
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in (
                "DeploymentNotStartedException",
                "DeploymentTargetDoesNotExistException",
            ):
                return None
            raise self._translate(exc) from exc
        target: dict[str, Any] | None = resp["deploymentTarget"].get("ecsTarget")
        self._seen[dep_id] = _Seen(_fingerprint(info), target, self._tick, target_id)
        return target

    async def _stopped_tasks(self, target: dict[str, Any]) -> list[str]:
        """Why the green task set's tasks stopped (reason, container exit codes), once, at a failure."""
        green = next((t for t in target.get("taskSetsInfo") or [] if t.get("taskSetLabel") == "Green"), None)
        arn = str(target.get("targetArn") or "")  # arn:aws:ecs:region:account:service/<cluster>/<service>
        if green is None or "/" not in arn:
            return []
        cluster = arn.split("/")[-2]
        try:
            task_arns = (
                await self._call(
                    self.ecs.list_tasks, cluster=cluster, startedBy=str(green["identifer"]), desiredStatus="STOPPED"
                )
            )["taskArns"][:20]
            if not task_arns:
                return []
            tasks = (await self._call(self.ecs.describe_tasks, cluster=cluster, tasks=task_arns))["tasks"]
        except DeployError as exc:
            log.warning("stopped_tasks_unreadable", reason=exc.message)
            return []
        seen: dict[str, int] = {}
        for task in tasks:
            exits = ", ".join(
                f"{c.get('name')} exited with code {c['exitCode']}"
                for c in task.get("containers", [])
                if "exitCode" in c
            )
            line = f"{task.get('stoppedReason') or 'stopped'}" + (f" ({exits})" if exits else "")
            seen[line] = seen.get(line, 0) + 1
        return [f"{count} task{'s' if count > 1 else ''}: {line}" for line, count in seen.items()]


def _snapshot(info: dict[str, Any], target: dict[str, Any] | None) -> Snapshot:
    error = info.get("errorInformation") or {}
    rollback = info.get("rollbackInfo") or {}
    events: list[EventView] = []
    green: float | None = None
    if target:
        for event in target.get("lifecycleEvents", []):
            diag = event.get("diagnostics") or {}
            events.append(
                EventView(
                    name=event["lifecycleEventName"],
                    status=event["status"],
                    start=event.get("startTime"),
                    end=event.get("endTime"),
                    error_code=diag.get("errorCode"),
                    message=diag.get("message"),
                    log_tail=diag.get("logTail"),
                    script=diag.get("scriptName"),
                )
            )
        sets = target.get("taskSetsInfo") or []
        green_set = next((s for s in sets if s.get("taskSetLabel") == "Green"), None)
        green = float(green_set.get("trafficWeight", 0.0)) if green_set else 0.0
    return Snapshot(
        deployment_id=info["deploymentId"],
        status=info["status"],
        target_status=target.get("status") if target else None,
        events=events,
        green_weight=green,
        error_code=error.get("code"),
        error_message=error.get("message"),
        rollback_deployment_id=rollback.get("rollbackDeploymentId"),
        rollback_of=rollback.get("rollbackTriggeringDeploymentId"),
        create_time=info.get("createTime"),
        complete_time=info.get("completeTime"),
        description=info.get("description"),
        config_name=info.get("deploymentConfigName"),
    )
