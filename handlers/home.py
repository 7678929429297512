"""The Home tab: published when someone opens it; its Deploy button opens the deploy dialog."""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.render.home import OPEN_DIALOG
from bot.usecases.services import Services

from .payloads import DeployButton, HomeOpened

log = structlog.get_logger(__name__)
EVENTS = ("app_home_opened",)  # what the manifest must subscribe to


def register(app: AsyncApp, services: Services) -> None:
    @app.event(EVENTS[0])
    async def on_home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
        try:
            opened = HomeOpened.model_validate(event)
        except ValidationError:
            log.warning("home_event_malformed")
            return
        if opened.tab != "home":
            return  # the Messages and About tabs are Slack's own
        team = str(body.get("team_id") or "")
        services.tasks.spawn("home_opened", services.home.opened(opened.user, team))

    @app.action(OPEN_DIALOG)
    async def on_deploy_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        try:
            click = DeployButton.model_validate(body)
        except ValidationError:
            log.warning("click_malformed")
            return
        services.tasks.spawn("dialog_open", services.dialog.open(click.trigger_id, click.user.id, ""))
