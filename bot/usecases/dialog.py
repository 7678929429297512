"""The deploy dialog: opened by `/deploy <app>` or the Home tab's Deploy button, its version select filled
from the app's ECR repository, and its submission run through the same request path as the command.

Slack gives a suggestion request 3 seconds, so versions are answered from a short cache and read again
in the background once it is stale; only the very first look at an app waits (briefly) for ECR.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from ..domain import audit
from ..domain.catalog import AppConfig, Catalog
from ..domain.errors import ChatError, DeployError
from ..domain.lifecycle import check_version
from ..domain.models import PushedVersion
from ..domain.ports import Chat, DeploymentEngine, ImageRegistry
from ..render import dialog
from ..runtime.tasks import TaskSupervisor
from .requests import Requests

log = structlog.get_logger(__name__)
FRESH_FOR = 30.0  # seconds a repository's version list is answered without reading it again
FIRST_WAIT = 2.0  # seconds the first suggestion for an app waits for ECR (Slack allows 3)
CHECK_WAIT = 2.0  # seconds a submission's checks may take before the dialog closes anyway
NAMES_WAIT = 0.5  # seconds the names in a refusal may take
MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")


@dataclass(frozen=True)
class Choice:
    """What a submitted dialog asks for, once read and checked."""

    app: AppConfig
    tag: str
    queue: bool = False  # wait in line when the app is busy or locked (`--queue`)


@dataclass
class Dialog:
    catalog: Catalog
    registry: ImageRegistry
    engine: DeploymentEngine
    chat: Chat
    requests: Requests
    tasks: TaskSupervisor
    _versions: dict[str, tuple[float, list[PushedVersion], str | None]] = field(default_factory=dict)
    _reading: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def view(self, app: str | None, environment: str | None, channel: str) -> dict[str, Any]:
        known = app if app in self.catalog.apps else None
        environments = self.catalog.environments(known) if known else []
        if known and environment is None:
            default = self.catalog.get(known)
            environment = default.environment if default else None
        return dialog.dialog_view(self.catalog.names(), environments, known, environment, channel)

    async def open(self, trigger_id: str, user: str, channel: str, app: str | None = None) -> None:
        """Open the dialog (``app`` chosen already when the command named it); warm its version list."""
        view = self.view(app, None, channel)
        try:
            await self.chat.open_view(trigger_id, view)
        except ChatError as exc:
            log.warning("dialog_open_failed", error=exc.code)
            if channel:
                await self.chat.ephemeral(channel, user, dialog_failed(exc.code))
            return
        chosen = self.catalog.get(app) if app else None
        if chosen is not None:
            self._read_soon(chosen)

    async def chosen(self, view_id: str, view_hash: str, app: str, environment: str | None, channel: str) -> None:
        """The person picked an app or an environment: show that app's environments and versions."""
        try:
            await self.chat.update_view(view_id, self.view(app, environment, channel), view_hash)
        except ChatError as exc:  # hash_conflict: they changed it again meanwhile, and that change follows
            log.info("dialog_update_skipped", error=exc.code)
            return
        target = self.catalog.get(app, environment)
        if target is not None:
            self._read_soon(target)

    async def options(self, block_id: str, query: str) -> list[dict[str, Any]]:
        """The versions to offer in the version select (within Slack's 3 seconds)."""
        where = dialog.parse_version_block(block_id)
        app = self.catalog.get(*where) if where else None
        if app is None:
            return []
        cached = self._versions.get(app.key)
        if cached is None:
            task = self._read_soon(app)
            await asyncio.wait({task}, timeout=FIRST_WAIT)
            cached = self._versions.get(app.key)
            if cached is None:
                return []  # ECR is slow or failing: an empty list now, the next keystroke has them
        elif time.monotonic() - cached[0] > FRESH_FOR:
            self._read_soon(app)  # answered from the stale list; the next request sees the new one
        _, versions, running = cached
        return dialog.version_options(versions, running, query)

    def _read_soon(self, app: AppConfig) -> asyncio.Task[None]:
        reading = self._reading.get(app.key)
        if reading is not None and not reading.done():
            return reading
        task = self.tasks.spawn("dialog_versions", self._read(app))
        self._reading[app.key] = task
        return task

    async def _read(self, app: AppConfig) -> None:
        try:
            versions = await self.registry.versions(app)
        except DeployError as exc:
            log.warning("dialog_versions_unread", app=app.name, reason=exc.message)
            return
        try:
            running = await self.registry.version_of(app, (await self.engine.live(app)).image)
        except DeployError:
            running = None
        self._versions[app.key] = (time.monotonic(), versions, running)

    def read(self, values: dict[str, dict[str, Any]]) -> Choice | dict[str, str]:
        """The submitted choice, or the errors to show beside the blocks (block id -> message)."""
        version_block = next((b for b in values if dialog.parse_version_block(b)), None)
        app_name = dialog.selected(values, dialog.APP_BLOCK, dialog.APP)
        if app_name is None or app_name not in self.catalog.apps:
            return {dialog.APP_BLOCK: "Choose one of the apps in the catalog."}
        environment = dialog.selected(values, dialog.ENVIRONMENT_BLOCK, dialog.ENVIRONMENT)
        app = self.catalog.get(app_name, environment)
        if app is None or version_block is None:
            return {dialog.APP_BLOCK: f"Choose an environment of {app_name}."}
        tag = dialog.selected(values, version_block, dialog.VERSION)
        if not tag:
            return {version_block: "Choose a version."}
        try:
            check_version(tag, app.version_pattern)
        except DeployError as exc:
            return {version_block: plain_error(exc.message)}
        return Choice(app, tag, dialog.ticked(values, dialog.QUEUE_BLOCK, dialog.QUEUE))

    async def check(self, choice: Choice, user: str, team: str, channel: str) -> dict[str, str]:
        """The request's own checks (permission, lock and busy unless it waits in line, the tag in ECR), as
        dialog errors; none when they pass or take too long (the request path answers then, in the channel)."""
        audit.begin(team, channel)
        block = dialog.version_block_id(choice.app.name, choice.app.environment)
        try:
            await asyncio.wait_for(
                self.requests.precheck(
                    choice.app, choice.tag, user, team, channel or choice.app.deploy_channel, queue=choice.queue
                ),
                CHECK_WAIT,
            )
        except TimeoutError:
            return {}
        except DeployError as exc:
            return {block: plain_error(await self._named(dialog.in_dialog(exc.message)))}
        return {}

    async def _named(self, message: str) -> str:
        """A dialog's error is plain text, where `<@U…>` shows as written: the people in it by their names."""
        try:  # Slack closes a submission not answered within 3 seconds; the checks had two of them
            names = await asyncio.wait_for(self.chat.user_names(MENTION.findall(message)), NAMES_WAIT)
        except TimeoutError:
            names = {}
        return MENTION.sub(lambda m: f"@{names.get(m.group(1), m.group(1))}", message)

    async def submit(self, choice: Choice, user: str, team: str, channel: str) -> None:
        """Ask for the deployment as `/deploy` does; the answer goes to the person as an ephemeral."""
        where = channel or choice.app.deploy_channel

        async def tell(text: str) -> None:
            await self.chat.ephemeral(where, user, text)

        structlog.contextvars.bind_contextvars(app=choice.app.name, version=choice.tag)
        await self.requests.request(choice.app, choice.tag, user, team, "", where, tell=tell, queue=choice.queue)


def plain_error(message: str) -> str:
    """A dialog error is plain text: Slack shows mrkdwn's backticks and entities literally there."""
    text = message.replace("`", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text if len(text) <= 300 else text[:299] + "…"


def dialog_failed(code: str) -> str:
    return (
        (
            f"The deploy dialog could not be opened ({code}). Type the version instead: "
            "`/deploy <app> <version>`, for example `/deploy web1 v1.2.3`."
        )
        .replace("<app>", "&lt;app&gt;")
        .replace("<version>", "&lt;version&gt;")
    )
