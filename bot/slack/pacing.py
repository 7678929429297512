"""Staying under Slack's rate limits instead of running into them.

Slack allows about one message a second per channel, with short bursts, and, for chat.update, Tier 3
(50+ a minute per workspace). A sliding window per channel for posts (3 in a little over 3 s) and one
for updates keep deploybot below both: the root message and replies a person waits for take the next
turn (they wait for it); the thread's progress replies and root re-renders only go when a turn is free,
and otherwise wait for the next round, where they are coalesced with whatever came since (the root is
re-rendered whole from state; queued replies are joined into one message).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

BURST = 3  # posts a channel may take at once (Slack: "short bursts allowed")


class Window:
    """At most ``limit`` turns in any ``seconds``; ``limit`` 0 turns pacing off."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._turns: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._turns and now - self._turns[0] >= self.seconds:
            self._turns.popleft()

    def free(self, now: float) -> bool:
        if self.limit <= 0:
            return True
        self._expire(now)
        return len(self._turns) < self.limit

    def take(self, now: float) -> float:
        """Take a turn; returns 0 when one was free, else the seconds until one is (nothing taken)."""
        if self.limit <= 0:
            return 0.0
        self._expire(now)
        if len(self._turns) < self.limit:
            self._turns.append(now)
            return 0.0
        return self._turns[0] + self.seconds - now


def posts_window(per_minute: float) -> Window:
    return Window(BURST, BURST * 60 / per_minute) if per_minute > 0 else Window(0, 0)


class Pacer:
    def __init__(
        self,
        posts_per_minute: float,
        updates_per_minute: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.sleep = sleep
        self.posts_per_minute = posts_per_minute
        self.updates = Window(int(updates_per_minute), 60.0)
        self._posts: dict[str, Window] = {}
        self.clock = clock

    def _post_window(self, channel: str) -> Window:
        window = self._posts.get(channel)
        if window is None:
            window = self._posts[channel] = posts_window(self.posts_per_minute)
        return window

    def try_post(self, channel: str) -> bool:
        return self._post_window(channel).take(self.clock()) == 0

    def update_free(self) -> bool:
        return self.updates.free(self.clock())

    def try_update(self) -> bool:
        return self.updates.take(self.clock()) == 0

    async def post_turn(self, channel: str) -> None:
        while wait := self._post_window(channel).take(self.clock()):
            await self.sleep(wait)  # a message someone waits for: take the next free turn

    async def update_turn(self) -> None:
        while wait := self.updates.take(self.clock()):
            await self.sleep(wait)
