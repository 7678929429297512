"""Change freezes in force (the catalog's windows and the ad hoc ones approvers put on from Slack), and
`/deploy freeze` and `/deploy unfreeze`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..domain import audit, policy
from ..domain.catalog import AppConfig
from ..domain.changes import Entry
from ..domain.freezes import Freeze, in_force
from ..domain.models import Hold, hold_key
from ..domain.ports import Chat, Clock, Store
from ..render import freezes as words
from .notes import announce
from .permits import permitted
from .records import Records


@dataclass(frozen=True)
class Freezes:
    store: Store
    records: Records
    chat: Chat
    clock: Clock

    async def in_force(self, app: AppConfig) -> Freeze | None:
        """The freeze on ``app`` now (the one ending last when a window and an ad hoc one overlap)."""
        found = [f for f in (in_force(app.freezes, self.clock()), await self._ad_hoc(app)) if f is not None]
        return max(found, key=lambda f: f.until) if found else None

    async def _ad_hoc(self, app: AppConfig) -> Freeze | None:
        hold = await self.store.get_hold(hold_key(app.name, app.environment, "freeze"))
        if hold is None or hold.until is None or hold.until <= self.clock():
            return None  # one that has run out stays until the next freeze rewrites it: it no longer counts
        return Freeze("", hold.until, hold.user, hold.reason)

    async def freeze(
        self, app: AppConfig, user: str, team: str, length: timedelta, reason: str, response_url: str
    ) -> None:
        """Freeze ``app`` for ``length`` from now (a freeze already there is replaced: its end is the new one)."""
        audit.begin(team, "")
        if not await permitted(self.chat, policy.Ask.FREEZE, app, user, team, response_url):
            return
        now = self.clock()
        until = now + length
        hold = Hold(
            app=app.name, environment=app.environment, user=user, reason=reason, since=now, kind="freeze", until=until
        )
        if await self.store.hold(hold) is not None:
            await self.store.update_hold(hold)
        entry = Entry(user, "froze", {"environment": app.environment, "until": until.isoformat(), "reason": reason})
        await self.records.note("-", app.name, entry)
        await announce(self.chat, app, words.froze_note(app, user, until, reason), "freeze_note_failed")
        await self.chat.respond(response_url, words.froze(app, until))

    async def unfreeze(self, app: AppConfig, user: str, team: str, response_url: str) -> None:
        audit.begin(team, "")
        if not await permitted(self.chat, policy.Ask.UNFREEZE, app, user, team, response_url):
            return
        if await self._ad_hoc(app) is None:
            now = self.clock()
            await self.chat.respond(response_url, words.not_frozen(app, in_force(app.freezes, now), now))
            return
        await self.store.release_hold(hold_key(app.name, app.environment, "freeze"))
        await self.records.note("-", app.name, Entry(user, "unfroze", {"environment": app.environment}))
        await announce(self.chat, app, words.unfroze_note(app, user), "freeze_note_failed")
        await self.chat.respond(response_url, words.unfroze(app))
