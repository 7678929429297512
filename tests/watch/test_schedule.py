"""The read schedule and the read budget on their own: when a deployment is next read, how the budget
is shared and refilled (simulated seconds throughout)."""

from __future__ import annotations

import math

import pytest

from bot.watch.budget import FLOOR_PER_MINUTE, ReadBudget
from bot.watch.schedule import HOVER, MARGIN, ReadSchedule, affordable, status_calls


class Seconds:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_deployment_never_read_is_due_now_and_one_read_waits_a_pace() -> None:
    schedule = ReadSchedule(shortest_gap=1.0)
    assert schedule.pick(["a"], 10.0, pace=5.0) == ["a"]
    assert schedule.read("a", 10.0, 5.0, changed=False, moment=None) == 15.0
    assert schedule.pick(["a"], 14.9, pace=5.0) == []
    assert schedule.pick(["a"], 15.0, pace=5.0) == ["a"]


def test_a_read_takes_along_those_due_within_half_a_pace_and_nothing_before_one_is_due() -> None:
    schedule = ReadSchedule(shortest_gap=1.0)
    for key, at in (("a", 0.0), ("b", 1.0), ("c", 3.0)):
        schedule.read(key, at, 10.0, changed=False, moment=None)  # due at 10, 11, 13
    assert schedule.pick(["a", "b", "c"], 9.0, pace=10.0) == []
    assert schedule.pick(["a", "b", "c"], 10.0, pace=4.0) == ["a", "b"]
    assert schedule.next_at(["a", "b", "c"], 0.0) == 10.0


def test_a_predicted_moment_brings_the_read_forward_to_just_after_it() -> None:
    schedule = ReadSchedule(shortest_gap=1.0)
    assert schedule.read("a", 0.0, 60.0, changed=False, moment=20.0) == 20.0 + MARGIN
    assert schedule.read("a", 0.0, 60.0, changed=False, moment=90.0) == 60.0  # later than a pace: the pace


def test_after_a_moment_passes_unseen_it_is_read_at_every_chance_for_a_while() -> None:
    schedule = ReadSchedule(shortest_gap=1.0)
    assert schedule.read("a", 21.0, 60.0, changed=False, moment=20.0) == 22.0
    assert schedule.read("a", 20.0 + HOVER + 1, 60.0, changed=False, moment=20.0) == 20.0 + HOVER + 61


def test_a_deployment_that_just_moved_is_read_again_soon() -> None:
    schedule = ReadSchedule(shortest_gap=1.0)
    assert schedule.read("a", 0.0, 60.0, changed=True, moment=None) == 2.0


def test_an_event_brings_its_deployment_forward_and_forgotten_ones_are_due_at_once() -> None:
    schedule = ReadSchedule(shortest_gap=1.0)
    schedule.read("a", 0.0, 60.0, changed=False, moment=None)
    schedule.read("b", 0.0, 60.0, changed=False, moment=None)
    schedule.bring_forward("b")
    assert schedule.pick(["a", "b"], 1.0, pace=60.0) == ["b"]
    schedule.keep(["b"])
    assert schedule.due("a", 5.0) == 5.0


def test_the_budget_is_the_lower_of_the_installation_share_and_the_per_deployment_rate() -> None:
    budget = ReadBudget(installation=180, per_deployment=4, clock=Seconds())
    # 4 each is below the installation's; a tenth of either is kept for the scan and for adopting.
    assert budget.share(watched=10, in_flight=10) == pytest.approx(36)
    # The installation's 180, less the tenth kept for the scan.
    assert budget.share(watched=1000, in_flight=1000) == pytest.approx(162)
    # Three replicas with a third of the deployments each: a third of the installation's budget each.
    assert budget.share(watched=300, in_flight=900) == pytest.approx(54)
    assert budget.share(watched=0, in_flight=900) == FLOOR_PER_MINUTE


