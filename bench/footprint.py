"""Footprint: `deploybot serve` from exec to a ready /healthz, and its idle RSS."""

from __future__ import annotations

import asyncio

import psutil

from .harness import Stack
from .report import Figure, median

SECTION = "5. Footprint"
NOTES = """
Cold start is the time from starting `python -m bot serve` (HTTP mode, SQLite store, the sandbox's
catalog of ten apps) until `/healthz` answers 200, which needs the store opened, `auth.test` answered
and the watcher running; the median of several starts. Idle RSS is read 10 s after start-up with
nothing in flight.
"""


async def run(quick: bool) -> list[Figure]:
    starts = []
    idle = 0.0
    async with Stack(fleet=10) as stack:
        for attempt in range(2 if quick else 5):
            bot = await stack.start_bot()
            starts.append(bot.ready_after or 0.0)
            if attempt == 0:
                await asyncio.sleep(2 if quick else 10)  # idle means: nothing happening for a while
                idle = psutil.Process(bot.pid).memory_info().rss / 2**20
            await bot.stop()
            stack.bot = None
    cold = median(starts)
    return [
        Figure(SECTION, "cold start to ready", cold, "s", "< 2 s", met=cold is not None and cold < 2.0),
        Figure(SECTION, "idle RSS", idle, "MB", "< 120 MB", met=idle < 120),
    ]
