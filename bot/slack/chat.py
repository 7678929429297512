"""The Chat port on Slack's Web API: one client with Slack's retry handlers, pacing below Slack's limits,
cached user-group lookups, and message metadata that lets the outbox see what already arrived.

Messages arrive rendered (``bot.render``); Block Kit is checked with slack_sdk's models before it is sent.
Slack's errors become ``ChatError``: ``answered`` says whether Slack surely did nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from ..domain.errors import ChatError
from ..domain.ports import Blocks, Copy, Mark
from .counting import CallCounter
from .pacing import Pacer

log = structlog.get_logger(__name__)
T = TypeVar("T")
GROUP_TTL = 60.0
RESPONSE_URL_LIFE = 1800.0  # Slack honours a response_url for 30 minutes
# Every outbox message carries this metadata, so after a crash mid-send the bot can see in Slack
# which of its messages already arrived instead of posting them twice.
MESSAGE_TYPE = "deploybot_message"
HISTORY_PAGES = 5


def checked(blocks: Blocks | None) -> list[dict[str, Any]] | None:
    """The blocks as slack_sdk's models validate them (Block Kit's limits), or SlackObjectFormationError."""
    if blocks is None:
        return None
    out = []
    for block in blocks:
        parsed = Block.parse(block)
        out.append(parsed.to_dict() if parsed is not None else block)
    return out


def checked_view(view: dict[str, Any]) -> dict[str, Any]:
    """A Home tab or modal as slack_sdk's View model validates it (its blocks and limits)."""
    model = View(**view)
    model.validate_json()
    return model.to_dict()


async def _answered(call: Awaitable[T]) -> T:
    """Slack's answer, or ChatError: ``answered`` True for an error Slack returned, False for no answer."""
    try:
        return await call
    except SlackApiError as exc:
        # Slack's own errors are JSON ({"ok": false, "error": ...}); an outage's 5xx may be a page of text,
        # and whether the call took effect before it is not known.
        data, status = exc.response.data, int(exc.response.status_code or 200)
        code = str(data.get("error") or f"http_{status}") if isinstance(data, dict) else f"http_{status}"
        raise ChatError(code, answered=status < 500) from exc
    except (TimeoutError, OSError, aiohttp.ClientError) as exc:
        raise ChatError(type(exc).__name__, answered=False) from exc


