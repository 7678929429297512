"""deploybot's Home tab, rendered whole from state for the person looking (as the root messages are).

What runs where, what is in flight, what waits for this person's approval (with the same Approve button
as the channel's), the locks, the change freezes in force and the last failures; a Deploy button opens the
deploy dialog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.freezes import Freeze
from ..domain.lifecycle import Action
from ..domain.models import Deployment, Hold, State
from .answers import Running
from .freezes import line as freeze_line
from .root import STATUS_LINE, button, reason, status_line, title
from .text import cut, esc, linked, mrkdwn, plain

Block = dict[str, Any]
OPEN_DIALOG = "home_deploy"  # the Deploy button: opens the deploy dialog
MAX_BLOCKS = 100  # Slack's limit for a Home tab
SECTION = 3000


@dataclass(frozen=True)
class Where:
    """One app in one environment as the Home tab shows it."""

    running: Running
    engine_name: str  # "" when the engine could not be read


@dataclass(frozen=True)
class HomeState:
    """Everything one person's Home tab shows, read for them."""

    rows: list[Where]
    in_flight: list[tuple[Deployment, str]]  # with a link to each thread
    yours: list[tuple[Deployment, str]]  # waiting for this person's approval
    holds: list[Hold]
    failures: list[tuple[Deployment, str]]
    now: datetime
    freezes: list[tuple[str, Freeze]] = field(default_factory=list)  # by the label of the app frozen


def _t(at: datetime | None) -> str:
    return f"{at:%m-%d %H:%M} UTC" if at else "an unknown time"


def _who(row: Running) -> str:
    if row.record is not None and row.record.outside:
        return f"outside deploybot ({esc(cut(row.record.outside, 60))})"
    if row.record is not None:
        return f"by <@{row.record.requester}>"
    if row.outside is not None:
        return f"outside deploybot ({esc(row.outside.creator or 'unknown')})"
    return "by someone before deploybot"


def _where(where: Where) -> str:
    row = where.running
    if row.error:
        return f"*{esc(row.label)}*: could not be read: {esc(cut(row.error, 200))}"
    version = f"`{esc(row.version)}`" if row.version else "an unknown version"
    since = f"since {_t(row.since)}" if row.since else "since before deploybot knew it"
    engine = f" · {esc(where.engine_name)}" if where.engine_name else ""
    return f"*{esc(row.label)}*: {version} · {since} · {_who(row)}{engine}"


def _heading(text: str) -> Block:
    return {"type": "header", "text": plain(text, emoji=True)}


def _lines(lines: list[str]) -> list[Block]:
    """Lines in as few sections as fit Slack's 3,000 characters each."""
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > SECTION:
            blocks.append({"type": "section", "text": mrkdwn("\n".join(chunk))})
            chunk = []
        chunk.append(cut(line, SECTION))
    if chunk:
        blocks.append({"type": "section", "text": mrkdwn("\n".join(chunk))})
    return blocks


def _yours(record: Deployment, link: str) -> Block:
    count = f" · {len(record.approvals)} of {record.approvals_needed} approvals"
    approvals = count if record.approvals_needed > 1 else ""
    expires = f" · expires {record.expires_at:%H:%M} UTC" if record.expires_at else ""
    text = (
        f"{linked(esc(title(record)), link)}\nrequested by <@{record.requester}> · "
        f"`{esc(record.image.short_digest)}`{approvals}{expires}"
    )
    return {"type": "section", "text": mrkdwn(cut(text, SECTION)), "accessory": button(Action.APPROVE, record)}


def _hold(hold: Hold) -> str:
    who = "deploybot" if hold.user == "deploybot" else f"<@{hold.user}>"
    why = f": {esc(cut(hold.reason, 200))}" if hold.reason else ""
    return f":lock: *{esc(hold.app)}* ({esc(hold.environment)}) locked by {who} since {_t(hold.since)}{why}"


def _failure(record: Deployment, link: str) -> str:
    ended = STATUS_LINE.get(record.state, record.state.value)
    return f"• {_t(record.finished_at or record.updated_at)} · {linked(esc(title(record)), link)} · {ended}: " + esc(
        cut(reason(record), 200)
    )


def home_view(state: HomeState) -> dict[str, Any]:
    blocks: list[Block] = [
        _heading(":rocket: deploybot"),
        {
            "type": "actions",
            "block_id": "home-actions",
            "elements": [{"type": "button", "text": plain("Deploy…"), "action_id": OPEN_DIALOG, "style": "primary"}],
        },
        {"type": "context", "elements": [mrkdwn(f"Updated {state.now:%H:%M:%S} UTC")]},
    ]
    if state.yours:
        blocks += [_heading(":eyes: Waiting for your approval"), *(_yours(r, link) for r, link in state.yours[:10])]
    blocks.append(_heading(":gear: In flight"))
    if state.in_flight:
        flying = [f"• {linked(esc(title(r)), link)}: {status_line(r)}" for r, link in state.in_flight]
        blocks += _lines(flying)
    else:
        blocks.append({"type": "context", "elements": [mrkdwn("Nothing is being deployed.")]})
    blocks += [_heading(":package: What runs where"), *_lines([_where(w) for w in state.rows])]
    if state.holds:
        blocks += [_heading(":lock: Locks"), *_lines([_hold(h) for h in state.holds])]
    if state.freezes:
        frozen = [f":snowflake: *{esc(label)}* {freeze_line(f, state.now)}" for label, f in state.freezes]
        blocks += [_heading(":snowflake: Change freezes"), *_lines(frozen)]
    if state.failures:
        blocks += [_heading(":x: Last failures"), *_lines([_failure(r, link) for r, link in state.failures])]
    blocks = blocks[:MAX_BLOCKS]
    return {"type": "home", "blocks": blocks}


def failed(record: Deployment) -> bool:
    """Whether the Home tab lists it among the failures (a deployment that failed, stopped or never started)."""
    return record.state in (State.FAILED, State.STOPPED, State.START_FAILED)
