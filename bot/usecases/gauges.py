"""The gauges of bot.metrics that describe the shared state, read from the store when Prometheus scrapes:
deployments in flight (by app, environment and engine) and the Slack messages owed (how many, how old)."""

from __future__ import annotations

from .. import metrics
from ..domain.ports import Clock, Store


async def refresh_gauges(store: Store, clock: Clock) -> None:
    records = await store.in_flight()
    now = clock()
    metrics.IN_FLIGHT.clear()  # an app that has nothing in flight any more shows no stale series
    owed = 0
    oldest = 0.0
    for record in records:
        if not record.state.terminal:
            metrics.IN_FLIGHT.labels(record.app, record.environment, record.engine).inc()
        owed += len(record.outbox)
        for message in record.outbox:
            if message.queued_at is not None:
                oldest = max(oldest, (now - message.queued_at).total_seconds())
    metrics.OUTBOX_DEPTH.set(owed)
    metrics.OUTBOX_OLDEST.set(oldest)
