"""Locks people put on an app in one environment (`/deploy lock`, `/deploy unlock`), the lock deploybot
puts on after a rollback (`lock_after_rollback`), and the reminders that keep locks from being forgotten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..domain import audit, policy
from ..domain.catalog import AppConfig, Catalog
from ..domain.changes import Entry
from ..domain.errors import NotAllowed
from ..domain.models import Deployment, Hold
from ..domain.ports import Chat, Clock, Store
from ..render import answers
from ..render.freezes import refused as frozen
from .freezing import Freezes
from .notes import announce
from .permits import permitted
from .records import Records

DEPLOYBOT = "deploybot"
REMINDER = timedelta(hours=4)


@dataclass(frozen=True)
class Holds:
    store: Store
    records: Records
    chat: Chat
    catalog: Catalog
    clock: Clock
    freezes: Freezes
    reminder: timedelta = REMINDER

    async def check(self, app: AppConfig, version: str = "", *, emergency: bool = False, lock: bool = True) -> None:
        """Raise NotAllowed when the app is locked in that environment (unless not ``lock``: a request in
        line waits a lock out), or frozen (an emergency passes a freeze)."""
        hold = await self.store.get_hold(app.key) if lock else None
        if hold is not None:
            raise NotAllowed(answers.held(app, hold, hold.user == DEPLOYBOT))
        freeze = None if emergency else await self.freezes.in_force(app)
        if freeze is not None:
            raise NotAllowed(frozen(app, freeze, self.clock(), version))

    async def lock(self, app: AppConfig, user: str, team: str, reason: str, response_url: str) -> None:
        audit.begin(team, "")
        if not await permitted(self.chat, policy.Ask.LOCK, app, user, team, response_url):
            return
        hold = Hold(app=app.name, environment=app.environment, user=user, reason=reason, since=self.clock())
        existing = await self.store.hold(hold)
        if existing is not None:
            await self.chat.respond(response_url, answers.held(app, existing, existing.user == DEPLOYBOT))
            return
        entry = Entry(user, "locked", {"environment": app.environment, "reason": reason})
        await self.records.note("-", app.name, entry)
        await announce(self.chat, app, answers.locked_note(app, user, reason), "lock_note_failed")
        await self.chat.respond(response_url, answers.locked(app))

    async def unlock(self, app: AppConfig, user: str, team: str, response_url: str) -> None:
        audit.begin(team, "")
        hold = await self.store.get_hold(app.key)
        if hold is None:
            await self.chat.respond(response_url, answers.not_locked(app))
            return
        if not await permitted(self.chat, policy.Ask.UNLOCK, app, user, team, response_url, hold):
            return
        await self.store.release_hold(app.key)
        await self.records.note("-", app.name, Entry(user, "unlocked", {"environment": app.environment}))
        await announce(self.chat, app, answers.unlocked_note(app, user), "lock_note_failed")
        await self.chat.respond(response_url, answers.unlocked(app))

    async def after_rollback(self, app: AppConfig, record: Deployment) -> bool:
        """Lock the app after a rolled-back deployment when its catalog entry asks for that."""
        if not app.lock_after_rollback:
            return False
        reason = answers.rollback_lock_reason(record)
        hold = Hold(app=app.name, environment=app.environment, user=DEPLOYBOT, reason=reason, since=self.clock())
        if await self.store.hold(hold) is None:
            await self.records.note(record.id, app.name, Entry(DEPLOYBOT, "locked", {"reason": reason}))
        return True

    async def remind(self) -> int:
        """Tell the owners of locks held longer than the reminder interval (then again each interval)."""
        sent = 0
        for hold in await self.store.holds():
            if hold.kind != "lock":
                continue  # a freeze ends by itself
            app = self.catalog.get(hold.app, hold.environment)
            last = hold.reminded_at or hold.since
            if app is None or self.clock() - last < self.reminder:
                continue
            hours = (self.clock() - hold.since).total_seconds() / 3600
            note = answers.lock_reminder(app, hold, hours, hold.user == DEPLOYBOT)
            await announce(self.chat, app, note, "lock_note_failed")
            reminded = Hold(
                app=hold.app,
                environment=hold.environment,
                user=hold.user,
                reason=hold.reason,
                since=hold.since,
                reminded_at=self.clock(),
            )
            await self.store.update_hold(reminded)
            sent += 1
        return sent
