"""The deployment's root message, as Block Kit.

The root message is always rendered whole from the record, so a lost or repeated update can never leave
it half-right. User-supplied and AWS-supplied strings are escaped or cut to fit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.lifecycle import Action, actions_for, phase_text
from ..domain.models import Deployment, State
from ..domain.progress import Phase
from .text import cut, duration, esc, linked, mrkdwn, plain
from .words import old, on_timeout, share, short

Block = dict[str, Any]

STATUS_LINE = {
    State.QUEUED: ":busstop: *In line*: waits for its app to be free, then for its approval",
    State.PENDING_APPROVAL: ":hourglass_flowing_sand: *Waiting for approval*",
    State.CANCELLED: ":no_entry_sign: *Cancelled*",
    State.STARTING: ":gear: *Starting*: registering the task definition and creating the deployment",
    State.START_FAILED: ":x: *Could not start*",
    State.SUCCEEDED: ":white_check_mark: *Deployed*",
    State.FAILED: ":x: *Failed*",
    State.STOPPED: ":octagonal_sign: *Stopped*",
}


def phase_line(record: Deployment) -> str:
    if record.phase is Phase.GATED:
        label = gate_label(record)
        if record.gate is None or record.gate.opens is Phase.SHIFTING:
            return f":traffic_light: *Green is ready*: press *{label}* to start moving production traffic"
        return f":traffic_light: *Paused at {esc(record.gate.stage)}*: press *{label}* to go on"
    if not record.blue_green:
        return {
            Phase.WAITING: f":gear: *Created*: waiting for {record.engine_name} to start",
            Phase.PROVISIONING: ":building_construction: *Starting the new version's tasks*",
            Phase.SHIFTING: ":twisted_rightwards_arrows: *Replacing tasks* with the new version",
        }.get(record.phase, phase_text(record))
    return {
        Phase.WAITING: f":gear: *Created*: waiting for {record.engine_name} to start",
        Phase.PROVISIONING: ":building_construction: *Provisioning green*",
        Phase.SHIFTING: ":twisted_rightwards_arrows: *Shifting traffic to green*",
        Phase.BAKING: ":hourglass: *All traffic on green*: blue stays up for an instant rollback until the wait ends",
    }.get(record.phase, phase_text(record))


def gate_label(record: Deployment) -> str:
    """What the gate's button says: what opening it does."""
    return "Shift traffic" if record.gate is None or record.gate.opens is Phase.SHIFTING else "Continue"


def status_line(record: Deployment) -> str:
    if record.expired:
        return f":hourglass: *Expired*: {esc(record.error_message or 'nobody approved it in time')}"
    if record.state is State.PENDING_APPROVAL and record.expires_at:
        return f"{STATUS_LINE[record.state]} (expires {record.expires_at:%H:%M} UTC)"
    if record.state is State.IN_PROGRESS:
        return phase_line(record)
    if record.state is State.ROLLING_BACK:
        return f":rewind: *Rolling back* to {old(record)}"
    return STATUS_LINE[record.state]


def _ci(record: Deployment) -> str:
    ci = record.ci
    if ci is None:
        return ""
    links = [f"<{ci.commit_url}|commit>" if ci.commit_url else "", f"<{ci.run_url}|run>" if ci.run_url else ""]
    return " · ".join([esc(cut(ci.actor, 100)), *[x for x in links if x]])


def _asked(record: Deployment) -> tuple[str, str]:
    """How it came to be, and by whom: a person, a CI run, or something outside deploybot."""
    if record.outside:
        return "Started outside deploybot", esc(cut(record.outside, 200))
    if record.ci:
        return "Requested by CI", _ci(record)
    return "Requested by", f"<@{record.requester}>"


def _requested_field(record: Deployment) -> str:
    how, who = _asked(record)
    return f"*{how}*\n{who}"


def requested_by(record: Deployment) -> str:
    how, who = _asked(record)
    return f"{how} {who}" if how == "Requested by" else f"{how} ({who})"


def emergency_line(record: Deployment) -> str:
    return (
        f":rotating_light: *Emergency deploy* by <@{record.requester}>, without approval and past any change "
        f"freeze: {esc(record.emergency or '')}"
    )


def title(record: Deployment) -> str:
    if record.emergency is not None:
        return f"🚨 Emergency: deploy {record.app} {record.tag}{to_environment(record)}"
    if record.rollback_to:
        return f"Roll back {record.app}{in_environment(record)} to {record.tag}"
    return f"Deploy {record.app} {record.tag}{to_environment(record)}"


def to_environment(record: Deployment) -> str:
    return f" to {record.environment}" if record.show_environment else ""


def in_environment(record: Deployment) -> str:
    return f" in {record.environment}" if record.show_environment else ""


def root_text(record: Deployment) -> str:
    """Notification fallback text (also what screen readers read)."""
    line = status_line(record).replace("*", "").split(":", 2)[-1].strip()
    return f"{title(record)}: {line}"


