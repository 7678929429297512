"""The watcher's reads under its budget, in simulated time: deployments whose engine names the moment
of their next change are read just after it, and however many are due at once, the installation's
reads a minute stay within its budget. The engine is a fake of the domain's port that charges the calls
a real one makes (one per 25 deployments) the way ``bot.aws.calls`` does."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import metrics
from bot.app import Ports, Tuning, compose
from bot.domain.catalog import AppConfig
from bot.domain.models import Deployment, State
from bot.domain.ports import Found
from bot.domain.progress import DeploymentEvent, Phase, Progress
from bot.runtime.config import load_catalog
from bot.runtime.tasks import TaskSupervisor
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from bot.watch.budget import DETAIL_SHARE
from bot.watch.schedule import MARGIN
from bot.watch.watcher import Watcher
from sandbox.runner import CATALOG
from sandbox.slack.server import LocalSlack
from tests.fakes import FakeEngine
from tests.unit.factories import record

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Sim:
    """One simulated time: the loop's seconds and the records' clock move together."""

    def __init__(self) -> None:
        self.t = 0.0

    def seconds(self) -> float:
        return self.t

    def now(self) -> datetime:
        return START + timedelta(seconds=self.t)


class ScheduledEngine(FakeEngine):
    """Each deployment moves to its next stage at its moment (the reading names it until then); reads
    are charged per call."""

    def __init__(self, sim: Sim, moments: dict[str, datetime]) -> None:
        super().__init__()
        self.sim = sim
        self.moments = moments
        self.calls: list[tuple[float, int]] = []  # (when, calls)
        self.reads: dict[str, list[float]] = {}  # record id -> when it was read
        self.seen: dict[str, float] = {}  # record id -> when a read first found its change
        self.scan_cost = 1  # calls one search for deployments nobody follows makes (a listing, say)
        self.scans: list[float] = []  # when the watcher searched
        self.finds = 0  # scans left that each find a deployment nobody follows (four calls to describe it)
        self.details = 0  # detail calls a read makes at most, within what it is allowed (a real one's targets)
        self.detail_calls = 0  # made, in all
        self.has_details = True  # False: its status says everything, as ECS's service deployments do

    def detailed(self, record: Deployment) -> bool:
        return self.has_details

    async def unfollowed(
        self, apps: Sequence[AppConfig], following: Collection[str], near: Sequence[DeploymentEvent] | None = None
    ) -> list[Found]:
        for _ in range(self.scan_cost):
            metrics.tallied()
        self.calls.append((self.sim.t, self.scan_cost))
        self.scans.append(self.sim.t)
        if not self.finds:
            return []
        self.finds -= 1
        for _ in range(4):
            metrics.tallied()
        app = apps[len(self.scans) % len(apps)]
        return [Found(app=app.key, deployment_id=f"d-outside-{len(self.scans)}", began=True)]

    async def read(self, records: Sequence[Deployment], detail: int | None = None) -> dict[str, Progress]:
        self.detail_calls += min(self.details, detail or 0)
        calls = math.ceil(len(records) / 25) + min(self.details, detail or 0)
        for _ in range(calls):
            metrics.tallied()
        self.calls.append((self.sim.t, calls))
        out = {}
        for r in records:
            self.reads.setdefault(r.id, []).append(self.sim.t)
            moment = self.moments.get(r.id, START + timedelta(days=1))  # one adopted: no change due
            stepped = self.sim.now() >= moment
            if stepped:
                self.seen.setdefault(r.id, self.sim.t)
            out[r.id] = Progress(
                deployment_id=r.deployment_id or "",
                scope=f"service/{r.app}",
                phase=Phase.SHIFTING,
                began=True,
                traffic=10.0,
                stage="step 2" if stepped else "step 1",
                next_change_at=None if stepped else moment,
            )
        return out


async def fleet(
    tmp_path: Path, slack: LocalSlack, count: int, moments: list[float], **tuning: float
) -> tuple[Watcher, ScheduledEngine, Sim]:
    sim = Sim()
    store = SqliteStore(str(tmp_path / "w.db"), clock=sim.now)
    ids = [f"r-{i:04d}" for i in range(count)]
    engine = ScheduledEngine(sim, {i: START + timedelta(seconds=m) for i, m in zip(ids, moments, strict=True)})
    for i, record_id in enumerate(ids):
        await store.create(
            record(
                id=record_id,
                app=f"fleet-{i:04d}",
                state=State.IN_PROGRESS,
                deployment_id=f"d-{i:09d}",
                phase=Phase.SHIFTING,
                began=True,
                traffic=10.0,
                stage="step 1",
                created_at=START,
                updated_at=START,
            )
        )
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    ports = Ports(store, chat, engine, engine, sim.now, ticker=sim.seconds)
    parts = compose(load_catalog(CATALOG), ports, Tuning(**tuning), TaskSupervisor())  # type: ignore[arg-type]
    return parts.watcher, engine, sim


async def run_for(watcher: Watcher, sim: Sim, seconds: float) -> None:
    """The watcher's loop, with simulated time jumping to each pass it asks for."""
    end = sim.t + seconds
    while sim.t < end:
        await watcher.tick(everything=False)
        sim.t = max(watcher.next_pass(), sim.t + 0.01)


