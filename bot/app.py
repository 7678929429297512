"""Composition root: builds deploybot from its settings and catalog; the only module that imports handlers.

``compose`` wires the use cases, the watch loop and their helpers from the ports (tests call it with a
fake engine); ``Runtime`` adds the real adapters (Slack, AWS, the store), Bolt in Socket Mode or HTTP,
the HTTP server (`/healthz`, `/slack/events`, `/api/requests`) and the background loops.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, dialogs, home
from handlers.ci import CiHandoff
from handlers.slack_http import SlackEvents

from . import metrics
from .aws.accounts import Accounts
from .aws.codedeploy.engine import CodeDeployEngine
from .aws.ecr import EcrRegistry
from .aws.ecs.engine import EcsEngine
from .aws.engines import Engines
from .aws.events_queue import EventQueue
from .aws.preflight import AwsInspector
from .domain.catalog import Catalog
from .domain.errors import ChatError
from .domain.keys import APPROVAL_TIMEOUT
from .domain.ports import Chat, Clock, DeploymentEngine, Faults, ImageRegistry, Store, no_faults
from .domain.preflight import Check
from .runtime.config import Settings
from .runtime.stores import StoreSettings, open_store
from .runtime.tasks import TaskSupervisor
from .slack.chat import SlackChat
from .usecases.changed import Changed
from .usecases.clicks import Clicks
from .usecases.delivery import Delivery
from .usecases.dialog import Dialog
from .usecases.freezing import Freezes
from .usecases.gauges import refresh_gauges
from .usecases.holding import NOTE_AFTER, Holding
from .usecases.holds import REMINDER, Holds
from .usecases.home import Home
from .usecases.line import Line
from .usecases.outbox import CLAIM, Outbox
from .usecases.preflight import Preflight
from .usecases.records import Records
from .usecases.recovery import Recovery
from .usecases.reports import Reports
from .usecases.requests import Requests
from .usecases.services import Services
from .usecases.starts import Starts
from .usecases.telling import Teller
from .watch.budget import INSTALLATION_PER_MINUTE, PER_DEPLOYMENT_PER_MINUTE, ReadBudget
from .watch.leases import Leases
from .watch.nudge import Nudge
from .watch.rules import ClockRules
from .watch.wakeup import Wakeup
from .watch.watcher import EVENTS_POLLING, SCAN, STARTING_GRACE, Watcher

log = structlog.get_logger(__name__)
MAX_BODY = 64 * 1024  # Slack payloads are far smaller; anything bigger is not from Slack


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Ports:
    """What deploybot is built on: the outside world, the clock, and the fault hook tests pass in."""

    store: Store
    chat: Chat
    engine: DeploymentEngine
    registry: ImageRegistry
    clock: Clock = utcnow
    faults: Faults = no_faults
    ticker: Callable[[], float] = time.monotonic  # seconds, for the pace of reads (the read budget)


@dataclass(frozen=True)
class Tuning:
    replica: str = "single"
    lease: timedelta = CLAIM
    poll_interval: float = 1.0
    reads_per_minute: float = INSTALLATION_PER_MINUTE
    reads_per_deployment: float = PER_DEPLOYMENT_PER_MINUTE
    clock_speed: float = 1.0  # the clock's seconds per second of the loop (the demo's sandbox clock is faster)
    approval_timeout: timedelta = APPROVAL_TIMEOUT
    lock_reminder: timedelta = REMINDER
    starting_grace: timedelta = STARTING_GRACE
    scan_every: timedelta = SCAN
    note_after: float = NOTE_AFTER  # a slash command's holding note waits this long for the answer
    events: bool = False  # an events queue tells the changes: the polling is the safety net (``EVENTS_POLLING``)


@dataclass(frozen=True)
class Parts:
    """Everything ``compose`` built, for the runtime (and for tests that drive one part directly)."""

    services: Services
    teller: Teller
    outbox: Outbox
    records: Records
    starts: Starts
    recovery: Recovery
    leases: Leases
    watcher: Watcher


def compose(catalog: Catalog, ports: Ports, tuning: Tuning, tasks: TaskSupervisor) -> Parts:
    store, chat, engine, clock, faults = ports.store, ports.chat, ports.engine, ports.clock, ports.faults
    outbox = Outbox(store, chat, tuning.replica, clock, claim=tuning.lease, faults=faults)
    teller = Teller(store, chat, outbox, clock)
    changed = Changed()  # made first: every saved change tells the Home tabs, which are made later
    records = Records(store, teller, clock, changed)
    nudge = Nudge()  # made first: starting and clicking poke the watcher, which is made last
    starts = Starts(engine, records, clock, nudge.poke, faults)
    freezes = Freezes(store, records, chat, clock)
    holds = Holds(store, records, chat, catalog, clock, freezes, reminder=tuning.lock_reminder)
    requests = Requests(
        store,
        records,
        teller,
        chat,
        ports.registry,
        engine,
        holds,
        starts,
        clock,
        tuning.approval_timeout,
        faults,
        unstarted=tuning.starting_grace,
    )
    clicks = Clicks(catalog, store, records, teller, chat, engine, holds, starts, clock, nudge.poke, faults)
    reports = Reports(store, chat, ports.registry, engine, freezes, Delivery(store, clock, engine))
    recovery = Recovery(catalog, store, records, teller, chat, engine, ports.registry, starts, clock)
    leases = Leases(store, tuning.replica, clock, tuning.lease)
    rules = ClockRules(catalog, records, teller, engine, clock)
    watcher = Watcher(
        catalog,
        store,
        records,
        teller,
        engine,
        rules,
        recovery,
        holds,
        leases,
        nudge,
        clock,
        tuning.poll_interval,
        starting_grace=tuning.starting_grace,
        scan_every=tuning.scan_every,
        faults=faults,
        budget=ReadBudget(tuning.reads_per_minute, tuning.reads_per_deployment, ports.ticker),
        clock_speed=tuning.clock_speed,
        ticker=ports.ticker,
        polling=EVENTS_POLLING if tuning.events else 1.0,
        line=Line(catalog, store, records, freezes, requests, clock),
    )
    home_tabs = Home(catalog, store, chat, engine, reports, clock, changed)
    dialog = Dialog(catalog, ports.registry, engine, chat, requests, tasks)
    holding = Holding(chat, tuning.note_after)
    services = Services(catalog, requests, clicks, reports, holds, freezes, tasks, holding, home_tabs, dialog)
    return Parts(services, teller, outbox, records, starts, recovery, leases, watcher)


def preflight_of(
    catalog: Catalog, region: str, endpoint_url: str | None, slack_token: str | None, slack_api_url: str | None
) -> Preflight:
    """The preflight of `deploybot check --aws`: Slack is left out without a token."""
    chat = SlackChat(slack_token, slack_api_url) if slack_token else None
    return Preflight(catalog, AwsInspector(Accounts(region, endpoint_url)), chat)


class Runtime:
    """One running deploybot: Bolt app, watcher, store, and the HTTP server (events and /healthz)."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        *,
        faults: Faults = no_faults,
        clock: Clock = utcnow,
        clock_speed: float = 1.0,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.chat = SlackChat(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_url,
            posts_per_minute=settings.slack_posts_per_minute,
            updates_per_minute=settings.slack_updates_per_minute,
        )
        accounts = Accounts(settings.aws_region, settings.aws_endpoint_url)
        engines: dict[str, DeploymentEngine] = {
            "codedeploy": CodeDeployEngine(accounts, catalog),
            "ecs": EcsEngine(accounts, catalog),
        }
        self.engine = Engines(accounts, catalog, engines)
        self.preflight = Preflight(catalog, AwsInspector(accounts), self.chat) if settings.preflight else None
        self.store = open_store(
            StoreSettings(
                store_url=settings.store_url,
                replicas=settings.replicas,
                aws_region=settings.aws_region,
                aws_endpoint_url=settings.aws_endpoint_url,
            ),
            clock,
        )
        self.tasks = TaskSupervisor()
        # The wall clock, except in the demo: there the bot lives on the sandbox's faster clock, so every
        # time it shows agrees with the AWS it watches.
        self.clock: Clock = clock
        self.replica = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        tuning = Tuning(
            replica=self.replica,
            lease=timedelta(seconds=settings.lease_seconds),
            poll_interval=settings.poll_interval,
            reads_per_minute=settings.reads_per_minute,
            reads_per_deployment=settings.reads_per_deployment,
            clock_speed=clock_speed,
            approval_timeout=timedelta(minutes=settings.approval_timeout_minutes),
            lock_reminder=timedelta(hours=settings.lock_reminder_hours),
            starting_grace=timedelta(seconds=settings.starting_grace_seconds),
            scan_every=timedelta(seconds=settings.scan_seconds),
            note_after=settings.working_note_seconds,
            events=bool(settings.events_queue_url),
        )
        ports = Ports(self.store, self.chat, self.engine, EcrRegistry(accounts), self.clock, faults)
        self.parts = compose(catalog, ports, tuning, self.tasks)
        self.watcher = self.parts.watcher
        self.bolt = AsyncApp(
            client=self.chat.client,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            process_before_response=False,
        )
        commands.register(self.bolt, self.parts.services)
        actions.register(self.bolt, self.parts.services)
        home.register(self.bolt, self.parts.services)
        dialogs.register(self.bolt, self.parts.services)
        self.socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._watcher_task: asyncio.Task[Any] | None = None
        self._home_task: asyncio.Task[Any] | None = None
        self.wakeup: Wakeup | None = None
        if settings.events_queue_url:
            queue = EventQueue(settings.events_queue_url, settings.aws_region, settings.aws_endpoint_url)
            self.wakeup = Wakeup(queue, self.watcher)
        self._wakeup_task: asyncio.Task[Any] | None = None
        self.port = settings.http_port
        self.ready = False
        self._stopped = False

    # -- HTTP --------------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        if self.settings.api_token is not None:
            handoff = CiHandoff(self.settings.api_token, self.catalog, self.parts.services.requests, self.chat)
            app.router.add_post("/api/requests", handoff.handle)
        if not self.settings.socket_mode:
            app.router.add_post("/slack/events", SlackEvents(self.bolt, self.settings.slack_signing_secret).handle)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        checks: dict[str, bool] = {"store": await self._store_ok(), "watcher": self._watcher_alive()}
        if self.wakeup is not None:
            checks["events"] = self._wakeup_task is not None and not self._wakeup_task.done()
        if self.socket is not None:
            checks["socket_mode"] = bool(await self.socket.client.is_connected())
        ok = self.ready and all(checks.values())
        return web.json_response({"ok": ok, "checks": checks}, status=200 if ok else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            await refresh_gauges(self.store, self.clock)
        except Exception:  # noqa: BLE001 - the counters still answer when the store does not
            log.warning("metrics_gauges_unread")
        return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _store_ok(self) -> bool:
        try:
            await self.store.in_flight()
        except Exception:  # noqa: BLE001 - any store failure means not ready
            return False
        return True

    def _watcher_alive(self) -> bool:
        return self._watcher_task is not None and not self._watcher_task.done()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        for warning in self.catalog.warnings():
            log.warning("catalog_warning", problem=warning)
        await identify(self.chat)
        self._watcher_task = asyncio.create_task(self.watcher.run(), name="watcher")
        self._home_task = asyncio.create_task(self.parts.services.home.run(), name="home-tabs")
        if self.wakeup is not None:
            self._wakeup_task = asyncio.create_task(self.wakeup.run(), name="events-wakeup")
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        if self.settings.socket_mode:
            app_token = self.settings.slack_app_token
            if app_token is None:
                raise RuntimeError("Socket Mode needs SLACK_APP_TOKEN (an xapp- token)")
            self.socket = AsyncSocketModeHandler(self.bolt, app_token.get_secret_value())
            await self.socket.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
        self.ready = True
        if self.preflight is not None:
            self.tasks.spawn("preflight", self._preflight())
        log.info(
            "bot_started",
            transport="socket" if self.socket else "http",
            port=self.port,
            apps=len(self.catalog.apps),
            events_queue=self.wakeup is not None,
        )

    async def _preflight(self) -> list[Check]:
        """Once at start-up: what would stop a deployment, logged for whoever runs the bot."""
        checks = await self.preflight.run() if self.preflight is not None else []
        for check in checks:
            where = {"app": check.app, "environment": check.environment}
            for problem in check.problems:
                log.warning("preflight_problem_found", problem=problem, **where)
            for warning in check.warnings:
                log.warning("preflight_warning_found", warning=warning, **where)
        log.info("preflight_finished", usable=sum(c.usable for c in checks), checked=len(checks))
        return checks

    async def stop(self, *, graceful: bool = True) -> None:
        """Stop; ``graceful=False`` leaves leases behind, as a crashed process would (for tests)."""
        if self._stopped:
            return
        self._stopped = True
        self.ready = False
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
        for task in (self._wakeup_task, self._watcher_task, self._home_task):
            if task is not None:
                task.cancel()
                await asyncio.wait({task}, timeout=5)
        await self.tasks.close()
        if graceful:
            await self.parts.leases.release_all()
            await self.parts.outbox.release_all()
        if self._runner is not None:
            await self._runner.cleanup()
        self.store.close()
        log.info("bot_stopped")


async def identify(chat: Chat, first_wait: float = 1.0, longest_wait: float = 30.0) -> None:
    """Who deploybot is in Slack (auth.test), waiting for Slack while it does not answer or answers 5xx (a
    replica started during an outage keeps trying, not ready until then); a refusal (a bad token) is raised."""
    wait = first_wait
    while True:
        try:
            await chat.identify()
            return
        except ChatError as exc:
            if exc.answered:
                raise
            log.warning("slack_unreachable_at_start", error=exc.code, retry_in=wait)
        await asyncio.sleep(wait)
        wait = min(wait * 2, longest_wait)
