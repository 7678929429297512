"""The one way a deployment record changes.

``Records.change`` takes a decision on the stored record (a typed change, the audit entry it makes, the
messages it owes), saves it with compare-and-set, deciding again on the fresh record when another writer
saved first, then appends the audit entry, frees the app once the request is over, and tells Slack (the
root re-rendered, the owed messages sent). Use cases say what to decide; they never save by hand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

import structlog

from .. import metrics
from ..domain import audit
from ..domain.changes import Change, Decision, Entry
from ..domain.keys import app_lock
from ..domain.lifecycle import explain_state
from ..domain.models import Deployment
from ..domain.ports import Clock, StaleRecord, Store
from .changed import Changed
from .saving import save_decided
from .telling import Teller

log = structlog.get_logger(__name__)
Decide = Callable[[Deployment], Awaitable[Decision | None]]


class Tell(StrEnum):
    """What Slack is told once a change is saved."""

    ALL = "all"  # the root re-rendered (when it shows something new) and the owed messages sent
    OWED = "owed"  # only the owed messages: the root shows nothing new
    LATER = "later"  # nothing now: the caller tells (the watcher does, outcomes first)


@dataclass(frozen=True)
class Records:
    store: Store
    teller: Teller
    clock: Clock
    changed: Changed = field(default_factory=Changed)  # what the Home tabs re-publish for

    async def create(self, record: Deployment, entry: Entry) -> Deployment:
        """Store a new record (StaleRecord if its id exists) and audit how it came to be."""
        created = await self.store.create(record)
        await self.note(created.id, created.app, entry)
        if created.outside is None:  # a deployment started elsewhere was never requested here
            metrics.REQUESTED.labels(created.app, created.environment, created.engine).inc()
        return created

    async def note(self, record_id: str, app: str, entry: Entry) -> None:
        """An audit entry that changes no record (a refusal, a lock), or follows a change."""
        await self.store.audit(audit.event(self.clock(), record_id, app, entry.actor, entry.action, **entry.detail))
        self.changed.mark(app)  # a lock, an unlock, a refusal: Home tabs may show it

    async def change(self, record: Deployment | str, decide: Decide, *, tell: Tell = Tell.ALL) -> Deployment | None:
        """Decide on the stored record and save the decision; the saved record, or the stored one when
        ``decide`` decided nothing (None: no such record). ``decide`` may raise a DeployError to refuse;
        it is asked again on the fresh record after a lost race.

        Raises StaleRecord when every attempt lost its race."""
        made: list[Decision] = []
        before: list[Deployment] = []

        async def decided(current: Deployment) -> Deployment | None:
            made.clear()
            before[:] = [current]
            decision = await decide(current)
            if decision is None:
                return None
            made.append(decision)
            now = self.clock()
            return decision.change.apply(current, now, explain_state(current)).queue(*decision.messages, at=now)

        saved, wrote = await save_decided(self.store, record, decided)
        if saved is None:
            if before:
                raise StaleRecord(before[0].id)
            return None
        if wrote and made:
            await self._after(before[0], saved, made[0])
        if wrote:
            self.changed.mark(saved.app, ended=saved.state.terminal and not before[0].state.terminal)
        if tell is Tell.ALL:
            await self.teller.sync_root(saved)
        if tell is not Tell.LATER and saved.outbox:
            await self.teller.flush(saved.id)
        return saved

    async def put(
        self, record: Deployment | str, decision: Decision | Change, *, tell: Tell = Tell.ALL
    ) -> Deployment | None:
        """``change`` with a decision that does not depend on how the record is stored now."""
        made = decision if isinstance(decision, Decision) else Decision(decision)

        async def decide(current: Deployment) -> Decision:
            return made

        return await self.change(record, decide, tell=tell)

    async def _after(self, before: Deployment, saved: Deployment, decision: Decision) -> None:
        if decision.entry is not None:
            await self.note(saved.id, saved.app, decision.entry)
        if saved.state.terminal and not before.state.terminal:
            # The request is over: its app is free for the next one.
            await self.store.release_lock(app_lock(saved.target), saved.id)
        if saved.state is not before.state:
            log.info("deployment_state_changed", state=saved.state.value, request_id=saved.id)
        count(before, saved)


def count(before: Deployment, saved: Deployment) -> None:
    """The metrics a saved change moves: a start, an approval, an end."""
    target = (saved.app, saved.environment, saved.engine)
    if saved.started_at is not None and before.started_at is None:
        metrics.STARTED.labels(*target).inc()
    if saved.approved_at is not None and before.approved_at is None and not saved.auto_approved:
        wait = (saved.approved_at - saved.created_at).total_seconds()
        metrics.APPROVAL_WAIT.labels(saved.app, saved.environment).observe(max(wait, 0.0))
    if saved.state.terminal and not before.state.terminal:
        metrics.FINISHED.labels(*target, saved.state.value).inc()
        began, ended = saved.took
        if began is not None and ended is not None:
            metrics.DURATION.labels(*target, saved.state.value).observe(max((ended - began).total_seconds(), 0.0))
