"""What deploybot answers the person who asked: requests taken or refused, locks, help, and the read-only
answers (what runs where, what happened, the audit trail).

Every value that came from a person, AWS or the store is escaped: these texts echo all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.audit import AuditEvent
from ..domain.catalog import AppConfig
from ..domain.freezes import Freeze
from ..domain.models import Deployment, Hold, Image, State
from ..domain.progress import PastDeployment
from .freezes import line as freeze_line
from .root import STATUS_LINE, status_line
from .text import cut, duration, esc, when
from .words import short

LIMIT = 3000  # one section's text


@dataclass(frozen=True)
class Running:
    """What one app runs in one environment, and what deploybot knows about how it got there."""

    label: str
    version: str | None
    digest: str
    task_definition: str
    since: datetime | None
    record: Deployment | None  # the deploybot deployment that put it there, when known
    outside: PastDeployment | None  # else the engine's deployment that did
    in_flight: list[tuple[Deployment, str]]  # with a link to each thread
    error: str | None = None


def _requested(record: Deployment) -> str:
    return (
        f"started outside deploybot ({esc(cut(record.outside, 80))})"
        if record.outside
        else (f"requested by <@{record.requester}>")
    )


def status_text(
    rows: list[Running], held: dict[str, tuple[Hold | None, Freeze | None]] | None = None, now: datetime | None = None
) -> str:
    """Each row, with its lock or freeze under it (by label) when there is one."""
    lines = ["*What runs where*"]
    for row in rows:
        hold, freeze = (held or {}).get(row.label, (None, None))
        notes = ([f"    :lock: {held_line(hold)}"] if hold else []) + (
            [f"    :snowflake: {freeze_line(freeze, now or freeze.until)}"] if freeze else []
        )
        if row.error:
            lines += [f"• *{esc(row.label)}*: could not be read: {esc(cut(row.error, 300))}", *notes]
            continue
        version = f"`{esc(row.version)}`" if row.version else "an unknown version"
        pinned = f" (`{esc(row.digest[:19])}`)" if row.digest else ""
        # A service running since before deploybot's first look has no start it could know.
        since = f"since {when(row.since)}" if row.since else "since before deploybot knew it"
        line = (
            f"• *{esc(row.label)}*: {version}{pinned} · task definition "
            f"`{esc(row.task_definition.rsplit('/', 1)[-1])}` · {since}"
        )
        if row.record is not None and row.record.outside:
            line += f" · {_requested(row.record)}"
        elif row.record is not None:
            who = f"<@{row.record.approver}>" if row.record.approver else "no approval needed"
            line += f" · {_requested(row.record)}, approved by {who}"
        elif row.outside is not None:
            outside = f"`{esc(short(row.outside.deployment_id))}`, {esc(row.outside.creator)}"
            line += f" · deployed outside deploybot ({outside})"
        lines.append(line)
        queued = sorted((r.queued_at or r.created_at, r.id) for r, _ in row.in_flight if r.state is State.QUEUED)
        for record, link in row.in_flight:
            shown = status_line(record)
            if record.state is State.QUEUED:
                shown = f":busstop: *#{queued.index((record.queued_at or record.created_at, record.id)) + 1} in line*"
            # A link's label is shown as typed: no code formatting inside it (Slack would show the backticks).
            lines.append(f"    ↳ <{link}|{esc(record.tag)}> {shown} ({_requested(record)})")
        lines += notes
    return cut("\n".join(lines), LIMIT)


# A history line is short: a deployment still running is named by its state, not by its phase's long line.
IN_FLIGHT = {
    State.IN_PROGRESS: ":arrows_counterclockwise: *In progress*",
    State.ROLLING_BACK: ":rewind: *Rolling back*",
}


def history_text(label: str, records: list[Deployment], past: list[PastDeployment], links: dict[str, str]) -> str:
    """deploybot's requests merged with the engine's own list (deployments deploybot did not start too)."""
    by_deployment = {r.deployment_id: r for r in records if r.deployment_id}
    rows: list[tuple[datetime | None, str]] = []
    for record in records:
        took = duration(*record.took) if record.state.terminal and record.deployment_id else "—"
        approver = f"<@{record.approver}>" if record.approver else ("not needed" if record.auto_approved else "—")
        link = links.get(record.id)
        tag = f"<{link}|{esc(record.tag)}>" if link else f"`{esc(record.tag)}`"
        rows.append(
            (
                record.created_at,
                f"• {when(record.created_at)} · {tag} · {STATUS_LINE.get(record.state) or IN_FLIGHT[record.state]} · "
                f"{_requested(record)} · approved by {approver} · took {took}",
            )
        )
    for deployment in past:
        if deployment.deployment_id in by_deployment or deployment.ours:
            continue  # deploybot's own (or a rollback CodeDeploy made of one, shown with it)
        took = duration(deployment.create_time, deployment.complete_time)
        reason = f" ({esc(deployment.error_code)})" if deployment.error_code else ""
        rows.append(
            (
                deployment.create_time,
                f"• {when(deployment.create_time)} · `{esc(short(deployment.deployment_id))}` · "
                f"*{esc(deployment.status)}*"
                f"{reason} · outside deploybot ({esc(deployment.creator or 'unknown')}"
                f"{': ' + esc(cut(deployment.description, 80)) if deployment.description else ''}) · took {took}",
            )
        )
    if not rows:
        return f"No deployments of `{esc(label)}` yet."
    rows.sort(key=lambda r: r[0].timestamp() if r[0] else 0.0, reverse=True)
    return cut("\n".join([f"*History of `{esc(label)}`* (newest first)", *(r[1] for r in rows)]), LIMIT)


def audit_text(app: str, entries: list[AuditEvent]) -> str:
    """An app's audit entries, newest first, one line each (every value escaped: it may echo input)."""
    if not entries:
        return f"No audit entries for `{app}` yet."
    lines = [f"*Audit trail of `{app}`* (newest first; `deploybot audit export` has everything):"]
    for e in entries:
        who = f"<@{e.actor}>" if e.actor.startswith(("U", "W")) else esc(e.actor)
        detail = ", ".join(f"{esc(k)}={esc(v)}" for k, v in e.detail.items() if v not in (None, ""))
        line = f"• {e.at:%Y-%m-%d %H:%M:%S} UTC · `{esc(e.record_id)}` · {who} · *{esc(e.action)}*"
        lines.append(cut(f"{line} · {detail}" if detail else line, 400))
    return cut("\n".join(lines), LIMIT)


