"""The deployment state machine: what a reading of the engine means for a record, and what is allowed next.

Pure functions: ``observe`` folds a fresh ``Progress`` into a typed change and the milestones worth
telling the thread; ``actions_for`` says which buttons make sense now; ``explain_state`` says why a
button no longer applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from .changes import Progressed, RolledBack
from .errors import BadVersion, Conflict, shown
from .models import Deployment, State
from .progress import Phase, Progress, Result, Step, StepStatus

MAX_VERSION_LENGTH = 128
NOT_FOUND = "DEPLOYMENT_NOT_FOUND"  # deploybot's own code: the engine no longer knows the deployment


class Action(StrEnum):
    APPROVE = "deploy_approve"
    CANCEL = "deploy_cancel"
    OPEN_GATE = "deploy_gate"
    FINISH = "deploy_finish"
    ROLLBACK = "deploy_rollback"


def check_version(version: str, pattern: str) -> str:
    """The whole string must match: `v1.2.3\\n` or a 129-character tag is refused."""
    if len(version) > MAX_VERSION_LENGTH:
        raise BadVersion(f"That version is {len(version)} characters long; the limit is {MAX_VERSION_LENGTH}.")
    if not re.fullmatch(pattern, version):
        raise BadVersion(
            f"`{shown(version)}` is not a valid version for this app: it must match `{shown(pattern)}` "
            "(for example `v1.2.3`)."
        )
    return version


def actions_for(record: Deployment) -> list[Action]:
    if record.state is State.QUEUED:
        return [Action.CANCEL]  # leave the line
    if record.state is State.PENDING_APPROVAL:
        return [Action.APPROVE, Action.CANCEL]
    if record.state is not State.IN_PROGRESS or record.phase in (Phase.ROLLING_BACK, Phase.DONE):
        return []
    gate = [Action.OPEN_GATE] if record.gate is not None and record.phase is Phase.GATED else []
    finish = [Action.FINISH] if record.can_finish_early and record.phase is Phase.BAKING else []
    return [*gate, *finish, Action.ROLLBACK]


def require_action(record: Deployment, action: Action) -> None:
    if action not in actions_for(record):
        raise Conflict(explain_state(record))


STATE_TEXT = {
    State.QUEUED: "waiting in line",
    State.PENDING_APPROVAL: "waiting for approval",
    State.CANCELLED: "cancelled",
    State.STARTING: "starting",
    State.START_FAILED: "not started (it could not be created)",
    State.IN_PROGRESS: "in progress",
    State.ROLLING_BACK: "rolling back",
    State.SUCCEEDED: "finished successfully",
    State.FAILED: "finished with a failure",
    State.STOPPED: "stopped",
}


def phase_text(record: Deployment) -> str:
    """Where a running deployment is, as the end of a sentence."""
    if record.phase is Phase.GATED:
        opens = record.gate.opens if record.gate else Phase.SHIFTING
        return "waiting for someone to shift traffic" if opens is Phase.SHIFTING else "waiting for someone to go on"
    return {
        Phase.WAITING: f"waiting for {record.engine_name} to start",
        Phase.PROVISIONING: "provisioning the new version's tasks",
        Phase.SHIFTING: "shifting traffic to the new version",
        Phase.BAKING: "keeping the old version up until its wait ends",
        Phase.ROLLING_BACK: "rolling back to the version before",
        Phase.DONE: "finished",
    }[record.phase]


def explain_state(record: Deployment) -> str:
    """Why a button no longer applies, for the person who pressed it."""
    who = {
        State.CANCELLED: f" by <@{record.cancelled_by}>" if record.cancelled_by else "",
        State.STARTING: f" by <@{record.approver}>" if record.approver else "",
    }.get(record.state, "")
    if record.state is State.IN_PROGRESS:
        approved = f"this request was already approved by <@{record.approver}>, and " if record.approver else ""
        return f"That button no longer applies: {approved}the deployment is now {phase_text(record)}."
    if record.state is State.STARTING:
        return f"This request was already approved{who} and the deployment is starting."
    if record.expired:
        return "That button no longer applies: this request expired without an approval. Ask again with /deploy."
    if record.state is State.SUCCEEDED:
        approved = f", approved by <@{record.approver}>" if record.approver else ""
        return f"That button no longer applies: this request already finished successfully (deployed{approved})."
    if record.approver and record.state is not State.PENDING_APPROVAL:
        who = f" (approved by <@{record.approver}>)"
    return f"That button no longer applies: this request is {STATE_TEXT[record.state]}{who}."


# ------------------------------------------------------------------------------------------------
# Observation: a reading -> a typed change + milestones
# ------------------------------------------------------------------------------------------------


class MilestoneKind(StrEnum):
    STARTED = "started"
    STEP = "step"
    GATED = "gated"
    TRAFFIC = "traffic"
    BAKING = "baking"
    ROLLING_BACK = "rolling_back"
    FINISHED = "finished"


@dataclass(frozen=True)
class Milestone:
    kind: MilestoneKind
    step: Step | None = None
    traffic: float | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Observation:
    change: Progressed | RolledBack | None = None  # None: the reading changes nothing
    milestones: list[Milestone] = field(default_factory=list)


def observe(record: Deployment, progress: Progress, now: datetime) -> Observation:
    """Fold a reading of the record's deployment into a change of ``record`` (which is not modified)."""
    if record.state is State.ROLLING_BACK:
        return _observe_rollback(record, progress, now)
    if record.state is not State.IN_PROGRESS:
        return Observation()
    out: list[Milestone] = []
    began, engine_started_at = record.began, record.engine_started_at
    if not record.began and progress.began:
        out.append(Milestone(MilestoneKind.STARTED, at=progress.started_at))
        # Durations come from the engine's own clock, the one its steps use.
        began, engine_started_at = True, progress.started_at
    steps = dict(record.steps)
    for step in progress.steps:
        if steps.get(step.name) != step.status and step.status in (StepStatus.SUCCEEDED, StepStatus.FAILED):
            out.append(Milestone(MilestoneKind.STEP, step=step))
        steps[step.name] = step.status
    ending = progress.phase in (Phase.DONE, Phase.ROLLING_BACK)
    traffic = record.traffic
    if progress.traffic is not None and progress.traffic != record.traffic:
        traffic = progress.traffic
        if not ending:
            out.append(Milestone(MilestoneKind.TRAFFIC, traffic=progress.traffic))
    test_traffic = record.test_traffic if progress.test_traffic is None else progress.test_traffic
    gate_opened_at = record.gate_opened_at
    if progress.phase is Phase.GATED and record.phase is not Phase.GATED:
        out.append(Milestone(MilestoneKind.GATED))
        gate_opened_at = now  # the gate's wait starts
    if progress.phase is Phase.BAKING and record.phase is not Phase.BAKING:
        out.append(Milestone(MilestoneKind.BAKING))
    end = _ending(record, progress, now, out) if ending else _Ending.of(record)
    change = Progressed(
        state=end.state,
        phase=progress.phase,
        began=began,
        steps=steps,
        traffic=traffic,
        test_traffic=None if ending else test_traffic,
        stage=None if ending else progress.stage,
        bake_ends_at=None if ending else progress.bake_ends_at,
        gate=None if ending else progress.gate,
        can_finish_early=False if ending else progress.can_finish_early,
        gate_opened_at=gate_opened_at,
        engine_started_at=engine_started_at,
        error_code=end.error_code,
        error_message=end.error_message,
        failed_step=end.failed_step,
        stopped_tasks=record.stopped_tasks or progress.stopped_tasks,
        rollback_deployment_id=end.rollback_id,
        ends_as=end.ends_as,
        finished_at=end.finished_at,
        engine_finished_at=end.engine_finished_at,
        rollback_error=end.rollback_error,
    )
    if not out and change.apply(record, record.updated_at) == record:
        return Observation()
    return Observation(change, out)


