"""The one supervised loop that follows every deployment in flight.

Each tick reads all tracked deployments from the engine at once, folds each reading into its record
(``lifecycle.observe``, saved through ``Records``), applies the clock rules, and tells Slack, outcomes
first. A poke (after a button press, or an event from the queue) runs the next tick at once instead of
waiting the interval. Each deployment is told by exactly one replica: the holder of its watch lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

import structlog

from .. import metrics
from ..domain.catalog import Catalog
from ..domain.changes import Decision, Entry, Settled
from ..domain.errors import DeployError
from ..domain.keys import RUN_LEASE, app_lock
from ..domain.lifecycle import observe
from ..domain.models import Deployment, Outgoing, State
from ..domain.ports import Clock, DeploymentEngine, Faults, StaleRecord, Store, no_faults
from ..domain.progress import DeploymentEvent, Phase, Progress
from ..render import answers, replies
from ..usecases.holds import Holds
from ..usecases.records import Records, Tell
from ..usecases.recovery import Recovery
from ..usecases.telling import Teller, reply
from .leases import Leases
from .rules import ClockRules

log = structlog.get_logger(__name__)
# Longer than the slowest start with its retries, so a live replica is never overtaken.
STARTING_GRACE = timedelta(minutes=5)
# How often the catalog's services are searched for deployments the store does not know (lost, or
# started outside deploybot).
SCAN = timedelta(seconds=60)
PACED_RETRY = 1.0  # seconds: how soon to come back for messages that waited for Slack's pace


class Nudge:
    """Wakes the watcher for a tick now (a click, an event); made first so use cases can hold ``poke``."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def poke(self) -> None:
        self._event.set()

    def take(self) -> bool:
        """Whether a poke came since the last take."""
        poked = self._event.is_set()
        self._event.clear()
        return poked

    async def wait(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races
        # with the wake-up, and shutdown then waits forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.01, seconds)):
                await self._event.wait()


class Watcher:
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        records: Records,
        teller: Teller,
        engine: DeploymentEngine,
        rules: ClockRules,
        recovery: Recovery,
        holds: Holds,
        leases: Leases,
        nudge: Nudge,
        clock: Clock,
        interval: float,
        starting_grace: timedelta = STARTING_GRACE,
        scan_every: timedelta = SCAN,
        faults: Faults = no_faults,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.records = records
        self.teller = teller
        self.engine = engine
        self.rules = rules
        self.recovery = recovery
        self.holds = holds
        self.leases = leases
        self.nudge = nudge
        self.now = clock
        self.interval = interval
        self.starting_grace = starting_grace
        self.scan_every = scan_every
        self.fault = faults
        self._ticking = asyncio.Lock()
        self._scanned: datetime | None = None
        self._following: set[str] = set()  # the engine's ids of the deployments in the store, as of the last tick
        self._near: list[DeploymentEvent] = []  # events about deployments nobody follows: search there first
        self._owed: set[str] = set()  # records with messages that waited for Slack's pace

    def poke(self) -> None:
        self.nudge.poke()

    def wake(self, events: Iterable[DeploymentEvent]) -> None:
        """State-change events: read now; a deployment nobody follows has its place searched first."""
        self._near += [e for e in events if e.deployment_id not in self._following and e.scope]
        self.nudge.poke()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()  # of the next full tick (the engine's reads and all)
        while True:
            poked = self.nudge.take()
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
            await self.nudge.wait(min(wait, PACED_RETRY) if self._owed else wait)

    async def retell(self) -> None:
        """Tell Slack what waited for a turn in its pace (outcomes first), from the stored records."""
        async with self._ticking:
            owed, self._owed = self._owed, set()
            records = [r for r in [await self.store.get(i) for i in owed] if r is not None and self.leases.held(r.id)]
            await self._tell(records)

    async def tick(self) -> None:
        async with self._ticking:  # the loop and an explicit tick (tests, a poke) never interleave
            began = time.monotonic()
            await self._pass()
            metrics.TICK.observe(time.monotonic() - began)
            metrics.TICKED.set_to_current_time()

    async def _pass(self) -> None:
        await self._scan()
        everything = await self.store.in_flight()
        self._following = {d for r in everything for d in (r.deployment_id, r.rollback_deployment_id) if d}
        for stuck in everything:
            # A replica that died between approval and the engine's start leaves STARTING behind.
            if stuck.state is State.STARTING and self.now() - stuck.updated_at > self.starting_grace:
                await self.recovery.stranded(stuck)
        records = [r for r in everything if r.watched and await self.leases.own(r)]
        readings = await self._read([r for r in records if not r.state.terminal and r.tracked_deployment])
        followed = [await self._follow(record, readings) for record in records]
        await self._tell([r for r in followed if r is not None])

    async def _scan(self) -> None:
        if self._scanned is None or self.now() - self._scanned >= self.scan_every:
            self._scanned = self.now()  # at start-up, then now and then: never on every tick
            self._near.clear()
            await self.recovery.lost()
            await self.holds.remind()
        elif self._near:
            near, self._near = self._near, []
            await self.recovery.lost(near)

    async def _read(self, records: list[Deployment]) -> dict[str, Progress] | None:
        if not records:
            return {}
        try:
            return await self.engine.read(records)
        except DeployError as exc:
            log.warning("watcher_read_failed", reason=exc.message)
            return None

    async def _follow(self, record: Deployment, readings: dict[str, Progress] | None) -> Deployment | None:
        """One record's turn in a tick: expire it, fold its reading in, apply the clock rules, keep its app.
        The record to tell Slack about (None: a request still waiting for its approval, nothing new)."""
        if record.state is State.PENDING_APPROVAL:
            if record.expires_at is not None and self.now() >= record.expires_at:
                return await self.rules.expire(record)
            return None
        reading = (readings or {}).get(record.id)
        if not record.state.terminal and reading is not None:
            self.rules.found(record)
            record = await self._fold(record, reading)
            record = await self.rules.timed(record)
        elif readings is not None and not record.state.terminal and record.tracked_deployment:
            record = await self.rules.missing(record)
        if record.state.terminal:
            await self.store.release_lock(app_lock(record.target), record.id)
        elif record.state.in_flight:
            await self.store.renew_lock(app_lock(record.target), record.id, self.now() + RUN_LEASE)
        return record

    async def _tell(self, records: list[Deployment]) -> None:
        # Outcomes first: in a channel busy enough for Slack's pace, last words do not queue behind progress.
        for record in sorted(records, key=lambda r: not r.state.terminal):
            # Finished ones are told until Slack has everything (we may have restarted, or taken over
            # from a replica that died): the root is re-rendered and the outbox sent.
            if await self.teller.tell(record, background=True) and record.state.terminal:
                await self._settle(record)
        self._owed |= self.teller.take_paced()

    async def _settle(self, record: Deployment) -> None:
        async def settled(current: Deployment) -> Decision | None:
            return Decision(Settled(settled=True)) if current.watched and not current.outbox else None

        try:
            fresh = await self.records.change(record.id, settled, tell=Tell.LATER)
        except StaleRecord:
            return
        if fresh is None or fresh.outbox:
            return  # something new to say: keep watching
        await self.leases.release(record.id)
        self.teller.forget(record.id)

    async def _fold(self, record: Deployment, reading: Progress) -> Deployment:
        structlog.contextvars.bind_contextvars(
            request_id=record.id, app=record.app, version=record.tag, deployment_id=record.deployment_id
        )
        try:
            return await self._folded(record, reading)
        finally:
            structlog.contextvars.unbind_contextvars("request_id", "app", "version", "deployment_id")

    async def _folded(self, record: Deployment, reading: Progress) -> Deployment:
        told: list[str] = []

        async def decide(current: Deployment) -> Decision | None:
            told.clear()  # decided again after a lost race: only the last decision's milestones count
            observation = observe(current, reading, self.now())
            if observation.change is None:
                return None
            new = observation.change.apply(current, self.now())
            # The messages a change owes are saved with it: a crash after this save still sends them.
            messages = [*self.teller.milestones(new, observation.milestones), *self._last_words(new)]
            told[:] = [m.kind.value for m in observation.milestones]
            entry = None
            if new.state is not current.state:  # one audit entry per state change the engine made
                detail = {
                    "error_code": new.error_code,
                    "deployment_id": new.deployment_id,
                    "rollback_deployment_id": new.rollback_deployment_id,
                }
                entry = Entry(current.engine or "engine", f"state:{new.state.value}", detail)
            return Decision(observation.change, entry, tuple(messages))

        try:
            saved = await self.records.change(record, decide, tell=Tell.LATER)
        except StaleRecord:
            return record  # the next tick reads it again
        if saved is None or not told:
            return saved or record
        await self._after_fold(saved, told)
        return saved

    def _last_words(self, record: Deployment) -> list[Outgoing]:
        """What a finished record owes besides its outcome: the alert, and the note that its app is locked."""
        if not record.state.terminal:
            return []
        app = self.catalog.get(record.app, record.environment)
        out = self.teller.alert(record, app)
        if app is not None and app.lock_after_rollback and record.rolled_back:
            out.append(reply(replies.locked_after_rollback(app.label, answers.unlock_command(app))))
        return out

    async def _after_fold(self, saved: Deployment, told: list[str]) -> None:
        if saved.phase is Phase.SHIFTING:
            self.fault("shifting")
        if saved.phase is Phase.BAKING:
            self.fault("baking")
        app = self.catalog.get(saved.app, saved.environment)
        if saved.state.terminal:
            self.fault("after_outcome")
            if app is not None and app.lock_after_rollback and saved.rolled_back:
                await self.holds.after_rollback(app, saved)
            log.info("deployment_finished", outcome=saved.state.value, error_code=saved.error_code)
        for milestone in told:
            log.info("deployment_progressed", milestone=milestone, state=saved.state.value, traffic=saved.traffic)
