"""Reading how CodeDeploy deployments progress: one BatchGetDeployments per 25, the ECS target only where
it pays, and what each reading means in deploybot's words (``Progress``).

The deployment itself (status, error, rollback) is read for every tracked deployment on every tick.
Its ECS target (lifecycle events, traffic weights) costs a GetDeploymentTarget per deployment, so those
reads are rationed to a few calls per tick: a failure's diagnostics first, then deployments whose
status just changed, then those never read, then the one whose target is oldest. With a handful of
deployments in flight every target is read every tick; with a thousand, the reads stay within 1/20 of a
GetDeployment per deployment per tick, and a deployment not read this time shows its last target with a
fresh status.
The watcher may lower the ration further (``detail``), to what its read budget holds.

Each reading also names the next moment CodeDeploy's own schedule changes the deployment (``schedule``):
the next traffic step of a canary or linear configuration, the end of the termination wait, the Ready
wait's timeout, so the watcher reads it then rather than on its pace.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import structlog

from ...domain.catalog import AppConfig
from ...domain.errors import DeployError
from ...domain.progress import Gate, Phase, Progress, Result, Step, StepStatus
from ..calls import call, call_as
from ..taskdefs import TaskDefinitions
from .events import scope
from .schedule import Moments, moments, predefined

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_codedeploy.type_defs import GetDeploymentTargetOutputTypeDef

log = structlog.get_logger(__name__)
BATCH = 25  # BatchGetDeployments takes at most 25 ids
ACTIVE = ("InProgress", "Ready", "Baking", "Queued")  # not finished, and past Created
FINISHED = ("Succeeded", "Failed", "Stopped")
STOP_CODES = ("MANUAL_STOP", "ALARM_ACTIVE", "TIMEOUT")  # stopped, not failed
TARGET_CALLS = 8  # per tick, for targets beyond a failure's diagnostics (which are always read)
FORGET_AFTER = 600  # reads: a deployment not asked about for this many is forgotten (finished, or elsewhere)
READY_WAIT: Final = "READY_WAIT"  # ContinueDeployment's wait type for the Ready gate
TERMINATION_WAIT: Final = "TERMINATION_WAIT"
SHIFTING_EVENTS = ("AllowTraffic", "AfterAllowTraffic")
STEP_STATUS = {
    "Pending": StepStatus.PENDING,
    "InProgress": StepStatus.RUNNING,
    "Succeeded": StepStatus.SUCCEEDED,
    "Failed": StepStatus.FAILED,
    "Skipped": StepStatus.SKIPPED,
}


class _NoTarget(DeployError):
    """The deployment has no ECS target (yet): nothing to read."""


def _no_target(code: str, message: str) -> DeployError | None:
    if code in ("DeploymentNotStartedException", "DeploymentTargetDoesNotExistException"):
        return _NoTarget(message)
    return None


@dataclass
class _Seen:
    fingerprint: tuple[Any, ...]
    target: dict[str, Any] | None
    read_at: int  # the tick of the last target read
    target_id: str | None = None


def target_id(app: AppConfig) -> str:
    """CodeDeploy's id for the ECS target of ``app``'s deployments: ``<clusterName>:<serviceName>`` (names,
    where the catalog gives ARNs)."""
    return f"{app.cluster.rsplit('/', 1)[-1]}:{app.service.rsplit('/', 1)[-1]}"


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
        self, codedeploy: CodeDeployClient, taskdefs: TaskDefinitions, target_calls: int = TARGET_CALLS
    ) -> None:
        self.codedeploy = codedeploy
        self.taskdefs = taskdefs
        self.target_calls = target_calls
        self._seen: dict[str, _Seen] = {}
        self._asked: dict[str, int] = {}  # the read each deployment was last asked about in
        self._routing: dict[str, dict[str, Any] | None] = {}  # custom deployment configurations, once read
        self._tick = 0

    async def read(
        self,
        deployment_ids: Sequence[str],
        rollbacks: Collection[str] = (),
        detail: int | None = None,
        targets: Mapping[str, str] | None = None,
    ) -> dict[str, Progress]:
        """A reading of each deployment CodeDeploy knows, by id. ``rollbacks``: ids that are rollbacks
        CodeDeploy runs of a deployment deploybot follows (read for how they end). ``detail``: target
        reads this time at most (None: the reader's own ration). ``targets``: each deployment's target id
        where the caller knows it (``target_id``): read without listing it first."""
        hints = targets or {}
        self._tick += 1
        infos: list[dict[str, Any]] = []
        for start in range(0, len(deployment_ids), BATCH):
            chunk = list(deployment_ids[start : start + BATCH])
            resp = await call(self.codedeploy.batch_get_deployments, deploymentIds=chunk)
            infos += [dict(i) for i in resp.get("deploymentsInfo", [])]
        self._asked |= dict.fromkeys(deployment_ids, self._tick)
        # Forget deployments no longer asked about (finished, or watched by another replica now); the
        # watcher reads only those due, so one not asked this time is not gone yet.
        for gone in [d for d, at in self._asked.items() if self._tick - at > FORGET_AFTER]:
            self._seen.pop(gone, None)
            del self._asked[gone]
        # A rollback's own target adds nothing deploybot tells: only how the rollback ends is read.
        ration = self.target_calls if detail is None else min(self.target_calls, detail)
        due, diagnose = self._plan([i for i in infos if i["deploymentId"] not in rollbacks], ration, hints)
        out: dict[str, Progress] = {}
        for info in infos:
            dep_id = str(info["deploymentId"])
            if dep_id in rollbacks:
                out[dep_id] = rollback_progress(info)
                continue
            seen = self._seen.get(dep_id)
            if dep_id in due:
                target = await self._read_target(info, seen, hints.get(dep_id))
            else:
                target = seen.target if seen else None
            stopped: list[str] = []
            if dep_id in diagnose and info.get("status") == "Failed" and target:
                stopped = await self._stopped_tasks(target)
            reading = progress(info, target, stopped)
            if reading.phase in (Phase.SHIFTING, Phase.BAKING, Phase.GATED):
                reading = await self._scheduled(info, reading)
            out[dep_id] = reading
        return out

    async def _scheduled(self, info: dict[str, Any], reading: Progress) -> Progress:
        """``reading`` with the moments CodeDeploy's own schedule names for it."""
        name = str(info.get("deploymentConfigName") or "")
        routing = predefined(name)
        if routing is None and reading.phase is Phase.SHIFTING:
            if name not in self._routing:  # a custom configuration: read once, kept for the process
                try:
                    resp = await call(self.codedeploy.get_deployment_config, deploymentConfigName=name)
                    found = resp.get("deploymentConfigInfo", {}).get("trafficRoutingConfig")
                    self._routing[name] = dict(found) if found else None
                except DeployError as exc:
                    log.warning("deployment_config_unreadable", config=name, reason=exc.message)
                    self._routing[name] = None
            routing = self._routing[name]
        when: Moments = moments(info, reading, routing)
        gate = reading.gate.model_copy(update={"expires_at": when.gate_ends}) if reading.gate else None
        return reading.model_copy(
            update={"next_change_at": when.next_change, "bake_ends_at": when.bake_ends, "gate": gate}
        )

    def _plan(self, infos: list[dict[str, Any]], ration: int, hints: Mapping[str, str]) -> tuple[set[str], set[str]]:
        """This read's target reads: every new failure (diagnostics), then within ``ration`` the
        deployments whose status moved, then those never read, then those whose target is oldest."""
        due: set[str] = set()
        diagnose: set[str] = set()
        budget = ration
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
            known = (seen is not None and seen.target_id) or dep_id in hints
            cost = 1 if known else 2  # ListDeploymentTargets first, for a target id nobody knows
            if cost <= budget:
                due.add(dep_id)
                budget -= cost
        return due, diagnose

    def _priority(self, info: dict[str, Any]) -> tuple[int, int]:
        seen = self._seen.get(info["deploymentId"])
        if seen is None:
            # Then the ones never read (two calls each): many found at once (a restart, a scan) must not
            # hold back the moves of those already shown.
            return (1, -1)
        if seen.fingerprint != _fingerprint(info):
            # First: its status moved. Its target says how (a step, the termination wait begun, and when it
            # ends: the moment the watcher reads it next).
            return (0, seen.read_at)
        return (2, seen.read_at)  # then whichever target is oldest

    async def _read_target(self, info: dict[str, Any], seen: _Seen | None, hint: str | None) -> dict[str, Any] | None:
        """The deployment's ECS target, by the id last read, else the caller's ``hint``, else listed."""
        dep_id = str(info["deploymentId"])
        known = seen.target_id if seen else None
        try:
            target_id = known or hint or await self._list_target(dep_id)
            if target_id is None:
                return None
            try:
                resp = await self._get_target(dep_id, target_id)
            except _NoTarget:
                listed = await self._list_target(dep_id) if not known and target_id == hint else None
                if listed is None or listed == target_id:
                    raise
                # The service is named otherwise in CodeDeploy: its own id, from now on.
                target_id, resp = listed, await self._get_target(dep_id, listed)
        except _NoTarget:
            return None
        found = resp.get("deploymentTarget", {}).get("ecsTarget")
        target = dict(found) if found is not None else None
        self._seen[dep_id] = _Seen(_fingerprint(info), target, self._tick, target_id)
        return target

    async def _get_target(self, deployment_id: str, target_id: str) -> GetDeploymentTargetOutputTypeDef:
        return await call_as(
            _no_target, self.codedeploy.get_deployment_target, deploymentId=deployment_id, targetId=target_id
        )

    async def _list_target(self, deployment_id: str) -> str | None:
        ids = (await call_as(_no_target, self.codedeploy.list_deployment_targets, deploymentId=deployment_id))[
            "targetIds"
        ]
        return str(ids[0]) if ids else None

    async def _stopped_tasks(self, target: dict[str, Any]) -> list[str]:
        """Why the green task set's tasks stopped (reason, container exit codes), once, at a failure."""
        green = next((t for t in target.get("taskSetsInfo") or [] if t.get("taskSetLabel") == "Green"), None)
        arn = str(target.get("targetArn") or "")  # arn:aws:ecs:region:account:service/<cluster>/<service>
        if green is None or "/" not in arn:
            return []
        try:
            return await self.taskdefs.stopped_tasks(arn.split("/")[-2], started_by=str(green["identifer"]))
        except DeployError as exc:
            log.warning("stopped_tasks_unreadable", reason=exc.message)
            return []


def _steps(target: dict[str, Any] | None) -> list[Step]:
    steps = []
    for event in (target or {}).get("lifecycleEvents", []):
        diag = event.get("diagnostics") or {}
        steps.append(
            Step(
                name=event["lifecycleEventName"],
                status=STEP_STATUS.get(event.get("status"), StepStatus.PENDING),
                start=event.get("startTime"),
                end=event.get("endTime"),
                error_code=diag.get("errorCode"),
                message=diag.get("message"),
                log_tail=diag.get("logTail"),
                script=diag.get("scriptName"),
            )
        )
    return steps


def _green_weight(target: dict[str, Any] | None) -> float | None:
    if not target:
        return None
    green = next((s for s in target.get("taskSetsInfo") or [] if s.get("taskSetLabel") == "Green"), None)
    return float(green.get("trafficWeight", 0.0)) if green else 0.0


def _phase(status: str, target: dict[str, Any] | None, steps: list[Step]) -> Phase:
    if status in FINISHED:
        return Phase.DONE
    if status == "Ready":
        return Phase.GATED
    if status in ("Created", "Queued"):
        return Phase.WAITING
    if target and target.get("status") == "Succeeded":
        return Phase.BAKING  # deployment InProgress + target Succeeded = termination wait (roadmap#269)
    running = next((s.name for s in steps if s.status is StepStatus.RUNNING), None)
    return Phase.SHIFTING if running in SHIFTING_EVENTS else Phase.PROVISIONING


def _result(info: dict[str, Any]) -> Result:
    status, code = info.get("status"), (info.get("errorInformation") or {}).get("code")
    if status == "Succeeded":
        return Result.SUCCEEDED
    return Result.STOPPED if status == "Stopped" or code in STOP_CODES else Result.FAILED


def progress(info: dict[str, Any], target: dict[str, Any] | None, stopped_tasks: list[str]) -> Progress:
    """One reading of a deployment deploybot follows."""
    status = str(info["status"])
    error = info.get("errorInformation") or {}
    rollback = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
    steps = _steps(target)
    phase = _phase(status, target, steps)
    result = _result(info) if status in FINISHED else None
    if phase is Phase.DONE and result is not Result.SUCCEEDED and rollback:
        phase = Phase.ROLLING_BACK  # CodeDeploy rolls back with a deployment of its own
    return Progress(
        deployment_id=str(info["deploymentId"]),
        scope=_scope(info),
        phase=phase,
        began=status not in ("Created", "Queued"),
        steps=steps,
        traffic=_green_weight(target),
        gate=Gate(id=READY_WAIT, opens=Phase.SHIFTING, stage="Ready") if phase is Phase.GATED else None,
        can_finish_early=phase is Phase.BAKING,
        result=result,
        error_code=error.get("code"),
        error_message=error.get("message"),
        rollback_id=rollback if phase is Phase.ROLLING_BACK else None,
        started_at=info.get("createTime"),
        finished_at=info.get("completeTime"),
        stopped_tasks=stopped_tasks,
    )


def rollback_progress(info: dict[str, Any]) -> Progress:
    """A reading of the rollback CodeDeploy runs after a failed or stopped deployment."""
    status = str(info["status"])
    if status not in FINISHED:
        return Progress(
            deployment_id=str(info["deploymentId"]), scope=_scope(info), phase=Phase.ROLLING_BACK, began=True
        )
    message = (info.get("errorInformation") or {}).get("message")
    failure = None if status == "Succeeded" else f"{status}: {message or 'no reason given'}"
    return Progress(
        deployment_id=str(info["deploymentId"]),
        scope=_scope(info),
        phase=Phase.DONE,
        began=True,
        rollback_error=failure,
        finished_at=info.get("completeTime"),
    )


def _scope(info: dict[str, Any]) -> str:
    return scope(str(info.get("applicationName") or ""), str(info.get("deploymentGroupName") or ""))
