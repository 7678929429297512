"""Ack latency: request to HTTP 200, for `/deploy` and for Approve, with every AWS call 2 s slow.

The sandbox's Slack times each delivery it makes to the bot (as Slack does against its 3 s limit);
50 of each are sent at once, in HTTP mode.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .harness import Stack
from .report import Figure, percentile

SECTION = "1. Ack latency"
NOTES = """
Fifty `/deploy fleet-NNNN v1.0.1` commands are delivered at once by the sandbox's Slack over HTTP,
with 2 s of latency injected into every AWS call; then fifty Approve clicks at once, on the fifty
requests. The time is what the sandbox's Slack measures from sending the signed request to reading the
bot's HTTP 200 (Slack gives up at 3,000 ms). deploybot acks before it calls AWS or Slack, and runs the
work in tasks it supervises, so the slow AWS only delays the messages that follow the ack.

With fifty approvals at once the slowest ack varies from run to run (60 to 210 ms seen here): each
approval acked starts a deployment, and the acks still to come share one event loop, and the GIL, with
that work (botocore builds and parses requests in worker threads). The median stays well under it.
"""


def _approve_buttons(messages: list[dict[str, Any]]) -> list[str]:
    found = []
    for message in messages:
        for block in message.get("blocks") or []:
            if block.get("type") == "actions" and any(
                e.get("action_id") == "deploy_approve" for e in block.get("elements", [])
            ):
                found.append(str(message["ts"]))
    return found


async def run(quick: bool) -> list[Figure]:
    count = 5 if quick else 50
    async with Stack(fleet=count) as stack:
        await stack.start_bot()
        box = stack.sandbox
        await box.aws(action="latency", seconds=2)
        commands = await asyncio.gather(*(box.command(f"/deploy {svc} v1.0.1") for svc in box.services))
        # The requests need AWS to answer before their Approve buttons exist: let it be quick meanwhile.
        await box.aws(action="latency", seconds=0)
        for _ in range(1200):
            pending = _approve_buttons(await box.messages())
            if len(pending) >= count:
                break
            await asyncio.sleep(0.1)  # another process is posting the requests
        await box.aws(action="latency", seconds=2)
        clicks = await asyncio.gather(*(box.click("C0DEPLOYS", ts, "deploy_approve") for ts in pending[:count]))
        await box.aws(action="latency", seconds=0)
    figures = []
    for what, results in (("/deploy", commands), ("Approve", clicks)):
        acks = [r["ack_seconds"] * 1000 for r in results if r.get("ok") and r.get("ack_seconds") is not None]
        failed = len(results) - len(acks)
        p50, p99 = percentile(acks, 50), percentile(acks, 99)
        note = f"{len(acks)} of {len(results)} acked" + (f"; {failed} not acked" if failed else "")
        figures.append(Figure(SECTION, f"{what} ack p50", p50, "ms", note=note))
        figures.append(
            Figure(SECTION, f"{what} ack p99", p99, "ms", "< 100 ms", met=p99 is not None and p99 < 100 and not failed)
        )
    return figures