def busiest_minute(calls: list[tuple[float, int]]) -> int:
    return max(sum(n for t, n in calls if start <= t < start + 60) for start, _ in calls)


async def test_a_thousand_deployments_due_together_stay_within_the_installation_budget(
    tmp_path: Path, slack: LocalSlack
) -> None:
    # A thousand deployments whose next change falls within the same half minute, two minutes in.
    moments = [120 + (i % 30) for i in range(1000)]
    watcher, engine, sim = await fleet(tmp_path, slack, 1000, moments, reads_per_minute=180)
    await run_for(watcher, sim, 300)
    budget = watcher.budget
    assert budget.rate == pytest.approx(162)  # the installation's 180, less the scan's tenth
    # Over any minute, reads and scans together: the installation's rate, plus what the bucket may have
    # saved up (ten seconds' worth).
    assert len(engine.scans) >= 25  # the scan went on beside the reads, every 10 s or so
    assert busiest_minute(engine.calls) <= 180 + budget.capacity
    assert sum(n for _, n in engine.calls) <= 180 * 5 + budget.capacity
    # Every deployment was read after its moment, most of them soon after.
    late = [engine.seen[r] - m for r, m in zip(sorted(engine.reads), moments, strict=True)]
    assert statistics.median(late) < 10 and max(late) < 30


async def test_a_few_deployments_are_read_just_after_their_moments_at_the_waiters_rate(
    tmp_path: Path, slack: LocalSlack
) -> None:
    moments = [37.0 + 23 * i for i in range(12)]  # one change each, at moments spread over five minutes
    watcher, engine, sim = await fleet(tmp_path, slack, 12, moments)  # the defaults: 4 a minute each
    await run_for(watcher, sim, 330)
    assert sum(n for _, n in engine.calls) / 12 <= 4 * 330 / 60  # no more than `aws deploy wait` makes
    late = [engine.seen[f"r-{i:04d}"] - m for i, m in enumerate(moments)]
    assert max(late) <= 1.0  # each change seen within a second of its moment
    # Between moments the pace is the budget's: one call reads all twelve, as often as three quarters of
    # each deployment's four reads a minute allow, less the tenth kept for the scan (the rest: details).
    assert watcher.pace(1) == pytest.approx(60 / (12 * 4 * 0.9 * 0.75))


async def test_deployments_without_details_have_the_whole_rate_for_their_statuses(
    tmp_path: Path, slack: LocalSlack
) -> None:
    moments = [37.0 + 23 * i for i in range(12)]
    watcher, engine, sim = await fleet(tmp_path, slack, 12, moments)
    engine.has_details = False  # ECS's own deployments: one DescribeServiceDeployments says everything
    await run_for(watcher, sim, 330)
    # No quarter kept for details nobody reads: the pace is that of all of each deployment's reads.
    assert watcher.pace(1) == pytest.approx(60 / (12 * 4 * 0.9))
    reads = sum(n for _, n in engine.calls) - engine.scan_cost * len(engine.scans)
    assert reads / 12 <= 4 * 330 / 60  # the statuses still make no more calls than the waiter
    late = [engine.seen[f"r-{i:04d}"] - m for i, m in enumerate(moments)]
    assert max(late) <= 1.0


