"""Carrying out the plan's faults on the cluster, each at its moment, and taking them all back at the end.

AWS's faults meet only the replicas' calls (``Control.fault_agent``): the campaign's own reads of the store
and the CI job's deployments go through untouched, so what the invariants see is what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from typing import Any

from bot.domain.ports import StaleRecord
from sandbox.aws.moto_ext import CONTROL

from .cluster import LEASE_SECONDS, Cluster
from .plan import Fault, Plan


class Injector:
    def __init__(self, cluster: Cluster, plan: Plan) -> None:
        self.cluster = cluster
        self.plan = plan
        self.injected: Counter[str] = Counter()
        self.log: list[dict[str, Any]] = []  # each fault with its wall-clock time, for reading a failing run
        self._pending: set[asyncio.Task[None]] = set()  # restarts, resumes and outage ends still to come
        self._rng = random.Random(plan.seed * 7919)  # noqa: S311 - which record a conflict hits, reproducibly

    async def run(self, stop: asyncio.Event) -> None:
        """Each fault at its moment, until the plan ends or ``stop`` is set."""
        began = time.monotonic()
        for fault in self.plan.faults:
            wait = fault.at - (time.monotonic() - began)
            if wait > 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                    return
                except TimeoutError:
                    pass
            if stop.is_set():
                return
            await self.inject(fault)

    async def inject(self, fault: Fault) -> None:
        self.injected[fault.kind] += 1
        self.log.append({"at": time.time(), "kind": fault.kind, **fault.detail})
        d: dict[str, Any] = fault.detail
        slack = self.cluster.box.slack
        if fault.kind == "kill":
            replica = self.cluster.replicas[int(d["replica"])]
            if not replica.up:
                return
            replica.kill()
            self.cluster.balance()
            self._later(float(d["seconds"]), self.cluster.restart(replica))
        elif fault.kind == "pause":
            replica = self.cluster.replicas[int(d["replica"])]
            replica.pause()
            self._later(LEASE_SECONDS + float(d["seconds"]) / 4, _resume(replica))
        elif fault.kind == "aws_throttle":
            _add(CONTROL.throttles, str(d["operation"]), int(d["count"]))
        elif fault.kind == "aws_error":
            _add(CONTROL.errors, str(d["operation"]), int(d["count"]))
        elif fault.kind == "aws_lost_answer":
            _add(CONTROL.lost_answers, str(d["operation"]), int(d["count"]))
        elif fault.kind == "aws_dropped":
            where = CONTROL.dropped_before if d["when"] == "before" else CONTROL.dropped_after
            _add(where, str(d["operation"]), 1)
        elif fault.kind in ("slack_429", "slack_500", "slack_timeout"):
            kind = fault.kind.removeprefix("slack_")
            slack.faults[str(d["method"])].extend([kind] * int(d["count"]))
        elif fault.kind == "slack_outage":
            slack.outage = True
            self._later(float(d["seconds"]), _outage_over(self.cluster))
        elif fault.kind == "events":
            CONTROL.events.plan.extend([str(d["what"])] * int(d["count"]))
        elif fault.kind == "dynamo_conflict":
            await self._conflict()

    def _later(self, seconds: float, then: Any) -> None:
        async def later() -> None:
            try:
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:
                then.close()  # settled instead: ``settle`` takes every fault back at once
                raise
            try:
                await then
            except Exception as exc:  # noqa: BLE001 - a restart that failed is retried when the run settles
                self.log.append({"at": time.time(), "kind": "fault_end_failed", "error": repr(exc)[:300]})

        task = asyncio.create_task(later())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _conflict(self) -> None:
        """Another writer saves an in-flight record first: the same record, its version one ahead, so the
        replica's compare-and-set fails and it must read again and decide again."""
        store = self.cluster.store
        assert store is not None  # noqa: S101 - started
        flying = sorted(await store.in_flight(), key=lambda r: r.id)
        if not flying:
            return
        record = await store.get(self._rng.choice(flying).id)
        if record is not None:
            with contextlib.suppress(StaleRecord):  # a replica saved it first: a conflict all the same
                await store.save(record)

    async def settle(self) -> None:
        """Every fault taken back: the pending ends come now, the switches are cleared, held events sent."""
        for task in list(self._pending):
            task.cancel()
        self._pending.clear()
        CONTROL.reset_faults()
        CONTROL.events.release(CONTROL.clock.now(), everything=True)
        slack = self.cluster.box.slack
        slack.faults.clear()
        slack.outage = False
        for replica in self.cluster.replicas:
            replica.resume()
            if not replica.up:
                await self.cluster.restart(replica)
        self.cluster.balance()

    def applied(self) -> dict[str, int]:
        """Faults by kind, and the events the sandbox really dropped, duplicated, delayed or reordered."""
        out = dict(self.injected)
        out |= {f"events_{k}": v for k, v in CONTROL.events.applied.items()}
        return out


def _add(counts: dict[str, int], operation: str, count: int) -> None:
    with CONTROL.lock:
        counts[operation] = counts.get(operation, 0) + count


async def _resume(replica: Any) -> None:
    replica.resume()


async def _outage_over(cluster: Cluster) -> None:
    cluster.box.slack.outage = False
