"""`/deploy`: parse and validate the text, ack within Slack's 3 seconds, hand the AWS work to a task."""

from __future__ import annotations

import re
from typing import Any

import structlog
from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.domain.errors import DeployError, UnknownApp
from bot.domain.lifecycle import check_version
from bot.services import Services
from bot.slack.render import help_blocks

from .payloads import SlashCommand

log = structlog.get_logger(__name__)
COMMAND = "/deploy"
USAGE = "Usage: `/deploy <app> <version>`, for example `/deploy web1 v1.2.3`. `/deploy help` explains more."


def tokens(text: str) -> list[str]:
    # Split on spaces only: a newline or tab inside the version must reach validation and be refused.
    return [t for t in re.split(r" +", text.strip(" ")) if t]


def register(app: AsyncApp, services: Services) -> None:
    @app.command(COMMAND)
    async def deploy(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            cmd = SlashCommand.model_validate(body)
        except ValidationError:
            log.warning("command_malformed")
            await ack(text="That request was malformed, so I ignored it. Try `/deploy help`.")
            return
        words = tokens(cmd.text)
        if not words or words[0] in ("help", "-h", "--help"):
            text, blocks = help_blocks(list(services.catalog.apps))
            await ack(text=text, blocks=[b.to_dict() for b in blocks])
            return
        if words[0] == "audit":
            await audit(ack, services, cmd, words[1:])
            return
        if len(words) != 2:
            await ack(text=f"I need an app and a version. {USAGE}")
            return
        name, version = words
        try:
            app_cfg = services.catalog.get(name)
            if app_cfg is None:
                raise UnknownApp(name, list(services.catalog.apps))
            if version != "latest":
                check_version(version, app_cfg.version_pattern)
        except DeployError as exc:
            await ack(text=exc.message)
            return
        await ack(text=f"Checking `{name}` `{version}` in ECR…")
        structlog.contextvars.bind_contextvars(app=name, version=version)
        services.tasks.spawn(
            "deploy_request",
            services.deployer.request(app_cfg, version, cmd.user_id, cmd.team_id, cmd.response_url, cmd.channel_id),
        )


async def audit(ack: AsyncAck, services: Services, cmd: SlashCommand, args: list[str]) -> None:
    if len(args) != 1:
        await ack(text="Usage: `/deploy audit <app>`, for example `/deploy audit web1`.")
        return
    app_cfg = services.catalog.get(args[0])
    if app_cfg is None:
        await ack(text=UnknownApp(args[0], list(services.catalog.apps)).message)
        return
    await ack(text=f"Reading the audit trail of `{app_cfg.name}`…")
    services.tasks.spawn("audit_trail", services.reports.audit(app_cfg, cmd.user_id, cmd.team_id, cmd.response_url))
