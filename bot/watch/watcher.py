"""The one supervised loop that follows every deployment in flight.

Each read asks the engine about the deployments due (``schedule``: once a pace, sooner near a moment
the engine's schedule names or after a change), within the installation's read budget (``budget``);
each reading is folded into its record (``lifecycle.observe``, saved through ``Records``), the clock
rules applied, and Slack told, outcomes first. A poke (a button press) reads everything at once; an
event from the queue reads its own deployment at once. Each deployment is told by exactly one replica:
the holder of its watch lease, which is also what shares the budget among replicas.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

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
from ..usecases.line import Line
from ..usecases.records import Records, Tell
from ..usecases.recovery import Recovery
from ..usecases.telling import Teller, reply
from .budget import ReadBudget
from .leases import Leases
from .nudge import Nudge
from .rules import ClockRules
from .scan import Scan
from .schedule import HOVER, ReadSchedule, affordable, status_calls

log = structlog.get_logger(__name__)
# Longer than the slowest start with its retries, so a live replica is never overtaken.
STARTING_GRACE = timedelta(minutes=5)
# The longest gap between two searches of the catalog's services for deployments the store does not know
# (lost, or started outside deploybot); the budget may afford them more often (``ReadBudget.scan_gap``).
SCAN = timedelta(seconds=60)
# How long after its end is told a deployment's root is rendered once more and its thread read for copies.
LAST_LOOK = timedelta(seconds=30)
PACED_RETRY = 1.0  # seconds: how soon to come back for messages that waited for Slack's pace
HEARTBEAT = 10.0  # seconds: the longest between two passes (expiries, locks, the scan), reads or not
# Of the statuses' share, what the pace spends when an events queue tells the changes: the polling is only
# the safety net for an event lost, and the rest is left for the reads the events ask for.
EVENTS_POLLING = 0.5


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
        budget: ReadBudget | None = None,
        clock_speed: float = 1.0,
        ticker: Callable[[], float] = time.monotonic,
        polling: float = 1.0,
        line: Line | None = None,
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
        self.interval = interval  # the shortest gap between two reads of a deployment
        self.heartbeat = min(HEARTBEAT, 10 * interval)
        self.budget = budget or ReadBudget(0, 0)  # none given: no limit
        self.schedule = ReadSchedule(interval)
        self.clock_speed = clock_speed  # how fast ``clock`` runs against the loop's seconds (the demo's)
        self.ticker = ticker
        self.polling = polling  # of the statuses' share, what the pace spends (``EVENTS_POLLING`` with events)
        self.line = line  # gives a request in line its turn
        self._everything = False  # a poke asked for a reading of everything, not yet made
        self.starting_grace = starting_grace
        self.fault = faults
        self._ticking = asyncio.Lock()
        self.scan = Scan(recovery, holds, self.budget, clock, scan_every, clock_speed)
        self._following: dict[str, str] = {}  # engine's id -> record id, of the store's deployments (last tick)
        self._tracked: list[str] = []  # the records this replica reads, as of the last tick
        self._batches: dict[str, tuple[str, int]] = {}  # record id -> which ids one status call reads with it
        self._scopes: dict[str, str] = {}  # where each tracked deployment happens (its readings say) -> record id
        self._owed: set[str] = set()  # records with messages that waited for Slack's pace

    def poke(self) -> None:
        self.nudge.poke()

    def wake(self, events: Iterable[DeploymentEvent]) -> None:
        """State-change events: read their deployments now, known by their id or, for an event that names
        a deployment otherwise (ECS's deployment events carry the service's own id), by where it happened.
        One about a deployment nobody follows has its place searched (what is found there is read at
        once); only an event that says neither reads everything."""
        unknown = False
        for event in events:
            record_id = self._following.get(event.deployment_id) or self._scopes.get(event.scope)
            if record_id is not None:
                self.schedule.bring_forward(record_id)
            elif event.scope:
                self.scan.near(event)
            else:
                unknown = True
        self.nudge.poke(everything=unknown)

    async def run(self) -> None:
        due = self.ticker()  # of the next pass
        while True:
            poked, everything = self.nudge.take()
            self._everything |= everything
            try:
                if poked or self.ticker() >= due:
                    # Reads wait for the budget; a pass without them (expiries, Slack) does not.
                    await self.tick(everything=self._everything and not self.budget.seconds_until(1))
                    due = self.next_pass()
                elif self._owed:
                    await self.retell()  # only Slack: what waited for its pace, without reading AWS again
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watcher_tick_failed")
            wait = due - self.ticker()
            if self._everything:
                wait = min(wait, self.budget.seconds_until(1))
            await self.nudge.wait(min(wait, PACED_RETRY) if self._owed else wait)

    def next_pass(self) -> float:
        """When (in the ticker's seconds) the loop makes its next pass: the first deployment due, once the
        budget affords a read, or the heartbeat."""
        now = self.ticker()
        beat = now + self.heartbeat * (1 + random.uniform(-0.1, 0.1))  # noqa: S311 - jitter, not crypto
        scan = self.scan.seconds_until()  # the scan for deployments nobody follows keeps its own rhythm
        if scan is not None:
            beat = min(beat, now + scan)
        read = self.schedule.next_at(self._tracked, now)
        if read is None:
            return beat
        wanted: float = 1
        if self.budget.limited:
            # Wait for the bucket to hold the calls of what is due then (up to half of it), rather than read
            # 25 at a time, so that a thousand deployments due together cost a handful of passes; but not for
            # a whole pass when only one is due (a moment its engine named): that one is read at once.
            soon = [k for k in self._tracked if self.schedule.due(k, now) <= read]
            wanted = max(1, min(self.budget.capacity / 2, status_calls(soon, self._batches.__getitem__)))
        return min(beat, max(read, now + self.budget.seconds_until(wanted)))

    async def retell(self) -> None:
        """Tell Slack what waited for a turn in its pace (outcomes first), from the stored records."""
        async with self._ticking:
            owed, self._owed = self._owed, set()
            records = [r for r in [await self.store.get(i) for i in owed] if r is not None and self.leases.held(r.id)]
            await self._tell(records)

    async def tick(self, everything: bool = True) -> None:
        """One pass: expiries, the scan, and reads of every deployment followed (``everything``: what a
        test or a button press asks for) or only of those due (what the loop does on its own)."""
        async with self._ticking:  # the loop and an explicit tick never interleave
            began = time.monotonic()
            await self._pass(everything)
            if everything:
                self._everything = False
            metrics.TICK.observe(time.monotonic() - began)
            metrics.TICKED.set_to_current_time()

    async def _pass(self, everything: bool) -> None:
        await self.scan.run()
        flying = await self.store.in_flight()
        self._following = {d: r.id for r in flying for d in (r.deployment_id, r.rollback_deployment_id) if d}
        for stuck in flying:
            # A replica that died between approval and the engine's start leaves STARTING behind.
            if stuck.state is State.STARTING and self.now() - stuck.updated_at > self.starting_grace:
                await self.recovery.stranded(stuck)
        for settled in self.leases.keep({r.id for r in flying}):
            self.teller.forget(settled)
        records = [r for r in flying if r.watched and await self.leases.own(r)]
        tracked = [r for r in records if not r.state.terminal and r.tracked_deployment]
        self._tracked = [r.id for r in tracked]
        self.schedule.keep(self._tracked)
        in_flight = sum(1 for r in flying if r.tracked_deployment and not r.state.terminal)
        self.budget.share(len(tracked), in_flight, detailed=sum(1 for r in tracked if self.engine.detailed(r)))
        self._batches = batches = {r.id: self.engine.batch(r) for r in tracked}
        now, pace = self.ticker(), self.pace(status_calls(self._tracked, batches.__getitem__))
        if everything:
            picked = set(self._tracked)  # a button press: read it all now, charged to the budget like the rest
        else:
            due = self.schedule.pick(self._tracked, now, pace)
            if self.budget.limited:  # only what the bucket holds: the most overdue first, the rest next time
                due = affordable(due, batches.__getitem__, self._room(due, now))
            picked = set(self.schedule.fill(due, self._tracked, batches.__getitem__, now))
        chosen = [r for r in tracked if r.id in picked]
        readings = await self._read(chosen, status_calls((r.id for r in chosen), batches.__getitem__))
        unread = set(self._tracked) - picked
        gone = set(self._scopes.values()) - set(self._tracked)
        self._scopes = {w: i for w, i in self._scopes.items() if i not in gone}
        self._scopes |= {reading.scope: i for i, reading in (readings or {}).items() if reading.scope}
        followed = []
        for record in records:
            read = record.id not in unread
            after = await self._follow(record, readings if read else None, flying, renew=read)
            if record.id in picked:
                self._schedule(record, after, (readings or {}).get(record.id), now, pace)
            # One not read this time has nothing new to tell, unless it still owes messages.
            if after is not None and (record.id not in unread or after.outbox):
                followed.append(after)
        await self._tell(followed)

    def _room(self, due: list[str], now: float) -> int:
        """How many status calls this pass may make: what the bucket holds, or one when an event woke one
        of ``due`` and the bucket's debt is less than it holds when full (the next reads wait the longer,
        so the rate over a minute holds, and an event is never kept waiting for the bucket)."""
        room = max(0, math.floor(self.budget.status_tokens))
        woken = due and self.schedule.due(due[0], now) == float("-inf")
        return max(room, 1) if woken and self.budget.status_tokens > -self.budget.capacity else room

    def pace(self, full_read: int) -> float:
        """Seconds between two reads of every deployment this replica follows, reading all of them costing
        ``full_read`` status calls: as often as the status share of the budget affords (with events, the
        ``polling`` part of it), never more often than the shortest gap."""
        if not full_read or not self.budget.limited:
            return self.interval
        return max(self.interval, 60 * full_read / (self.budget.rate * self.budget.status_share * self.polling))

    def _schedule(
        self, before: Deployment, after: Deployment | None, reading: Progress | None, now: float, pace: float
    ) -> None:
        record = after or before
        moved = after is not None and _seen_moving(before, after)
        self.schedule.read(record.id, now, pace, changed=moved, moment=self._moment(record, reading, now))

    def _moment(self, record: Deployment, reading: Progress | None, now: float) -> float | None:
        """The next moment the engine's own schedule (or deploybot's deadline) changes ``record``, in the
        loop's seconds; a moment that passed a short while ago still counts (its change may be late)."""
        named = [record.deadline_at if not record.deadline_hit else None]
        if reading is not None:
            named += [reading.next_change_at, reading.bake_ends_at, reading.gate.expires_at if reading.gate else None]
        clock = self.now()
        moments = [now + (m - clock).total_seconds() / self.clock_speed for m in named if m is not None]
        return min((m for m in moments if m > now - HOVER), default=None)

    async def _read(self, records: list[Deployment], statuses: int) -> dict[str, Progress] | None:
        if not records:
            return {}
        # Details (steps, traffic) spend what the budget holds beyond this read's statuses, within their share.
        detail = self.budget.detail_room(statuses)
        # The budget is charged with the calls this reading really made (the scan has its own share).
        with metrics.tally() as calls:
            try:
                return await self.engine.read(records, detail=detail)
            except DeployError as exc:
                log.warning("watcher_read_failed", reason=exc.message)
                return None
            finally:
                self.budget.spend(calls[0], details=max(0, calls[0] - statuses))

    async def _follow(
        self, record: Deployment, readings: dict[str, Progress] | None, flying: list[Deployment], *, renew: bool
    ) -> Deployment | None:
        """One record's turn in a tick: expire it, fold its reading in, apply the clock rules, keep its app
        (``renew``: its lock, which lasts far longer than a pace, is renewed when it is read), give the first
        in line (among ``flying``) its turn. The record to tell Slack about (None: a request still waiting
        for its approval, nothing new)."""
        if record.state in (State.PENDING_APPROVAL, State.QUEUED):
            if record.expires_at is not None and self.now() >= record.expires_at:
                return await self.rules.expire(record)
            if not record.message_ts and self.now() - record.created_at > self.starting_grace:
                return record  # whoever made it stopped before showing it: telling it posts its root
            return await self.line.turn(record, flying) if self.line and record.state is State.QUEUED else None
        reading = (readings or {}).get(record.id)
        if not record.state.terminal and reading is not None:
            self.rules.found(record)
            record = await self._fold(record, reading)
            record = await self.rules.timed(record)
        elif readings is not None and not record.state.terminal and record.tracked_deployment:
            record = await self.rules.missing(record)
        if record.state.terminal:
            await self.store.release_lock(app_lock(record.target), record.id)
        elif record.state.in_flight and renew:
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
            if not (current.watched and not current.outbox and not current.settled):
                return None
            if not current.message_ts:
                return Decision(Settled(settled=True))
            # One last look a while later (the root rendered again, the thread read for copies): an update that
            # another replica rendered earlier may still land after this one, from a replica paused, or killed
            # right after sending it, that will never correct it.
            look = max(self.now() + LAST_LOOK, current.recheck_at or self.now())
            return Decision(Settled(settled=True, recheck_at=look))

        try:
            fresh = await self.records.change(record.id, settled, tell=Tell.LATER)
        except StaleRecord:
            return
        if fresh is None or fresh.watched:
            # Something new to say, or a recheck still to come (a root update got no answer): kept, and with
            # it what this replica last rendered, so that the root is not sent again on every tick till then.
            return
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


def _seen_moving(before: Deployment, after: Deployment) -> bool:
    """Whether a reading changed what deploybot shows of a deployment."""
    return _shown(before) != _shown(after)


def _shown(r: Deployment) -> tuple[object, ...]:
    return (r.state, r.phase, r.steps, r.traffic, r.gate)
