"""Slack's HTTP mode: `POST /slack/events`, signature checked strictly before Bolt sees the request."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import structlog
from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.slack.verify import refusal

log = structlog.get_logger(__name__)


class SlackEvents:
    def __init__(self, bolt: AsyncApp, signing_secret: SecretStr) -> None:
        self.bolt = bolt
        self.secret = signing_secret

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()  # over the app's client_max_size: aiohttp answers 413
        reason = refusal(request.headers, body, self.secret.get_secret_value(), time.time())
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
