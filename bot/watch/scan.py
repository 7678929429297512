"""The search for deployments nobody follows (started outside deploybot, or lost by the store).

It runs on the watcher's passes, as often as its share of the read budget affords (``ReadBudget.scan_gap``)
and at least every ``longest``; an event about a deployment nobody follows has its place searched on the
next pass. The scan has its own share of the installation's rate rather than a charge on the bucket:
charged, a short DEPLOYBOT_SCAN_SECONDS starved the status reads (measured: outcomes told 10 s late in
the quick lag benchmark). The holds' reminders keep the longest gap's rhythm, however often it runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..domain.ports import Clock
from ..domain.progress import DeploymentEvent
from ..usecases.holds import Holds
from ..usecases.recovery import Recovery
from .budget import ReadBudget


class Scan:
    def __init__(
        self,
        recovery: Recovery,
        holds: Holds,
        budget: ReadBudget,
        clock: Clock,
        longest: timedelta,
        clock_speed: float = 1.0,
    ) -> None:
        self.recovery = recovery
        self.holds = holds
        self.budget = budget
        self.now = clock
        self.longest = longest
        self.clock_speed = clock_speed  # how fast ``clock`` runs against the loop's seconds
        self.scanned: datetime | None = None  # the last full scan
        self._cost = 1  # calls the last full scan made
        self._reminded: datetime | None = None
        self._near: list[DeploymentEvent] = []  # events about deployments nobody follows

    def near(self, event: DeploymentEvent) -> None:
        """An event about a deployment nobody follows: search its place on the next pass."""
        if event.scope:
            self._near.append(event)

    def gap(self) -> timedelta:
        """The time between two full scans: what the last one cost, at the scan's share of the budget."""
        seconds = self.budget.scan_gap(self._cost, self.longest.total_seconds() / self.clock_speed)
        return min(self.longest, timedelta(seconds=seconds * self.clock_speed))

    def seconds_until(self) -> float | None:
        """Loop seconds until the next full scan is due (None: not scanned yet, due at once)."""
        if self.scanned is None:
            return None
        return (self.scanned + self.gap() - self.now()).total_seconds() / self.clock_speed

    async def run(self) -> None:
        """A full scan if one is due, else a search near the events heard since the last pass."""
        now = self.now()
        if self.scanned is None or now - self.scanned >= self.gap():
            self.scanned = now
            self._near.clear()
            search = await self.recovery.lost(None)
            # What a scan spends describing the deployments it found and adopts is a one-off (as is the
            # first read of one deploybot starts): the gap follows the cost of looking, not of finding.
            self._cost = search.calls if not search.adopted else min(self._cost, search.calls)
            if self._reminded is None or now - self._reminded >= self.longest:
                self._reminded = now
                await self.holds.remind()
        elif self._near:
            near, self._near = self._near, []
            await self.recovery.lost(near)
