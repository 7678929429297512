"""Long work runs in tasks the app owns: referenced, logged when they fail, cancelled on shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class TaskSupervisor:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any], **context: Any) -> asyncio.Task[Any]:
        bound = structlog.contextvars.get_contextvars()

        async def run() -> None:
            structlog.contextvars.bind_contextvars(**bound, **context)
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task_failed", task=name)

        task = asyncio.create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for running work (used by tests and graceful shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
