"""Where Slack can still end up with a message twice, and how the outbox takes the later copy away (the
local Slack, a real store): a sender paused past its claim whose post lands after the one that took over,
a post that got no answer and landed late, and a 429 whose wait outlasts the claim (renewed meanwhile,
so nobody takes over). Found by the fault campaign (soak/)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain.errors import ChatError
from bot.domain.models import Deployment
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from bot.usecases.outbox import RECHECK, Outbox
from bot.usecases.telling import reply
from sandbox.slack.server import LocalSlack

from .test_outbox import Clock, new_record, replies


class HeldChat(SlackChat):
    """Slack as one sender sees it: its next reply is held back until ``release`` (the process is paused
    with the request not yet sent), or answered with no answer and delivered late (``late``)."""

    def __init__(self, slack: LocalSlack) -> None:
        super().__init__(slack.ws.bot_token, slack.api_url)
        self.gate: asyncio.Event | None = None
        self.answer: asyncio.Event | None = None
        self.late: list[Any] = []
        self.unanswered = False

    async def reply(self, channel: str, thread_ts: str, text: str, **kw: Any) -> str:
        if self.unanswered:
            self.unanswered = False
            self.late.append((channel, thread_ts, text, kw))  # Slack takes it, after the client gave up
            raise ChatError("TimeoutError", answered=False)
        if self.gate is not None:
            await self.gate.wait()
        ts = await super().reply(channel, thread_ts, text, **kw)
        if self.answer is not None:
            await self.answer.wait()  # Slack took it; its answer is slow to come back
        return ts

    async def land_late(self) -> None:
        for channel, thread_ts, text, kw in self.late:
            await super().reply(channel, thread_ts, text, **kw)
        self.late.clear()


async def setup(slack: LocalSlack, tmp_path: Path, clock: Any) -> tuple[SqliteStore, Deployment, HeldChat]:
    store = SqliteStore(str(tmp_path / "c.db"))
    record = await new_record(store, slack, SlackChat(slack.ws.bot_token, slack.api_url), clock)
    record = await store.save(record.queue(reply("Green is up")))
    return store, record, HeldChat(slack)


async def test_a_paused_senders_post_landing_after_the_takeover_is_removed(slack: LocalSlack, tmp_path: Path) -> None:
    clock = Clock()
    store, record, paused_chat = await setup(slack, tmp_path, clock)
    paused_chat.gate = asyncio.Event()
    paused = Outbox(store, paused_chat, "paused", clock)
    sending = asyncio.create_task(paused.flush(record.id))
    await asyncio.sleep(0.05)  # it claimed the outbox; its post is stuck in the paused process
    clock.now += timedelta(seconds=31)  # its claim runs out before it can renew it
    taker = Outbox(store, SlackChat(slack.ws.bot_token, slack.api_url), "taker", clock)
    assert await taker.flush(record.id) is True  # Slack asked: nothing there yet, so posted
    assert replies(slack, record) == ["Green is up"]
    paused_chat.gate.set()  # the process resumes: its post lands, a second copy
    await sending
    assert replies(slack, record) == ["Green is up"]  # ...which it removed once it saw it was overtaken
    assert len(slack.calls("chat.delete")) == 1
    store.close()


async def test_a_post_cut_short_by_a_lost_claim_that_landed_anyway_is_removed(
    slack: LocalSlack, tmp_path: Path
) -> None:
    clock = Clock()
    store, record, paused_chat = await setup(slack, tmp_path, clock)
    paused_chat.gate, paused_chat.answer = asyncio.Event(), asyncio.Event()
    paused = Outbox(store, paused_chat, "paused", clock)
    sending = asyncio.create_task(paused.flush(record.id))
    await asyncio.sleep(0.05)
    clock.now += timedelta(seconds=31)  # paused past its claim
    taker = Outbox(store, SlackChat(slack.ws.bot_token, slack.api_url), "taker", clock)
    assert await taker.flush(record.id) is True
    paused_chat.gate.set()  # it resumes: its post lands, and while it waits for the answer it sees its
    assert await sending is False  # claim gone, cuts the post short (its fate unknown to it)
    assert replies(slack, record) == ["Green is up"]  # it read the thread and removed the later copy
    stored = await store.get(record.id)
    assert stored is not None and stored.recheck_at is not None  # and Slack is read once more later
    store.close()


async def test_a_post_without_an_answer_that_lands_late_is_removed_on_the_recheck(
    slack: LocalSlack, tmp_path: Path
) -> None:
    clock = Clock()
    store, record, chat = await setup(slack, tmp_path, clock)
    chat.unanswered = True
    outbox = Outbox(store, chat, "me", clock)
    assert await outbox.flush(record.id) is False  # no answer: kept, to be checked
    assert await outbox.flush(record.id) is True  # Slack shows nothing yet: sent again
    stored = await store.get(record.id)
    assert stored is not None and stored.recheck_at == clock() + RECHECK and stored.watched
    await chat.land_late()  # the first post arrives after all
    assert replies(slack, record) == ["Green is up", "Green is up"]
    assert await outbox.flush(record.id) is True  # not yet due: nothing read
    clock.now += RECHECK
    assert await outbox.flush(record.id) is True
    assert replies(slack, record) == ["Green is up"]  # the later copy is gone
    stored = await store.get(record.id)
    assert stored is not None and stored.recheck_at is None and not stored.watched
    store.close()


class WallClock:
    def __call__(self) -> datetime:
        return datetime.now(UTC)


async def test_a_429_longer_than_the_claim_keeps_the_claim_so_nobody_posts_it_again(
    slack: LocalSlack, tmp_path: Path
) -> None:
    clock = WallClock()  # slack_sdk waits out Retry-After in real seconds: the claim must be renewed in them
    store, record, _ = await setup(slack, tmp_path, clock)
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    claim = timedelta(seconds=1.2)
    slow = Outbox(store, chat, "slow", clock, claim=claim)
    other = Outbox(store, chat, "other", clock, claim=claim)
    slack.faults["chat.postMessage"].extend(["429", "429"])  # Retry-After: 1 s, twice
    sending = asyncio.create_task(slow.flush(record.id))
    await asyncio.sleep(0.05)  # it claimed the outbox and met the first 429
    blocked = 0
    while not sending.done():
        blocked += not await other.flush(record.id)
        await asyncio.sleep(0.1)
    assert await sending is True
    assert blocked >= 10  # the other sender found the claim held the whole time
    assert replies(slack, record) == ["Green is up"] and slack.calls("chat.delete") == []
    store.close()


async def test_a_second_call_without_an_answer_puts_the_recheck_off_until_it_could_have_landed(
    slack: LocalSlack, tmp_path: Path
) -> None:
    """Found by the fault campaign (seed 101): a recheck still to come from an earlier root update was kept
    when a later post got no answer, so Slack was read before that post's copy landed, and it stayed."""
    clock = Clock()
    store, record, _ = await setup(slack, tmp_path, clock)
    outbox = Outbox(store, SlackChat(slack.ws.bot_token, slack.api_url), "me", clock)
    await outbox.recheck_later(record.id, clock() + RECHECK)  # a root update that got no answer
    clock.now += RECHECK / 2
    kept = await outbox.recheck_later(record.id, clock() + RECHECK, ["C0ALERTS"])  # then a post
    assert kept is not None and kept.recheck_at == clock() + RECHECK and kept.recheck_in == ["C0ALERTS"]
    clock.now += RECHECK / 2
    sooner = await outbox.recheck_later(record.id, clock())  # one asked for sooner waits for the later one
    assert sooner is not None and sooner.recheck_at == kept.recheck_at
    store.close()
