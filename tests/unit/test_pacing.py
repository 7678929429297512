"""Slack pacing on a simulated clock: token buckets per channel and for updates, and queued thread
replies joined into fewer messages without changing their order."""

from __future__ import annotations

from bot.domain.models import Outgoing
from bot.slack.pacing import Pacer, Window
from bot.usecases.outbox import JOIN_LIMIT, _batches
from bot.usecases.telling import reply


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_window_gives_its_turns_and_says_when_the_next_is_free() -> None:
    window = Window(limit=3, seconds=3.0)
    assert [window.take(10.0), window.take(10.5), window.take(11.0)] == [0, 0, 0]  # a short burst
    assert window.take(11.0) == 2.0  # the next when the first leaves the window
    assert not window.free(12.9) and window.free(13.0)
    assert window.take(13.0) == 0
    assert Window(limit=0, seconds=0).take(10.0) == 0 and Window(limit=0, seconds=0).free(10.0)  # off


def test_posts_are_paced_per_channel_and_updates_per_workspace() -> None:
    clock = Clock()
    pacer = Pacer(posts_per_minute=55, updates_per_minute=45, clock=clock)
    assert [pacer.try_post("C1") for _ in range(4)] == [True, True, True, False]
    assert pacer.try_post("C2")  # another channel has its own turns
    assert sum(pacer.try_update() for _ in range(100)) == 45
    assert not pacer.update_free()
    clock.t += 60
    assert pacer.update_free() and sum(pacer.try_update() for _ in range(100)) == 45  # never more a minute
    clock.t += 3.3  # 3 posts in 3 * 60 / 55 s: just under Slack's "about one a second"
    assert pacer.try_post("C1")


async def test_a_message_someone_waits_for_takes_the_next_turn() -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.t += seconds

    pacer = Pacer(posts_per_minute=60, updates_per_minute=60, clock=clock, sleep=sleep)
    for _ in range(5):
        await pacer.post_turn("C1")
    assert slept == [3.0]  # the fourth waits for the burst to leave the window; the fifth goes with it


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
