"""What a deployment's thread says, step by step, and the alert a failure sends to the alert channel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..domain.lifecycle import NOT_FOUND, Milestone, MilestoneKind
from ..domain.models import Deployment, State
from ..domain.progress import Phase, StepStatus
from .root import gate_label, in_environment, reason, requested_by, to_environment
from .text import cut, duration, esc, linked, mention, mrkdwn
from .words import new, old, on_timeout, share, short


def milestone_text(record: Deployment, milestone: Milestone) -> str | None:
    kind = milestone.kind
    if kind is MilestoneKind.STARTED:
        return f":arrow_forward: {record.engine_name} started `{short(record.deployment_id or '')}`."
    if kind is MilestoneKind.STEP and milestone.step:
        step = milestone.step
        took = f" ({duration(step.start, step.end)})" if step.start and step.end else ""
        if step.status is StepStatus.SUCCEEDED:
            return f":white_check_mark: `{esc(step.name)}` succeeded{took}"
        detail = f" `{esc(step.error_code)}`" if step.error_code else ""
        script = f" in `{esc(step.script)}`" if step.script else ""
        text = f":x: `{esc(step.name)}` failed{detail}{script}: {esc(cut(step.message or 'no message', 1000))}"
        if step.log_tail:
            text += f"\n```{esc(cut(step.log_tail, 1500))}```"
        return text
    if kind is MilestoneKind.GATED:
        return _gated(record)
    if kind is MilestoneKind.TRAFFIC and milestone.traffic is not None:
        return f":twisted_rightwards_arrows: {share(record, milestone.traffic)}"
    if kind is MilestoneKind.BAKING:
        wait = f"{record.bake_minutes:.0f} min" if record.bake_minutes is not None else "a while"
        finish = "; *Finish now* ends the wait." if record.can_finish_early else "."
        return f":hourglass: All traffic is on green. Blue stays up for {wait} so a rollback is instant{finish}"
    if kind is MilestoneKind.ROLLING_BACK:
        why = esc(cut(record.error_message or record.error_code or "stopped", 1000))
        failed = record.failed_step
        if failed is not None and failed.message and failed.message in (record.error_message or ""):
            why = f"`{esc(failed.name)}` failed (above)"  # the step's own words were just told: not twice
        which = f" (`{short(record.rollback_deployment_id)}`)" if record.rollback_deployment_id else ""
        return f":rewind: Rolling back{which}: {why}"
    if kind is MilestoneKind.FINISHED:
        return outcome_text(record)
    return None


def _gated(record: Deployment) -> str:
    label = gate_label(record)
    gate = record.gate
    expires = gate.expires_at if gate and gate.expires_at else None
    wait = ""
    if expires is not None:
        wait = f" At {expires:%H:%M} UTC {record.engine_name} stops waiting and {on_timeout(record)}."
    elif record.gate_minutes:
        wait = f" {record.engine_name} stops it after {record.gate_minutes:.0f} min."
    if gate is None or gate.opens is Phase.SHIFTING:
        return (
            ":traffic_light: Green is up and passed its test traffic checks. Production traffic stays on blue "
            f"until an approver presses *{label}*.{wait}"
        )
    return f":traffic_light: The deployment is paused at `{esc(gate.stage)}` until an approver presses *{label}*.{wait}"


def outcome_text(record: Deployment) -> str:
    took = duration(*record.took)
    what = f"*{record.app} {esc(record.tag)}*"
    if record.state is State.SUCCEEDED:
        return f":white_check_mark: {what} is live{in_environment(record)}. Took {took}."
    why = esc(cut(reason(record), 1500))
    if record.error_code == NOT_FOUND:
        return f":grey_question: {what}{in_environment(record)}: outcome unknown after {took}. {why}"
    went_back = (record.ends_as is not None or record.rollback_deployment_id is not None) and not record.rollback_error
    back = f" Traffic is back on `{esc(record.running_before)}`." if went_back else ""
    if back and not why.endswith((".", "!", "?")):
        why += "."  # the engine's reason, then a sentence of ours
    verb = "failed" if record.state is State.FAILED else "was stopped"
    tasks = "".join(f"\n• {esc(cut(t, 300))}" for t in record.stopped_tasks[:5])
    tasks = f"\nStopped {'green' if record.blue_green else 'new'} tasks:{tasks}" if tasks else ""
    return f":x: {what}{in_environment(record)} {verb} after {took}: {why}{back}{tasks}"


def alert(record: Deployment, permalink: str, oncall: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The failure alert for the alert channel: what failed, why, and the way to its thread."""
    page = f"{mention(oncall)} " if oncall else ""  # in the text too: that is what notifies
    text = f"{page}Deployment of {record.app} {record.tag}{to_environment(record)} {record.state.value}"
    console = linked(f"{esc(record.engine_name)} console", record.link) if record.link else ""
    context = " · ".join(x for x in (requested_by(record), f"<{permalink}|open the thread>", console) if x)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(cut(f"{page}{outcome_text(record)}", 3000))}]
    step = record.failed_step
    if step is not None and not (step.message and step.message in reason(record)):  # else said just above
        failed = f"Failed at `{esc(step.name)}`: {esc(step.message or step.error_code or '')}"
        blocks.append({"type": "section", "text": mrkdwn(cut(failed, 3000))})
    blocks.append({"type": "context", "elements": [mrkdwn(context)]})
    return text, blocks


