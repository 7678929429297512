"""The outbox against the local Slack and a real store: several senders, dead senders, and messages
that reached Slack before the sender could record it. Each message lands once, in order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain.models import Deployment, Image, Outgoing, SendClaim
from bot.domain.ports import Mark
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from bot.usecases.outbox import Outbox
from bot.usecases.telling import reply
from sandbox.slack.server import LocalSlack


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def new_record(store: SqliteStore, slack: LocalSlack, chat: SlackChat, clock: Clock) -> Deployment:
    root = await chat.post("C0DEPLOYS", "Deploy web1 v1.2.3")
    record = Deployment(
        id="r-outbox0001",
        app="web1",
        tag="v1.2.3",
        image=Image(
            repository_uri="123.dkr.ecr.us-east-1.amazonaws.com/web1", tag="v1.2.3", digest="sha256:" + "a" * 64
        ),
        requester="U0ALICE",
        team_id="T0SANDBOX",
        channel="C0DEPLOYS",
        created_at=clock(),
        updated_at=clock(),
        message_ts=root,
    )
    return await store.create(record)


def replies(slack: LocalSlack, record: Deployment) -> list[str]:
    """The thread's replies line by line: replies queued together go out joined in one message."""
    root = next(m for m in slack.messages("C0DEPLOYS") if m.ts == record.message_ts)
    return [line for m in slack.thread(root) for line in m.text.split("\n")]


async def test_two_senders_post_each_message_once_in_order(slack: LocalSlack, tmp_path: Path) -> None:
    store, clock = SqliteStore(str(tmp_path / "o.db")), Clock()
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    record = await new_record(store, slack, chat, clock)
    senders = [Outbox(store, chat, f"replica-{i}", clock) for i in range(2)]

    async def produce() -> None:
        for n in range(30):
            await senders[n % 2].add(record.id, [reply(f"step {n}")])
            await asyncio.sleep(0)

    async def send(outbox: Outbox) -> None:
        for _ in range(60):
            await outbox.flush(record.id)
            await asyncio.sleep(0)

    await asyncio.gather(produce(), *(send(o) for o in senders))
    for outbox in senders:
        await outbox.flush(record.id)
    assert replies(slack, record) == [f"step {n}" for n in range(30)]
    stored = await store.get(record.id)
    assert stored is not None and stored.outbox == [] and stored.sending is None
    store.close()


async def test_a_dead_senders_claim_is_waited_out_then_slack_is_asked(slack: LocalSlack, tmp_path: Path) -> None:
    store, clock = SqliteStore(str(tmp_path / "o.db")), Clock()
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    record = await new_record(store, slack, chat, clock)
    record = await store.save(record.queue(reply("first"), reply("second"), reply("third")))
    # A sender claimed all three, posted the first, and died before it could record that.
    first = record.outbox[0].seq
    await chat.reply("C0DEPLOYS", record.message_ts or "", "first", mark=Mark(record.id, first, first))
    claim = SendClaim(owner="dead", until=clock() + timedelta(seconds=30), upto=record.outbox[-1].seq)
    await store.save(record.model_copy(update={"sending": claim}))

    survivor = Outbox(store, chat, "survivor", clock)
    assert await survivor.flush(record.id) is False  # the claim still holds: nothing is posted
    assert replies(slack, record) == ["first"]

    clock.now += timedelta(seconds=31)
    assert await survivor.flush(record.id) is True
    assert replies(slack, record) == ["first", "second", "third"]  # the first was found, not re-posted
    # Slack asked before posting, and once more after: the dead sender might still have posted late.
    assert [c.method for c in slack.calls("conversations.replies")] == ["conversations.replies"] * 2
    store.close()


async def test_alerts_in_another_channel_are_checked_there(slack: LocalSlack, tmp_path: Path) -> None:
    store, clock = SqliteStore(str(tmp_path / "o.db")), Clock()
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    record = await new_record(store, slack, chat, clock)
    alert = Outgoing(text="web1 failed", channel="C0ALERTS")
    record = await store.save(record.queue(reply("failed"), alert))
    for message in record.outbox:  # both arrived; the sender died before recording either
        mark = Mark(record.id, message.seq, message.seq)
        if message.channel:
            await chat.post(message.channel, message.text, mark=mark)
        else:
            await chat.reply("C0DEPLOYS", record.message_ts or "", message.text, mark=mark)
    claim = SendClaim(owner="dead", until=clock(), upto=record.outbox[-1].seq)
    await store.save(record.model_copy(update={"sending": claim}))

    assert await Outbox(store, chat, "survivor", clock).flush(record.id) is True
    assert replies(slack, record) == ["failed"]
    assert [m.text for m in slack.messages("C0ALERTS")] == ["web1 failed"]
    store.close()


async def test_slack_refusing_keeps_the_messages_and_the_order(slack: LocalSlack, tmp_path: Path) -> None:
    store, clock = SqliteStore(str(tmp_path / "o.db")), Clock()
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    record = await new_record(store, slack, chat, clock)
    # Three posts (an alert between two replies is never joined with them).
    alert = Outgoing(text="two", channel="C0ALERTS")
    record = await store.save(record.queue(reply("one"), alert, reply("three")))
    outbox = Outbox(store, chat, "me", clock)
    slack.faults["chat.postMessage"].extend(["ok", "fatal"])  # the second post is refused

    assert await outbox.flush(record.id) is False
    assert replies(slack, record) == ["one"]
    stored = await store.get(record.id)
    assert stored is not None and [m.text for m in stored.outbox] == ["two", "three"]
    assert stored.sending is None  # a refusal is certain: no claim left for anyone to check
    assert await outbox.flush(record.id) is True
    assert replies(slack, record) == ["one", "three"]
    assert [m.text for m in slack.messages("C0ALERTS")] == ["two"]
    assert slack.calls("conversations.replies") == []
    store.close()


async def test_without_history_scopes_a_dead_senders_messages_are_posted_again(
    slack: LocalSlack, tmp_path: Path
) -> None:
    store, clock = SqliteStore(str(tmp_path / "o.db")), Clock()
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    record = await new_record(store, slack, chat, clock)
    record = await store.save(record.queue(reply("only")))
    claim = SendClaim(owner="dead", until=clock(), upto=record.outbox[-1].seq)
    await store.save(record.model_copy(update={"sending": claim}))
    slack.ws.scopes -= {"channels:history", "groups:history"}

    assert await Outbox(store, chat, "survivor", clock).flush(record.id) is True
    assert replies(slack, record) == ["only"]  # not lost; had the dead sender posted it, it would show twice
    assert [c.error for c in slack.calls("conversations.replies")] == ["missing_scope"]
    store.close()
