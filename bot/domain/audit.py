"""The audit trail's entry, and the context an entry picks up on its own.

Every state change appends one entry: who (Slack user id and team), where (channel), when, what, and
the ids of the AWS requests made on the way (so CloudTrail can be lined up with Slack). The team, the
channel and the AWS request ids are collected per task in context variables, set where a click or a
command arrives and appended to by the AWS gateway, so no call in between has to pass them along.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

_where: ContextVar[tuple[str, str]] = ContextVar("audit_where", default=("", ""))
_aws: ContextVar[list[str] | None] = ContextVar("audit_aws_requests", default=None)


class AuditEvent(BaseModel):
    at: datetime
    record_id: str
    app: str
    actor: str  # a Slack user id, or "deploybot" / the engine's key (such as "codedeploy") for what they decided
    team: str = ""
    channel: str = ""
    action: str
    detail: dict[str, Any] = Field(default_factory=dict)
    aws_request_ids: list[str] = Field(default_factory=list)


def begin(team: str, channel: str) -> None:
    """Start collecting for one command or click (call at the edge, in the task that does the work)."""
    _where.set((team, channel))
    _aws.set([])


def note_aws_request(request_id: str) -> None:
    found = _aws.get()
    if found is not None and request_id:
        found.append(request_id)


def event(at: datetime, record_id: str, app: str, actor: str, action: str, **detail: Any) -> AuditEvent:
    """An entry with the context's team, channel and the AWS request ids made since the last entry."""
    team, channel = _where.get()
    found = _aws.get()
    requests = list(found) if found else []
    if found:
        found.clear()
    return AuditEvent(
        at=at,
        record_id=record_id,
        app=app,
        actor=actor,
        team=team,
        channel=channel,
        action=action,
        detail=detail,
        aws_request_ids=requests,
    )
