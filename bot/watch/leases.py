"""Watch leases: each deployment is told by one replica at a time, the holder of its lease, and another
replica takes over when a lease runs out (its holder died or hangs)."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from .. import metrics
from ..domain.keys import watch_lock
from ..domain.models import Deployment
from ..domain.ports import Clock, Store

log = structlog.get_logger(__name__)
ELSEWHERE_KEPT = 10_000


class Leases:
    def __init__(self, store: Store, replica: str, clock: Clock, lease: timedelta = timedelta(seconds=30)) -> None:
        self.store = store
        self.replica = replica
        self.now = clock
        self.lease = lease
        self._held: dict[str, datetime] = {}
        self.born = clock()  # records last changed before this replica began were someone else's to watch
        self._elsewhere: set[str] = set()  # records whose lease another replica held when this one asked

    def held(self, record_id: str) -> bool:
        return record_id in self._held

    @property
    def holding(self) -> frozenset[str]:
        """The records whose lease this replica holds."""
        return frozenset(self._held)

    async def own(self, record: Deployment) -> bool:
        """Whether this replica tells ``record`` now: it holds (or just took) the record's lease."""
        now = self.now()
        until = self._held.get(record.id)
        if until is not None and until - now > self.lease * 2 / 3:
            return True  # renew at a third of the lease gone, not on every tick
        holder = await self.store.acquire_lock(watch_lock(record.id), self.replica, now + self.lease)
        if holder is None:
            if until is None:
                log.info("deployment_watch_taken", request_id=record.id, replica=self.replica)
                if record.id in self._elsewhere or record.updated_at < self.born:
                    # Another replica held it (seen here, or before this one started): it stopped or died.
                    metrics.TAKEOVERS.inc()
                self._elsewhere.discard(record.id)
            self._held[record.id] = now + self.lease
            return True
        self._held.pop(record.id, None)
        if len(self._elsewhere) >= ELSEWHERE_KEPT:
            self._elsewhere.clear()  # ids of deployments other replicas finished: forget them now and then
        self._elsewhere.add(record.id)
        return False

    def keep(self, record_ids: set[str]) -> set[str]:
        """Forget the leases of records other than ``record_ids`` (the records in flight: one another replica
        settled is not this one's to tell any more; its lease runs out by itself): the ids forgotten."""
        gone = set(self._held) - record_ids
        for record_id in gone:
            del self._held[record_id]
        return gone

    async def release(self, record_id: str) -> None:
        await self.store.release_lock(watch_lock(record_id), self.replica)
        self._held.pop(record_id, None)

    async def release_all(self) -> None:
        """Hand every lease back (a graceful stop), so another replica takes over at once."""
        for record_id in list(self._held):
            await self.store.release_lock(watch_lock(record_id), self.replica)
        self._held.clear()
