"""Read-only answers in Slack: an app's audit trail (`/deploy audit <app>`)."""

from __future__ import annotations

import structlog

from .catalog import AppConfig
from .domain import policy
from .domain.audit import AuditEvent
from .domain.ports import Store
from .slack.gateway import SlackGateway
from .slack.render import audit_text

log = structlog.get_logger(__name__)
AUDIT_LINES = 15


class Reports:
    def __init__(self, store: Store, slack: SlackGateway) -> None:
        self.store = store
        self.slack = slack

    async def audit(self, app: AppConfig, user: str, team: str, response_url: str) -> None:
        """The app's latest audit entries, shown to its approvers and requesters only."""
        groups = [*app.approvers.usergroups, *(app.requesters.usergroups if app.requesters else [])]
        members = await self.slack.usergroup_members(groups) if groups else set()
        allowed = policy.is_approver(app, user, members) or (
            app.requesters is not None and policy.is_member(app.requesters, user, members)
        )
        if team != self.slack.team_id or not allowed:
            await self.slack.respond(
                response_url, f"Only approvers and requesters of `{app.label}` can read its audit trail."
            )
            return
        entries: list[AuditEvent] = await self.store.audit_for_app(app.name, AUDIT_LINES)
        await self.slack.respond(response_url, audit_text(app.name, entries))
