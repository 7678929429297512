"""What the deployer, the watcher and recovery share: lock keys, the CodeDeploy description marker,
request ids, leases and the clock."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

APPROVAL_TIMEOUT = timedelta(hours=2)  # an unapproved request expires then, and frees its app
RUN_LEASE = timedelta(minutes=10)  # renewed by the watcher on every tick while a deployment runs


Tell = Callable[[str], Awaitable[None]]  # how a requester is answered (response_url, or the CI's HTTP reply)


def utcnow() -> datetime:
    return datetime.now(UTC)


def app_lock(key: str) -> str:
    """One open request per app and environment (``AppConfig.key``, ``Deployment.target``)."""
    return f"app:{key}"


def watch_lock(request_id: str) -> str:
    return f"watch:{request_id}"


def marker(request_id: str) -> str:
    """How a CodeDeploy deployment's description names the request that created it."""
    return f"deploybot {request_id}:"


def new_request_id() -> str:
    return "r-" + secrets.token_hex(5)
