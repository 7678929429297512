"""The deployment state machine: what each CodeDeploy reading means and what is allowed next.

Pure functions: ``observe`` folds a fresh CodeDeploy snapshot into a record and returns the
milestones worth telling the thread; ``actions_for`` says which buttons make sense now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from .errors import BadVersion, Conflict, shown
from .models import Deployment, EventView, Phase, Snapshot, State

MAX_VERSION_LENGTH = 128


class Action(StrEnum):
    APPROVE = "deploy_approve"
    CANCEL = "deploy_cancel"
    SHIFT = "deploy_shift"
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


def phase_of(snap: Snapshot, *, rolling_back: bool = False) -> Phase:
    if snap.terminal:
        return Phase.DONE
    if rolling_back:
        return Phase.ROLLING_BACK
    if snap.status == "Ready":
        return Phase.READY
    if snap.status in ("Created", "Queued"):
        return Phase.WAITING
    if snap.target_status == "Succeeded":
        return Phase.BAKING  # deployment InProgress + target Succeeded = termination wait (roadmap#269)
    running = next((e.name for e in snap.events if e.status == "InProgress"), None)
    if running in ("AllowTraffic", "AfterAllowTraffic"):
        return Phase.SHIFTING
    return Phase.PROVISIONING


def actions_for(record: Deployment) -> list[Action]:
    if record.state is State.PENDING_APPROVAL:
        return [Action.APPROVE, Action.CANCEL]
    if record.state is not State.IN_PROGRESS:
        return []
    return {
        Phase.WAITING: [Action.ROLLBACK],
        Phase.PROVISIONING: [Action.ROLLBACK],
        Phase.READY: [Action.SHIFT, Action.ROLLBACK],
        Phase.SHIFTING: [Action.ROLLBACK],
        Phase.BAKING: [Action.FINISH, Action.ROLLBACK],
    }.get(record.phase, [])


def require_action(record: Deployment, action: Action) -> None:
    if action in actions_for(record):
        return
    raise Conflict(explain_state(record))


def explain_state(record: Deployment) -> str:
    who = {
        State.CANCELLED: f" by <@{record.cancelled_by}>" if record.cancelled_by else "",
        State.STARTING: f" by <@{record.approver}>" if record.approver else "",
    }.get(record.state, "")
    if record.state is State.IN_PROGRESS:
        approved = f"this request was already approved by <@{record.approver}>, and " if record.approver else ""
        return f"That button no longer applies: {approved}the deployment is now {PHASE_TEXT[record.phase]}."
    if record.state is State.STARTING:
        return f"This request was already approved{who} and the deployment is starting."
    if record.expired:
        return "That button no longer applies: this request expired without an approval. Ask again with /deploy."
    if record.approver and record.state is not State.PENDING_APPROVAL:
        who = f" (approved by <@{record.approver}>)"
    return f"That button no longer applies: this request is {STATE_TEXT[record.state]}{who}."


STATE_TEXT = {
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
PHASE_TEXT = {
    Phase.WAITING: "waiting for CodeDeploy to start",
    Phase.PROVISIONING: "provisioning the green task set",
    Phase.READY: "waiting for someone to shift traffic",
    Phase.SHIFTING: "shifting traffic to green",
    Phase.BAKING: "keeping blue alive until the termination wait ends",
    Phase.ROLLING_BACK: "rolling back to blue",
    Phase.DONE: "finished",
}


# ------------------------------------------------------------------------------------------------
# Observation: snapshot -> new record + milestones
# ------------------------------------------------------------------------------------------------


class MilestoneKind(StrEnum):
    STARTED = "started"
    EVENT = "event"
    READY = "ready"
    TRAFFIC = "traffic"
    BAKING = "baking"
    ROLLING_BACK = "rolling_back"
    FINISHED = "finished"


@dataclass(frozen=True)
class Milestone:
    kind: MilestoneKind
    event: EventView | None = None
    weight: float | None = None
    at: datetime | None = None


@dataclass
class Observation:
    record: Deployment
    milestones: list[Milestone] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.milestones)


def observe(record: Deployment, snap: Snapshot, now: datetime) -> Observation:
    """Fold the tracked deployment's snapshot into ``record`` (which is not modified)."""
    if record.state is State.ROLLING_BACK:
        return _observe_rollback(record, snap, now)
    if record.state is not State.IN_PROGRESS:
        return Observation(record)
    out: list[Milestone] = []
    update: dict[str, object] = {"cd_status": snap.status, "target_status": snap.target_status}
    if record.cd_status in (None, "Created") and snap.status not in ("Created", "Queued"):
        out.append(Milestone(MilestoneKind.STARTED, at=snap.create_time))
        # Durations come from CodeDeploy's own clock, the same one its lifecycle events use.
        update["cd_created"] = snap.create_time
    events = dict(record.events)
    for event in snap.events:
        if events.get(event.name) != event.status and event.status in ("Succeeded", "Failed"):
            out.append(Milestone(MilestoneKind.EVENT, event=event))
        events[event.name] = event.status
    update["events"] = events
    if snap.green_weight is not None and snap.green_weight != record.green_weight:
        update["green_weight"] = snap.green_weight
        if not snap.terminal:
            out.append(Milestone(MilestoneKind.TRAFFIC, weight=snap.green_weight))
    phase = phase_of(snap)
    if phase is Phase.READY and record.phase is not Phase.READY:
        out.append(Milestone(MilestoneKind.READY))
    if phase is Phase.BAKING and record.phase is not Phase.BAKING:
        out.append(Milestone(MilestoneKind.BAKING))
    update["phase"] = phase
    if snap.terminal:
        update.update(error_code=snap.error_code, error_message=snap.error_message, failed_event=snap.failed_event)
        if snap.status != "Succeeded" and snap.rollback_deployment_id:
            update.update(
                state=State.ROLLING_BACK, phase=Phase.ROLLING_BACK, rollback_deployment_id=snap.rollback_deployment_id
            )
            out.append(Milestone(MilestoneKind.ROLLING_BACK))
        else:
            update.update(state=_final_state(snap.status), finished_at=now, cd_completed=snap.complete_time)
            out.append(Milestone(MilestoneKind.FINISHED))
    if not out and all(getattr(record, k) == v for k, v in update.items()):
        return Observation(record)
    return Observation(record.model_copy(update={**update, "updated_at": now}), out)


