"""The watcher's rules that run on the clock rather than on the engine's news: approval requests that
expire, gates about to time out, deployments past their deadline, and deployments the engine no longer
knows."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from ..domain.catalog import Catalog
from ..domain.changes import Decision, Entry, Expired, Lost, Reminded
from ..domain.errors import DeployError
from ..domain.lifecycle import NOT_FOUND, deadline, gate_warning
from ..domain.models import Deployment, Outgoing, State
from ..domain.ports import Clock, DeploymentEngine, StaleRecord
from ..domain.progress import Phase
from ..render import replies
from ..usecases.records import Records, Tell
from ..usecases.telling import Teller, reply

log = structlog.get_logger(__name__)
MISSES = 3  # readings in a row that do not find a deployment before it is given up as gone


class ClockRules:
    def __init__(
        self, catalog: Catalog, records: Records, teller: Teller, engine: DeploymentEngine, clock: Clock
    ) -> None:
        self.catalog = catalog
        self.records = records
        self.teller = teller
        self.engine = engine
        self.now = clock
        self._misses: dict[str, int] = {}

    def found(self, record: Deployment) -> None:
        """The engine knows the record's deployment again (or still)."""
        self._misses.pop(record.id, None)

    async def timed(self, record: Deployment) -> Deployment:
        """Warn before a gate's wait runs out; stop (with a rollback) a deployment past its deadline."""
        if record.state is not State.IN_PROGRESS:
            return record
        now = self.now()
        messages: list[Outgoing] = []
        warned = hit = False
        entry = None
        ends = self._gate_ends(record)
        opened = record.gate_opened_at
        if ends is not None and opened is not None and not record.gate_warned:
            warned = now >= ends - gate_warning((ends - opened).total_seconds() / 60)
            if warned:
                messages.append(reply(replies.gate_expiring(record, ends)))
        if record.deadline_at and now >= record.deadline_at and not record.deadline_hit and record.tracked_deployment:
            try:
                await self.engine.roll_back(record)
            except DeployError as exc:
                log.warning("deadline_stop_failed", request_id=record.id, reason=exc.message)
                return record
            hit = True
            allowed = deadline(record.gate_minutes, record.bake_minutes)
            messages.append(reply(replies.deadline_stop(record, allowed)))
            entry = Entry("deploybot", "deadline_stop", {"deployment_id": record.deployment_id})
        if not (warned or hit):
            return record
        change = Reminded(gate_warned=record.gate_warned or warned, deadline_hit=record.deadline_hit or hit)
        try:
            return await self.records.put(record, Decision(change, entry, tuple(messages)), tell=Tell.LATER) or record
        except StaleRecord:
            return record

    def _gate_ends(self, record: Deployment) -> datetime | None:
        if record.phase is not Phase.GATED:
            return None
        if record.gate is not None and record.gate.expires_at is not None:
            return record.gate.expires_at
        if record.gate_minutes and record.gate_opened_at:
            return record.gate_opened_at + timedelta(minutes=record.gate_minutes)
        return None

    async def expire(self, record: Deployment) -> Deployment:
        """Nobody approved it in time: close it (which frees its app) and say so in its thread."""

        async def decide(current: Deployment) -> Decision | None:
            if current.state not in (State.PENDING_APPROVAL, State.QUEUED):
                return None  # approved, cancelled or given its turn meanwhile
            app = self.catalog.get(current.app, current.environment)
            if current.state is State.QUEUED:
                why, text = "its turn did not come in time", replies.left_line(current)
            elif app is not None and app.require_approval and current.emergency is None:
                why, text = None, replies.expired(current)
            else:
                why, text = (
                    "it never started: deploybot stopped while it was being made",
                    replies.never_started(current),
                )
            change = Expired(expired=True, error_message=why) if why else Expired(expired=True)
            return Decision(change, Entry("deploybot", "expired", {"reason": why} if why else {}), (reply(text),))

        try:
            saved = await self.records.change(record, decide, tell=Tell.LATER)
        except StaleRecord:
            return record
        if saved is not None and saved.expired:
            log.info("request_expired", request_id=saved.id)
        return saved or record

    async def missing(self, record: Deployment) -> Deployment:
        """The engine answered but did not know the deployment (it leaves such ids out of a reading)."""
        misses = self._misses[record.id] = self._misses.get(record.id, 0) + 1
        if misses < MISSES:
            return record
        self._misses.pop(record.id, None)
        now = self.now()

        async def decide(current: Deployment) -> Decision | None:
            if current.state.terminal:
                return None
            why = replies.not_found(current)
            change = Lost(phase=Phase.DONE, finished_at=now, error_code=NOT_FOUND, error_message=why)
            lost = change.apply(current, now)
            messages = (
                reply(replies.outcome_text(lost), broadcast=True),
                *self.teller.alert(lost, self.catalog.get(lost.app, lost.environment)),
            )
            entry = Entry("deploybot", "not_found", {"deployment_id": current.tracked_deployment})
            return Decision(change, entry, messages)

        try:
            saved = await self.records.change(record, decide, tell=Tell.LATER)
        except StaleRecord:
            return record  # the next tick reads it again
        log.warning("deployment_not_found", request_id=record.id, deployment_id=record.tracked_deployment)
        return saved or record