# -- requests --------------------------------------------------------------------------------------

USAGE = (
    "Usage: `/deploy &lt;app&gt; &lt;version&gt; [to &lt;environment&gt;]`, for example `/deploy web1 v1.2.3`. "
    "`/deploy help` explains more."
)


USAGES = {
    "audit": "Usage: `/deploy audit &lt;app&gt;`, for example `/deploy audit web1`.",
    "status": "Usage: `/deploy status [&lt;app&gt; [&lt;environment&gt;]]`.",
    "lock": (
        "Usage: `/deploy lock &lt;app&gt; [&lt;environment&gt;] [reason]`, "
        "`/deploy unlock &lt;app&gt; [&lt;environment&gt;]`."
    ),
    "rollback": "Usage: `/deploy rollback &lt;app&gt; [&lt;environment&gt;]`, for example `/deploy rollback web1`.",
    "history": "Usage: `/deploy history &lt;app&gt; [&lt;environment&gt;]`, for example `/deploy history web1`.",
    "freeze": (
        "Usage: `/deploy freeze &lt;app&gt; [&lt;environment&gt;] &lt;duration&gt; [reason]` (a duration like 30m, 2h "
        "or 1d), `/deploy unfreeze &lt;app&gt; [&lt;environment&gt;]`."
    ),
    "emergency": (
        'Usage: `/deploy &lt;app&gt; &lt;version&gt; [&lt;environment&gt;] --emergency "reason"`: an emergency '
        "deploy needs its reason."
    ),
    "stats": (
        "Usage: `/deploy stats &lt;app&gt; [&lt;environment&gt;] [&lt;days&gt;d]`, "
        "for example `/deploy stats web1 30d`."
    ),
}