def root_blocks(record: Deployment, now: datetime) -> list[Block]:
    fields = [
        mrkdwn(_requested_field(record)),
        mrkdwn(f"*Version*\n`{esc(record.tag)}` (`{record.image.short_digest}`)"),
        mrkdwn(f"*Running before*\n`{esc(record.running_before or 'unknown')}`"),
        mrkdwn(f"*Deployment config*\n{esc(record.strategy or 'group default')}"),
    ]
    approvers = record.approvals or ([record.approver] if record.approver else [])
    if record.approvals_needed > 1 and record.state is State.PENDING_APPROVAL:
        names = ", ".join(f"<@{u}>" for u in approvers) or "none yet"
        fields.append(mrkdwn(f"*Approvals*\n{len(approvers)} of {record.approvals_needed}: {names}"))
    elif approvers:
        fields.append(mrkdwn("*Approved by*\n" + ", ".join(f"<@{u}>" for u in approvers)))
    elif record.emergency is not None:
        fields.append(mrkdwn("*Approval*\nskipped: emergency"))
    elif record.auto_approved:
        fields.append(mrkdwn(f"*Approval*\nnot needed in {esc(record.environment)}"))
    if record.deployment_id:
        fields.append(mrkdwn(f"*{esc(record.engine_name)}*\n{linked(short(record.deployment_id), record.link)}"))
    blocks: list[Block] = [
        {"type": "header", "text": plain(cut(title(record), 150), emoji=True)},
        {"type": "section", "fields": fields},
        {"type": "section", "text": mrkdwn(_status_text(record, now))},
    ]
    if record.emergency is not None:
        blocks.insert(1, {"type": "section", "text": mrkdwn(cut(emergency_line(record), 3000))})
    actions = actions_for(record)
    if actions:
        buttons = [button(a, record) for a in actions]
        blocks.append({"type": "actions", "block_id": f"actions-{record.version}", "elements": buttons})
    context = f"request `{record.id}` · image `{esc(cut(record.image.pinned, 300))}`"
    blocks.append({"type": "context", "elements": [mrkdwn(context)]})
    return blocks


def reason(record: Deployment) -> str:
    """Why it failed or stopped, as the engine said (and the rollback's own failure, if any)."""
    text = record.error_message or record.error_code or "no reason given"
    if record.rollback_error:
        what = f"rollback deployment {record.rollback_deployment_id}" if record.rollback_deployment_id else "rollback"
        text = f"{record.error_message or ''} The {what} also ended {record.rollback_error}.".strip()
    return text


def _status_text(record: Deployment, now: datetime) -> str:
    lines = [status_line(record)]
    if record.state is State.IN_PROGRESS and record.stage:
        lines.append(f"Stage: `{esc(record.stage)}`")
    if record.state in (State.IN_PROGRESS, State.ROLLING_BACK) or (record.state.terminal and record.deployment_id):
        lines.append(share(record, record.traffic))
    if record.state is State.IN_PROGRESS and record.test_traffic is not None:
        lines.append(share(record, record.test_traffic).replace("of traffic", "of test traffic"))
    if record.state is State.IN_PROGRESS and record.phase is Phase.BAKING and record.bake_ends_at:
        left = max(0, int((record.bake_ends_at - now).total_seconds() // 60))
        lines.append(f"{old(record).capitalize()} is let go at {record.bake_ends_at:%H:%M} UTC ({left} min left)")
    if record.state is State.IN_PROGRESS and record.phase is Phase.GATED and record.gate and record.gate.expires_at:
        ends = f"The pause ends at {record.gate.expires_at:%H:%M} UTC"
        lines.append(f"{ends}; then {record.engine_name} {on_timeout(record)}")
    if record.started_at and record.finished_at:
        lines.append(f"Took: {duration(*record.took)}")
    elif record.started_at:
        # Whole minutes only: the root is re-rendered when its text changes, at most once a minute for this.
        minutes = max(0, int((now - record.started_at).total_seconds() // 60))
        elapsed = f"Elapsed: {minutes} min" if minutes else "Elapsed: under a minute"
        if record.deadline_at and record.state is State.IN_PROGRESS:
            elapsed += f" · deadline {record.deadline_at:%H:%M} UTC"
        lines.append(elapsed)
    if record.state in (State.FAILED, State.STOPPED, State.START_FAILED) and (
        record.error_message or record.rollback_error
    ):
        lines.append(f"*Reason*: {esc(cut(reason(record), 1500))}")
    if record.cancelled_by:
        lines.append(f"Cancelled by <@{record.cancelled_by}>")
    return cut("\n".join(lines), 3000)


def button(action: Action, record: Deployment) -> Block:
    label, style, confirm = {
        Action.APPROVE: ("Approve", "primary", None),
        Action.CANCEL: ("Leave the line" if record.state is State.QUEUED else "Cancel", None, None),
        Action.OPEN_GATE: (gate_label(record), "primary", _gate_confirm(record)),
        Action.FINISH: ("Finish now", None, "End the wait now? Blue is deleted and rollback is no longer instant."),
        Action.ROLLBACK: ("Roll back", "danger", f"Stop this deployment and go back to {old(record)}?"),
    }[action]
    button: Block = {"type": "button", "text": plain(label), "action_id": action.value, "value": record.id}
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = {
            "title": plain(label, emoji=True),
            "text": mrkdwn(confirm),
            "confirm": plain("Yes", emoji=True),
            "deny": plain("No", emoji=True),
        }
    return button


def _gate_confirm(record: Deployment) -> str:
    if record.gate is None or record.gate.opens is Phase.SHIFTING:
        return "Start moving production traffic to green?"
    return f"Let the deployment go on past {esc(record.gate.stage) or 'this point'}?"
