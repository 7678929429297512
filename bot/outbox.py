"""The outbox: the Slack messages a deployment owes, kept in its record until Slack has them.

Messages are queued in the same compare-and-set as the change that caused them, so a crash or a
Slack outage can delay them but never lose them. Whoever sends (the watching replica, or the
replica that handled a click) first claims the outbox in the record: one sender at a time across
replicas, and the claim tells a later sender that a crash may have left part of it posted. That
sender asks Slack which messages arrived (each carries its request id and number as message
metadata) and posts only the rest, so nothing is posted twice.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError

from .crashpoints import crash_point
from .domain.models import Deployment, Outgoing, SendClaim
from .domain.ports import StaleRecord, Store
from .slack.gateway import SlackGateway

log = structlog.get_logger(__name__)
CLAIM = timedelta(seconds=30)  # the watch lease's default: a dead sender holds nothing up for longer
SAVE_ATTEMPTS = 5
ROUNDS = 3
# Errors that will not go away by waiting (a missing *:history scope, the bot not in the channel).
UNREADABLE = {"missing_scope", "not_in_channel", "channel_not_found", "thread_not_found", "not_allowed_token_type"}
DONE, MORE, BLOCKED = "done", "more", "blocked"


class Outbox:
    def __init__(
        self,
        store: Store,
        slack: SlackGateway,
        owner: str,
        clock: Callable[[], datetime],
        claim: timedelta = CLAIM,
    ) -> None:
        self.store = store
        self.slack = slack
        self.owner = owner
        self.now = clock
        self.claim = claim
        # One sender per deployment inside this process; the claim covers the other processes.
        self._sending: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._claimed: set[str] = set()
        self.paced: set[str] = set()  # records with something waiting for a free turn in Slack's pace

    async def add(self, record_id: str, messages: Iterable[Outgoing]) -> Deployment | None:
        """Queue messages on a record that others may be saving too (retried compare-and-set)."""
        batch = list(messages)
        for _ in range(SAVE_ATTEMPTS):
            record = await self.store.get(record_id)
            if record is None:
                return None
            try:
                return await self.store.save(record.queue(*batch))
            except StaleRecord:
                continue
        log.error("outbox_add_failed", request_id=record_id, messages=len(batch))
        return None

    async def flush(self, record_id: str) -> bool:
        """Send what the record owes, in order. True once nothing is left to send."""
        async with self._sending[record_id]:
            # Messages queued while a batch was being sent go out in a following round.
            for _ in range(ROUNDS):
                outcome = await self._flush(record_id)
                if outcome != MORE:
                    break
            return outcome == DONE

    async def _flush(self, record_id: str) -> str:
        record = await self.store.get(record_id)
        if record is None or not record.outbox:
            return DONE
        now = self.now()
        claim = record.sending
        if claim is not None and claim.owner != self.owner and claim.until > now:
            return BLOCKED  # another replica is sending right now
        if claim is not None:
            # A sender stopped half-way (it died, or a post's fate is unknown): ask Slack what arrived.
            try:
                arrived = await self._arrived(record, claim)
            except SlackApiError as exc:
                error = exc.response.get("error")
                log.warning("outbox_check_failed", request_id=record_id, error=error)
                if error not in UNREADABLE:
                    return BLOCKED  # Slack is struggling: ask again on the next round
                arrived = set()  # we may never read it: better one message twice than none
            record = await self._update(record_id, sent=arrived, claim=None, expect=claim)
            if record is None or record.sending is not None:
                return BLOCKED
            if not record.outbox:
                return DONE
        try:
            record = await self.store.save(
                record.model_copy(
                    update={"sending": SendClaim(owner=self.owner, until=now + self.claim, upto=record.outbox[-1].seq)}
                )
            )
        except StaleRecord:
            return MORE  # someone saved first (queued a message, say): try again on the fresh record
        self._claimed.add(record_id)
        return await self._send(record)

    async def release_all(self) -> None:
        """On a graceful stop: end our claims at once, so the next sender need not wait them out.

        They stay as claims (now expired) because a send cut short may have reached Slack; the
        next sender asks Slack before posting again."""
        for record_id in list(self._claimed):
            for _ in range(SAVE_ATTEMPTS):
                record = await self.store.get(record_id)
                if record is None or record.sending is None or record.sending.owner != self.owner:
                    break
                expired = record.sending.model_copy(update={"until": self.now()})
                try:
                    await self.store.save(record.model_copy(update={"sending": expired}))
                    break
                except StaleRecord:
                    continue
        self._claimed.clear()

    async def _send(self, record: Deployment) -> str:
        sent: set[int] = set()
        unknown = False
        claim = record.sending
        for group in _batches(record.outbox):
            first, last = group[0], group[-1]
            channel = first.channel or record.channel
            if not self.slack.can_post(channel):
                self.paced.add(record.id)  # the watcher comes back for it in a second, not an interval
                break  # Slack's pace for that channel: the rest waits for the next round, joined up
            held = await self._hold(record.id, claim) if claim else None
            if held is None:
                break  # our claim ran out and could not be renewed: leave the rest to the next sender
            claim = held
            mark = (record.id, first.seq) if len(group) == 1 else (record.id, first.seq, last.seq)
            try:
                if first.channel:
                    await self.slack.post(first.channel, first.text, first.blocks, mark=mark, paced=False)
                else:
                    await self.slack.post(
                        record.channel,
                        "\n".join(m.text for m in group),
                        first.blocks,
                        thread_ts=record.message_ts,
                        broadcast=first.broadcast,
                        mark=mark,
                        paced=False,
                    )
            except SlackApiError as exc:
                # Slack answered with an error: the message was not posted.
                log.warning("slack_post_failed", request_id=record.id, error=exc.response.get("error"), seq=first.seq)
                break
            except (TimeoutError, OSError, aiohttp.ClientError) as exc:
                unknown = True  # no answer: it may have been posted, so the next sender asks Slack first
                log.warning("slack_post_failed", request_id=record.id, error=type(exc).__name__, seq=first.seq)
                break
            sent.update(m.seq for m in group)
            crash_point("after_post")
        # A post whose fate is unknown keeps the claim (expired now), so the next sender checks Slack.
        keep = claim.model_copy(update={"until": self.now()}) if unknown and claim else None
        fresh = await self._update(record.id, sent=sent, claim=keep, expect=claim)
        if fresh is not None and (fresh.sending is None or fresh.sending.owner != self.owner):
            self._claimed.discard(record.id)
        if fresh is None or len(sent) < len(record.outbox) or fresh.sending is not None:
            return BLOCKED
        return MORE if fresh.outbox else DONE

    async def _hold(self, record_id: str, claim: SendClaim) -> SendClaim | None:
        """Our claim, renewed when half of it is gone so a slow send is never overtaken; None if lost."""
        if claim.until - self.now() > self.claim / 2:
            return claim
        fresh = await self.store.get(record_id)
        if fresh is None or fresh.sending != claim:
            return None
        renewed = claim.model_copy(update={"until": self.now() + self.claim})
        try:
            await self.store.save(fresh.model_copy(update={"sending": renewed}))
        except StaleRecord:
            return None
        return renewed

    async def _arrived(self, record: Deployment, claim: SendClaim) -> set[int]:
        claimed = [m for m in record.outbox if m.seq <= claim.upto]
        arrived: set[int] = set()
        if any(m.channel is None for m in claimed) and record.message_ts:
            arrived |= await self.slack.marked(record.channel, record.id, thread_ts=record.message_ts)
        for channel in {m.channel for m in claimed if m.channel}:
            arrived |= await self.slack.marked(channel, record.id)
        arrived &= {m.seq for m in claimed}
        if arrived:
            log.info("outbox_already_posted", request_id=record.id, seqs=sorted(arrived))
        return arrived

    async def _update(
        self, record_id: str, *, sent: set[int], claim: SendClaim | None, expect: SendClaim | None
    ) -> Deployment | None:
        """Drop the sent messages and set the claim, on the freshest record (others save too)."""
        for _ in range(SAVE_ATTEMPTS):
            record = await self.store.get(record_id)
            if record is None:
                return None
            if record.sending != expect:
                return record  # another sender took over; it re-checks Slack itself
            left = [m for m in record.outbox if m.seq not in sent]
            try:
                return await self.store.save(record.model_copy(update={"outbox": left, "sending": claim}))
            except StaleRecord:
                continue
        log.warning("outbox_update_failed", request_id=record_id)
        return None


JOIN_LIMIT = 3000  # characters of joined thread replies in one message (Slack allows far more; this reads well)


def _batches(outbox: list[Outgoing]) -> list[list[Outgoing]]:
    """The outbox in order, consecutive plain thread replies joined: fewer posts, same words, same order.
    The outcome (shown in the channel too), messages with blocks and messages to other channels go alone."""
    groups: list[list[Outgoing]] = []
    size = 0
    for message in outbox:
        last = groups[-1] if groups else None
        if _plain(message) and last is not None and _plain(last[-1]) and size + len(message.text) < JOIN_LIMIT:
            last.append(message)
            size += len(message.text) + 1
        else:
            groups.append([message])
            size = len(message.text)
    return groups


def _plain(message: Outgoing) -> bool:
    return message.channel is None and not message.blocks and not message.broadcast
