"""The deploy dialog's traffic: the version select's options, an app or environment picked, the submission.

Each is answered within Slack's 3 seconds: options from the dialog's cache, a pick with an empty ack
(the view is updated after), a submission with its errors in place or an empty ack that closes it.
"""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.render import dialog
from bot.usecases.dialog import Choice
from bot.usecases.services import Services

from .payloads import DialogChange, Submission, Suggestion

log = structlog.get_logger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    @app.options(dialog.VERSION)
    async def on_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            asked = Suggestion.model_validate(body)
        except ValidationError:
            log.warning("options_malformed")
            await ack(options=[])
            return
        await ack(options=await services.dialog.options(asked.block_id, asked.value))

    @app.action(dialog.APP)
    @app.action(dialog.ENVIRONMENT)
    async def on_pick(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        try:
            change = DialogChange.model_validate(body)
        except ValidationError:
            log.warning("dialog_change_malformed")
            return
        values = change.view.state.values
        app_name = dialog.selected(values, dialog.APP_BLOCK, dialog.APP)
        if app_name is None:
            return
        picked = change.actions[0]
        environment = dialog.selected(values, dialog.ENVIRONMENT_BLOCK, dialog.ENVIRONMENT)
        if picked.action_id == dialog.APP:
            environment = None  # another app: its own default environment
        channel = dialog.channel_of(change.view.private_metadata)
        work = services.dialog.chosen(change.view.id, change.view.hash, app_name, environment, channel)
        services.tasks.spawn("dialog_pick", work)

    @app.view(dialog.CALLBACK)
    async def on_submit(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            sent = Submission.model_validate(body)
        except ValidationError:
            log.warning("dialog_submission_malformed")
            await ack(response_action="errors", errors={dialog.APP_BLOCK: "That did not arrive whole; try again."})
            return
        choice = services.dialog.read(sent.view.state.values)
        team = sent.team.id if sent.team else sent.user.team_id
        channel = dialog.channel_of(sent.view.private_metadata)
        if not isinstance(choice, Choice):
            await ack(response_action="errors", errors=choice)
            return
        errors = await services.dialog.check(choice, sent.user.id, team, channel)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()  # closes the dialog; the request's own answer follows in the channel
        services.tasks.spawn("dialog_submit", services.dialog.submit(choice, sent.user.id, team, channel))
