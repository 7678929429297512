"""Tells Slack about a deployment: the root message (re-rendered whole), and the thread replies and
alerts it owes, which are composed here and queued in the record's outbox (``bot.outbox``)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from .catalog import AppConfig
from .domain.lifecycle import Milestone, MilestoneKind
from .domain.models import Deployment, Outgoing, State
from .outbox import Outbox
from .slack import render
from .slack.gateway import SlackGateway

log = structlog.get_logger(__name__)


class Notifier:
    def __init__(self, slack: SlackGateway, region: str, outbox: Outbox) -> None:
        self.slack = slack
        self.region = region
        self.outbox = outbox
        self._rendered: dict[str, str] = {}

    async def post_root(self, record: Deployment, now: datetime) -> str:
        blocks = render.root_blocks(record, self.region, now)
        ts = await self.slack.post(record.channel, render.root_text(record), blocks)
        self._rendered[record.id] = _digest(render.root_text(record), blocks)
        return ts

    async def sync_root(
        self, record: Deployment, now: datetime, *, force: bool = False, background: bool = False
    ) -> bool:
        """chat.update the root from state when it differs from what Slack shows; False if it failed
        or (``background``: the watcher's re-renders) no update turn was free: the next tick renders
        whatever the state is then, so skipped intermediate states cost nothing."""
        if not record.message_ts:
            return True
        if background and not self.slack.update_free():
            return self._wait_turn(record)  # not even worth rendering: no turn to send it in
        text, blocks = render.root_text(record), render.root_blocks(record, self.region, now)
        digest = _digest(text, blocks)
        if not force and self._rendered.get(record.id) == digest:
            return True
        if background and not self.slack.can_update():
            return self._wait_turn(record)
        try:
            await self.slack.update(record.channel, record.message_ts, text, blocks, paced=not background)
        except SlackApiError as exc:
            log.warning("root_update_failed", error=exc.response.get("error"), deployment=record.id)
            self._rendered.pop(record.id, None)
            return False
        self._rendered[record.id] = digest
        return True

    def _wait_turn(self, record: Deployment) -> bool:
        """A re-render that found no free turn: a finished deployment's comes back within a second (its
        last state must show); one in progress waits for the next tick, which renders it afresh anyway."""
        if record.state.terminal:
            self.outbox.paced.add(record.id)
        return False

    async def flush(self, record_id: str) -> bool:
        return await self.outbox.flush(record_id)

    def milestones(self, record: Deployment, milestones: list[Milestone]) -> list[Outgoing]:
        out = []
        for milestone in milestones:
            text = render.milestone_text(record, milestone, self.region)
            if text:
                # Only the outcome is also shown in the channel; the steps stay in the thread.
                out.append(reply(text, broadcast=milestone.kind is MilestoneKind.FINISHED))
        return out

    def alert(self, record: Deployment, app: AppConfig | None) -> list[Outgoing]:
        if app is None or not app.alert_channel or record.state not in (State.FAILED, State.STOPPED):
            return []
        link = self.slack.permalink(record.channel, record.message_ts or "")
        text, blocks = render.alert_blocks(record, link, self.region, app.oncall)
        return [Outgoing(text=text, channel=app.alert_channel, blocks=[b.to_dict() for b in blocks])]

    def forget(self, record_id: str) -> None:
        self._rendered.pop(record_id, None)


def reply(text: str, *, broadcast: bool = False) -> Outgoing:
    """A reply in the deployment's thread (also shown in the channel when ``broadcast``)."""
    return Outgoing(text=text, broadcast=broadcast)


def _digest(text: str, blocks: list[Block]) -> str:
    body = json.dumps([b.to_dict() for b in blocks], sort_keys=True) + text
    return hashlib.sha256(body.encode()).hexdigest()
