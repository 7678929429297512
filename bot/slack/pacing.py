"""Staying under Slack's rate limits instead of running into them.

Slack allows about one message a second per channel (short bursts allowed) and, for chat.update,
Tier 3 (50+ a minute per workspace). A token bucket per channel for posts and one for updates keeps
deploybot below both: the root message and replies a person waits for take a turn (they wait for a
token); the thread's progress replies and root re-renders only go when a token is free, and otherwise
wait for the next tick, where they are coalesced with whatever came since (the root is re-rendered
whole from state; queued replies are joined into one message).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class Bucket:
    per_minute: float
    burst: float = 1.0
    tokens: float = 1.0
    stamp: float | None = None  # when the tokens were counted; None: full, never used

    def _refill(self, now: float) -> None:
        if self.stamp is None:
            self.tokens = self.burst
        else:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_minute / 60)
        self.stamp = now

    def take(self, now: float) -> float:
        """Take a token; returns 0 when one was free, else the seconds until one is (nothing taken)."""
        if self.per_minute <= 0:
            return 0.0  # pacing off
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) * 60 / self.per_minute


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
        self.updates = Bucket(updates_per_minute, burst=max(1.0, updates_per_minute / 10))
        self._posts: dict[str, Bucket] = {}
        self.clock = clock

    def _post_bucket(self, channel: str) -> Bucket:
        bucket = self._posts.get(channel)
        if bucket is None:
            bucket = self._posts[channel] = Bucket(self.posts_per_minute)
        return bucket

    def try_post(self, channel: str) -> bool:
        return self._post_bucket(channel).take(self.clock()) == 0

    def try_update(self) -> bool:
        return self.updates.take(self.clock()) == 0

    async def post_turn(self, channel: str) -> None:
        # The wait is computed from the bucket: no event could say sooner when a token is free.
        while wait := self._post_bucket(channel).take(self.clock()):
            await self.sleep(wait)  # a message someone waits for: take the next free slot

    async def update_turn(self) -> None:
        while wait := self.updates.take(self.clock()):
            await self.sleep(wait)