async def test_the_scan_comes_as_often_as_its_own_share_of_the_installation_rate_affords(
    tmp_path: Path, slack: LocalSlack
) -> None:
    moments = [37.0 + 23 * i for i in range(12)]
    watcher, engine, sim = await fleet(tmp_path, slack, 12, moments)  # the defaults: 4 a minute each
    engine.scan_cost = 2
    await run_for(watcher, sim, 330)
    # A tenth of the installation's 180 calls a minute: a scan of 2 calls could come every 6.7 s, so it
    # comes at the soonest (10 s) instead of the longest gap (60 s); one of 4, every 13.3 s; one of 30,
    # at the longest.
    budget = watcher.budget
    assert (budget.scan_gap(2, 60), budget.scan_gap(4, 60), budget.scan_gap(30, 60)) == pytest.approx((10, 40 / 3, 60))
    gaps = [b - a for a, b in zip(engine.scans[1:], engine.scans[2:], strict=False)]
    assert gaps and min(gaps) > 9.99 and statistics.median(gaps) < 12
    reads = sum(n for _, n in engine.calls) - engine.scan_cost * len(engine.scans)
    assert reads / 12 <= 4 * 330 / 60  # the status reads stay within the waiter's; the scan has its own share
    late = [engine.seen[f"r-{i:04d}"] - m for i, m in enumerate(moments)]
    assert max(late) <= 1.0


async def test_a_cheap_scan_comes_every_ten_seconds_and_without_a_limit_at_its_longest_gap(
    tmp_path: Path, slack: LocalSlack
) -> None:
    watcher, engine, sim = await fleet(tmp_path, slack, 0, [])  # nothing in flight: the scan still looks
    await run_for(watcher, sim, 120)
    gaps = [b - a for a, b in zip(engine.scans, engine.scans[1:], strict=False)]
    assert gaps and min(gaps) > 9.99 and max(gaps) < 11
    unlimited, engine, sim = await fleet(
        tmp_path / "u", slack, 12, [1e6] * 12, reads_per_minute=0, reads_per_deployment=0
    )
    await run_for(unlimited, sim, 300)
    gaps = [b - a for a, b in zip(engine.scans, engine.scans[1:], strict=False)]
    assert gaps and min(gaps) > 59.99 and max(gaps) < 61


async def test_describing_what_a_scan_found_does_not_put_off_the_next_scan(tmp_path: Path, slack: LocalSlack) -> None:
    watcher, engine, sim = await fleet(tmp_path, slack, 0, [])
    engine.finds = 6  # six scans in a row find a deployment started outside (five calls each, not one)
    await run_for(watcher, sim, 120)
    assert engine.finds == 0 and len(await watcher.store.in_flight()) == 6  # all adopted
    gaps = [b - a for a, b in zip(engine.scans, engine.scans[1:], strict=False)]
    # Charged for what they found, they would have come every 16.7 s (5 calls at 18 a minute).
    assert gaps and min(gaps) > 9.99 and max(gaps) < 11


async def test_an_event_is_read_at_once_even_with_the_bucket_empty_and_the_debt_is_paid_after(
    tmp_path: Path, slack: LocalSlack
) -> None:
    watcher, engine, sim = await fleet(tmp_path, slack, 3, [1e6] * 3)
    await watcher.tick(everything=False)
    budget = watcher.budget
    budget.spend(math.ceil(budget.tokens))  # the bucket is empty
    sim.t += 0.01
    watcher.wake([DeploymentEvent(deployment_id="d-000000001")])
    await watcher.tick(everything=False)
    assert engine.reads["r-0001"][-1] == sim.t  # read at once, on credit
    # One call on credit; the others due later ride in its room, for nothing more.
    assert budget.tokens < 0 and engine.calls[-1] == (sim.t, 1) and engine.reads["r-0000"][-1] == sim.t
    budget.spend(math.ceil(budget.capacity))  # deeper in debt than the bucket holds: events wait too
    sim.t += 0.01
    watcher.wake([DeploymentEvent(deployment_id="d-000000002")])
    await watcher.tick(everything=False)
    assert engine.reads["r-0002"][-1] < sim.t
    sim.t += budget.seconds_until(1) + 0.01  # once the debt is paid and the bucket holds a call again
    await watcher.tick(everything=False)
    assert engine.reads["r-0002"][-1] == sim.t