@dataclass(frozen=True)
class _Ending:
    """How a reading says the deployment ends (or the record's values, while it runs)."""

    state: State
    error_code: str | None
    error_message: str | None
    failed_step: Step | None
    rollback_id: str | None
    ends_as: State | None
    finished_at: datetime | None
    engine_finished_at: datetime | None
    rollback_error: str | None

    @classmethod
    def of(cls, record: Deployment) -> _Ending:
        return cls(
            record.state,
            record.error_code,
            record.error_message,
            record.failed_step,
            record.rollback_deployment_id,
            record.ends_as,
            record.finished_at,
            record.engine_finished_at,
            record.rollback_error,
        )


def _ending(record: Deployment, progress: Progress, now: datetime, out: list[Milestone]) -> _Ending:
    final = _final(progress.result or Result.FAILED)
    if progress.phase is Phase.ROLLING_BACK:
        out.append(Milestone(MilestoneKind.ROLLING_BACK))
        ends_as = final if final is not State.SUCCEEDED else State.STOPPED
        return _Ending(
            State.ROLLING_BACK,
            progress.error_code,
            progress.error_message,
            progress.failed_step,
            progress.rollback_id,
            ends_as,
            record.finished_at,
            record.engine_finished_at,
            record.rollback_error,
        )
    out.append(Milestone(MilestoneKind.FINISHED))
    return _Ending(
        final,
        progress.error_code,
        progress.error_message,
        progress.failed_step,
        record.rollback_deployment_id,
        final if progress.rolled_back else record.ends_as,  # rolled back in place, seen only at its end
        now,
        progress.finished_at,
        progress.rollback_error,
    )


def _observe_rollback(record: Deployment, progress: Progress, now: datetime) -> Observation:
    if progress.phase is not Phase.DONE:
        return Observation()
    change = RolledBack(
        state=record.ends_as if record.ends_as in (State.FAILED, State.STOPPED) else State.FAILED,
        phase=Phase.DONE,
        # Every request is back on the version before, unless the rollback itself did not finish.
        traffic=0.0 if progress.rollback_error is None else record.traffic,
        rollback_error=progress.rollback_error,
        finished_at=now,
        engine_finished_at=progress.finished_at,
    )
    return Observation(change, [Milestone(MilestoneKind.FINISHED)])


def _final(result: Result) -> State:
    return {Result.SUCCEEDED: State.SUCCEEDED, Result.FAILED: State.FAILED}.get(result, State.STOPPED)


def deadline(gate_minutes: float | None, bake_minutes: float | None) -> timedelta:
    """How long a deployment may run: as `aws ecs deploy` computes its wait, the plan's gate and bake
    waits plus 10 minutes, kept between 30 minutes and 6 hours."""
    minutes = (gate_minutes or 0) + (bake_minutes or 0) + 10
    return timedelta(minutes=min(max(minutes, 30), 360))


def gate_warning(wait_minutes: float) -> timedelta:
    """How long before a gate's wait runs out the thread is told: 5 minutes, or a tenth of a short wait."""
    return timedelta(minutes=min(5.0, wait_minutes / 10))
