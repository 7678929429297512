"""The Home tab: published whole for the person who opens it, and again for the people who opened it
recently whenever something they see changes (a record saved, a lock taken), within Slack's limits.

``Records`` tells ``Changed`` which app changed; ``Home.run`` is the loop that re-publishes. Another
replica's changes are seen at the next refresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import deque
from dataclasses import dataclass, field

import structlog

from ..domain import policy
from ..domain.catalog import AppConfig, Catalog
from ..domain.errors import ChatError, DeployError
from ..domain.lifecycle import Action, require_action
from ..domain.models import Deployment
from ..domain.ports import Chat, Clock, DeploymentEngine, Store
from ..render.home import HomeState, Where, failed, home_view
from .changed import Changed
from .reports import Reports

log = structlog.get_logger(__name__)
VIEWERS_FOR = 30 * 60.0  # seconds: who opened the Home tab this recently is kept current
REFRESH = 30.0  # seconds: the longest a viewer's tab waits to be read again (other replicas' changes)
LIVE_FOR = 60.0  # seconds: what a service runs is read from AWS at most this often, unless a deployment ended
COALESCE = 0.5  # seconds: a burst of saves becomes one publish
PUBLISHES_PER_MINUTE = 50  # views.publish is Tier 4 (100+ a minute); half of it leaves room for retries
FAILURES = 5


@dataclass
class _Viewer:
    team: str
    opened: float
    published: str = ""  # the digest of the view Slack shows them


@dataclass
class Home:
    catalog: Catalog
    store: Store
    chat: Chat
    engine: DeploymentEngine
    reports: Reports
    clock: Clock
    changed: Changed
    refresh: float = REFRESH
    _viewers: dict[str, _Viewer] = field(default_factory=dict)
    _live: dict[str, tuple[float, Where]] = field(default_factory=dict)
    _sent: deque[float] = field(default_factory=deque)

    async def opened(self, user: str, team: str) -> None:
        """``user`` opened the Home tab: publish it for them now, and keep it current for a while."""
        viewer = self._viewers.get(user)
        if viewer is None:
            viewer = self._viewers[user] = _Viewer(team, time.monotonic())
        viewer.opened = time.monotonic()
        await self._publish(user, viewer, force=True)

    async def run(self) -> None:
        """Re-publish the recent viewers' tabs when something changed (or every ``refresh`` seconds)."""
        while True:
            await self.changed.wait(self.refresh)
            await asyncio.sleep(COALESCE)
            _, ended = self.changed.take()
            for name in ended:
                self._live = {k: v for k, v in self._live.items() if k.split(":", 1)[0] != name}
            now = time.monotonic()
            self._viewers = {u: v for u, v in self._viewers.items() if now - v.opened < VIEWERS_FOR}
            for user, viewer in list(self._viewers.items()):
                try:
                    await self._publish(user, viewer)
                except Exception:  # one tab that fails must not stop the others' updates
                    log.exception("home_publish_failed", user=user)

    def _turn(self) -> bool:
        now = time.monotonic()
        while self._sent and now - self._sent[0] > 60.0:
            self._sent.popleft()
        if len(self._sent) >= PUBLISHES_PER_MINUTE:
            return False
        self._sent.append(now)
        return True

    async def _publish(self, user: str, viewer: _Viewer, *, force: bool = False) -> None:
        view = home_view(await self.state(user, viewer.team))
        digest = hashlib.sha256(json.dumps(view["blocks"][3:], sort_keys=True).encode()).hexdigest()
        if not force and digest == viewer.published:
            return  # nothing they see changed (the "Updated" time aside)
        if not force and not self._turn():
            return  # over the budget: the next round publishes whatever the state is then
        try:
            await self.chat.publish_home(user, view)
        except ChatError as exc:
            log.warning("home_publish_refused", user=user, error=exc.code)
            return
        viewer.published = digest
        log.info("home_published", user=user)

    async def state(self, user: str, team: str) -> HomeState:
        """What ``user``'s Home tab shows now."""
        in_flight = [r for r in await self.store.in_flight() if not r.state.terminal]
        flying = [(r, self._link(r)) for r in sorted(in_flight, key=lambda r: r.created_at)]
        yours = [(r, link) for r, link in flying if await self._may_approve(r, user, team)]
        rows = [await self._where(app) for app in self.catalog.all()]
        failures: list[Deployment] = []
        for app in self.catalog.all():
            failures += [r for r in await self.store.history(app.name, app.environment, 10) if failed(r)]
        failures.sort(key=lambda r: r.finished_at or r.updated_at, reverse=True)
        holds = sorted((h for h in await self.store.holds() if h.kind == "lock"), key=lambda h: h.since)
        freezes = [(app.label, f) for app in self.catalog.all() if (f := await self.reports.freezes.in_force(app))]
        fails = [(r, self._link(r)) for r in failures[:FAILURES]]
        return HomeState(rows, flying, yours, holds, fails, self.clock(), freezes)

    def _link(self, record: Deployment) -> str:
        return self.chat.permalink(record.channel, record.message_ts) if record.message_ts else ""

    async def _may_approve(self, record: Deployment, user: str, team: str) -> bool:
        """Whether an Approve click by ``user`` would count now (the checks the click itself makes)."""
        app = self.catalog.get(record.app, record.environment)
        if app is None:
            return False
        try:
            require_action(record, Action.APPROVE)
            members = await self.chat.group_members(policy.groups(app))
            policy.check(Action.APPROVE, app, record, user, team, members)
        except DeployError:
            return False
        return record.expires_at is None or self.clock() < record.expires_at

    async def _where(self, app: AppConfig) -> Where:
        cached = self._live.get(app.key)
        if cached is not None and time.monotonic() - cached[0] < LIVE_FOR:
            return cached[1]
        running = await self.reports.running(app, [])
        try:
            engine_name = (await self.engine.plan(app)).engine_name
        except DeployError:
            engine_name = ""
        where = Where(running, engine_name)
        self._live[app.key] = (time.monotonic(), where)
        return where