# -- what people and deploybot did ----------------------------------------------------------------


def created(record: Deployment) -> str:
    link = linked(short(record.deployment_id or ""), record.link)
    return (
        f":rocket: {record.engine_name} deployment {link} created with `{esc(record.strategy or 'its default')}`; "
        f"image pinned to `{record.image.short_digest}`."
    )


def gate_opened(record: Deployment, user: str) -> str:
    if record.gate is None or record.gate.opens is Phase.SHIFTING:
        return f":arrow_forward: <@{user}> started shifting traffic to {new(record)}."
    return f":arrow_forward: <@{user}> let the deployment go on past `{esc(record.gate.stage)}`."


def finished_early(user: str) -> str:
    return f":fast_forward: <@{user}> ended the wait; blue is being removed."


def rollback_asked(record: Deployment, user: str) -> str:
    return f":rewind: <@{user}> asked for a rollback; {record.engine_name} is going back to {old(record)}."


def start_failed(reason_text: str) -> str:
    return f":x: The deployment could not be started: {reason_text}"


def never_began() -> str:
    """Why a request left half-started by a process that died is closed."""
    return "deploybot stopped before the deployment was asked for, so nothing was deployed. Ask again with /deploy."


def gate_expiring(record: Deployment, ends: datetime) -> str:
    return (
        f":warning: The deployment is still waiting for *{gate_label(record)}*: at {ends:%H:%M} UTC "
        f"{record.engine_name} {on_timeout(record)} unless an approver presses it before then."
    )


def deadline_stop(record: Deployment, allowed: timedelta) -> str:
    return (
        f":alarm_clock: This deployment ran past its deadline ({allowed.total_seconds() / 60:.0f} min: its waits "
        f"plus a margin), so deploybot stopped it; {record.engine_name} is going back to {old(record)}."
    )


def expired(record: Deployment) -> str:
    waited = record.expires_at - record.created_at if record.expires_at else None
    hours = f" within {waited.total_seconds() / 3600:g} h" if waited else ""
    return f":hourglass: This request expired: nobody approved it{hours}. Ask again with /deploy."


def its_turn(record: Deployment, approval: bool) -> str:
    then = "an approver can approve it now" if approval else "it starts now (no approval needed)"
    return f":busstop: <@{record.requester}>, `{esc(record.app)}` is free and this request is next: {then}."


def left_line(record: Deployment) -> str:
    waited = record.expires_at - record.queued_at if record.expires_at and record.queued_at else None
    hours = f" within {waited.total_seconds() / 3600:g} h" if waited else ""
    return (
        f":hourglass: This request left the line: `{esc(record.app)}` was not free{hours}. Nothing was deployed. "
        "Ask again with /deploy."
    )


def never_started(record: Deployment) -> str:
    """A request that needed no approval, left before it started (the replica handling it stopped)."""
    return (
        ":hourglass: This request never started: deploybot stopped while it was being made. Nothing was "
        "deployed. Ask again with /deploy."
    )


def not_found(record: Deployment) -> str:
    """The stored reason of a deployment the engine no longer knows."""
    return (
        f"{record.engine_name} no longer knows deployment {record.tracked_deployment}, so its outcome is unknown. "
        "Check the service in the ECS console before deploying again."
    )


def locked_after_rollback(label: str, unlock: str) -> str:
    return f":lock: `{label}` is now locked after this rollback. `{unlock}` when it is safe to deploy again."


def found_again(record: Deployment) -> str:
    link = linked(short(record.deployment_id or ""), record.link)
    return (
        f":mag: deploybot had lost its record of {record.engine_name} deployment {link} and found it again by its "
        "request id; following it from here. Earlier steps of this deployment are not shown."
    )


def found_outside(record: Deployment) -> str:
    link = linked(short(record.deployment_id or ""), record.link)
    return (
        f":eyes: {record.engine_name} deployment {link} of `{record.label}` was started outside deploybot "
        f"({esc(record.outside or '')}); following it here."
    )
