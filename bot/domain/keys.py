"""Names and durations the use cases share: lock keys, request ids, leases."""

from __future__ import annotations

import secrets
from datetime import timedelta

APPROVAL_TIMEOUT = timedelta(hours=2)  # an unapproved request expires then, and frees its app
RUN_LEASE = timedelta(minutes=10)  # renewed by the watcher on every tick while a deployment runs
# A request that needs no approval starts within seconds of being made; one still waiting this long was
# left by a replica that stopped in between, and is closed (nothing was deployed) so its app is free
# (`DEPLOYBOT_STARTING_GRACE_SECONDS` sets it, with the grace of a start left STARTING).
UNSTARTED = timedelta(minutes=5)
QUEUE_TIMEOUT = timedelta(hours=8)  # a request in line leaves it (expires) if its turn has not come by then


def app_lock(key: str) -> str:
    """One open request per app and environment (``AppConfig.key``, ``Deployment.target``)."""
    return f"app:{key}"


def watch_lock(request_id: str) -> str:
    """One replica tells each deployment: the holder of this lease."""
    return f"watch:{request_id}"


def new_request_id() -> str:
    return "r-" + secrets.token_hex(5)


def outside_id(deployment_id: str) -> str:
    """The record id of a deployment deploybot did not start: the engine's id, marked."""
    return f"x-{deployment_id}"
