"""Read-only answers in Slack: what runs where (`/deploy status`), what happened (`/deploy history`),
and an app's audit trail (`/deploy audit`)."""

from __future__ import annotations

import structlog

from .catalog import AppConfig
from .domain import policy
from .domain.audit import AuditEvent
from .domain.errors import DeployError
from .domain.models import Deployment, State
from .domain.ports import DeployPlatform, ImageRegistry, Store
from .slack.answers import Running, audit_text, history_text, status_text
from .slack.gateway import SlackGateway

log = structlog.get_logger(__name__)
AUDIT_LINES = 15
HISTORY_LINES = 10


class Reports:
    def __init__(self, store: Store, slack: SlackGateway, registry: ImageRegistry, platform: DeployPlatform) -> None:
        self.store = store
        self.slack = slack
        self.registry = registry
        self.platform = platform

    def _outsider(self, team: str) -> bool:
        return bool(self.slack.team_id) and team != self.slack.team_id

    async def status(self, apps: list[AppConfig], team: str, response_url: str) -> None:
        """Per app and environment: version, digest, task definition, since when, by whom, and what is in flight."""
        if self._outsider(team):
            await self.slack.respond(response_url, "deploybot only answers people of its own workspace.")
            return
        in_flight = await self.store.in_flight()
        rows = [await self._running(app, in_flight) for app in apps]
        await self.slack.respond(response_url, status_text(rows))

    async def _running(self, app: AppConfig, in_flight: list[Deployment]) -> Running:
        mine = [
            (r, self.slack.permalink(r.channel, r.message_ts or ""))
            for r in in_flight
            if r.app == app.name and r.environment == app.environment and not r.state.terminal
        ]
        pending = [
            (r, self.slack.permalink(r.channel, r.message_ts or ""))
            for r in await self.store.history(app.name, app.environment, 5)
            if r.state is State.PENDING_APPROVAL and r.message_ts
        ]
        try:
            service = await self.platform.service_state(app.cluster, app.service, app.container)
            version = await self.registry.version_of(app.repository, service.image, app.version_pattern)
        except DeployError as exc:
            return Running(app.label, None, "", "", None, None, None, mine + pending, error=exc.message)
        digest = service.image.split("@", 1)[1] if "@" in service.image else service.image.rsplit(":", 1)[-1]
        record = next(
            (
                r
                for r in await self.store.history(app.name, app.environment, 50)
                if r.state is State.SUCCEEDED and r.task_definition_arn == service.task_definition_arn
            ),
            None,
        )
        outside = None
        since = record.finished_at if record else None
        if record is None:
            try:
                past = await self.platform.recent_deployments(app.codedeploy_application, app.deployment_group, 10)
            except DeployError:
                past = []
            outside = next((d for d in past if d.status == "Succeeded"), None)
            since = outside.complete_time if outside else None
        return Running(app.label, version, digest, service.task_definition_arn, since, record, outside, mine + pending)

    async def history(self, app: AppConfig, team: str, response_url: str) -> None:
        """The latest deployments: deploybot's requests merged with CodeDeploy's own list."""
        if self._outsider(team):
            await self.slack.respond(response_url, "deploybot only answers people of its own workspace.")
            return
        records = await self.store.history(app.name, app.environment, HISTORY_LINES)
        try:
            past = await self.platform.recent_deployments(
                app.codedeploy_application, app.deployment_group, HISTORY_LINES
            )
        except DeployError as exc:
            log.warning("history_read_failed", reason=exc.message)
            past = []
        links = {r.id: self.slack.permalink(r.channel, r.message_ts) for r in records if r.message_ts}
        await self.slack.respond(response_url, history_text(app.label, records, past, links))

    async def audit(self, app: AppConfig, user: str, team: str, response_url: str) -> None:
        """The app's latest audit entries, shown to its approvers and requesters only."""
        groups = [*app.approvers.usergroups, *(app.requesters.usergroups if app.requesters else [])]
        members = await self.slack.usergroup_members(groups) if groups else set()
        allowed = policy.is_approver(app, user, members) or (
            app.requesters is not None and policy.is_member(app.requesters, user, members)
        )
        if self._outsider(team) or not allowed:
            await self.slack.respond(
                response_url, f"Only approvers and requesters of `{app.label}` can read its audit trail."
            )
            return
        entries: list[AuditEvent] = await self.store.audit_for_app(app.name, AUDIT_LINES)
        await self.slack.respond(response_url, audit_text(app.name, entries))
