"""`/deploy`: parse and validate the text, ack within Slack's 3 seconds, hand the AWS work to a task."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.config import AppConfig, Catalog
from bot.domain.errors import DeployError, UnknownApp, shown
from bot.domain.lifecycle import check_version
from bot.services import Services
from bot.slack.render import help_blocks

from .payloads import SlashCommand

log = structlog.get_logger(__name__)
COMMAND = "/deploy"
USAGE = "Usage: `/deploy &lt;app&gt; &lt;version&gt;`, for example `/deploy web1 v1.2.3`. `/deploy help` explains more."


def tokens(text: str) -> list[str]:
    # Split on spaces only: a newline or tab inside the version must reach validation and be refused.
    return [t for t in re.split(r" +", text.strip(" ")) if t]


@dataclass(frozen=True)
class Parsed:
    kind: str  # "help", "audit" or "deploy"
    app: AppConfig | None = None
    version: str = ""


def parse(text: str, catalog: Catalog) -> Parsed:
    """What the command text asks for; DeployError (with a message safe to show) when it is not valid."""
    words = tokens(text)
    if not words or words[0] in ("help", "-h", "--help"):
        return Parsed("help")
    if words[0] == "audit":
        if len(words) != 2:
            raise DeployError("Usage: `/deploy audit &lt;app&gt;`, for example `/deploy audit web1`.")
        return Parsed("audit", _app(words[1], catalog))
    if len(words) != 2:
        raise DeployError(f"I need an app and a version. {USAGE}")
    app_cfg = _app(words[0], catalog)
    if words[1] != "latest":
        check_version(words[1], app_cfg.version_pattern)
    return Parsed("deploy", app_cfg, words[1])


def _app(name: str, catalog: Catalog) -> AppConfig:
    found = catalog.get(name)
    if found is None:
        raise UnknownApp(name, list(catalog.apps))
    return found


def register(app: AsyncApp, services: Services) -> None:
    @app.command(COMMAND)
    async def deploy(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            cmd = SlashCommand.model_validate(body)
        except ValidationError:
            log.warning("command_malformed")
            await ack(text="That request was malformed, so I ignored it. Try `/deploy help`.")
            return
        try:
            parsed = parse(cmd.text, services.catalog)
        except DeployError as exc:
            await ack(text=exc.message)
            return
        if parsed.kind == "help" or parsed.app is None:
            text, blocks = help_blocks(list(services.catalog.apps))
            await ack(text=text, blocks=[b.to_dict() for b in blocks])
            return
        app_cfg = parsed.app
        if parsed.kind == "audit":
            await ack(text=f"Reading the audit trail of `{app_cfg.name}`…")
            services.tasks.spawn(
                "audit_trail", services.reports.audit(app_cfg, cmd.user_id, cmd.team_id, cmd.response_url)
            )
            return
        version = parsed.version
        await ack(text=f"Checking `{app_cfg.name}` `{shown(version)}` in ECR…")
        structlog.contextvars.bind_contextvars(app=app_cfg.name, version=version)
        services.tasks.spawn(
            "deploy_request",
            services.deployer.request(app_cfg, version, cmd.user_id, cmd.team_id, cmd.response_url, cmd.channel_id),
        )
