"""Read-only answers in Slack: what runs where (`/deploy status`), what happened (`/deploy history`),
the delivery figures (`/deploy stats`) and an app's audit trail (`/deploy audit`)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from ..domain import audit, policy
from ..domain.catalog import AppConfig
from ..domain.errors import DeployError, NotAllowed
from ..domain.models import Deployment, State
from ..domain.ports import Chat, DeploymentEngine, ImageRegistry, Store
from ..render.answers import Running, audit_text, history_text, status_text
from ..render.stats import stats_text
from .delivery import Delivery
from .freezing import Freezes
from .permits import permitted

log = structlog.get_logger(__name__)
AUDIT_LINES = 15
HISTORY_LINES = 10


@dataclass(frozen=True)
class Reports:
    store: Store
    chat: Chat
    registry: ImageRegistry
    engine: DeploymentEngine
    freezes: Freezes
    delivery: Delivery

    async def _reported(self, team: str, response_url: str) -> bool:
        try:
            policy.check_report(team, self.chat.home_team)
        except NotAllowed as exc:
            await self.chat.respond(response_url, exc.message)
            return False
        return True

    async def status(self, apps: list[AppConfig], team: str, response_url: str) -> None:
        """Per app and environment: version, digest, task definition, since when, by whom, and what is in flight."""
        if not await self._reported(team, response_url):
            return
        in_flight = await self.store.in_flight()
        rows = [await self.running(app, in_flight) for app in apps]
        held = {app.label: (await self.store.get_hold(app.key), await self.freezes.in_force(app)) for app in apps}
        await self.chat.respond(response_url, status_text(rows, held, self.freezes.clock()))

    async def running(self, app: AppConfig, in_flight: list[Deployment]) -> Running:
        """What the app runs in that environment, how it got there, and what is in flight for it."""
        mine = [
            (r, self.chat.permalink(r.channel, r.message_ts or ""))
            for r in in_flight
            if r.app == app.name and r.environment == app.environment and not r.state.terminal
        ]
        mine.sort(key=lambda pair: (pair[0].state is State.QUEUED, pair[0].queued_at or pair[0].created_at))
        listed = {r.id for r, _ in mine}  # a request waiting to expire is in flight already: once is enough
        pending = [
            (r, self.chat.permalink(r.channel, r.message_ts or ""))
            for r in await self.store.history(app.name, app.environment, 5)
            if r.state is State.PENDING_APPROVAL and r.message_ts and r.id not in listed
        ]
        try:
            live = await self.engine.live(app)
            version = await self.registry.version_of(app, live.image)
        except DeployError as exc:
            return Running(app.label, None, "", "", None, None, None, mine + pending, error=exc.message)
        digest = live.image.split("@", 1)[1] if "@" in live.image else ""  # "": running by tag, not pinned
        done = [r for r in await self.store.history(app.name, app.environment, 50) if r.state is State.SUCCEEDED]
        record = next((r for r in done if r.task_definition_arn == live.task_definition), None)
        outside = None
        if record is None:
            try:
                past = await self.engine.recent(app, 10)
            except DeployError:
                past = []
            outside = next((d for d in past if d.succeeded), None)
            if outside is not None and outside.ours:  # deploybot's own, told as the request it was
                record = next((r for r in done if r.deployment_id == outside.deployment_id), None)
                outside = None if record is not None else outside
        since = record.finished_at if record else (outside.complete_time if outside else None)
        return Running(app.label, version, digest, live.task_definition, since, record, outside, mine + pending)

    async def history(self, app: AppConfig, team: str, response_url: str) -> None:
        """The latest deployments: deploybot's requests merged with the engine's own list."""
        if not await self._reported(team, response_url):
            return
        records = await self.store.history(app.name, app.environment, HISTORY_LINES)
        try:
            past = await self.engine.recent(app, HISTORY_LINES)
        except DeployError as exc:
            log.warning("history_read_failed", reason=exc.message)
            past = []
        links = {r.id: self.chat.permalink(r.channel, r.message_ts) for r in records if r.message_ts}
        await self.chat.respond(response_url, history_text(app.label, records, past, links))

    async def stats(self, app: AppConfig, days: int, team: str, response_url: str) -> None:
        """The four delivery figures of ``app`` over the last ``days``."""
        if not await self._reported(team, response_url):
            return
        await self.chat.respond(response_url, stats_text(app, await self.delivery.figures(app, days)))

    async def audit(self, app: AppConfig, user: str, team: str, response_url: str) -> None:
        """The app's latest audit entries, for its approvers and requesters."""
        audit.begin(team, "")
        if not await permitted(self.chat, policy.Ask.AUDIT, app, user, team, response_url):
            return
        entries = await self.store.audit_for_app(app.name, AUDIT_LINES)
        await self.chat.respond(response_url, audit_text(app.name, entries))
