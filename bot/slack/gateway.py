"""Outbound Slack Web API calls: one client, Slack's retry handlers, cached user-group lookups."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from .pacing import Pacer

log = structlog.get_logger(__name__)
GROUP_TTL = 60.0
# Every outbox message carries this metadata, so after a crash mid-send the bot can see in Slack
# which of its messages already arrived instead of posting them twice.
MESSAGE_TYPE = "deploybot_message"
HISTORY_PAGES = 5


class SlackGateway:
    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        *,
        posts_per_minute: float = 0.0,
        updates_per_minute: float = 0.0,
    ) -> None:
        handlers = [
            *async_default_handlers(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ]
        if base_url:
            self.client = AsyncWebClient(token=token, base_url=base_url, retry_handlers=handlers, timeout=10)
        else:
            self.client = AsyncWebClient(token=token, retry_handlers=handlers, timeout=10)
        self._groups: dict[str, tuple[float, list[str]]] = {}
        self.pacer = Pacer(posts_per_minute, updates_per_minute)
        self.team_domain = "slack"
        self.team_url = ""
        self.team_id = ""

    async def post(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Block | dict[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
        mark: tuple[str, int] | tuple[str, int, int] | None = None,
        paced: bool = True,
    ) -> str:
        """Post a message; ``mark`` = (request id, seq[, last seq]) for outbox messages (several joined).
        ``paced=False`` when the caller already has its turn (``can_post``)."""
        metadata = None
        if mark is not None:
            payload: dict[str, Any] = {"request_id": mark[0], "seq": mark[1]}
            if len(mark) == 3:
                payload["upto"] = mark[2]
            metadata = {"event_type": MESSAGE_TYPE, "event_payload": payload}
        if paced:
            await self.pacer.post_turn(channel)
        resp = await self.client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            reply_broadcast=broadcast or None,
            unfurl_links=False,
            metadata=metadata,
        )
        return str(resp["ts"])

    async def marked(self, channel: str, request_id: str, thread_ts: str | None = None) -> set[int]:
        """Which outbox messages of ``request_id`` are already in the thread (or the channel's recent past)."""
        seqs: set[int] = set()
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            if thread_ts:
                resp = await self.client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200, cursor=cursor
                )
            else:
                resp = await self.client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=200, cursor=cursor
                )
            raw: list[Any] = list(resp.get("messages") or [])
            for message in raw:
                meta = message.get("metadata") if isinstance(message, dict) else None
                if not isinstance(meta, dict) or meta.get("event_type") != MESSAGE_TYPE:
                    continue
                payload = meta.get("event_payload") or {}
                if payload.get("request_id") == request_id and isinstance(payload.get("seq"), int):
                    upto = payload.get("upto")
                    last = upto if isinstance(upto, int) and upto >= payload["seq"] else payload["seq"]
                    seqs.update(range(payload["seq"], last + 1))  # joined messages cover a run of seqs
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return seqs

    def can_post(self, channel: str) -> bool:
        """Take a post turn in ``channel`` now if one is free (for messages that can wait a tick)."""
        return self.pacer.try_post(channel)

    def can_update(self) -> bool:
        return self.pacer.try_update()

    def update_free(self) -> bool:
        """Whether an update turn is free, without taking it (to skip rendering when none is)."""
        return self.pacer.update_free()

    async def update(self, channel: str, ts: str, text: str, blocks: Sequence[Block], *, paced: bool = True) -> None:
        if paced:
            await self.pacer.update_turn()
        await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackApiError as exc:
            # Ephemerals are best effort (Slack does not guarantee them either); never fail the work.
            log.warning("ephemeral_failed", error=exc.response.get("error"))

    async def respond(self, response_url: str, text: str, *, replace: bool = False) -> None:
        webhook = AsyncWebhookClient(url=response_url)
        resp = await webhook.send(text=text, response_type="ephemeral", replace_original=replace)
        if resp.status_code != 200:
            log.warning("response_url_failed", status=resp.status_code)

    async def usergroup_members(self, group_ids: Sequence[str]) -> set[str]:
        members: set[str] = set()
        now = time.monotonic()
        for group in group_ids:
            cached = self._groups.get(group)
            if cached and now - cached[0] < GROUP_TTL:
                members.update(cached[1])
                continue
            try:
                resp = await self.client.usergroups_users_list(usergroup=group)
            except SlackApiError as exc:
                log.warning("usergroup_lookup_failed", usergroup=group, error=exc.response.get("error"))
                continue  # fail closed: nobody is an approver through a group we cannot read
            raw: list[object] = list(resp.get("users") or [])
            users = [str(u) for u in raw]
            self._groups[group] = (now, users)
            members.update(users)
        return members

    def permalink(self, channel: str, ts: str) -> str:
        return f"{self.team_url}archives/{channel}/p{ts.replace('.', '')}"

    async def identify(self) -> None:
        resp = await self.client.auth_test()
        self.team_url = str(resp.get("url") or "")
        self.team_id = str(resp.get("team_id") or "")
