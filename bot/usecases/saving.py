"""Compare-and-set with a decision taken again on the fresh record after a lost race.

Every write of a deployment record goes through ``save_decided``: the caller says what the record should
become given how it is stored now; when another writer saved first, the fresh record is read and decided on
again, so no write is lost and none is based on a stale view.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..domain.models import Deployment
from ..domain.ports import StaleRecord, Store

ATTEMPTS = 5

Decide = Callable[[Deployment], Awaitable[Deployment | None]]


async def save_decided(
    store: Store, record: Deployment | str, decide: Decide, attempts: int = ATTEMPTS
) -> tuple[Deployment | None, bool]:
    """(the record as saved or as found, whether ``decide`` wrote it). ``decide`` returns the new record, or
    None to leave the stored one as it is. ``record`` is the caller's copy (tried first) or an id.

    None as the record: it does not exist, or every attempt lost its race."""
    current = record if isinstance(record, Deployment) else await store.get(record)
    record_id = record.id if isinstance(record, Deployment) else record
    for _ in range(attempts):
        if current is None:
            return None, False
        new = await decide(current)
        if new is None:
            return current, False
        try:
            return await store.save(new), True
        except StaleRecord:
            current = await store.get(record_id)
    return None, False
