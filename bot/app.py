"""Composition root: builds the bot from settings and the catalog; the only module that imports handlers."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from handlers import actions, commands

from .aws.events_queue import EventQueue
from .aws.gateway import AwsGateway
from .catalog import Catalog
from .ci import CiHandoff
from .config import Settings
from .deployer import Deployer
from .holds import Holds
from .notifier import Notifier
from .outbox import Outbox
from .recovery import Recovery
from .reports import Reports
from .services import Services
from .slack.gateway import SlackGateway
from .slack.verify import refusal
from .store.factory import StoreSettings, open_store
from .tasks import TaskSupervisor
from .wakeup import Wakeup
from .watcher import Watcher

log = structlog.get_logger(__name__)
MAX_BODY = 64 * 1024  # Slack payloads are far smaller; anything bigger is not from Slack


def utcnow() -> datetime:
    return datetime.now(UTC)


class Runtime:
    """One running deploybot: Bolt app, watcher, store, and the HTTP server (events and /healthz)."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self.slack = SlackGateway(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_url,
            posts_per_minute=settings.slack_posts_per_minute,
            updates_per_minute=settings.slack_updates_per_minute,
        )
        self.aws = AwsGateway(settings.aws_region, settings.aws_endpoint_url)
        self.store = open_store(
            StoreSettings(
                store_url=settings.store_url,
                replicas=settings.replicas,
                aws_region=settings.aws_region,
                aws_endpoint_url=settings.aws_endpoint_url,
            )
        )
        self.tasks = TaskSupervisor()
        self.replica = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        outbox = Outbox(self.store, self.slack, self.replica, utcnow, claim=timedelta(seconds=settings.lease_seconds))
        self.notifier = Notifier(self.slack, settings.aws_region, outbox)
        self.watcher = Watcher(
            catalog,
            self.store,
            self.aws,
            self.notifier,
            settings.poll_interval,
            utcnow,
            replica=self.replica,
            lease=timedelta(seconds=settings.lease_seconds),
            starting_grace=timedelta(seconds=settings.starting_grace_seconds),
            scan_every=timedelta(seconds=settings.scan_seconds),
        )
        self.holds = Holds(
            self.store, self.slack, catalog, utcnow, reminder=timedelta(hours=settings.lock_reminder_hours)
        )
        self.deployer = Deployer(
            catalog,
            self.store,
            self.aws,
            self.aws,
            self.notifier,
            poke=self.watcher.poke,
            clock=utcnow,
            holds=self.holds,
            approval_timeout=timedelta(minutes=settings.approval_timeout_minutes),
        )
        self.watcher.holds = self.holds
        recovery = Recovery(self.deployer)
        self.watcher.recover = recovery.stranded
        self.watcher.find_lost = recovery.lost
        self.bolt = AsyncApp(
            client=self.slack.client,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            process_before_response=False,
        )
        services = Services(
            catalog=catalog,
            deployer=self.deployer,
            tasks=self.tasks,
            reports=Reports(self.store, self.slack, self.aws, self.aws),
            holds=self.holds,
        )
        commands.register(self.bolt, services)
        actions.register(self.bolt, services)
        self.socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._watcher_task: asyncio.Task[Any] | None = None
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
        if self.settings.api_token is not None:
            handoff = CiHandoff(self.settings.api_token, self.catalog, self.deployer, self.slack)
            app.router.add_post("/api/requests", handoff.handle)
        if not self.settings.socket_mode:
            app.router.add_post("/slack/events", self._events)
        return app

    async def _events(self, request: web.Request) -> web.Response:
        body = await request.read()  # over MAX_BODY: aiohttp answers 413
        reason = refusal(request.headers, body, self.settings.slack_signing_secret.get_secret_value(), time.time())
        if reason is not None:
            log.warning("request_refused", reason=reason)
            return web.json_response({"ok": False, "error": "invalid_signature"}, status=401)
        bolt_request = await to_bolt_request(request)
        if not bolt_request.body and "command=" in bolt_request.raw_body:
            # slack_bolt treats any body containing "payload" as an interactive payload, so a slash
            # command such as `/deploy payload-api v1` parses as {}; parse it as the form it is.
            bolt_request.body = dict(parse_qsl(bolt_request.raw_body, keep_blank_values=True))
        bolt_response = await self.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def _healthz(self, request: web.Request) -> web.Response:
        checks: dict[str, bool] = {"store": await self._store_ok(), "watcher": self._watcher_alive()}
        if self.wakeup is not None:
            checks["events"] = self._wakeup_task is not None and not self._wakeup_task.done()
        if self.socket is not None:
            checks["socket_mode"] = bool(await self.socket.client.is_connected())
        ok = self.ready and all(checks.values())
        return web.json_response({"ok": ok, "checks": checks}, status=200 if ok else 503)

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
        await self.slack.identify()
        self._watcher_task = asyncio.create_task(self.watcher.run(), name="watcher")
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
        log.info(
            "bot_started",
            transport="socket" if self.socket else "http",
            port=self.port,
            apps=len(self.catalog.apps),
            events_queue=self.wakeup is not None,
        )

    async def stop(self, *, graceful: bool = True) -> None:
        """Stop; ``graceful=False`` leaves leases behind, as a crashed process would (for tests)."""
        if self._stopped:
            return
        self._stopped = True
        self.ready = False
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
        for task in (self._wakeup_task, self._watcher_task):
            if task is not None:
                task.cancel()
                await asyncio.wait({task}, timeout=5)
        await self.tasks.close()
        if graceful:
            await self.watcher.release_all()
            await self.notifier.outbox.release_all()
        if self._runner is not None:
            await self._runner.cleanup()
        self.store.close()
        log.info("bot_stopped")