def _observe_rollback(record: Deployment, snap: Snapshot, now: datetime) -> Observation:
    if not snap.terminal:
        return Observation(record)
    original_failed = record.error_code not in (None, "MANUAL_STOP", "ALARM_ACTIVE", "TIMEOUT")
    state = State.FAILED if original_failed else State.STOPPED
    update: dict[str, object] = {
        "state": state,
        "phase": Phase.DONE,
        "finished_at": now,
        "cd_completed": snap.complete_time,
        "updated_at": now,
    }
    if snap.status == "Succeeded":
        update["green_weight"] = 0.0
    else:
        update["error_message"] = (
            f"{record.error_message or ''} The rollback deployment {snap.deployment_id} also ended "
            f"{snap.status}: {snap.error_message or 'no reason given'}."
        ).strip()
    return Observation(record.model_copy(update=update), [Milestone(MilestoneKind.FINISHED)])


def _final_state(status: str) -> State:
    return {"Succeeded": State.SUCCEEDED, "Failed": State.FAILED}.get(status, State.STOPPED)


def deadline(wait_minutes: float | None, termination_minutes: float | None) -> timedelta:
    """How long a deployment may run: as `aws ecs deploy` computes its wait, the group's ready and
    termination waits plus 10 minutes, kept between 30 minutes and 6 hours."""
    minutes = (wait_minutes or 0) + (termination_minutes or 0) + 10
    return timedelta(minutes=min(max(minutes, 30), 360))


def ready_warning(wait_minutes: float) -> timedelta:
    """How long before a Ready wait runs out the thread is told: 5 minutes, or a tenth of a short wait."""
    return timedelta(minutes=min(5.0, wait_minutes / 10))


NOT_FOUND = "DEPLOYMENT_NOT_FOUND"  # deploybot's own code: CodeDeploy no longer knows the deployment


def transition(record: Deployment, to: State, now: datetime, **changes: object) -> Deployment:
    """A checked state change; callers persist it with a compare-and-set on ``version``."""
    allowed = {
        State.PENDING_APPROVAL: {State.STARTING, State.CANCELLED},
        State.STARTING: {State.IN_PROGRESS, State.START_FAILED},
        State.IN_PROGRESS: {State.IN_PROGRESS, State.ROLLING_BACK, State.SUCCEEDED, State.FAILED, State.STOPPED},
        State.ROLLING_BACK: {State.FAILED, State.STOPPED},
    }.get(record.state, set())
    if to not in allowed:
        raise Conflict(explain_state(record))
    return record.model_copy(update={**changes, "state": to, "updated_at": now})
