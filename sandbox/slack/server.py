"""The local Slack workspace server: Web API, Socket Mode, response_url hooks, control API, web page.

``LocalSlack`` is also the pytest-facing API: send a slash command as a user, click a button on a
message, wait for a message that matches, list the calls of a method.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from .delivery import Deliverer, DeliveryResult
from .surfaces import Surfaces
from .workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER,
    TEAM_DOMAIN,
    TEAM_ID,
    Call,
    Message,
    SlackError,
    Workspace,
)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# The page's icon (browsers ask for /favicon.ico whatever the page says): a rocket on deploybot's blue.
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" '
    b'fill="#1d3557"/><text x="32" y="44" font-size="36" text-anchor="middle">\xf0\x9f\x9a\x80</text></svg>'
)
HOOK_USES = 5
HOOK_TTL = 30 * 60
PANEL_SECONDS = 5  # the longest a page waits for a change before it reads the AWS panel again


@dataclass
class Hook:
    channel: str
    user: str
    message_ts: str | None
    created: float
    uses: int = 0
    said: list[str] = field(default_factory=list)  # the texts the app sent back through it, in order


class RateLimiter:
    """Slack's limits, simplified: ~1 chat.postMessage per second per channel, Tier 3 for chat.update."""

    def __init__(self) -> None:
        self.enabled = False
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def check(self, method: str, args: dict[str, Any]) -> float | None:
        if not self.enabled:
            return None
        if method == "chat.postMessage":
            key, limit, window = f"post:{args.get('channel')}", 3, 3.0
        elif method == "chat.update":
            key, limit, window = "update", 50, 60.0
        else:
            return None
        now = time.monotonic()
        hits = self._hits[key]
        while hits and now - hits[0] > window:
            hits.popleft()
        if len(hits) >= limit:
            return max(1.0, window - (now - hits[0]))
        hits.append(now)
        return None


AwsPanel = Callable[[], Awaitable[dict[str, Any]]]
AwsControl = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
AwsStats = Callable[[], dict[str, Any]]