class SlackChat:
    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        *,
        posts_per_minute: float = 0.0,
        updates_per_minute: float = 0.0,
    ) -> None:
        handlers = [
            CallCounter(),  # first: it sees every answer, and never retries
            *async_default_handlers(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ]
        if base_url:
            self.client = AsyncWebClient(token=token, base_url=base_url, retry_handlers=handlers, timeout=10)
        else:
            self.client = AsyncWebClient(token=token, retry_handlers=handlers, timeout=10)
        self._groups: dict[str, tuple[float, list[str]]] = {}
        self._names: dict[str, str] = {}  # user id -> display name (names change rarely; a restart rereads them)
        self._responding: dict[str, asyncio.Lock] = {}  # per response_url: a note and its answer in order
        self._answered: dict[str, float] = {}  # response_urls answered (not noted), and when
        self.pacer = Pacer(posts_per_minute, updates_per_minute)
        self.team_url = ""
        self._team_id = ""

    @property
    def home_team(self) -> str:
        return self._team_id

    async def identify(self) -> None:
        resp = await _answered(self.client.auth_test())
        self.team_url = str(resp.get("url") or "")
        self._team_id = str(resp.get("team_id") or "")

    async def post(
        self, channel: str, text: str, blocks: Blocks | None = None, *, mark: Mark | None = None, paced: bool = True
    ) -> str:
        return await self._post(channel, text, blocks, mark=mark, paced=paced)

    async def reply(
        self,
        channel: str,
        thread_ts: str,
        text: str,
        *,
        broadcast: bool = False,
        mark: Mark | None = None,
        paced: bool = True,
    ) -> str:
        return await self._post(channel, text, None, thread_ts=thread_ts, broadcast=broadcast, mark=mark, paced=paced)

    async def _post(
        self,
        channel: str,
        text: str,
        blocks: Blocks | None,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
        mark: Mark | None,
        paced: bool,
    ) -> str:
        metadata = None
        if mark is not None:
            payload: dict[str, Any] = {"request_id": mark.request_id, "seq": mark.first}
            if mark.last != mark.first:
                payload["upto"] = mark.last
            metadata = {"event_type": MESSAGE_TYPE, "event_payload": payload}
        if paced:
            await self.pacer.post_turn(channel)
        resp = await _answered(
            self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=checked(blocks),
                thread_ts=thread_ts,
                reply_broadcast=broadcast or None,
                unfurl_links=False,
                metadata=metadata,
            )
        )
        return str(resp["ts"])

    async def update(self, channel: str, ts: str, text: str, blocks: Blocks, *, paced: bool = True) -> None:
        if paced:
            await self.pacer.update_turn()
        await _answered(self.client.chat_update(channel=channel, ts=ts, text=text, blocks=checked(blocks)))

    async def marked(self, channel: str, request_id: str, thread_ts: str | None = None) -> set[int]:
        return {n for copy in await self.copies(channel, request_id, thread_ts) for n in copy.seqs}

    async def copies(self, channel: str, request_id: str, thread_ts: str | None = None) -> list[Copy]:
        found: list[Copy] = []
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            if thread_ts:
                call = self.client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200, cursor=cursor
                )
            else:
                call = self.client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=200, cursor=cursor
                )
            resp = await _answered(call)
            raw: list[Any] = list(resp.get("messages") or [])
            for message in raw:
                seqs = _seqs(message, request_id)
                if seqs:
                    found.append(Copy(channel, str(message.get("ts")), min(seqs), max(seqs)))
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return sorted(found, key=lambda c: float(c.ts))

    async def delete(self, channel: str, ts: str) -> None:
        try:
            await _answered(self.client.chat_delete(channel=channel, ts=ts))
        except ChatError as exc:
            if exc.code != "message_not_found":  # gone already (another replica removed it): done
                raise

    def can_post(self, channel: str) -> bool:
        return self.pacer.try_post(channel)

    def can_update(self) -> bool:
        return self.pacer.try_update()

    def update_free(self) -> bool:
        return self.pacer.update_free()

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        try:
            await _answered(self.client.chat_postEphemeral(channel=channel, user=user, text=text))
        except ChatError as exc:
            # Ephemerals are best effort (Slack does not guarantee them either); never fail the work.
            log.warning("ephemeral_failed", error=exc.code)

    async def respond(self, response_url: str, text: str, *, note: bool = False) -> None:
        now = time.monotonic()
        self._answered = {u: t for u, t in self._answered.items() if now - t < RESPONSE_URL_LIFE}
        async with self._responding.setdefault(response_url, asyncio.Lock()):
            if note and response_url in self._answered:
                return  # the answer is there already: a note after it would be the last word
            await self._send_response(response_url, text)
            if not note:
                self._answered[response_url] = now
        if response_url not in self._answered:
            return
        self._responding.pop(response_url, None)  # answered: nothing more will wait on it

    async def _send_response(self, response_url: str, text: str) -> None:
        webhook = AsyncWebhookClient(url=response_url)
        try:
            resp = await webhook.send(text=text, response_type="ephemeral", replace_original=False)
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            log.warning("response_url_failed", error=type(exc).__name__)
            return
        if resp.status_code != 200:
            log.warning("response_url_failed", status=resp.status_code)

    async def group_members(self, group_ids: Sequence[str]) -> set[str]:
        members: set[str] = set()
        now = time.monotonic()
        for group in group_ids:
            cached = self._groups.get(group)
            if cached and now - cached[0] < GROUP_TTL:
                members.update(cached[1])
                continue
            try:
                resp = await _answered(self.client.usergroups_users_list(usergroup=group))
            except ChatError as exc:
                log.warning("usergroup_lookup_failed", usergroup=group, error=exc.code)
                continue  # fail closed: nobody is an approver through a group we cannot read
            raw: list[object] = list(resp.get("users") or [])
            users = [str(u) for u in raw]
            self._groups[group] = (now, users)
            members.update(users)
        return members

    async def user_names(self, users: Sequence[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        for user in dict.fromkeys(users):
            if user not in self._names:
                try:
                    resp = await _answered(self.client.users_info(user=user))
                except ChatError as exc:
                    log.warning("user_lookup_failed", user=user, error=exc.code)
                    continue  # shown as it was written
                found = resp.get("user") or {}
                profile = found.get("profile") or {}
                self._names[user] = str(profile.get("display_name") or found.get("name") or user)
            names[user] = self._names[user]
        return names

    async def channel_problem(self, channel: str) -> str | None:
        try:
            resp = await _answered(self.client.conversations_info(channel=channel))
        except ChatError as exc:
            if exc.code == "channel_not_found":
                return (
                    f"channel {channel} was not found: check the id (a private channel shows only once "
                    "deploybot is in it: /invite @deploybot there)"
                )
            if exc.code == "missing_scope":
                return "Slack refused conversations.info (missing_scope): add channels:read and groups:read, reinstall"
            return f"channel {channel} could not be read ({exc.code})"
        info: dict[str, Any] = resp.get("channel") or {}
        name = f"#{info.get('name') or channel}"
        if info.get("is_archived"):
            return f"channel {name} is archived: unarchive it or name another channel"
        if info.get("is_private") and not info.get("is_member"):
            return f"deploybot is not in the private channel {name}: /invite @deploybot there"
        return None

    async def group_problem(self, group_id: str) -> str | None:
        try:
            await _answered(self.client.usergroups_users_list(usergroup=group_id))
        except ChatError as exc:
            fix = {
                "no_such_subteam": "check the id (Slack's user group ids start with S)",
                "missing_scope": "add the usergroups:read scope and reinstall the app",
            }.get(exc.code, "check the id and the app's usergroups:read scope")
            return f"user group {group_id} cannot be read ({exc.code}): {fix}; nobody approves through it until then"
        return None

    async def publish_home(self, user: str, view: dict[str, Any]) -> None:
        await _answered(self.client.views_publish(user_id=user, view=checked_view(view)))

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        await _answered(self.client.views_open(trigger_id=trigger_id, view=checked_view(view)))

    async def update_view(self, view_id: str, view: dict[str, Any], view_hash: str) -> None:
        await _answered(self.client.views_update(view_id=view_id, view=checked_view(view), hash=view_hash or None))

    def permalink(self, channel: str, ts: str) -> str:
        return f"{self.team_url}archives/{channel}/p{ts.replace('.', '')}"


def _seqs(message: object, request_id: str) -> set[int]:
    """The outbox numbers a message in Slack covers, when it is one of ``request_id``'s."""
    meta = message.get("metadata") if isinstance(message, dict) else None
    if not isinstance(meta, dict) or meta.get("event_type") != MESSAGE_TYPE:
        return set()
    payload = meta.get("event_payload") or {}
    first = payload.get("seq")
    if payload.get("request_id") != request_id or not isinstance(first, int):
        return set()
    upto = payload.get("upto")
    last = upto if isinstance(upto, int) and upto >= first else first
    return set(range(first, last + 1))  # joined messages cover a run of numbers
