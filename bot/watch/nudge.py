"""What wakes the watcher before its next pass: a button press (read everything) or an event (read what it
names)."""

from __future__ import annotations

import asyncio
import contextlib


class Nudge:
    """Wakes the watcher for a tick now (a click, an event); made first so use cases can hold ``poke``."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._everything = False

    def poke(self, everything: bool = True) -> None:
        """Wake the watcher; ``everything``: read every deployment (else only those due)."""
        self._everything |= everything
        self._event.set()

    def take(self) -> tuple[bool, bool]:
        """Whether a poke came since the last take, and whether one asked to read everything."""
        poked, everything = self._event.is_set(), self._everything
        self._event.clear()
        self._everything = False
        return poked, everything

    async def wait(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races
        # with the wake-up, and shutdown then waits forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.01, seconds)):
                await self._event.wait()
