"""The four delivery figures from a history: what counts as a deployment, a failed change, a lead time
and a restore, and the period they are counted over."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.delivery import changes, figures, quantile
from bot.domain.models import CiInfo, Deployment, State
from bot.domain.progress import PastDeployment

from .factories import NOW, record

H = timedelta(hours=1)


def done(n: int, state: State, asked: datetime, took: timedelta, **more: object) -> Deployment:
    return record(
        id=f"r-{n}",
        tag=f"v{n}",
        state=state,
        created_at=asked,
        finished_at=asked + took,
        deployment_id=f"d-{n}",
        **more,
    )


def test_the_figures_of_a_month() -> None:
    start = NOW - timedelta(days=29)
    history = [
        done(1, State.SUCCEEDED, start, 1 * H),
        done(2, State.FAILED, start + 24 * H, 1 * H),  # fails at 25 h: restored by 3, live at 27.5 h
        done(3, State.SUCCEEDED, start + 27 * H, 0.5 * H),
        done(4, State.SUCCEEDED, start + 48 * H, 2 * H, ci=CiInfo(actor="ci", committed_at=start + 40 * H)),
        done(5, State.STOPPED, start + 72 * H, 1 * H),  # stopped at 73 h, 6 fails too: one outage till 7 at 81 h
        done(6, State.FAILED, start + 74 * H, 1 * H),
        done(7, State.SUCCEEDED, start + 80 * H, 1 * H),
        record(id="r-8", state=State.CANCELLED, created_at=start + 90 * H),  # never reached the engine
        record(id="r-9", state=State.START_FAILED, created_at=start + 91 * H, finished_at=start + 91 * H),
    ]
    found = figures(changes(history, []), NOW - timedelta(days=30), 30)
    assert (found.deployments, found.succeeded, found.failed) == (7, 4, 3)
    assert found.per_day == 4 / 30
    assert found.failure_rate == 3 / 7
    assert sorted(found.lead_times) == [0.5 * H, 1 * H, 1 * H, 10 * H]  # 4's from its commit
    assert found.restores == [2.5 * H, 8 * H]
    assert quantile(found.lead_times, 0.5) == 1 * H and quantile(found.lead_times, 0.9) == 10 * H


def test_only_the_period_counts() -> None:
    history = [done(1, State.SUCCEEDED, NOW - timedelta(days=10), H), done(2, State.FAILED, NOW - timedelta(days=2), H)]
    week = figures(changes(history, []), NOW - timedelta(days=7), 7)
    assert (week.deployments, week.failed, week.restores) == (1, 1, [])  # not restored yet


def test_a_success_undone_within_a_day_is_a_failed_change() -> None:
    good = done(1, State.SUCCEEDED, NOW - 50 * H, H)
    bad = done(2, State.SUCCEEDED, NOW - 30 * H, H)
    undo = done(3, State.SUCCEEDED, NOW - 20 * H, H, rollback_to="r-1", running_before="v2")
    late = done(4, State.SUCCEEDED, NOW - 15 * H, H)
    later_undo = done(5, State.SUCCEEDED, NOW + 20 * H, H, rollback_to="r-1", running_before="v4")  # > 1 day after
    found = figures(changes([good, bad, undo, late, later_undo], []), NOW - timedelta(days=30), 30)
    assert found.failed == 1
    assert found.restores == [10 * H]  # from 2's end to the rollback going live


def test_a_rolled_back_engine_deployment_and_outside_ones() -> None:
    back = done(1, State.FAILED, NOW - 5 * H, H, rollback_deployment_id="d-back")
    seen_outside = done(2, State.SUCCEEDED, NOW - 3 * H, H, outside="console")
    past = [
        PastDeployment(deployment_id="d-2", status="Succeeded", succeeded=True, complete_time=NOW - 2 * H),
        PastDeployment(deployment_id="d-back", status="Succeeded", succeeded=True, complete_time=NOW - 4 * H),
        PastDeployment(deployment_id="d-x", status="Failed", complete_time=NOW - H),  # never seen by deploybot
        PastDeployment(deployment_id="d-y", status="Succeeded", succeeded=True, ours=True, complete_time=NOW),
        PastDeployment(deployment_id="d-z", status="InProgress"),
    ]
    found = figures(changes([back, seen_outside], past), NOW - timedelta(days=1), 1)
    assert (found.deployments, found.failed) == (3, 2)
    assert found.lead_times == []  # the only success was started outside: its request is unknown
    assert found.restores == [2 * H]  # 1 ended 4 h ago, 2 went live 2 h ago; d-x is not restored yet