def test_the_bucket_refills_at_the_rate_holds_a_few_seconds_and_may_be_overdrawn() -> None:
    seconds = Seconds()
    # Five of 12 each, less the scan's tenth: 54 a minute, 0.9 a second.
    budget = ReadBudget(installation=0, per_deployment=12, clock=seconds)
    budget.share(watched=5, in_flight=5)
    assert budget.tokens == budget.capacity == pytest.approx(9)
    budget.spend(13)
    # The details' share saved up (a quarter of the bucket) is not the statuses' to spend: a status call
    # waits for the debt and for them.
    assert budget.tokens == pytest.approx(-4) and budget.status_tokens == pytest.approx(-4 - 9 / 4)
    assert budget.seconds_until(1) == pytest.approx((1 + 4 + 9 / 4) / 0.9)
    seconds.t += (1 + 4 + 9 / 4) / 0.9
    assert budget.status_tokens == pytest.approx(1) and budget.seconds_until(1) == 0
    seconds.t += 3600
    assert budget.tokens == pytest.approx(9)  # never more than its capacity saved up
    assert budget.status_tokens == pytest.approx(9 * 3 / 4)
    budget.spend(2, details=2)  # while the details' share refills, the statuses' room grows by the rest
    budget.spend(math.ceil(budget.status_tokens))
    assert budget.seconds_until(1) == pytest.approx((1 - budget.status_tokens) / (0.9 * 3 / 4))


def test_no_limit_means_reads_never_wait() -> None:
    budget = ReadBudget(installation=0, per_deployment=0, clock=Seconds())
    budget.share(watched=1000, in_flight=1000)
    budget.spend(10_000)
    assert not budget.limited and budget.seconds_until(1_000) == 0


def test_details_never_spend_more_than_their_share_so_the_statuses_keep_theirs() -> None:
    seconds = Seconds()
    budget = ReadBudget(installation=0, per_deployment=20, clock=seconds)
    budget.share(watched=10, in_flight=10)  # 180 a minute: three calls a second, thirty saved up
    assert budget.capacity == pytest.approx(30)
    assert budget.detail_room(statuses=1) == 7  # a quarter of the bucket, though it holds 29 more
    budget.spend(8, details=7)
    assert budget.detail_room(statuses=1) == 0  # their share is spent; the statuses still have 22 calls
    seconds.t += 4  # twelve calls' worth refilled, three of them the details'
    assert budget.detail_room(statuses=1) == 3
    budget.spend(29)
    assert budget.detail_room(statuses=1) == 0  # what is left is the next statuses'
    assert ReadBudget(0, 0).detail_room(statuses=1) is None  # no limit: the engine's own ration
    alone = ReadBudget(installation=180, per_deployment=4, clock=Seconds())
    alone.share(watched=1, in_flight=1)  # a quarter of its two calls' bucket is half a call
    assert alone.detail_room(statuses=1) == 1  # its steps are still read


def test_the_details_share_is_kept_only_for_deployments_whose_engine_reads_details() -> None:
    seconds = Seconds()
    budget = ReadBudget(installation=0, per_deployment=20, clock=seconds)
    budget.share(watched=10, in_flight=10, detailed=0)  # ECS's own: the status says everything
    assert budget.status_share == 1 and budget.detail_room(statuses=1) == 0
    assert budget.status_tokens == pytest.approx(budget.capacity)  # nothing saved for details nobody reads
    budget.spend(30)
    assert budget.seconds_until(1) == pytest.approx(1 / 3)  # the whole rate refills the statuses' room
    budget.share(watched=10, in_flight=10, detailed=4)  # four CodeDeploy deployments among them
    assert budget.detail_share == pytest.approx(0.25 * 4 / 10) and budget.status_share == pytest.approx(0.9)
    budget.share(watched=10, in_flight=10)  # not said: all of them
    assert budget.status_share == pytest.approx(0.75)


def test_status_calls_follow_each_engine_s_batch() -> None:
    batch = {"cd1": ("codedeploy", 25), "cd2": ("codedeploy", 25), "e1": ("ecs", 20), "e2": ("ecs", 20)}
    keys = [*batch, *(f"e{i}" for i in range(3, 23))]
    group = {**batch, **{f"e{i}": ("ecs", 20) for i in range(3, 23)}}
    assert status_calls(keys, group.__getitem__) == 3  # two CodeDeploy ids in one call, 22 ECS ARNs in two
    assert affordable(keys, group.__getitem__, 2) == keys[:22]  # the 21st ECS ARN would open a third call
    assert affordable(keys, group.__getitem__, 0) == []