class LocalSlack:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.host, self.port = host, port
        self.ws = Workspace(clock)
        self.deliverer = Deliverer(self.ws.signing_secret)
        self.deliverer.on_change = self.changed
        self.surfaces = Surfaces(self.ws, self.deliverer, self.changed)
        self.limiter = RateLimiter()
        # Per method, what the next calls get: "429", "500", "timeout", "fatal" (ok:false fatal_error,
        # which slack_sdk does not retry), or "ok" (answered normally).
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.outage = False  # every Web API call answers 503 while it lasts (Slack's incidents look so)
        self.hooks: dict[str, Hook] = {}
        self.aws_panel: AwsPanel | None = None
        self.aws_control: AwsControl | None = None
        self.aws_stats: AwsStats | None = None
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.base_url = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self.deliverer.websocket)
        app.router.add_post("/hooks/{hook_id}", self._hook)
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/favicon.ico", self._favicon)
        app.router.add_get("/_sandbox/state", self._state)
        app.router.add_post("/_sandbox/command", self._control_command)
        app.router.add_post("/_sandbox/click", self._control_click)
        app.router.add_post("/_sandbox/faults", self._control_faults)
        app.router.add_post("/_sandbox/view", self._control_view)
        app.router.add_post("/_sandbox/aws", self._control_aws)
        app.router.add_get("/_sandbox/stats", self._stats)
        return app

    async def start(self) -> LocalSlack:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        self.base_url = f"http://{self.host}:{self.port}"
        return self

    async def stop(self) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()  # release long-polling pages so shutdown does not wait for them
        for conn in list(self.deliverer.connections):
            await conn.ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def env(self) -> dict[str, str]:
        return {
            "SLACK_BOT_TOKEN": self.ws.bot_token,
            "SLACK_SIGNING_SECRET": self.ws.signing_secret,
            "SLACK_APP_TOKEN": self.ws.app_token,
            "DEPLOYBOT_SLACK_API_URL": self.api_url,
        }

    async def changed(self) -> None:
        self.ws.touch()
        async with self._changed:
            self._changed.notify_all()

    # -- Web API -----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                with contextlib.suppress(ValueError):
                    body = await request.json()
                    if isinstance(body, dict):
                        args.update(body)
            else:
                args.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else str(args.pop("token", ""))
        args.pop("team_id", None)  # Bolt adds team_id to every call; Slack ignores it for single workspaces
        headers = {"x-oauth-scopes": ",".join(sorted(self.ws.scopes))}
        if self.outage:
            self._record(method, args, False, "service_unavailable")
            await self.changed()
            return web.Response(status=503, text="Service Unavailable", content_type="text/plain")
        try:
            fault = self.faults[method].popleft() if self.faults[method] else None
            if fault == "timeout":
                await asyncio.sleep(30)
            if fault == "500":
                self._record(method, args, False, "internal_error")
                await self.changed()  # a test waiting on Slack being down sees each refused call
                return web.Response(status=500, text="<html>Internal Server Error</html>", content_type="text/html")
            if fault == "fatal":
                raise SlackError("fatal_error")
            retry_after = 1.0 if fault == "429" else self.limiter.check(method, args)
            if retry_after is not None:
                raise SlackError("ratelimited", _retry_after=retry_after)
            result = await self._dispatch(method, token, args)
        except SlackError as exc:
            self._record(method, args, False, exc.error)
            extra = {k: v for k, v in exc.extra.items() if not k.startswith("_")}
            if exc.error == "ratelimited":
                retry = str(int(exc.extra.get("_retry_after", 1)))
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers={**headers, "Retry-After": retry}
                )
            return web.json_response({"ok": False, "error": exc.error, **extra}, headers=headers)
        self._record(method, args, True, None)
        await self.changed()
        return web.json_response({"ok": True, **result}, headers=headers)

    def _record(self, method: str, args: dict[str, Any], ok: bool, error: str | None) -> None:
        self.ws.calls.append(Call(method, args, ok, error, time.time()))

    async def _dispatch(self, method: str, token: str, args: dict[str, Any]) -> dict[str, Any]:
        ws = self.ws
        if not token:
            raise SlackError("not_authed")
        if method == "apps.connections.open":
            if not token.startswith("xapp-"):
                raise SlackError("not_allowed_token_type")
            if token != ws.app_token:
                raise SlackError("invalid_auth")
            ticket = self.deliverer.new_ticket()
            return {"url": f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"}
        if token.startswith("xapp-"):
            raise SlackError("not_allowed_token_type")
        if token != ws.bot_token:
            raise SlackError("invalid_auth")
        ws.check_scope(method)
        if method == "auth.test":
            return {
                "url": f"https://{TEAM_DOMAIN}.slack.com/",
                "team": "deploybot sandbox",
                "user": "deploybot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            msg = ws.post_message(args)
            return {"channel": msg.channel, "ts": msg.ts, "message": msg.to_api()}
        if method == "chat.update":
            msg = ws.update_message(args)
            return {"channel": msg.channel, "ts": msg.ts, "text": msg.text, "message": msg.to_api()}
        if method == "chat.delete":
            msg = ws.delete_message(args)
            return {"channel": msg.channel, "ts": msg.ts}
        if method == "chat.postEphemeral":
            eph = ws.post_ephemeral(args)
            return {"message_ts": eph.ts}
        if method == "users.info":
            user = ws.users.get(str(args.get("user")))
            if user is None:
                raise SlackError("user_not_found")
            return {"user": user.to_api()}
        if method == "conversations.info":
            channel = ws.channel(str(args.get("channel")))
            if channel.is_private and BOT_USER not in channel.members:
                raise SlackError("channel_not_found")  # Slack hides a private channel from non-members
            return {"channel": channel.to_api()}
        if method in ("conversations.history", "conversations.replies"):
            return ws.history(args, replies=method == "conversations.replies")
        if method.startswith("views."):
            return self.surfaces.dispatch(method, args)
        if method == "usergroups.users.list":
            group = ws.usergroups.get(str(args.get("usergroup")))
            if group is None:
                raise SlackError("no_such_subteam")
            return {"users": list(group["users"])}
        raise SlackError("unknown_method")

    # -- response_url ------------------------------------------------------------------------

    def new_hook(self, channel: str, user: str, message_ts: str | None, kind: str) -> str:
        hook_id = secrets.token_urlsafe(12)
        self.hooks[hook_id] = Hook(channel, user, message_ts, time.time())
        return f"{self.base_url}/hooks/{hook_id}?kind={kind}"

    async def _hook(self, request: web.Request) -> web.Response:
        hook = self.hooks.get(request.match_info["hook_id"])
        if hook is None or time.time() - hook.created > HOOK_TTL or hook.uses >= HOOK_USES:
            return web.Response(status=404, text="expired_url")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        hook.uses += 1
        if isinstance(body, dict):
            hook.said.append(str(body.get("text") or ""))
        try:
            await self.apply_response(hook, body if isinstance(body, dict) else {})
        except SlackError as exc:
            return web.Response(status=400, text=exc.error)
        await self.changed()
        return web.Response(text="ok")

    async def apply_response(self, hook: Hook, body: dict[str, Any]) -> None:
        ws = self.ws
        if body.get("delete_original") and hook.message_ts:
            ws.messages[hook.channel] = [m for m in ws.messages[hook.channel] if m.ts != hook.message_ts]
            return
        if body.get("replace_original") and hook.message_ts:
            msg = ws.find(hook.channel, hook.message_ts)
            ws.update_message(
                {"channel": hook.channel, "ts": msg.ts, "text": body.get("text"), "blocks": body.get("blocks", [])}
            )
            return
        args = {
            "channel": hook.channel,
            "text": body.get("text"),
            "blocks": body.get("blocks"),
            "thread_ts": body.get("thread_ts"),
        }
        if body.get("response_type") == "in_channel":
            ws.post_message(args)
        else:
            args["user"] = hook.user
            ws.post_ephemeral(args, source="response_url")

    # -- the people's side: slash commands and clicks -----------------------------------------

    async def slash(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        channel: str = "C0DEPLOYS",
        command: str = "/deploy",
        user_name: str | None = None,
    ) -> DeliveryResult:
        """``user_name`` overrides the display name sent, as a renamed (or impersonating) account would."""
        ws = self.ws
        person, ch = ws.users[user], ws.channel(channel)
        fields = {
            "token": "sandbox-verification-token",
            "team_id": person.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": ch.id,
            "channel_name": ch.name,
            "user_id": person.id,
            "user_name": user_name or person.name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.new_hook(ch.id, person.id, None, "commands"),
            "trigger_id": self.surfaces.new_trigger(person.id),
        }
        result = await self.deliverer.slash_command(fields)
        result.hook = _hook_id(fields["response_url"])
        await self._show_ack(result, ch.id, person.id, f"{command} {text}".strip())
        return result

    async def _show_ack(self, result: DeliveryResult, channel: str, user: str, what: str) -> None:
        ws = self.ws
        if not result.ok:
            ws.post_ephemeral(
                {"channel": channel, "user": user, "text": f'{what} failed with the error "{result.error}"'},
                source="slack",
            )
        elif isinstance(result.body, dict) and (result.body.get("text") or result.body.get("blocks")):
            if result.body.get("response_type") == "in_channel":
                ws.post_message(
                    {"channel": channel, "text": result.body.get("text"), "blocks": result.body.get("blocks")}
                )
            else:
                ws.post_ephemeral(
                    {
                        "channel": channel,
                        "user": user,
                        "text": result.body.get("text"),
                        "blocks": result.body.get("blocks"),
                    },
                    source="ack",
                )
        elif isinstance(result.body, str) and result.body.strip():
            ws.post_ephemeral({"channel": channel, "user": user, "text": result.body}, source="ack")
        await self.changed()

    def block_actions_payload(
        self, message: Message, action_id: str, user: str, user_name: str | None = None
    ) -> dict[str, Any]:
        ws = self.ws
        person, ch = ws.users[user], ws.channel(message.channel)
        button = find_button(message, action_id)
        if button is None:
            raise LookupError(f"no button {action_id!r} on message {message.ts}")
        element, block_id = button
        return {
            "type": "block_actions",
            "user": {
                "id": person.id,
                "username": user_name or person.name,
                "name": user_name or person.name,
                "team_id": person.team_id,
            },
            "api_app_id": APP_ID,
            "token": "sandbox-verification-token",
            "container": {"type": "message", "message_ts": message.ts, "channel_id": ch.id, "is_ephemeral": False},
            "trigger_id": self.surfaces.new_trigger(person.id),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": ch.id, "name": ch.name},
            "message": message.to_api(),
            "state": {"values": {}},
            "response_url": self.new_hook(ch.id, person.id, message.ts, "actions"),
            "actions": [
                {
                    "type": "button",
                    "action_id": element["action_id"],
                    "block_id": block_id,
                    "text": element["text"],
                    "value": element.get("value", ""),
                    "style": element.get("style"),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    async def click(
        self, message: Message, action_id: str, *, user: str = "U0BOB", user_name: str | None = None
    ) -> DeliveryResult:
        payload = self.block_actions_payload(message, action_id, user, user_name)
        result = await self.deliverer.interactive(payload)
        result.hook = _hook_id(payload["response_url"])
        if not result.ok:
            self.ws.post_ephemeral(
                {"channel": message.channel, "user": user, "text": f'That didn\'t work: "{result.error}"'},
                source="slack",
            )
            await self.changed()
        return result

    # -- assertions --------------------------------------------------------------------------

    def messages(self, channel: str = "C0DEPLOYS") -> list[Message]:
        return [m for m in self.ws.messages[channel] if not m.thread_ts or m.thread_ts == m.ts or m.reply_broadcast]

    def thread(self, message: Message) -> list[Message]:
        return self.ws.thread(message.channel, message.ts)

    def ephemerals(self, user: str) -> list[str]:
        return [e.text for e in self.ws.ephemerals_for(user)]

    def calls(self, method: str) -> list[Call]:
        return [c for c in self.ws.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        """Wait until ``predicate()`` returns something truthy (state changes wake it, no polling)."""

        async def _wait() -> Any:
            async with self._changed:
                while True:
                    value = predicate()
                    if value:
                        return value
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what or predicate}") from None

    # -- control API (the web page and outside scripts) ---------------------------------------

    async def _state(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "-1"))
        viewer = request.query.get("user", "U0ALICE")
        if since >= self.ws.version and not self._closing:
            with contextlib.suppress(TimeoutError):
                async with self._changed:
                    # AWS moves on its own clock without a Slack change: the panel is read again
                    # at least this often.
                    await asyncio.wait_for(self._changed.wait(), PANEL_SECONDS)
        return web.json_response(await self.snapshot(viewer))

    async def snapshot(self, viewer: str) -> dict[str, Any]:
        # The version is read before the AWS panel and the messages after it: the page asks for changes
        # newer than this version, so anything posted while the panel was being read (a deployment's
        # end, told just after the panel saw it still running) brings another snapshot at once, whose
        # panel is read after it. A version newer than the panel would leave the panel stale.
        version = self.ws.version
        aws = await self.aws_panel() if self.aws_panel else None
        ws = self.ws
        channels = []
        for ch in ws.channels.values():
            msgs = []
            for m in ws.messages[ch.id]:
                item = m.to_api()
                item["user_name"] = ws.users[m.user].name if m.user in ws.users else m.user
                msgs.append(item)
            ephs = [
                {"text": e.text, "blocks": e.blocks, "ts": e.ts, "source": e.source}
                for e in ws.ephemerals
                if e.channel == ch.id and e.user == viewer
            ]
            channels.append({"id": ch.id, "name": ch.name, "messages": msgs, "ephemerals": ephs})
        return {
            "version": version,
            "users": [{"id": u.id, "name": u.name, "title": u.title} for u in ws.users.values() if not u.is_bot],
            "channels": channels,
            "transport": "http" if self.deliverer.events_url else "socket",
            "bot_connected": bool(self.deliverer.connections) or bool(self.deliverer.events_url),
            "aws": aws,
            **self.surfaces.snapshot(viewer),
        }

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="expected a JSON object") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        return body

    async def _control_command(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        raw = str(body.get("text", "")).strip()
        user = str(body.get("user", "U0ALICE"))
        channel = str(body.get("channel", "C0DEPLOYS"))
        if user not in self.ws.users or channel not in self.ws.channels:
            raise web.HTTPBadRequest(text="unknown user or channel")
        if not raw.startswith("/"):
            self.ws.post_message({"channel": channel, "text": raw}, author=user)
            await self.changed()
            return web.json_response({"ok": True})
        command, _, text = raw.partition(" ")
        if command != "/deploy":
            self.ws.post_ephemeral(
                {"channel": channel, "user": user, "text": f"{command} is not a valid command."}, source="slack"
            )
            await self.changed()
            return web.json_response({"ok": False, "error": "unknown_command"})
        result = await self.slash(text.strip(), user=user, channel=channel, command=command)
        return web.json_response({"ok": result.ok, "error": result.error, "ack_seconds": result.elapsed})

    async def _control_click(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        try:
            message = self.ws.find(str(body.get("channel")), str(body.get("ts")))
            result = await self.click(message, str(body.get("action_id")), user=str(body.get("user", "U0BOB")))
        except (SlackError, LookupError, KeyError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return web.json_response({"ok": result.ok, "error": result.error, "ack_seconds": result.elapsed})

    async def _control_view(self, request: web.Request) -> web.Response:
        """The page's Home tab and modal: open the tab, press a button, pick, type, submit, close."""
        body = await self._json(request)
        user, op = str(body.get("user", "U0ALICE")), str(body.get("op", ""))
        action, value = str(body.get("action_id", "")), body.get("value")
        surfaces = self.surfaces
        result: DeliveryResult | None
        if user not in self.ws.users:
            raise web.HTTPBadRequest(text="unknown user")
        try:
            if op == "open_home":
                result = await surfaces.open_home(user)
            elif op == "press":
                result = await surfaces.press(user, action, str(value) if value is not None else None)
            elif op == "pick":
                result = await surfaces.pick(user, action, str(value))
            elif op == "suggest":
                return web.json_response(
                    {"ok": True, "options": await surfaces.suggest(user, action, str(value or ""))}
                )
            elif op == "submit":
                result = await surfaces.submit(user)
            elif op == "close":
                surfaces.close(user)
                await self.changed()
                return web.json_response({"ok": True})
            else:
                raise web.HTTPBadRequest(text="op must be open_home, press, pick, suggest, submit or close")
        except LookupError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        await self.changed()
        if result is None:
            return web.json_response({"ok": True})
        return web.json_response({"ok": result.ok, "error": result.error, "ack_seconds": result.elapsed})

    async def _control_faults(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if "rate_limits" in body:
            self.limiter.enabled = bool(body["rate_limits"])
        method, kind, count = body.get("method"), str(body.get("kind", "429")), int(body.get("count", 1))
        if method:
            if kind not in ("429", "500", "timeout", "ok"):
                raise web.HTTPBadRequest(text="kind must be 429, 500, timeout or ok (a call let through)")
            self.faults[str(method)].extend([kind] * count)
        return web.json_response(
            {
                "ok": True,
                "rate_limits": self.limiter.enabled,
                "faults": {k: list(v) for k, v in self.faults.items() if v},
            }
        )

    async def _control_aws(self, request: web.Request) -> web.Response:
        if self.aws_control is None:
            raise web.HTTPNotFound(text="no local AWS attached")
        try:
            result = await self.aws_control(await self._json(request))
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        await self.changed()
        return web.json_response(result)

    async def _stats(self, request: web.Request) -> web.Response:
        """Every Web API call with its time (for benchmarks and outside scripts), plus the AWS side's counts."""
        calls = [
            {
                "method": c.method,
                "ok": c.ok,
                "error": c.error,
                "at": c.at,
                "channel": c.args.get("channel"),
                "thread_ts": c.args.get("thread_ts") or None,
                "broadcast": str(c.args.get("reply_broadcast", "")).lower() in ("true", "1"),
                "request_id": _request_id(c.args.get("metadata")),
                "text": str(c.args.get("text") or "")[:2000],
            }
            for c in self.ws.calls
        ]
        aws = self.aws_stats() if self.aws_stats else {}
        return web.json_response({"slack_calls": calls, **aws})

    # -- the page ----------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "index.html")

    async def _favicon(self, request: web.Request) -> web.Response:
        return web.Response(body=FAVICON, content_type="image/svg+xml")

    async def _static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in {"app.js", "style.css"}:
            raise web.HTTPNotFound()
        return web.FileResponse(WEB_DIR / name)


def _hook_id(url: str) -> str:
    """The id of a response_url this Slack made (``new_hook``)."""
    return url.split("/hooks/", 1)[-1].split("?", 1)[0]


def _request_id(metadata: Any) -> str | None:
    """The request id deploybot puts in its messages' metadata (sent as an object or as JSON text)."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    return str(payload.get("request_id")) if isinstance(payload, dict) and payload.get("request_id") else None


def find_button(message: Message, action_id: str) -> tuple[dict[str, Any], str] | None:
    for block in message.blocks:
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                if element.get("action_id") == action_id:
                    return element, str(block.get("block_id", ""))
    return None
