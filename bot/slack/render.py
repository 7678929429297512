"""Block Kit for every message deploybot sends, built with slack_sdk models (validated before sending).

The root message is always rendered whole from the record, so a lost or repeated update can
never leave it half-right. User-supplied and AWS-supplied strings are escaped or cut to fit.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from ..domain.errors import shown
from ..domain.lifecycle import NOT_FOUND, PHASE_TEXT, Action, Milestone, MilestoneKind, actions_for
from ..domain.models import Deployment, Phase, State

CUT = "… (cut)"


esc = shown  # escape for mrkdwn so no `<!channel>`, mention or link can be injected


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def console_url(region: str, deployment_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/codesuite/codedeploy/deployments/{deployment_id}?region={region}"


def progress_bar(weight: float, width: int = 10) -> str:
    filled = round(max(0.0, min(100.0, weight)) / 100 * width)
    return "▰" * filled + "▱" * (width - filled)


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    seconds = max(0, int((end - start).total_seconds()))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


STATUS_LINE = {
    State.PENDING_APPROVAL: ":hourglass_flowing_sand: *Waiting for approval*",
    State.CANCELLED: ":no_entry_sign: *Cancelled*",
    State.STARTING: ":gear: *Starting*: registering the task definition and creating the deployment",
    State.START_FAILED: ":x: *Could not start*",
    State.ROLLING_BACK: ":rewind: *Rolling back* to blue",
    State.SUCCEEDED: ":white_check_mark: *Deployed*",
    State.FAILED: ":x: *Failed*",
    State.STOPPED: ":octagonal_sign: *Stopped*",
}
PHASE_LINE = {
    Phase.WAITING: ":gear: *Created*: waiting for CodeDeploy to start",
    Phase.PROVISIONING: ":building_construction: *Provisioning green*",
    Phase.READY: ":traffic_light: *Green is ready*: press *Shift traffic* to start moving production traffic",
    Phase.SHIFTING: ":twisted_rightwards_arrows: *Shifting traffic to green*",
    Phase.BAKING: ":hourglass: *All traffic on green*: blue kept for instant rollback until the termination wait ends",
}
BUTTONS = {
    Action.APPROVE: ("Approve", "primary", None),
    Action.CANCEL: ("Cancel", None, None),
    Action.SHIFT: ("Shift traffic", "primary", "Start moving production traffic to green?"),
    Action.FINISH: (
        "Finish now",
        None,
        "End the termination wait now? Blue is deleted and rollback is no longer instant.",
    ),
    Action.ROLLBACK: ("Roll back", "danger", "Stop this deployment and send all traffic back to blue?"),
}


def status_line(record: Deployment) -> str:
    if record.expired:
        return ":hourglass: *Expired*: nobody approved it in time"
    if record.state is State.PENDING_APPROVAL and record.expires_at:
        return f"{STATUS_LINE[record.state]} (expires {record.expires_at:%H:%M} UTC)"
    if record.state is State.IN_PROGRESS:
        return PHASE_LINE.get(record.phase, PHASE_TEXT[record.phase])
    return STATUS_LINE[record.state]


def _ci(record: Deployment) -> str:
    ci = record.ci
    if ci is None:
        return ""
    links = [f"<{ci.commit_url}|commit>" if ci.commit_url else "", f"<{ci.run_url}|run>" if ci.run_url else ""]
    return " · ".join([esc(cut(ci.actor, 100)), *[x for x in links if x]])


def _requested_field(record: Deployment) -> str:
    if record.outside:
        return f"*Started outside deploybot*\n{esc(cut(record.outside, 200))}"
    if record.ci:
        return f"*Requested by CI*\n{_ci(record)}"
    return f"*Requested by*\n<@{record.requester}>"


def _by(record: Deployment) -> str:
    if record.ci:
        return f"Requested by CI ({_ci(record)})"
    return (
        f"Started outside deploybot ({esc(cut(record.outside, 200))})"
        if record.outside
        else (f"Requested by <@{record.requester}>")
    )


def _title(record: Deployment) -> str:
    if record.rollback_to:
        return f"Roll back {record.app}{_in(record)} to {record.tag}"
    return f"Deploy {record.app} {record.tag}{_to(record)}"


def _to(record: Deployment) -> str:
    return f" to {record.environment}" if record.show_environment else ""


def _in(record: Deployment) -> str:
    return f" in {record.environment}" if record.show_environment else ""


def root_text(record: Deployment) -> str:
    """Notification fallback text (also what screen readers read)."""
    plain = status_line(record).replace("*", "").split(":", 2)[-1].strip()
    return f"{_title(record)}: {plain}"


def root_blocks(record: Deployment, region: str, now: datetime) -> list[Block]:
    fields = [
        MarkdownTextObject(text=_requested_field(record)),
        MarkdownTextObject(text=f"*Version*\n`{esc(record.tag)}` (`{record.image.short_digest}`)"),
        MarkdownTextObject(text=f"*Running before*\n`{esc(record.running_before or 'unknown')}`"),
        MarkdownTextObject(text=f"*Deployment config*\n{esc(record.config_name or 'group default')}"),
    ]
    approvers = record.approvals or ([record.approver] if record.approver else [])
    if record.approvals_needed > 1 and record.state is State.PENDING_APPROVAL:
        names = ", ".join(f"<@{u}>" for u in approvers) or "none yet"
        fields.append(MarkdownTextObject(text=f"*Approvals*\n{len(approvers)} of {record.approvals_needed}: {names}"))
    elif approvers:
        fields.append(MarkdownTextObject(text="*Approved by*\n" + ", ".join(f"<@{u}>" for u in approvers)))
    elif record.auto_approved:
        fields.append(MarkdownTextObject(text=f"*Approval*\nnot needed in {esc(record.environment)}"))
    if record.deployment_id:
        fields.append(
            MarkdownTextObject(
                text=f"*CodeDeploy*\n<{console_url(region, record.deployment_id)}|{record.deployment_id}>"
            )
        )
    blocks: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(
                text=cut(_title(record), 150),
                emoji=True,
            )
        ),
        SectionBlock(fields=fields),
        SectionBlock(text=MarkdownTextObject(text=_status_text(record, now))),
    ]
    actions = actions_for(record)
    if actions:
        blocks.append(
            ActionsBlock(block_id=f"actions-{record.version}", elements=[_button(a, record) for a in actions])
        )
    context = f"request `{record.id}` · image `{esc(cut(record.image.pinned, 300))}`"
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=context)]))
    return blocks


def _status_text(record: Deployment, now: datetime) -> str:
    lines = [status_line(record)]
    if record.state in (State.IN_PROGRESS, State.ROLLING_BACK) or (record.state.terminal and record.deployment_id):
        lines.append(f"`{progress_bar(record.green_weight)}` {record.green_weight:.0f}% of traffic on green")
    if record.started_at and record.finished_at:
        lines.append(f"Took: {duration(*record.took)}")
    elif record.started_at:
        # Whole minutes only: the root is re-rendered when its text changes, at most once a minute for this.
        minutes = max(0, int((now - record.started_at).total_seconds() // 60))
        elapsed = f"Elapsed: {minutes} min" if minutes else "Elapsed: under a minute"
        if record.deadline_at and record.state is State.IN_PROGRESS:
            elapsed += f" · deadline {record.deadline_at:%H:%M} UTC"
        lines.append(elapsed)
    if record.state in (State.FAILED, State.STOPPED, State.START_FAILED) and record.error_message:
        lines.append(f"*Reason*: {esc(cut(record.error_message, 1500))}")
    if record.cancelled_by:
        lines.append(f"Cancelled by <@{record.cancelled_by}>")
    return cut("\n".join(lines), 3000)


def _button(action: Action, record: Deployment) -> ButtonElement:
    label, style, confirm = BUTTONS[action]
    return ButtonElement(
        text=PlainTextObject(text=label),
        action_id=action.value,
        value=record.id,
        style=style,
        confirm=ConfirmObject(title=label, text=confirm, confirm="Yes", deny="No") if confirm else None,
    )


# -- thread replies ----------------------------------------------------------------------------


def milestone_text(record: Deployment, milestone: Milestone, region: str) -> str | None:
    kind = milestone.kind
    if kind is MilestoneKind.STARTED:
        return f":arrow_forward: CodeDeploy started `{record.deployment_id}`."
    if kind is MilestoneKind.EVENT and milestone.event:
        event = milestone.event
        took = duration(event.start, event.end)
        if event.status == "Succeeded":
            return f":white_check_mark: `{event.name}` succeeded ({took})"
        detail = f" `{esc(event.error_code)}`" if event.error_code else ""
        script = f" in `{esc(event.script)}`" if event.script else ""
        text = f":x: `{event.name}` failed{detail}{script}: {esc(cut(event.message or 'no message', 1000))}"
        if event.log_tail:
            text += f"\n```{esc(cut(event.log_tail, 1500))}```"
        return text
    if kind is MilestoneKind.READY:
        wait = f" CodeDeploy stops it after {record.wait_minutes:.0f} min." if record.wait_minutes else ""
        return (
            ":traffic_light: Green is up and passed its test traffic checks. Production traffic stays on blue "
            f"until an approver presses *Shift traffic*.{wait}"
        )
    if kind is MilestoneKind.TRAFFIC and milestone.weight is not None:
        bar = progress_bar(milestone.weight)
        return f":twisted_rightwards_arrows: `{bar}` {milestone.weight:.0f}% of traffic on green"
    if kind is MilestoneKind.BAKING:
        wait = f"{record.termination_minutes:.0f} min" if record.termination_minutes is not None else "a while"
        return (
            f":hourglass: All traffic is on green. Blue stays up for {wait} so a rollback is instant; "
            "*Finish now* ends the wait."
        )
    if kind is MilestoneKind.ROLLING_BACK:
        reason = esc(cut(record.error_message or record.error_code or "stopped", 1000))
        return f":rewind: Rolling back (`{record.rollback_deployment_id}`): {reason}"
    if kind is MilestoneKind.FINISHED:
        return outcome_text(record)
    return None


def outcome_text(record: Deployment) -> str:
    took = duration(*record.took)
    if record.state is State.SUCCEEDED:
        return f":white_check_mark: *{record.app} {esc(record.tag)}* is live{_in(record)}. Took {took}."
    reason = esc(cut(record.error_message or record.error_code or "no reason given", 1500))
    if record.error_code == NOT_FOUND:
        return f":grey_question: *{record.app} {esc(record.tag)}*{_in(record)}: outcome unknown after {took}. {reason}"
    back = f" Traffic is back on `{esc(record.running_before)}`." if record.rollback_deployment_id else ""
    verb = "failed" if record.state is State.FAILED else "was stopped"
    tasks = "".join(f"\n• {esc(cut(t, 300))}" for t in record.stopped_tasks[:5])
    tasks = f"\nStopped green tasks:{tasks}" if tasks else ""
    return f":x: *{record.app} {esc(record.tag)}*{_in(record)} {verb} after {took}: {reason}{back}{tasks}"


def mention(slack_id: str) -> str:
    """A user (U…/W…) or user group (S…) mention."""
    return f"<!subteam^{slack_id}>" if slack_id.startswith("S") else f"<@{slack_id}>"


def alert_blocks(record: Deployment, permalink: str, region: str, oncall: str | None = None) -> tuple[str, list[Block]]:
    page = f"{mention(oncall)} " if oncall else ""  # in the text too: that is what notifies
    text = f"{page}Deployment of {record.app} {record.tag}{_to(record)} {record.state.value}"
    console = f"<{console_url(region, record.deployment_id)}|CodeDeploy console>" if record.deployment_id else ""
    context = " · ".join(x for x in (_by(record), f"<{permalink}|open the thread>", console) if x)
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=cut(f"{page}{outcome_text(record)}", 3000))),
        ContextBlock(elements=[MarkdownTextObject(text=context)]),
    ]
    if record.failed_event:
        event = record.failed_event
        blocks.insert(
            1,
            SectionBlock(
                text=MarkdownTextObject(
                    text=cut(f"Failed at `{event.name}`: {esc(event.message or event.error_code or '')}", 3000)
                )
            ),
        )
    return text, blocks


def help_blocks(apps: dict[str, list[str]]) -> tuple[str, list[Block]]:
    """``apps``: each app's environments, its default first."""
    names = []
    for name in sorted(apps):
        envs = apps[name]
        names.append(f"`{name}`" + (f" ({', '.join(envs)}; default {envs[0]})" if len(envs) > 1 else ""))
    text = (
        "*/deploy &lt;app&gt; &lt;version&gt; [to &lt;environment&gt;]* asks to deploy that image tag to the app's "
        "ECS service through CodeDeploy blue/green. An approver presses *Approve*; the thread then follows the "
        "deployment live.\n"
        "• `/deploy web1 v1.2.3`: deploy tag `v1.2.3` (checked in ECR and pinned by digest)\n"
        "• `/deploy web1 v1.2.3 to staging`: the same in another environment of the app\n"
        "• `/deploy web1 latest`: deploy the version that `latest` points at\n"
        "• `/deploy status [web1 [production]]`: what runs where, since when, by whom, and what is in flight\n"
        "• `/deploy history web1 [staging]`: the latest deployments, also those deploybot did not start\n"
        "• `/deploy rollback web1 [staging]`: redeploy the last known-good release (same approval as any deploy)\n"
        "• `/deploy lock web1 [production] [reason]` / `/deploy unlock web1`: stop and allow deploys there\n"
        "• `/deploy audit web1`: who requested, approved and changed what, newest first (approvers and requesters)\n"
        "• `/deploy help`: this message\n"
        f"Apps: {', '.join(names)}\n"
        "Buttons: *Approve* / *Cancel* the request, *Shift traffic* when green is ready, *Finish now* to end the "
        "termination wait, *Roll back* at any time while it runs."
    )
    return "deploybot help", [SectionBlock(text=MarkdownTextObject(text=text)), DividerBlock()]
