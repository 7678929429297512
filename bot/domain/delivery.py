"""The four delivery figures (DORA's) of one app in one environment over a period, from its history.

- **Deployment frequency**: deployments that went live, per day and in all.
- **Lead time**: from the request (or the commit, when the CI hand-off gave its time) to live; median, p90.
- **Change failure rate**: of the deployments that reached the engine, those that failed or were stopped
  or rolled back, and those a `/deploy rollback` undid within a day.
- **Time to restore**: from a failed change to the next deployment that went live; median.

Deployments made outside deploybot count too: as records when deploybot followed them, else as the
engine lists them (no lead time is known for those).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .models import Deployment, State
from .progress import PastDeployment

UNDONE_WITHIN = timedelta(days=1)  # a success rolled back by `/deploy rollback` this soon was a failed change
REACHED = (State.SUCCEEDED, State.FAILED, State.STOPPED)


@dataclass(frozen=True)
class Change:
    """One deployment, as the figures see it."""

    id: str
    asked: datetime | None  # where its lead time starts (None: unknown)
    live: datetime | None  # when it went live, or ended without going live
    failed: bool


@dataclass(frozen=True)
class Figures:
    days: int
    deployments: int  # that reached the engine
    succeeded: int
    failed: int
    lead_times: list[timedelta]
    restores: list[timedelta]

    @property
    def per_day(self) -> float:
        return self.succeeded / self.days

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.deployments if self.deployments else None


def quantile(values: list[timedelta], q: float) -> timedelta | None:
    """The ``q`` quantile (nearest rank) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def changes(records: list[Deployment], past: list[PastDeployment]) -> list[Change]:
    """Every deployment that reached the engine, oldest first: deploybot's records, then the engine's
    own list for those deploybot never saw."""
    # A rollback the engine made of one of deploybot's is part of that change, not another one.
    known = {i for r in records for i in (r.deployment_id, r.rollback_deployment_id) if i}
    out = [_change(r, records) for r in records if r.state in REACHED and r.deployment_id and r.finished_at]
    for p in past:
        if p.deployment_id in known or p.ours or p.complete_time is None:
            continue
        out.append(Change(p.deployment_id, None, p.complete_time, not p.succeeded))
    return sorted(out, key=lambda c: c.live or datetime.min.replace(tzinfo=UTC))


def _change(record: Deployment, records: list[Deployment]) -> Change:
    asked: datetime | None = record.created_at
    if record.ci is not None and record.ci.committed_at is not None:
        asked = record.ci.committed_at
    if record.outside:
        asked = None  # started elsewhere: its request is not known
    failed = record.state is not State.SUCCEEDED or record.rolled_back or _undone(record, records)
    return Change(record.id, asked, record.finished_at, failed)


def _undone(record: Deployment, records: list[Deployment]) -> bool:
    """A success that a `/deploy rollback` asked for within a day went back from."""
    if record.finished_at is None:
        return False
    return any(
        r.rollback_to is not None
        and r.rollback_to != record.id
        and record.finished_at <= r.created_at <= record.finished_at + UNDONE_WITHIN
        and r.running_before == record.tag
        for r in records
    )


def figures(all_changes: list[Change], since: datetime, days: int) -> Figures:
    """The figures of the changes that ended since ``since`` (a restore may end after the period's failure)."""
    inside = [c for c in all_changes if c.live is not None and c.live >= since]
    lead = [c.live - c.asked for c in inside if not c.failed and c.live and c.asked and c.live >= c.asked]
    restores: list[timedelta] = []
    for i, change in enumerate(inside):
        if not change.failed or change.live is None:
            continue
        if i > 0 and inside[i - 1].failed:
            continue  # the same outage as the failure before: its restore is counted once, from the first
        fixed = next((c for c in inside[i + 1 :] if not c.failed and c.live), None)
        if fixed is not None and fixed.live is not None:
            restores.append(fixed.live - change.live)
    failed = sum(1 for c in inside if c.failed)
    return Figures(days, len(inside), len(inside) - failed, failed, lead, restores)
