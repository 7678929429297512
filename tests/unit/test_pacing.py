"""Slack pacing on a simulated clock: token buckets per channel and for updates, and queued thread
replies joined into fewer messages without changing their order."""

from __future__ import annotations

from bot.domain.models import Outgoing
from bot.notifier import reply
from bot.outbox import JOIN_LIMIT, _batches
from bot.slack.pacing import Bucket, Pacer


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_bucket_gives_one_turn_and_says_when_the_next_is_free() -> None:
    bucket = Bucket(per_minute=60)
    assert bucket.take(10.0) == 0
    assert bucket.take(10.0) == 1.0  # one a second
    assert bucket.take(10.5) == 0.5
    assert bucket.take(11.0) == 0
    assert Bucket(per_minute=0).take(10.0) == 0 and Bucket(per_minute=0).take(10.0) == 0  # off


def test_posts_are_paced_per_channel_and_updates_per_workspace() -> None:
    clock = Clock()
    pacer = Pacer(posts_per_minute=55, updates_per_minute=45, clock=clock)
    assert pacer.try_post("C1") and not pacer.try_post("C1")
    assert pacer.try_post("C2")  # another channel has its own turns
    updates = sum(pacer.try_update() for _ in range(100))
    assert updates == 4  # a burst of a tenth of a minute's worth, then one every 60/45 s
    clock.t += 60
    assert sum(pacer.try_update() for _ in range(100)) == 4  # the burst refills; never more than it
    clock.t += 1.1
    assert pacer.try_post("C1")


async def test_a_message_someone_waits_for_takes_the_next_turn() -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.t += seconds

    pacer = Pacer(posts_per_minute=60, updates_per_minute=60, clock=clock, sleep=sleep)
    await pacer.post_turn("C1")
    await pacer.post_turn("C1")
    await pacer.post_turn("C1")
    assert slept == [1.0, 1.0]


def test_plain_replies_are_joined_in_order_and_the_rest_goes_alone() -> None:
    alert = Outgoing(text="alert", channel="C0ALERTS")
    rich = Outgoing(text="rich", blocks=[{"type": "divider"}])
    messages = [reply("a"), reply("b"), alert, reply("c"), rich, reply("d"), reply("done", broadcast=True), reply("e")]
    messages = [m.model_copy(update={"seq": seq}) for seq, m in enumerate(messages, 1)]
    groups = [[m.text for m in g] for g in _batches(messages)]
    assert groups == [["a", "b"], ["alert"], ["c"], ["rich"], ["d"], ["done"], ["e"]]


def test_joining_stops_at_the_length_limit() -> None:
    long = [reply("x" * (JOIN_LIMIT // 4)) for _ in range(7)]
    groups = _batches(long)
    assert [len(g) for g in groups] == [3, 3, 1]
    assert all(sum(len(m.text) + 1 for m in g) <= JOIN_LIMIT + 1 for g in groups)