def usage(word: str) -> str:
    """How a command word is used (``lock`` and ``unlock`` share theirs)."""
    return USAGES.get(word, USAGE)


def did_you_mean(word: str | None) -> str:
    return f" Did you mean `{word}`?" if word else ""


def need_app_and_version(closest: str | None) -> str:
    return f"I need an app and a version.{did_you_mean(closest)} {USAGE}"


def need_at_most_one_environment() -> str:
    return f"I need an app, a version and at most one environment. {USAGE}"


def not_an_environment(word: str, app: str) -> str:
    return f"`{esc(word)}` is not an environment of `{app}`."


def no_such_environment(app: str, environment: str | None, known: list[str]) -> str:
    envs = ", ".join(f"`{e}`" for e in known)
    return f"`{app}` has no environment `{esc(environment)}`. Its environments: {envs}."


def malformed() -> str:
    return "That request was malformed, so I ignored it. Try `/deploy help`."


def working(kind: str, app: AppConfig | None, version: str) -> str:
    """The acknowledgement of a command whose answer follows (Slack wants one within 3 seconds)."""
    if app is None:
        return "Reading what runs where…"
    return {
        "lock": f"Locking `{app.label}`…",
        "unlock": f"Unlocking `{app.label}`…",
        "rollback": f"Looking for the last known-good release of `{app.label}`…",
        "history": f"Reading the history of `{app.label}`…",
        "audit": f"Reading the audit trail of `{app.name}`…",
        "freeze": f"Freezing `{app.label}`…",
        "unfreeze": f"Lifting the freeze on `{app.label}`…",
        "stats": f"Counting the deliveries of `{app.label}`…",
        "status": "Reading what runs where…",
    }.get(kind, f"Checking `{app.name}` `{esc(version)}` in ECR…")


def made_too_slowly(label: str) -> str:
    return (
        f"Preparing this request for `{label}` took so long that its hold on the app ran out, so nothing was "
        "asked or deployed. Try again."
    )


def not_posted(label: str, tag: str, code: str) -> str:
    return (
        f"Slack did not take the request message for `{label}` `{esc(tag)}` (Slack answered `{esc(code)}`), "
        "so nobody could approve it: it is cancelled, and nothing was deployed. Try again once Slack answers."
    )


def went_wrong(label: str, tag: str) -> str:
    return (
        f"Something went wrong on deploybot's side while preparing `{label}` `{esc(tag)}`; "
        "nothing was deployed. Try again, and tell the deploybot admins if it keeps happening."
    )


def being_prepared(label: str) -> str:
    return f"Another deploy request for `{label}` is being prepared right now. Try again in a moment."


QUEUE_HINT = " Or add `--queue` to your command to wait in line: it is asked for approval once the app is free."


def busy(label: str, other: Deployment, waiting: int = 0) -> str:
    """Who holds the app, since when, and what to do: the answer to a request that must wait (``other``
    is the last of the ``waiting`` requests in line, when there is a line)."""
    who = (
        f"started outside deploybot ({esc(other.outside)})"
        if other.outside
        else "asked for by CI"
        if other.ci
        else f"asked by <@{other.requester}>"
    )
    since = f"{other.created_at:%H:%M} UTC"
    if waiting:
        return (
            f"`{label}` is busy and {waiting} request{'s wait' if waiting > 1 else ' waits'} in line for it "
            f"(the last: `{esc(other.tag)}`, {who}).{QUEUE_HINT}"
        )
    if other.state is State.PENDING_APPROVAL:
        return (
            f"`{label}` already has a request waiting for approval since {since} (`{esc(other.tag)}`, {who}). "
            f"Approve or cancel it first.{QUEUE_HINT}"
        )
    return (
        f"`{label}` is already being deployed since {since} (`{esc(other.tag)}`, {who}). "
        f"Wait for it to finish or roll it back.{QUEUE_HINT}"
    )