async def test_an_event_wakes_its_deployment_by_id_or_by_place_and_only_a_nameless_one_reads_everything(
    tmp_path: Path, slack: LocalSlack
) -> None:
    watcher, engine, sim = await fleet(tmp_path, slack, 3, [1e6] * 3)
    await watcher.tick(everything=False)  # each reading says where its deployment happens
    nudge = watcher.nudge
    nudge.take()
    # ECS's deployment events carry the service's own id: the place names the deployment followed there.
    watcher.wake([DeploymentEvent(deployment_id="ecs-svc/123", scope="service/fleet-0001")])
    assert watcher.schedule.due("r-0001", sim.t) == float("-inf")
    assert watcher.schedule.due("r-0000", sim.t) > sim.t
    assert nudge.take() == (True, False)
    # Somewhere nobody is followed (a deployment started outside): that place is searched, nothing else read.
    watcher.wake([DeploymentEvent(deployment_id="d-OUTSIDE01", state="START", scope="service/elsewhere")])
    assert nudge.take() == (True, False)
    before = len(engine.scans)
    await watcher.tick(everything=False)
    assert len(engine.scans) == before + 1  # the search near the event
    assert watcher.schedule.due("r-0000", sim.t) > sim.t
    # An event that names neither a followed deployment nor a place: everything is read.
    watcher.wake([DeploymentEvent(deployment_id="d-UNKNOWN01")])
    assert nudge.take() == (True, True)


async def test_every_status_call_is_filled_with_the_next_ones_due(tmp_path: Path, slack: LocalSlack) -> None:
    moments = [5 + 1.3 * i for i in range(60)]  # each read off the others' rhythm, just after its moment
    watcher, engine, sim = await fleet(tmp_path, slack, 60, moments, reads_per_minute=120)
    await run_for(watcher, sim, 180)
    by_pass: dict[float, int] = {}
    for times in engine.reads.values():
        for t in times:
            by_pass[t] = by_pass.get(t, 0) + 1
    calls = {t: n for t, n in engine.calls if t in by_pass}
    # Two deployments due a pass apart would cost a call each, mostly empty; a call's room goes to the next
    # ones due instead, so each of the sixty is read as often as the calls allow.
    assert all(by_pass[t] == min(60, 25 * calls[t]) for t in by_pass)
    gaps = [b - a for times in engine.reads.values() for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 2 * watcher.pace(3)


async def test_sixty_in_flight_each_moment_is_read_within_a_second_though_the_pace_spends_the_budget(
    tmp_path: Path, slack: LocalSlack
) -> None:
    # Sixty deployments take three calls a full read, and the pace spends the statuses' share of the
    # budget: a moment must not wait for the bucket to hold a whole pass.
    moments = [31.3 + 6.7 * i for i in range(60)]
    watcher, engine, sim = await fleet(tmp_path, slack, 60, moments)
    engine.details = 60  # every read spends all it may on details, as CodeDeploy's targets do
    await run_for(watcher, sim, 460)
    assert watcher.budget.rate == pytest.approx(162)  # the installation's limit binds, not the waiter's
    assert watcher.pace(3) > 1.4  # a full read every pace: three calls of the statuses' 121 a minute
    late = sorted(engine.seen[f"r-{i:04d}"] - m for i, m in enumerate(moments))
    assert statistics.median(late) == pytest.approx(MARGIN, abs=0.01)  # most at once, the moment's margin after
    assert late[-1] <= 0.6  # none waits for the bucket to hold a whole pass (1.5 s), or for the details
    # The reads brought forward did not starve the details (steps, traffic) of their quarter of the rate.
    assert engine.detail_calls >= 0.9 * 162 * DETAIL_SHARE * 460 / 60
    assert busiest_minute(engine.calls) <= 180 + watcher.budget.capacity


async def test_with_an_events_queue_polling_is_the_safety_net_at_half_the_pace(
    tmp_path: Path, slack: LocalSlack
) -> None:
    (tmp_path / "polled").mkdir()
    (tmp_path / "eventful").mkdir()
    polled, polled_engine, polled_sim = await fleet(tmp_path / "polled", slack, 12, [1e6] * 12)
    eventful, engine, sim = await fleet(tmp_path / "eventful", slack, 12, [1e6] * 12, events=True)
    await run_for(polled, polled_sim, 300)
    await run_for(eventful, sim, 300)
    assert eventful.pace(1) == pytest.approx(2 * polled.pace(1))
    reads, polled_reads = sum(n for _, n in engine.calls), sum(n for _, n in polled_engine.calls)
    scans = len(engine.scans)  # the scan keeps its own rhythm
    assert reads - scans <= 0.55 * (polled_reads - len(polled_engine.scans))
    # An event is still read at once.
    sim.t += 0.01
    eventful.wake([DeploymentEvent(deployment_id="d-000000003")])
    await eventful.tick(everything=False)
    assert engine.reads["r-0003"][-1] == sim.t
