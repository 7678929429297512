"""What changed since the Home tabs were last published: made first (as the watcher's nudge is), so
``Records`` can say which app changed and ``Home`` can wait for it."""

from __future__ import annotations

import asyncio
import contextlib


class Changed:
    """What changed since the Home tabs were last published: the apps, and whether a deployment ended."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.apps: set[str] = set()
        self.ended: set[str] = set()

    def mark(self, app: str, *, ended: bool = False) -> None:
        self.apps.add(app)
        if ended:
            self.ended.add(app)
        self._event.set()

    def take(self) -> tuple[set[str], set[str]]:
        apps, ended = self.apps, self.ended
        self.apps, self.ended = set(), set()
        self._event.clear()
        return apps, ended

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
