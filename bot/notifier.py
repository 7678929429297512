"""Tells Slack about a deployment: the root message (re-rendered whole), thread replies, alerts.

Posts that fail even after slack_sdk's retries are kept in order per deployment and sent on the
next watcher tick; the root message is re-rendered until an update succeeds, so the final state
always reaches Slack once it answers again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import defaultdict, deque
from datetime import datetime

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from .config import AppConfig
from .domain.lifecycle import Milestone, MilestoneKind
from .domain.models import Deployment, State
from .slack import render
from .slack.gateway import SlackGateway

log = structlog.get_logger(__name__)


class Pending:
    def __init__(
        self,
        text: str,
        broadcast: bool = False,
        channel: str | None = None,
        blocks: list[Block] | None = None,
        threaded: bool = True,
    ) -> None:
        self.text, self.broadcast, self.channel, self.blocks, self.threaded = text, broadcast, channel, blocks, threaded


class Notifier:
    def __init__(self, slack: SlackGateway, region: str) -> None:
        self.slack = slack
        self.region = region
        self._rendered: dict[str, str] = {}
        self._outbox: dict[str, deque[Pending]] = defaultdict(deque)
        # One sender per deployment at a time: the watcher and a button's task may flush together.
        self._sending: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def post_root(self, record: Deployment, now: datetime) -> str:
        blocks = render.root_blocks(record, self.region, now)
        ts = await self.slack.post(record.channel, render.root_text(record), blocks)
        self._rendered[record.id] = _digest(render.root_text(record), blocks)
        return ts

    async def sync_root(self, record: Deployment, now: datetime, *, force: bool = False) -> bool:
        """chat.update the root from state when it differs from what Slack shows; False if it failed."""
        if not record.message_ts:
            return True
        text, blocks = render.root_text(record), render.root_blocks(record, self.region, now)
        digest = _digest(text, blocks)
        if not force and self._rendered.get(record.id) == digest:
            return True
        try:
            await self.slack.update(record.channel, record.message_ts, text, blocks)
        except SlackApiError as exc:
            log.warning("root_update_failed", error=exc.response.get("error"), deployment=record.id)
            self._rendered.pop(record.id, None)
            return False
        self._rendered[record.id] = digest
        return True

    def reply(self, record: Deployment, text: str, *, broadcast: bool = False) -> None:
        self._outbox[record.id].append(Pending(text, broadcast))

    def milestones(self, record: Deployment, milestones: list[Milestone]) -> None:
        for milestone in milestones:
            text = render.milestone_text(record, milestone, self.region)
            if text:
                # Only the outcome is also shown in the channel; the steps stay in the thread.
                self.reply(record, text, broadcast=milestone.kind is MilestoneKind.FINISHED)

    def final(self, record: Deployment, app: AppConfig | None) -> None:
        """Queue a finished deployment's last words again (after a restart or a takeover)."""
        self.reply(record, render.outcome_text(record), broadcast=True)
        if app is not None:
            self.alert(record, app)

    def queued(self, record_id: str) -> bool:
        return bool(self._outbox.get(record_id))

    def alert(self, record: Deployment, app: AppConfig) -> None:
        if record.state in (State.FAILED, State.STOPPED) and app.alert_channel:
            link = self.slack.permalink(record.channel, record.message_ts or "")
            text, blocks = render.alert_blocks(record, link)
            self._outbox[record.id].append(Pending(text, channel=app.alert_channel, blocks=blocks, threaded=False))

    async def flush(self, record: Deployment) -> bool:
        """Send what is queued for this deployment, in order; stop at the first failure."""
        async with self._sending[record.id]:
            return await self._flush(record)

    async def _flush(self, record: Deployment) -> bool:
        queue = self._outbox.get(record.id)
        while queue:
            item = queue[0]
            try:
                if item.threaded:
                    await self.slack.post(
                        record.channel, item.text, item.blocks, thread_ts=record.message_ts, broadcast=item.broadcast
                    )
                else:
                    await self.slack.post(item.channel or record.channel, item.text, item.blocks)
            except SlackApiError as exc:
                log.warning("slack_post_failed", error=exc.response.get("error"), deployment=record.id)
                return False
            queue.popleft()
        self._outbox.pop(record.id, None)
        return True

    def forget(self, record_id: str) -> None:
        self._rendered.pop(record_id, None)
        self._outbox.pop(record_id, None)
        self._sending.pop(record_id, None)


def _digest(text: str, blocks: list[Block]) -> str:
    body = json.dumps([b.to_dict() for b in blocks], sort_keys=True) + text
    return hashlib.sha256(body.encode()).hexdigest()
