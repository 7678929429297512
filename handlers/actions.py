"""Button clicks: ack first, then re-check state and permission on the server in a task."""

from __future__ import annotations

import re
from typing import Any

import structlog
from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.domain.lifecycle import Action
from bot.usecases.services import Services

from .payloads import ButtonClick

log = structlog.get_logger(__name__)
ACTION_PATTERN = re.compile(r"^deploy_")


def register(app: AsyncApp, services: Services) -> None:
    @app.action(ACTION_PATTERN)
    async def on_click(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        try:
            click = ButtonClick.model_validate(body)
            action = Action(click.actions[0].action_id)
        except (ValidationError, ValueError):
            log.warning("click_malformed")
            return
        channel = click.channel.id if click.channel else ""  # "": pressed on the Home tab
        services.tasks.spawn(
            "deploy_click",
            services.clicks.click(action, click.actions[0].value, click.user.id, click.user.team_id, channel),
            request_id=click.actions[0].value,
        )
