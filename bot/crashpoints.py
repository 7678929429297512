"""Named places where a test can make the process die at once, as SIGKILL would.

Set DEPLOYBOT_CRASH_AT=<name> (tests only). The exit skips every finally block and flush, which is
the point: the reliability tests prove the store carries the deployment across such a death.
"""

from __future__ import annotations

import os

POINTS = (
    "after_approval",
    "after_register",
    "after_create",
    "mid_shift",
    "in_termination_wait",
    "after_outcome",
    "after_post",  # a message reached Slack, the outbox does not know yet
)


def crash_point(name: str) -> None:
    if os.environ.get("DEPLOYBOT_CRASH_AT") == name:
        os._exit(137)
