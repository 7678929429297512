"""The buttons: Approve, Cancel, open a gate, Finish now and Roll back.

A button carries only the request id. Every click reads the record again and is decided on what is stored
(permission by ``policy``, fit by ``lifecycle``); a click that loses a race with another writer is decided
again on the fresh record, so two approvals racing start exactly one deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import structlog

from ..domain import audit, policy
from ..domain.catalog import AppConfig, Catalog
from ..domain.changes import Approval, Approved, Cancelled, Decision, Entry, Noted, RollbackAsked
from ..domain.errors import Conflict, DeployError, NotAllowed
from ..domain.keys import RUN_LEASE, app_lock
from ..domain.lifecycle import Action, explain_state, require_action
from ..domain.models import Deployment, State
from ..domain.ports import Chat, Clock, DeploymentEngine, Faults, StaleRecord, Store, no_faults
from ..render import answers, replies
from .holds import Holds
from .records import Records, Tell
from .starts import Starts
from .telling import Teller, reply

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Clicks:
    catalog: Catalog
    store: Store
    records: Records
    teller: Teller
    chat: Chat
    engine: DeploymentEngine
    holds: Holds
    starts: Starts
    clock: Clock
    poke: Callable[[], None]
    fault: Faults = no_faults

    async def click(self, action: Action, record_id: str, user: str, team: str, channel: str) -> None:
        """``channel``: where the button was ("" on the Home tab: the answer goes to the record's channel)."""
        audit.begin(team, channel)
        record = await self.store.get(record_id)
        if record is None:
            if channel:
                await self.chat.ephemeral(channel, user, answers.no_record())
            return
        channel = channel or record.channel
        structlog.contextvars.bind_contextvars(
            request_id=record.id, app=record.app, version=record.tag, deployment_id=record.deployment_id
        )
        try:
            await self._click(action, record, user, team)
        except StaleRecord:
            # Every attempt lost its race: say how the request stands now.
            fresh = await self.store.get(record_id) or record
            await self.chat.ephemeral(channel, user, explain_state(fresh))
            await self.teller.sync_root(fresh, force=True)
        except NotAllowed as exc:
            log.info("click_refused", action=action.value, user=user, reason=exc.message)
            await self.records.note(
                record.id, record.app, Entry(user, f"refused:{action.value}", {"reason": exc.message})
            )
            await self.chat.ephemeral(channel, user, exc.message)
        except Conflict as exc:
            await self.records.note(
                record.id, record.app, Entry(user, f"conflict:{action.value}", {"reason": exc.message})
            )
            await self.chat.ephemeral(channel, user, exc.message)
            await self.teller.sync_root(await self.store.get(record_id) or record, force=True)
        except DeployError as exc:
            await self.chat.ephemeral(channel, user, exc.message)

    async def _click(self, action: Action, record: Deployment, user: str, team: str) -> None:
        app = self.catalog.get(record.app, record.environment)
        if app is None:
            raise NotAllowed(answers.gone_from_catalog(record.target))
        members = await self.chat.group_members(policy.groups(app))
        if action is Action.APPROVE:
            await self._approve(app, record, user, team, members)
        elif action is Action.CANCEL:
            await self._cancel(app, record, user, team, members)
        else:
            await self._move(action, app, record, user, team, members)

    async def _approve(
        self, app: AppConfig, record: Deployment, user: str, team: str, members: Collection[str]
    ) -> None:
        async def decide(current: Deployment) -> Decision:
            policy.check(Action.APPROVE, app, current, user, team, members)
            require_action(current, Action.APPROVE)
            now = self.clock()
            if current.expires_at is not None and now >= current.expires_at:
                raise Conflict(answers.expired_at(current))
            await self.holds.check(app, current.tag)  # locked or frozen after the request was made: nothing starts
            approvals = [*current.approvals, user]
            needed = policy.needed(app, current)
            if len(approvals) < needed:
                # Not enough yet: record this one, show the count, keep waiting.
                return Decision(
                    Approval(approvals=approvals),
                    Entry(user, "approved", {"approvals": len(approvals), "needed": needed}),
                )
            if not await self.store.renew_lock(app_lock(app.key), current.id, now + RUN_LEASE):
                raise Conflict(answers.too_old(app))
            entry = Entry(user, "approved", {"approvals": len(approvals), "state": State.STARTING.value})
            return Decision(Approved(approver=user, approvals=approvals, approved_at=now), entry)

        saved = await self.records.change(record, decide)
        if saved is not None and saved.state is State.STARTING:
            self.fault("after_approval")
            await self.starts.start(app, saved)

    async def _cancel(self, app: AppConfig, record: Deployment, user: str, team: str, members: Collection[str]) -> None:
        async def decide(current: Deployment) -> Decision:
            policy.check(Action.CANCEL, app, current, user, team, members)
            require_action(current, Action.CANCEL)
            return Decision(Cancelled(cancelled_by=user), Entry(user, "cancelled", {"state": State.CANCELLED.value}))

        await self.records.change(record, decide)

    async def _move(
        self, action: Action, app: AppConfig, record: Deployment, user: str, team: str, members: Collection[str]
    ) -> None:
        """Open the gate, finish early or roll back: the engine is asked, then the thread told."""
        policy.check(action, app, record, user, team, members)
        require_action(record, action)
        if record.deployment_id is None:
            raise Conflict(explain_state(record))
        if action is Action.OPEN_GATE:
            if record.gate is None:
                raise Conflict(explain_state(record))
            await self.engine.open_gate(record, record.gate)
            text = replies.gate_opened(record, user)
        elif action is Action.FINISH:
            await self.engine.finish_early(record)
            text = replies.finished_early(user)
        else:
            record = await self._rollback_asked(action, app, record, user, team, members)
            await self.engine.roll_back(record)
            text = replies.rollback_asked(record, user)
        entry = Entry(user, action.value, {"deployment_id": record.deployment_id})
        await self.records.put(record.id, Decision(Noted(), entry, (reply(text),)), tell=Tell.OWED)
        self.poke()

    async def _rollback_asked(
        self, action: Action, app: AppConfig, record: Deployment, user: str, team: str, members: Collection[str]
    ) -> Deployment:
        """Record who asked for the rollback first (a compare-and-set), so a lost race is decided again
        cleanly before anything is asked of AWS."""

        async def asked(current: Deployment) -> Decision:
            policy.check(action, app, current, user, team, members)
            require_action(current, action)
            return Decision(RollbackAsked(rollback_requested_by=user))

        return await self.records.change(record, asked, tell=Tell.LATER) or record
