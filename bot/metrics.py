"""deploybot's Prometheus metrics (`GET /metrics`), one registry per process.

Every room may count here, as every room may log: the names and labels are decided once, in this file.
Labels stay bounded: apps, environments and engines come from the catalog, outcomes and AWS/Slack error
codes from closed lists; never a request id, a version or a user. With replicas, each counts what it did
itself (Prometheus sums them); the gauges of in-flight deployments and the outbox are read from the shared
store at scrape time, so any replica answers for all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()
TARGET = ("app", "environment", "engine")

REQUESTED = Counter(
    "deploybot_deployments_requested", "Deploy requests accepted (a thread was opened)", TARGET, registry=REGISTRY
)
STARTED = Counter("deploybot_deployments_started", "Deployments the engine accepted", TARGET, registry=REGISTRY)
FINISHED = Counter(
    "deploybot_deployments_finished",
    "Requests that ended, by outcome (succeeded, failed, stopped, cancelled, unknown)",
    (*TARGET, "outcome"),
    registry=REGISTRY,
)
DURATION = Histogram(
    "deploybot_deployment_duration_seconds",
    "From the engine's start to its end (the engine's clock when it gives one)",
    (*TARGET, "outcome"),
    buckets=(60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400),
    registry=REGISTRY,
)
APPROVAL_WAIT = Histogram(
    "deploybot_approval_wait_seconds",
    "From the request to the approval that started it",
    ("app", "environment"),
    buckets=(10, 30, 60, 120, 300, 600, 1800, 3600, 7200),
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "deploybot_deployments_in_flight", "Requests waiting for approval or deploying", TARGET, registry=REGISTRY
)
STATUS_LAG = Histogram(
    "deploybot_status_lag_seconds",
    "From deploybot seeing a change (a poll or an event) to the root message in Slack showing it",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
AWS_CALLS = Counter(
    "deploybot_aws_calls", "AWS API calls (a retried call counts once)", ("service", "operation"), registry=REGISTRY
)
AWS_ERRORS = Counter(
    "deploybot_aws_errors",
    "AWS API calls that failed after retries, by error code (throttles too)",
    ("service", "operation", "error"),
    registry=REGISTRY,
)
AWS_THROTTLES = Counter(
    "deploybot_aws_throttles",
    "AWS answers that throttled a call (each one; most are retried)",
    ("service", "operation"),
    registry=REGISTRY,
)
SLACK_CALLS = Counter(
    "deploybot_slack_calls",
    "Slack Web API calls, by outcome (ok or Slack's error)",
    ("method", "outcome"),
    registry=REGISTRY,
)
SLACK_RATE_LIMITED = Counter(
    "deploybot_slack_rate_limited", "Slack answers of 429 (each one; they are retried)", ("method",), registry=REGISTRY
)
OUTBOX_DEPTH = Gauge("deploybot_outbox_messages", "Slack messages owed and not yet sent", registry=REGISTRY)
OUTBOX_OLDEST = Gauge(
    "deploybot_outbox_oldest_seconds", "Age of the oldest Slack message owed (0 when none)", registry=REGISTRY
)
TAKEOVERS = Counter(
    "deploybot_watch_takeovers",
    "Deployments this replica took over from one that stopped or died (its lease, once held elsewhere)",
    registry=REGISTRY,
)
TICK = Histogram(
    "deploybot_watcher_tick_seconds",
    "How long one pass of the watcher over every deployment took",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
TICKED = Gauge(
    "deploybot_watcher_last_tick_timestamp_seconds", "When the watcher last finished a pass", registry=REGISTRY
)


_TALLY: ContextVar[list[int] | None] = ContextVar("deploybot_aws_tally", default=None)


@contextmanager
def tally() -> Iterator[list[int]]:
    """Counts the AWS calls made inside the block (by this task and the tasks it starts): what the
    watcher charges its read budget with, the calls it really made rather than an estimate."""
    box = [0]
    token = _TALLY.set(box)
    try:
        yield box
    finally:
        _TALLY.reset(token)


def tallied() -> None:
    """One AWS call made (``bot.aws.calls``)."""
    box = _TALLY.get()
    if box is not None:
        box[0] += 1
