"""The outbox: the Slack messages a deployment owes, kept in its record until Slack has them.

Messages are queued in the same compare-and-set as the change that caused them, so a crash or a
Slack outage can delay them but never lose them. Whoever sends (the watching replica, or the
replica that handled a click) first claims the outbox in the record: one sender at a time across
replicas, and the claim tells a later sender that a crash may have left part of it posted. That
sender asks Slack which messages arrived (each carries its request id and number as message
metadata) and posts only the rest, so nothing is posted twice. The claim is renewed while a post is under
way (a 429's wait can outlast it). Where a copy could still slip in (a sender paused past its claim, a post
that got no answer and lands later), the sender that took over, the one overtaken, and (a while after a
post without an answer) whoever sends next read Slack again and remove the later copies (``copies``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import structlog

from ..domain.changes import Claimed, Delivered, Recheck
from ..domain.errors import ChatError
from ..domain.models import Deployment, Outgoing, SendClaim, State
from ..domain.ports import Chat, Clock, Faults, Mark, Store, no_faults
from .copies import remove_copies, root_known
from .saving import save_decided

log = structlog.get_logger(__name__)
CLAIM = timedelta(seconds=30)  # the watch lease's default: a dead sender holds nothing up for longer
ROUNDS = 3
# Errors that will not go away by waiting (a missing *:history scope, the bot not in the channel).
UNREADABLE = {"missing_scope", "not_in_channel", "channel_not_found", "thread_not_found", "not_allowed_token_type"}
DONE, MORE, BLOCKED = "done", "more", "blocked"
JOIN_LIMIT = 3000  # characters of joined thread replies in one message (Slack allows far more; this reads well)
HOLD_CHECK = 1.0  # seconds (the loop's) between two looks at the claim while a post is under way
# After a post that got no answer, Slack is read again this long after (it may still land, late).
RECHECK = timedelta(seconds=30)


class Outbox:
    def __init__(
        self,
        store: Store,
        chat: Chat,
        owner: str,
        clock: Clock,
        claim: timedelta = CLAIM,
        faults: Faults = no_faults,
    ) -> None:
        self.store = store
        self.chat = chat
        self.owner = owner
        self.now = clock
        self.claim = claim
        self.fault = faults
        # One sender per deployment inside this process; the claim covers the other processes.
        self._sending: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._claimed: set[str] = set()
        self.paced: set[str] = set()  # records with something waiting for a free turn in Slack's pace

    async def add(self, record_id: str, messages: Iterable[Outgoing]) -> Deployment | None:
        """Queue messages on a record that others may be saving too."""
        batch = list(messages)

        async def queued(record: Deployment) -> Deployment:
            return record.queue(*batch, at=self.now())

        saved, _ = await save_decided(self.store, record_id, queued)
        if saved is None:
            log.error("outbox_add_failed", request_id=record_id, messages=len(batch))
        return saved

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
        now = self.now()
        if record is not None and record.recheck_at is not None and now >= record.recheck_at:
            record = await self._recheck(record)
        if record is None or not record.outbox:
            return DONE
        if not record.message_ts and record.state is not State.CANCELLED:
            return BLOCKED  # its root comes first (the watcher posts it), so that the thread is under it
        claim = record.sending
        if claim is not None and claim.owner != self.owner and claim.until > now:
            return BLOCKED  # another replica is sending right now
        readable = claim is not None
        if claim is not None:
            # A sender stopped half-way (it died, or a post's fate is unknown): ask Slack what arrived.
            try:
                arrived = await self._arrived(record, claim)
            except ChatError as exc:
                log.warning("outbox_check_failed", request_id=record_id, error=exc.code)
                if exc.code not in UNREADABLE:
                    return BLOCKED  # Slack is struggling: ask again on the next round
                arrived, readable = set(), False  # we may never read it: better one message twice than none
            fresh, _ = await self._update(record_id, sent=arrived, claim=None, expect=claim)
            if fresh is None or fresh.sending is not None:
                return BLOCKED
            if not fresh.outbox:
                return DONE
            record = fresh
        mine = SendClaim(owner=self.owner, until=now + self.claim, upto=record.outbox[-1].seq)

        async def claimed(current: Deployment) -> Deployment:
            return Claimed(sending=mine).apply(current, current.updated_at)

        # Noted before the save: a stop that cancels us while the save is in the store's hands may
        # still find the claim written, and must release it (release_all checks whose it is).
        self._claimed.add(record_id)
        # One attempt: if someone saved first (queued a message, say), the next round starts afresh.
        saved, wrote = await save_decided(self.store, record, claimed, attempts=1)
        if saved is None or not wrote:
            return MORE
        # Taking over from a sender that stopped half-way: it may yet post what it had under way.
        return await self._send(saved, took_over=readable)

    async def release_all(self) -> None:
        """On a graceful stop: end our claims at once, so the next sender need not wait them out.

        They stay as claims (now expired) because a send cut short may have reached Slack; the
        next sender asks Slack before posting again."""
        for record_id in list(self._claimed):

            async def expired(record: Deployment) -> Deployment | None:
                if record.sending is None or record.sending.owner != self.owner:
                    return None
                until = SendClaim(owner=self.owner, until=self.now(), upto=record.sending.upto)
                return Claimed(sending=until).apply(record, record.updated_at)

            await save_decided(self.store, record_id, expired)
        self._claimed.clear()

    async def _send(self, record: Deployment, *, took_over: bool = False) -> str:
        sent: set[int] = set()
        unknown: set[str] = set()  # channels of a post that got no answer
        channels: set[str] = set()
        claim = record.sending
        for group in _batches(record.outbox):
            first, last = group[0], group[-1]
            channel = first.channel or record.channel
            if not self.chat.can_post(channel):
                self.paced.add(record.id)  # the watcher comes back for it in a second, not an interval
                break  # Slack's pace for that channel: the rest waits for the next round, joined up
            held = await self._hold(record.id, claim) if claim else None
            if held is None:
                break  # our claim ran out and could not be renewed: leave the rest to the next sender
            claim = held
            channels.add(channel)
            try:
                claim = await self._post_held(record, group, Mark(record.id, first.seq, last.seq), claim)
            except ChatError as exc:
                # Answered: the message was not posted. No answer: it may have been, so the next sender
                # asks Slack first.
                if not exc.answered:
                    unknown.add(channel)
                log.warning("slack_post_failed", request_id=record.id, error=exc.code, seq=first.seq)
                break
            sent.update(m.seq for m in group)
            self.fault("after_post")
        # A post whose fate is unknown keeps the claim (expired now), so the next sender checks Slack.
        keep = SendClaim(owner=claim.owner, until=self.now(), upto=claim.upto) if unknown and claim else None
        recheck = (self.now() + RECHECK, sorted(unknown - {record.channel})) if unknown else None
        fresh, ours = await self._update(record.id, sent=sent, claim=keep, expect=claim, recheck=recheck)
        if recheck is not None and not ours:
            fresh = await self.recheck_later(record.id, *recheck) or fresh  # overtaken: the recheck still stands
        if (took_over or not ours) and (sent or unknown):
            await self._remove_copies(fresh or record, channels)  # a sender before us, or after, may have
        if fresh is not None and (fresh.sending is None or fresh.sending.owner != self.owner):
            self._claimed.discard(record.id)
        if fresh is None or len(sent) < len(record.outbox) or fresh.sending is not None:
            return BLOCKED
        return MORE if fresh.outbox else DONE

    async def _post_held(self, record: Deployment, group: list[Outgoing], mark: Mark, claim: SendClaim) -> SendClaim:
        """Post ``group``, renewing the claim while the post is under way (the claim as it is after); a claim
        lost meanwhile (this process was paused past it) cuts the post short, its fate unknown."""
        post = asyncio.ensure_future(self._post(record, group, mark))
        while True:
            done, _ = await asyncio.wait({post}, timeout=HOLD_CHECK)
            if done:
                post.result()
                return claim
            held = await self._hold(record.id, claim)
            if held is None:
                post.cancel()
                with contextlib.suppress(asyncio.CancelledError, ChatError):
                    await post
                raise ChatError("claim_lost", answered=False)
            claim = held

    async def _remove_copies(self, record: Deployment, channels: Iterable[str]) -> None:
        try:
            await remove_copies(self.chat, record, channels)
        except ChatError as exc:
            log.warning("outbox_copies_unchecked", request_id=record.id, error=exc.code)

    async def recheck_later(self, record_id: str, at: datetime, channels: Sequence[str] = ()) -> Deployment | None:
        """Read Slack again at ``at`` (its root rendered again, later copies removed, in ``channels`` too): a
        call whose fate is unknown may still land late. One recheck serves every such call, so it comes at the
        later of the two times: one sooner would read Slack before this call's copy could land, and end."""

        async def later(current: Deployment) -> Deployment:
            due = current.recheck_at
            when = at if due is None else max(at, due)
            places = sorted({*current.recheck_in, *channels})
            return Recheck(recheck_at=when, recheck_in=places).apply(current, current.updated_at)

        saved, _ = await save_decided(self.store, record_id, later)
        return saved

    async def _recheck(self, record: Deployment) -> Deployment | None:
        """A call that got no answer may have landed late (a post beside the copy sent again, a root update over
        a newer one): the root was just rendered again (``Teller.tell``); now the later copies go. A root
        post's copy is looked for once the record's own root is known: put off till then."""
        if record.channel in record.recheck_in and not root_known(record):
            return await self.recheck_later(record.id, self.now() + RECHECK) or record
        try:
            await remove_copies(self.chat, record, record.recheck_in)
        except ChatError as exc:
            log.warning("outbox_copies_unchecked", request_id=record.id, error=exc.code)
            return record  # the next round tries again

        async def checked(current: Deployment) -> Deployment | None:
            if current.recheck_at is None or current.recheck_at != record.recheck_at:
                return None  # put off meanwhile (the root's render failed again): it comes back then
            return Recheck(recheck_at=None, recheck_in=[]).apply(current, current.updated_at)

        saved, _ = await save_decided(self.store, record.id, checked)
        return saved

    async def _post(self, record: Deployment, group: list[Outgoing], mark: Mark) -> None:
        first = group[0]
        if first.channel:
            await self.chat.post(first.channel, first.text, first.blocks, mark=mark, paced=False)
        elif record.message_ts:
            text = "\n".join(m.text for m in group)
            await self.chat.reply(
                record.channel, record.message_ts, text, broadcast=first.broadcast, mark=mark, paced=False
            )
        else:  # the root never reached Slack: the thread starts as a message of its own
            await self.chat.post(record.channel, "\n".join(m.text for m in group), first.blocks, mark=mark, paced=False)

    async def _hold(self, record_id: str, claim: SendClaim) -> SendClaim | None:
        """Our claim, renewed when half of it is gone so a slow send is never overtaken; None if lost."""
        if claim.until - self.now() > self.claim / 2:
            return claim
        renewed = SendClaim(owner=claim.owner, until=self.now() + self.claim, upto=claim.upto)

        async def held(current: Deployment) -> Deployment | None:
            return Claimed(sending=renewed).apply(current, current.updated_at) if current.sending == claim else None

        _, wrote = await save_decided(self.store, record_id, held, attempts=1)
        return renewed if wrote else None

    async def _arrived(self, record: Deployment, claim: SendClaim) -> set[int]:
        claimed = [m for m in record.outbox if m.seq <= claim.upto]
        arrived: set[int] = set()
        if any(m.channel is None for m in claimed) and record.message_ts:
            arrived |= await self.chat.marked(record.channel, record.id, thread_ts=record.message_ts)
        for channel in {m.channel for m in claimed if m.channel}:
            arrived |= await self.chat.marked(channel, record.id)
        arrived &= {m.seq for m in claimed}
        if arrived:
            log.info("outbox_already_posted", request_id=record.id, seqs=sorted(arrived))
        return arrived

    async def _update(
        self,
        record_id: str,
        *,
        sent: set[int],
        claim: SendClaim | None,
        expect: SendClaim | None,
        recheck: tuple[datetime, list[str]] | None = None,
    ) -> tuple[Deployment | None, bool]:
        """Drop the sent messages and set the claim, on the freshest record (others save too): the record,
        and whether our claim was still there to drop them under (False: another sender took over)."""

        async def delivered(record: Deployment) -> Deployment | None:
            if record.sending != expect:
                return None  # another sender took over; it re-checks Slack itself
            left = [m for m in record.outbox if m.seq not in sent]
            done = Delivered(outbox=left, sending=claim).apply(record, record.updated_at)
            if recheck is not None:
                done = Recheck(recheck_at=recheck[0], recheck_in=recheck[1]).apply(done, record.updated_at)
            return done

        saved, wrote = await save_decided(self.store, record_id, delivered)
        if saved is None:
            log.warning("outbox_update_failed", request_id=record_id)
        return saved, wrote


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
