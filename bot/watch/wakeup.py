"""The optional EventBridge-to-SQS wake-up (DEPLOYBOT_EVENTS_QUEUE_URL): events make the watcher read now.

A state-change event for a deployment the watcher follows runs its next tick at once; one for a
deployment it does not know (started outside deploybot, or lost) makes that tick search where the event
happened first. Polling goes on regardless, so a lost or late event costs at most one interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from ..domain.errors import DeployError
from ..domain.ports import EventSource
from .watcher import Watcher

log = structlog.get_logger(__name__)
MAX_BACKOFF = 60.0


class Wakeup:
    def __init__(
        self, events: EventSource, watcher: Watcher, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self.events = events
        self.watcher = watcher
        self.sleep = sleep

    async def run(self) -> None:
        backoff = 1.0
        while True:
            try:
                changes = await self.events.receive()
            except Exception as exc:  # noqa: BLE001 - the wake-up is an optimisation: it must never die
                reason = exc.message if isinstance(exc, DeployError) else repr(exc)
                log.warning("events_queue_unreadable", reason=reason, retry_in=backoff)
                await self.sleep(backoff)  # the queue is down: do not spin; polling carries on meanwhile
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            for change in changes:
                log.debug("deployment_event_received", deployment_id=change.deployment_id, state=change.state)
            if changes:
                self.watcher.wake(changes)
