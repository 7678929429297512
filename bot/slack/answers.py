"""Read-only answers as Slack text: what runs where (status), what happened (history, audit).

Every value that came from a person, AWS or the store is escaped: these texts echo all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.audit import AuditEvent
from ..domain.models import Deployment, PastDeployment
from .render import STATUS_LINE, cut, duration, esc, status_line

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
    outside: PastDeployment | None  # else the CodeDeploy deployment that did
    in_flight: list[tuple[Deployment, str]]  # with a link to each thread
    error: str | None = None


def _requested(record: Deployment) -> str:
    return (
        f"started outside deploybot ({esc(cut(record.outside, 80))})"
        if record.outside
        else (f"requested by <@{record.requester}>")
    )


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "an unknown time"


def status_text(rows: list[Running]) -> str:
    lines = ["*What runs where*"]
    for row in rows:
        if row.error:
            lines.append(f"• *{esc(row.label)}*: could not be read: {esc(cut(row.error, 300))}")
            continue
        version = f"`{esc(row.version)}`" if row.version else "an unknown version"
        line = (
            f"• *{esc(row.label)}*: {version} (`{esc(row.digest[:19])}`) · task definition "
            f"`{esc(row.task_definition.rsplit('/', 1)[-1])}` · since {_when(row.since)}"
        )
        if row.record is not None and row.record.outside:
            line += f" · {_requested(row.record)}"
        elif row.record is not None:
            who = f"<@{row.record.approver}>" if row.record.approver else "no approval needed"
            line += f" · {_requested(row.record)}, approved by {who}"
        elif row.outside is not None:
            line += f" · deployed outside deploybot (`{esc(row.outside.deployment_id)}`, {esc(row.outside.creator)})"
        lines.append(line)
        for record, link in row.in_flight:
            lines.append(f"    ↳ <{link}|`{esc(record.tag)}`> {status_line(record)} ({_requested(record)})")
    return cut("\n".join(lines), LIMIT)


def history_text(label: str, records: list[Deployment], past: list[PastDeployment], links: dict[str, str]) -> str:
    """deploybot's requests merged with CodeDeploy's own list (deployments deploybot did not start too)."""
    by_deployment = {r.deployment_id: r for r in records if r.deployment_id}
    rows: list[tuple[datetime | None, str]] = []
    for record in records:
        took = duration(*record.took) if record.state.terminal and record.deployment_id else "—"
        approver = f"<@{record.approver}>" if record.approver else ("not needed" if record.auto_approved else "—")
        link = links.get(record.id)
        tag = f"<{link}|`{esc(record.tag)}`>" if link else f"`{esc(record.tag)}`"
        rows.append(
            (
                record.created_at,
                f"• {_when(record.created_at)} · {tag} · {STATUS_LINE.get(record.state, record.state.value)} · "
                f"{_requested(record)} · approved by {approver} · took {took}",
            )
        )
    for deployment in past:
        if deployment.deployment_id in by_deployment or deployment.description.startswith("deploybot r-"):
            continue  # deploybot's own (or a rollback CodeDeploy made of one, shown with it)
        took = duration(deployment.create_time, deployment.complete_time)
        reason = f" ({esc(deployment.error_code)})" if deployment.error_code else ""
        rows.append(
            (
                deployment.create_time,
                f"• {_when(deployment.create_time)} · `{esc(deployment.deployment_id)}` · *{esc(deployment.status)}*"
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
