"""The read budget: how many AWS calls a minute the watcher may make, for the whole installation.

A token bucket refilled on the event loop's clock (real seconds, whatever clock the records live on).
Its rate is set on every tick from two limits, the lower winning: the installation's calls a minute,
shared by the replicas in proportion to the deployments whose watch lease each holds, and a rate per
deployment in flight (by default the AWS CLI waiter's: one read every 15 s). The bucket holds a few
seconds' worth, so a moment many deployments are due at is read at once without exceeding the rate
over any minute. The watcher charges it with the calls it really made (``bot.metrics.tally``). The
details beyond the statuses (steps, traffic) have their own allowance within it, a quarter of the rate:
they never spend more, so they never delay the next statuses, which are what tells an outcome; and what
they have saved of it the statuses do not spend (``status_tokens``), so reads brought forward (a moment
just passed, a change just seen) cannot starve them: without steps and traffic, the moments a traffic
schedule or a bake names are not known either. That quarter is kept only for the deployments whose engine
reads details at all (CodeDeploy's ECS targets); one whose status says everything (ECS's own service
deployments) leaves its part to the statuses. The scan
for deployments nobody follows, and adopting what it finds, are not charged: a tenth of both limits is
kept out of the bucket for them (``scan_gap``), so reads and scans together stay within the
installation's rate, and within the waiter's for the deployments followed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

INSTALLATION_PER_MINUTE = 180.0  # below today's 1,000-in-flight figure, far below CodeDeploy's throttling
PER_DEPLOYMENT_PER_MINUTE = 4.0  # `aws deploy wait deployment-successful`: a GetDeployment every 15 s
BURST_SECONDS = 10.0  # how much of the rate the bucket may save up
FLOOR_PER_MINUTE = 2.0  # even one deployment alone is read at least this often
SCAN_SHARE = 0.1  # of the rate, for the scan for deployments nobody follows (outside, or lost)
SCAN_SOONEST = 10.0  # seconds: the shortest gap between two scans, however cheap
DETAIL_SHARE = 0.25  # of the rate, at most, for details (steps, traffic): the statuses always keep the rest


class ReadBudget:
    def __init__(
        self,
        installation: float = INSTALLATION_PER_MINUTE,
        per_deployment: float = PER_DEPLOYMENT_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.installation = installation  # 0: no limit for the installation
        self.per_deployment = per_deployment  # 0: no limit per deployment
        self._clock = clock
        self._at = clock()
        self.rate = installation or float("inf")  # calls a minute, as last set
        self.detail_share = DETAIL_SHARE  # of the rate, for details: as last set by ``share``
        self._tokens = self.capacity
        self._detail = self._detail_capacity  # the details' own allowance, within the bucket

    @property
    def limited(self) -> bool:
        return self.rate != float("inf")

    @property
    def capacity(self) -> float:
        return max(2.0, self.rate * BURST_SECONDS / 60) if self.limited else float("inf")

    def share(self, watched: int, in_flight: int, detailed: int | None = None) -> float:
        """Set (and return) the rate for a replica that watches ``watched`` of the installation's
        ``in_flight`` deployments, ``detailed`` of them (None: all) read with details beyond their status."""
        self._refill()
        detailed = watched if detailed is None else min(detailed, watched)
        self.detail_share = DETAIL_SHARE * detailed / watched if watched else DETAIL_SHARE
        limits = []
        # The scan's share is kept out of both: reads, scans and adopting what they find stay within the
        # installation's rate, and within the waiter's for the deployments followed.
        if self.installation:
            limits.append(self.installation * (1 - SCAN_SHARE) * min(1.0, watched / max(1, in_flight)))
        if self.per_deployment:
            limits.append(self.per_deployment * (1 - SCAN_SHARE) * watched)
        self.rate = max(FLOOR_PER_MINUTE, min(limits)) if limits else float("inf")
        self._tokens = min(self._tokens, self.capacity)
        self._detail = min(self._detail, self._detail_capacity)
        return self.rate

    @property
    def status_share(self) -> float:
        """Of the rate, what the statuses have at least."""
        return 1 - self.detail_share

    @property
    def _detail_capacity(self) -> float:
        # At least one call: with a deployment alone in flight a quarter of the bucket is less than one.
        return max(1.0, self.capacity * self.detail_share) if self.detail_share else 0.0

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def spend(self, calls: int, details: int = 0) -> None:
        """Charge ``calls`` made, ``details`` of them beyond the statuses (the bucket may go below zero:
        the next reads wait the longer)."""
        self._refill()
        if self.limited:
            self._tokens -= calls
            self._detail -= details

    def detail_room(self, statuses: int) -> int | None:
        """How many detail calls a read of ``statuses`` status calls may add: what the bucket holds beyond
        them, within the details' share of the rate (so detail never delays the next statuses); None: no
        limit."""
        if not self.limited:
            return None
        self._refill()
        return max(0, min(math.floor(self._tokens) - statuses, math.floor(self._detail)))

    @property
    def status_tokens(self) -> float:
        """What status reads may spend now: the bucket, less what the details have saved of their share."""
        self._refill()
        return self._tokens - max(0.0, self._detail) if self.limited else float("inf")

    def seconds_until(self, calls: float) -> float:
        """How long until ``calls`` status calls may be made (0: now)."""
        if not self.limited:
            return 0.0
        missing = min(calls, self.capacity - self._detail_capacity) - self.status_tokens
        if missing <= 0:
            return 0.0
        # While the details' allowance refills, the statuses' room grows by the rest of the rate only.
        rate = self.rate if self._detail >= self._detail_capacity else self.rate * self.status_share
        return missing * 60 / rate

    def scan_gap(self, cost: float, longest: float) -> float:
        """Seconds between two scans that cost ``cost`` calls each: as often as the scan's share of the
        installation's rate affords (not of the per-deployment limit: the scan is not for deployments
        followed), between ``SCAN_SOONEST`` and ``longest`` (with no limit, always ``longest``)."""
        if not self.limited:
            return longest
        rate = self.installation or self.rate
        gap = 60 * max(1.0, cost) / (rate * SCAN_SHARE)
        return max(min(SCAN_SOONEST, longest), min(longest, gap))

    def _refill(self) -> None:
        now = self._clock()
        if self.limited:
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate / 60)
            earned = (now - self._at) * self.rate * self.detail_share / 60
            self._detail = min(self._detail_capacity, self._detail + earned)
        self._at = now
