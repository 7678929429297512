"""Slack economy: calls per deployment, and call rates with 100 deployments in flight in one channel.

The sandbox's Slack enforces its limits here (chat.postMessage: about one per second per channel,
short bursts allowed; chat.update: Tier 3, 50 a minute) and answers 429 with Retry-After beyond them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from .harness import Stack
from .lag import _reported
from .report import Figure
from .scale import _create_all

SECTION = "4. Slack economy"
NOTES = """
A hundred deployments start at once in fleet services whose threads all go to one channel, with the
sandbox's Slack enforcing its rate limits (3 posts per 3 s per channel, 50 chat.update a minute). The
rates are the busiest 60 s of the run (chat.update; posts in the channel, per second) and the busiest
3 s of posts (Slack allows short bursts above one a second; deploybot allows itself 3 in 3.3 s, so a
10 s window can hold 12). 429s are the answers the bot got with `ratelimited`; calls per deployment are
the successful Web API calls of the whole run divided by the number of deployments: the root message,
about two thread replies (the steps joined while they waited for a turn) and the outcome, and the root's
re-renders, which the 45-a-minute budget shares among all hundred (the last state always shows).
"""


def _busiest(times: list[float], window: float) -> float:
    """The most calls in any ``window`` seconds, per second."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, at in enumerate(times):
        while at - times[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best / window


async def run(quick: bool) -> list[Figure]:
    count = 5 if quick else 100
    settings = {"DEPLOYBOT_POLL_INTERVAL": "1", "DEPLOYBOT_SCAN_SECONDS": "1"} if quick else {}
    # Long enough that the bot, posting at most about one message a second in the channel, has found
    # (and opened a thread for) every deployment before the first one ends.
    speed = 12.0 if quick else 1.0
    async with Stack(fleet=count, speed=speed, termination="1" if quick else "2,3", settings=settings) as stack:
        box = stack.sandbox
        await box.faults(rate_limits=True)
        await stack.start_bot()
        started = time.time()
        ids = await asyncio.to_thread(_create_all, stack)
        told: dict[str, float] = {}
        calls: list[dict[str, Any]] = []
        for _ in range(1200):
            calls = (await box.stats())["slack_calls"]
            told = _reported(calls, {"C0DEPLOYS"})
            if all(i in told for i in ids):
                break
            await asyncio.sleep(1)
        elapsed = time.time() - started
    run_calls = [c for c in calls if c["at"] >= started]
    ok = Counter(c["method"] for c in run_calls if c["ok"])
    limited = [c for c in run_calls if c.get("error") == "ratelimited"]
    updates = [c["at"] for c in run_calls if c["method"] == "chat.update" and c["ok"]]
    posts = [
        c["at"] for c in run_calls if c["method"] == "chat.postMessage" and c["ok"] and c["channel"] == "C0DEPLOYS"
    ]
    per_minute = _busiest(updates, 60.0) * 60
    sustained = _busiest(posts, 60.0)
    burst = _busiest(posts, 3.0) * 3
    delivered = sum(1 for i in ids if i in told)
    per_deployment = sum(ok.values()) / count
    mix = ", ".join(f"{m} {n / count:.1f}" for m, n in ok.most_common())
    return [
        Figure(SECTION, "Slack calls per deployment", per_deployment, "", note=mix),
        Figure(SECTION, "chat.update, busiest minute", per_minute, "/min", "<= 50/min", met=per_minute <= 50),
        Figure(SECTION, "posts per channel, busiest minute", sustained, "/s", "<= 1/s", met=sustained <= 1.0),
        Figure(SECTION, "posts per channel, busiest 3 s", burst, "", "<= 3 (a short burst)", met=burst <= 3),
        Figure(SECTION, "429 answers", len(limited), "", "no storm", met=len(limited) <= count // 10),
        Figure(
            SECTION,
            "final messages delivered",
            delivered,
            f"of {count}",
            "all",
            met=delivered == count,
            note=f"the last {elapsed:.0f} s after the deployments started",
        ),
    ]