def asked_for_approval(app: AppConfig, image: Image, rollback: bool) -> str:
    what = f"rolling `{app.label}` back to `{esc(image.tag)}`" if rollback else f"`{app.label}` `{esc(image.tag)}`"
    return f"Asked for approval of {what} in <#{app.deploy_channel}>."


def deploying_now(app: AppConfig, tag: str) -> str:
    return f"Deploying `{app.label}` `{esc(tag)}` now (no approval needed there); follow it in <#{app.deploy_channel}>."


def nothing_known_good(app: AppConfig) -> str:
    return (
        f"Nothing known good to roll back to: deploybot has no earlier successful deployment of "
        f"`{app.label}` with another image. Deploy a version by name instead: "
        f"`/deploy {app.name} &lt;version&gt;`."
    )


def known_good_gone(app: AppConfig, good: Deployment) -> str:
    return (
        f"The last known-good release of `{app.label}`, `{esc(good.tag)}` ({good.image.short_digest}), is no "
        "longer in ECR, so it cannot be rolled back to. Deploy a version by name instead."
    )


# -- clicks ----------------------------------------------------------------------------------------


def no_record() -> str:
    return "I have no record of that deployment; nothing was changed."


def gone_from_catalog(target: str) -> str:
    return f"`{esc(target)}` is no longer in the catalog, so nobody can act on it."


def expired_at(record: Deployment) -> str:
    at = f" at {record.expires_at:%H:%M} UTC" if record.expires_at else ""
    return f"This request expired{at} without an approval. Ask again with /deploy."


def too_old(app: AppConfig) -> str:
    return (
        f"This request is too old: its hold on `{app.label}` ran out and another request took it. "
        "Ask again with /deploy."
    )


# -- locks -----------------------------------------------------------------------------------------


def unlock_command(app: AppConfig) -> str:
    return f"/deploy unlock {app.name}{'' if app.only_environment else ' ' + app.environment}"


def held_line(hold: Hold) -> str:
    """`locked by @alice since …: reason`, for status."""
    who = "deploybot" if hold.user == "deploybot" else f"<@{hold.user}>"
    return f"locked by {who} since {when(hold.since)}{': ' + esc(hold.reason) if hold.reason else ''}"


def held(app: AppConfig, hold: Hold, by_deploybot: bool) -> str:
    who = "deploybot" if by_deploybot else f"<@{hold.user}>"
    why = f": {esc(hold.reason)}" if hold.reason else ""
    return (
        f"`{app.label}` is locked by {who} since {hold.since:%Y-%m-%d %H:%M} UTC{why}. "
        f"Nothing can be deployed there until someone runs `{unlock_command(app)}`."
    )


def rollback_lock_reason(record: Deployment) -> str:
    """Why deploybot locked an app itself (`lock_after_rollback`), as the lock keeps it."""
    return f"automatic after {record.tag} was rolled back (request {record.id})"


def locked_note(app: AppConfig, user: str, reason: str) -> str:
    return f":lock: <@{user}> locked `{app.label}`{': ' + esc(reason) if reason else ''}."


def locked(app: AppConfig) -> str:
    return f"Locked `{app.label}`. `/deploy unlock {app.name}` lifts it."


def not_locked(app: AppConfig) -> str:
    return f"`{app.label}` is not locked."


def unlocked_note(app: AppConfig, user: str) -> str:
    return f":unlock: <@{user}> unlocked `{app.label}`."


def unlocked(app: AppConfig) -> str:
    return f"Unlocked `{app.label}`."


def lock_reminder(app: AppConfig, hold: Hold, hours: float, by_deploybot: bool) -> str:
    who = "the rollback" if by_deploybot else f"<@{hold.user}>"
    why = f": {esc(hold.reason)}" if hold.reason else ""
    return (
        f":lock: Reminder: `{app.label}` has been locked by {who} for {hours:.0f} h{why}. "
        f"`{unlock_command(app)}` when it is safe to deploy again."
    )


# -- help ------------------------------------------------------------------------------------------
