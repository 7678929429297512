"""`deploybot serve` with a fault hook that makes the process die at one named point, as SIGKILL would.

`python -m tests.reliability.crashing_bot <point>`: the exit skips every finally block and flush, which is
the point: the reliability tests prove the store carries the deployment across such a death.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from bot.runtime.cli import serve
from bot.runtime.config import load_catalog, load_settings
from bot.runtime.logging import configure

# Every place in the flow that calls the fault hook (a test checks the code names no others).
POINTS = (
    "after_approval",
    "after_register",
    "after_create",
    "shifting",
    "baking",
    "after_outcome",
    "after_post",  # a message reached Slack, the outbox does not know yet
)
# Points reached on the way of a request that needs no approval (tested on their own).
REQUEST_POINTS = ("before_auto_start",)


def main(point: str) -> None:
    if point not in (*POINTS, *REQUEST_POINTS):
        raise SystemExit(f"unknown crash point {point!r}; known: {', '.join((*POINTS, *REQUEST_POINTS))}")

    def crash(name: str) -> None:
        if name == point:
            os._exit(137)

    settings = load_settings()
    configure(settings.log_format)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, load_catalog(settings.config_path), faults=crash))


if __name__ == "__main__":
    main(sys.argv[1])
