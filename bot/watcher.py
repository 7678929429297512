"""One supervised loop that tracks every in-flight deployment.

Each tick reads all tracked deployments with BatchGetDeployments (25 at a time; targets only for
active ones), folds each snapshot into its record, saves it with a compare-and-set, and tells
Slack. A poke (after a button press) runs the next tick at once instead of waiting the interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

import structlog

from .catalog import Catalog
from .crashpoints import crash_point
from .domain import audit
from .domain.errors import DeployError
from .domain.lifecycle import observe
from .domain.models import Deployment, DeploymentEvent, Phase, Snapshot, State
from .domain.ports import DeployPlatform, StaleRecord, Store
from .holds import Holds
from .keys import RUN_LEASE, app_lock, watch_lock
from .notifier import Notifier, reply
from .timers import Timers

log = structlog.get_logger(__name__)
# Longer than the slowest CreateDeployment with its retries, so a live replica is never overtaken.
STARTING_GRACE = timedelta(minutes=5)
# How often the configured groups are searched for deployments the store does not know (lost, or
# started outside deploybot): one ListDeployments per group, plus a BatchGet only when some are running.
SCAN = timedelta(seconds=60)
FOLD_ATTEMPTS = 3
PACED_RETRY = 1.0  # seconds: how soon to come back for messages that waited for Slack's pace


def rolled_back(record: Deployment) -> bool:
    return record.state.terminal and (record.rollback_deployment_id is not None or record.state is State.STOPPED)


class Watcher(Timers):
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        platform: DeployPlatform,
        notifier: Notifier,
        interval: float,
        clock: Callable[[], datetime],
        replica: str = "single",
        lease: timedelta = timedelta(seconds=30),
        starting_grace: timedelta = STARTING_GRACE,
        scan_every: timedelta = SCAN,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.platform = platform
        self.notifier = notifier
        self.interval = interval
        self.now = clock
        self._wake = asyncio.Event()
        self.recover: Callable[[Deployment], Awaitable[None]] | None = None
        # Searches the configured groups (None: all of them) for deployments the store does not know.
        self.find_lost: Callable[[set[tuple[str, str]] | None], Awaitable[int]] | None = None
        self.holds: Holds | None = None
        self._scanned: datetime | None = None
        self._misses: dict[str, int] = {}
        # Each in-flight deployment is told by exactly one replica: the holder of its watch lease.
        self.replica = replica
        self.lease = lease
        self._held: dict[str, datetime] = {}
        self._ticking = asyncio.Lock()
        self.starting_grace = starting_grace
        self.scan_every = scan_every
        self._following: set[str] = set()  # CodeDeploy ids of the deployments in the store, as of the last tick
        self._search: set[tuple[str, str]] = set()  # (application, group) pairs an event named
        self._owed: set[str] = set()  # records with messages that waited for Slack's pace

    def poke(self) -> None:
        self._wake.set()

    def wake(self, events: Iterable[DeploymentEvent]) -> None:
        """State-change events: read now; a deployment nobody follows has its group searched first."""
        for event in events:
            if event.deployment_id not in self._following and event.application and event.group:
                self._search.add((event.application, event.group))
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()  # of the next full tick (AWS reads and all)
        while True:
            poked = self._wake.is_set()
            self._wake.clear()
            try:
                if poked or loop.time() >= due:
                    await self.tick()
                    due = loop.time() + self.interval * (1 + random.uniform(-0.1, 0.1))  # noqa: S311 - jitter
                elif self._owed:
                    await self.retell()  # only Slack: what waited for its pace, without reading AWS again
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watcher_tick_failed")
            wait = due - loop.time()
            if self._owed:
                wait = min(wait, PACED_RETRY)
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races
            # with the wake-up, and shutdown then waits forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.01, wait)):
                    await self._wake.wait()

    async def retell(self) -> None:
        """Tell Slack what waited for a turn in its pace (outcomes first), from the stored records."""
        async with self._ticking:
            owed, self._owed = self._owed, set()
            records = [r for r in [await self.store.get(i) for i in owed] if r is not None and r.id in self._held]
            for record in sorted(records, key=lambda r: not r.state.terminal):
                await self._tell_and_settle(record)
            self._collect_paced()

    def _collect_paced(self) -> None:
        self._owed |= self.notifier.outbox.paced
        self.notifier.outbox.paced.clear()

    async def tick(self) -> None:
        async with self._ticking:  # the loop and an explicit tick (tests, a poke) never interleave
            await self._tick()

    async def _tick(self) -> None:
        if self.find_lost and (self._scanned is None or self.now() - self._scanned >= self.scan_every):
            self._scanned = self.now()  # at start-up, then now and then: never on every tick
            self._search.clear()
            await self.find_lost(None)
            if self.holds is not None:
                await self.holds.remind()
        elif self.find_lost and self._search:
            groups, self._search = self._search, set()
            await self.find_lost(groups)
        everything = await self.store.in_flight()
        self._following = {
            d for r in everything for d in (r.deployment_id, r.rollback_deployment_id, r.tracked_deployment) if d
        }
        for stuck in everything:
            # A replica that died between approval and CreateDeployment leaves STARTING behind.
            if stuck.state is State.STARTING and self.recover and self.now() - stuck.updated_at > self.starting_grace:
                await self.recover(stuck)
        records = [r for r in everything if r.watched and await self._owns(r)]
        running = [r for r in records if not r.state.terminal]
        ids = [r.tracked_deployment for r in running if r.tracked_deployment]
        snapshots: dict[str, Snapshot] | None = {}
        if ids:
            try:
                snapshots = {s.deployment_id: s for s in await self.platform.snapshots(ids)}
            except DeployError as exc:
                log.warning("watcher_read_failed", reason=exc.message)
                snapshots = None
        told: list[Deployment] = []
        for record in records:
            if record.state is State.PENDING_APPROVAL:
                if record.expires_at is not None and self.now() >= record.expires_at:
                    await self._expire(record)
                continue
            snap = (snapshots or {}).get(record.tracked_deployment or "")
            if not record.state.terminal and snap is not None:
                self._misses.pop(record.id, None)
                record = await self._fold(record, snap)
                record = await self._deadlines(record)
            elif snapshots is not None and not record.state.terminal and record.tracked_deployment:
                record = await self._missing(record)
            if record.state.terminal:
                await self.store.release_lock(app_lock(record.target), record.id)
            elif record.state.in_flight:
                await self.store.renew_lock(app_lock(record.target), record.id, self.now() + RUN_LEASE)
            told.append(record)
        # Outcomes first: in a channel busy enough for Slack's pace, last words do not queue behind progress.
        for record in sorted(told, key=lambda r: not r.state.terminal):
            await self._tell_and_settle(record)
        self._collect_paced()

    async def _tell_and_settle(self, record: Deployment) -> None:
        # Finished ones are told until Slack has everything (we may have restarted, or taken over
        # from a replica that died): the root is re-rendered and the outbox sent.
        if await self._tell(record) and record.state.terminal:
            await self._settle(record)

    async def _settle(self, record: Deployment) -> None:
        for _ in range(3):
            fresh = await self.store.get(record.id)
            if fresh is None or fresh.outbox:
                return  # something new to say: keep watching
            if not fresh.watched:
                break
            try:
                await self.store.save(fresh.model_copy(update={"settled": True}))
                break
            except StaleRecord:
                continue
        await self.store.release_lock(watch_lock(record.id), self.replica)
        self._held.pop(record.id, None)
        self.notifier.forget(record.id)

    async def release_all(self) -> None:
        """Hand every watch lease back (a graceful stop), so another replica takes over at once."""
        for record_id in list(self._held):
            await self.store.release_lock(watch_lock(record_id), self.replica)
        self._held.clear()

    async def _owns(self, record: Deployment) -> bool:
        now = self.now()
        until = self._held.get(record.id)
        if until is not None and until - now > self.lease * 2 / 3:
            return True  # renew at a third of the lease gone, not on every tick
        holder = await self.store.acquire_lock(watch_lock(record.id), self.replica, now + self.lease)
        if holder is None:
            if until is None:
                log.info("deployment_watch_taken", request_id=record.id, replica=self.replica)
            self._held[record.id] = now + self.lease
            return True
        self._held.pop(record.id, None)
        return False

    async def _tell(self, record: Deployment) -> bool:
        rendered = await self.notifier.sync_root(record, self.now(), background=True)
        flushed = await self.notifier.flush(record.id)
        return rendered and flushed

    async def _fold(self, record: Deployment, snap: Snapshot) -> Deployment:
        structlog.contextvars.bind_contextvars(
            request_id=record.id, app=record.app, version=record.tag, deployment_id=record.deployment_id
        )
        try:
            return await self._fold_saved(record, snap)
        finally:
            structlog.contextvars.unbind_contextvars("request_id", "app", "version", "deployment_id")

    async def _fold_saved(self, record: Deployment, snap: Snapshot) -> Deployment:
        for _ in range(FOLD_ATTEMPTS):
            observation = observe(record, snap, self.now())
            if not observation.changed:
                return record
            # The messages a change owes are saved with it: a crash after this save still sends them.
            observed = observation.record
            if snap.stopped_tasks and not observed.stopped_tasks:
                observed = observed.model_copy(update={"stopped_tasks": snap.stopped_tasks})
            if observed.phase is Phase.READY and record.phase is not Phase.READY:
                observed = observed.model_copy(update={"ready_at": self.now()})  # the Ready wait starts
            messages = self.notifier.milestones(observed, observation.milestones)
            app = self.catalog.get(observed.app, observed.environment)
            locks = app is not None and app.lock_after_rollback and rolled_back(observed)
            if observed.state.terminal:
                messages += self.notifier.alert(observed, app)
                if locks and app is not None:
                    messages.append(
                        reply(
                            f":lock: `{app.label}` is now locked after this rollback. `/deploy unlock {app.name}"
                            f"{'' if app.only_environment else ' ' + app.environment}` when it is safe to deploy again."
                        )
                    )
            try:
                saved = await self.store.save(observed.queue(*messages))
                break
            except StaleRecord:
                # Someone else wrote first (a click, a sender's claim): fold again on what is stored.
                fresh = await self.store.get(record.id)
                if fresh is None or fresh.state.terminal:
                    return fresh or record
                record = fresh
        else:
            return record
        if saved.phase is Phase.SHIFTING:
            crash_point("mid_shift")
        if saved.phase is Phase.BAKING:
            crash_point("in_termination_wait")
        if saved.state.terminal:
            crash_point("after_outcome")
            if locks and app is not None and self.holds is not None:
                await self.holds.after_rollback(app, saved)
        for milestone in observation.milestones:
            log.info(
                "deployment_progressed",
                milestone=milestone.kind.value,
                status=snap.status,
                green_weight=saved.green_weight,
            )
        if saved.state is not record.state:  # one audit entry per state change CodeDeploy made
            await self.store.audit(
                audit.event(
                    self.now(),
                    saved.id,
                    saved.app,
                    "codedeploy",
                    f"state:{saved.state.value}",
                    error_code=saved.error_code,
                    deployment_id=saved.deployment_id,
                    rollback_deployment_id=saved.rollback_deployment_id,
                )
            )
        if saved.state.terminal:
            log.info("deployment_finished", outcome=saved.state.value, error_code=saved.error_code)
        return saved
