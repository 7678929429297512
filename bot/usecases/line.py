"""The line of requests waiting for a busy or locked app (`/deploy web1 v1.2.3 --queue`).

A request in line is a record like any other (state ``queued``), so the line survives restarts and is
shared by replicas through the store. Whoever watches a queued record gives it its turn once it is first
in line and its app is free (no request holds it, no lock, no freeze): it takes the app's lock, which only
one can, and is then asked for approval, or started where none is needed. Leaving the line is the Cancel
button; a record that waits too long expires as an unapproved request does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from ..domain.catalog import Catalog
from ..domain.changes import Decision, Entry, Turn
from ..domain.keys import app_lock
from ..domain.models import Deployment, State
from ..domain.ports import Clock, Store
from ..render import replies
from .freezing import Freezes
from .records import Records, Tell
from .requests import Requests, in_line
from .telling import reply

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Line:
    catalog: Catalog
    store: Store
    records: Records
    freezes: Freezes
    requests: Requests
    clock: Clock

    async def turn(self, record: Deployment, flying: Sequence[Deployment]) -> Deployment | None:
        """Give ``record`` its turn if it is first in line (among ``flying``, the records in flight this tick)
        and its app is free; the record changed, or None. Only the first in line costs a read."""
        line = in_line(flying, record.target)
        if not line or line[0].id != record.id:
            return None
        app = self.catalog.get(record.app, record.environment)
        if app is None or await self.store.get_hold(app.key) is not None:
            return None  # gone from the catalog (it expires), or locked: the line waits for the unlock
        if await self.freezes.in_force(app) is not None:
            return None  # a freeze: the line waits it out
        now = self.clock()
        waits = app.require_approval and record.emergency is None
        until = now + self.requests.deadline(waits)
        holder = await self.store.acquire_lock(app_lock(app.key), record.id, until)
        if holder not in (None, record.id):
            return None  # still busy (or a new request took it first: the next tick looks again)

        async def decide(current: Deployment) -> Decision | None:
            if current.state is not State.QUEUED:
                return None
            entry = Entry("deploybot", "turn", {"state": State.PENDING_APPROVAL.value})
            return Decision(Turn(turn_at=now, expires_at=until), entry, (reply(replies.its_turn(current, waits)),))

        saved = await self.records.change(record, decide, tell=Tell.ALL if waits else Tell.LATER)
        if saved is None or saved.state is not State.PENDING_APPROVAL:
            await self.store.release_lock(app_lock(app.key), record.id)  # it left the line meanwhile
            return saved
        log.info("request_turn_came", request_id=saved.id)
        if not waits:
            return await self.requests.start_without_approval(app, saved)
        return saved
