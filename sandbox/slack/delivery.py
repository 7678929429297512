"""Slack -> app delivery, the way Slack does it: signed HTTP posts or Socket Mode envelopes.

Both transports carry the same payloads (the field sets Slack documents) and enforce the same
3-second ack deadline; the outcome is translated into what the person in Slack would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

ACK_DEADLINE = 3.0


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's v0 request signature, written independently of slack_sdk (tests cross-check both)."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class DeliveryResult:
    ok: bool
    error: str | None = None  # what Slack shows: operation_timeout, dispatch_failed, http_client_error, ...
    status: int | None = None
    body: Any = None
    elapsed: float | None = None  # seconds from sending the request to reading the bot's answer (the ack)
    hook: str | None = None  # the response_url sent with it (LocalSlack.hooks), where the app's answers go

    @property
    def text(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("text", ""))
        return str(self.body or "")


@dataclass
class SocketConnection:
    id: int
    ws: web.WebSocketResponse
    retiring: bool = False  # told to disconnect: Slack sends nothing more on it


class Deliverer:
    """Delivers to the bot over HTTP (when ``events_url`` is set) or over Socket Mode."""

    def __init__(self, signing_secret: str) -> None:
        self.signing_secret = signing_secret
        # HTTP mode: one URL, or several replicas behind "a load balancer" that takes turns.
        self.events_urls: list[str] = []
        self.connections: list[SocketConnection] = []
        self._tickets: set[str] = set()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._rr = itertools.count()
        self.ack_deadline = ACK_DEADLINE
        # The last signed post (body, timestamp, content type): what a replay sends again, byte for byte.
        self.last_signed: tuple[str, str, str] | None = None
        self.on_change: Callable[[], Awaitable[None]] | None = None  # wakes waiters when connections change

    @property
    def events_url(self) -> str | None:
        return self.events_urls[0] if self.events_urls else None

    @events_url.setter
    def events_url(self, url: str | None) -> None:
        self.events_urls = [url] if url else []

    def _next_url(self) -> str:
        return self.events_urls[next(self._rr) % len(self.events_urls)]

    # -- socket mode -------------------------------------------------------------------------

    def new_ticket(self) -> str:
        ticket = secrets.token_urlsafe(16)
        self._tickets.add(ticket)
        return ticket

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="invalid ticket")
        self._tickets.discard(ticket)  # one-shot URLs, like Slack's
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = SocketConnection(next(self._ids), ws)
        self.connections.append(conn)
        if self.on_change:
            await self.on_change()
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.connections),
                "debug_info": {"host": "applink-sandbox", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A0DEPLOYBOT"},
            }
        )
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                with contextlib.suppress(ValueError):
                    data = json.loads(msg.data)
                    future = self._pending.get(str(data.get("envelope_id")))
                    if future is not None and not future.done():
                        future.set_result(data)
        finally:
            self.connections = [c for c in self.connections if c.id != conn.id]
            if self.on_change:
                await self.on_change()
        return ws

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        for conn in list(self.connections):
            conn.retiring = True
            await conn.ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-sandbox"}})

    async def _deliver_socket(self, kind: str, payload: dict[str, Any], accepts: bool) -> DeliveryResult:
        live = [c for c in self.connections if not c.retiring]
        if not live:
            return DeliveryResult(False, "dispatch_failed")
        conn = live[next(self._rr) % len(live)]
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = future
        try:
            sent = time.perf_counter()
            await conn.ws.send_json(
                {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": accepts}
            )
            ack = await asyncio.wait_for(future, self.ack_deadline)
            elapsed = time.perf_counter() - sent
        except (TimeoutError, ConnectionError):
            return DeliveryResult(False, "operation_timeout")
        finally:
            self._pending.pop(envelope_id, None)
        return DeliveryResult(True, status=200, body=ack.get("payload") if accepts else None, elapsed=elapsed)

    # -- http mode ---------------------------------------------------------------------------

    async def post_signed(
        self,
        body: str,
        *,
        timestamp: str | None = None,
        signature: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> DeliveryResult:
        if not self.events_urls:
            return DeliveryResult(False, "dispatch_failed")
        url = self._next_url()
        ts = timestamp if timestamp is not None else str(int(time.time()))
        self.last_signed = (body, ts, content_type)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature if signature is not None else sign(self.signing_secret, ts, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.ack_deadline)) as session:
                sent = time.perf_counter()
                async with session.post(url, data=body.encode(), headers=headers) as resp:
                    text = await resp.text()
                    elapsed = time.perf_counter() - sent
                status = resp.status
                is_json = resp.content_type == "application/json"
        except TimeoutError:
            return DeliveryResult(False, "operation_timeout")
        except aiohttp.ClientError:
            return DeliveryResult(False, "dispatch_failed")
        if status != 200:
            return DeliveryResult(
                False, "http_client_error" if status < 500 else "http_service_error", status=status, body=text
            )
        parsed: Any = text
        if is_json and text:
            with contextlib.suppress(ValueError):
                parsed = json.loads(text)
        return DeliveryResult(True, status=200, body=parsed, elapsed=elapsed)

    async def replay(self) -> DeliveryResult:
        """The last signed post again, same body, timestamp and signature: a captured request replayed
        within Slack's five minutes (which the signature alone cannot refuse)."""
        if self.last_signed is None:
            raise LookupError("nothing was posted yet")
        body, ts, content_type = self.last_signed
        return await self.post_signed(body, timestamp=ts, content_type=content_type)

    # -- both --------------------------------------------------------------------------------

    async def slash_command(self, fields: dict[str, str]) -> DeliveryResult:
        if self.events_urls:
            return await self.post_signed(urlencode(fields))
        return await self._deliver_socket("slash_commands", fields, accepts=True)

    async def event(self, payload: dict[str, Any]) -> DeliveryResult:
        """An Events API event: a signed JSON post, or an ``events_api`` envelope."""
        if self.events_urls:
            return await self.post_signed(json.dumps(payload), content_type="application/json")
        return await self._deliver_socket("events_api", payload, accepts=False)

    async def with_response(self, payload: dict[str, Any]) -> DeliveryResult:
        """An interaction whose ack carries an answer (block_suggestion's options, view_submission's
        response_action): the same form post over HTTP; an envelope that accepts a payload in Socket Mode."""
        if self.events_urls:
            return await self.post_signed(urlencode({"payload": json.dumps(payload)}))
        return await self._deliver_socket("interactive", payload, accepts=True)

    async def interactive(self, payload: dict[str, Any]) -> DeliveryResult:
        if self.events_urls:
            return await self.post_signed(urlencode({"payload": json.dumps(payload)}))
        return await self._deliver_socket("interactive", payload, accepts=False)
