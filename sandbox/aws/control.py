"""Clock and fault switches shared by every request, and where simulation state lives on moto's backends.

Simulation state is kept on the backend objects, so `/moto-api/reset` drops it with everything else;
only configuration (clock, faults) lives in the module-level ``CONTROL``.
"""

from __future__ import annotations

import string
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.codedeploy.exceptions import CodeDeployException
from moto.codedeploy.models import CodeDeployBackend

from ..clock import SimClock
from .event_faults import EventFaults
from .simulation import DeploymentRun, HookFailure

_ID_ALPHABET = string.ascii_uppercase + string.digits


class _Error(CodeDeployException):
    code = 400

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(kind, message)


@dataclass
class Control:
    """Clock and fault switches shared by every request (and by tests and the web page)."""

    clock: SimClock = field(default_factory=lambda: SimClock(manual=True))
    lock: threading.RLock = field(default_factory=threading.RLock)
    fail_next: dict[str, HookFailure] = field(default_factory=dict)  # service name -> failure
    image_failures: dict[str, HookFailure] = field(default_factory=dict)  # image digest -> failure
    alarms: dict[str, str] = field(default_factory=dict)  # service name -> alarm name
    # service name -> extra seconds new tasks take (CodeDeploy's Install, ECS's SCALE_UP or a rolling batch)
    slow_install: dict[str, float] = field(default_factory=dict)
    throttles: dict[str, int] = field(default_factory=dict)  # operation name -> remaining
    # operation name -> remaining calls that take effect but whose answer is lost (a 500 after the change)
    lost_answers: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # operation name -> remaining 500s, nothing done
    # operation name -> remaining calls whose connection is closed unanswered: before the change is made
    # (a request that never arrived) or after it (a timeout after the fact)
    dropped_before: dict[str, int] = field(default_factory=dict)
    dropped_after: dict[str, int] = field(default_factory=dict)
    events: EventFaults = field(default_factory=EventFaults)  # what happens to the next events on their way
    fault_agent: str | None = None  # only this caller's calls (``agent_calls``' names) meet the faults; None: all
    latency_seconds: float = 0.0
    latency_by_operation: dict[str, float] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (service, operation)
    # Every (service, operation) deploybot itself called (its User-Agent says so), kept for the whole
    # run: the IAM policy test compares it with docs/iam-policy.json.
    bot_calls: set[tuple[str, str]] = field(default_factory=set)
    # The same calls with their wall-clock time, and every deployment status change with the wall-clock
    # time the simulation applied it: what benchmarks measure deploybot against.
    bot_log: deque[tuple[float, str, str]] = field(default_factory=lambda: deque(maxlen=200_000))
    transitions: deque[tuple[str, str, float]] = field(default_factory=lambda: deque(maxlen=200_000))
    # Calls by caller and operation, whoever called: the caller is the User-Agent's app id (botocore's
    # AWS_SDK_UA_APP_ID) when it has one, else "aws-cli", "deploybot" or "other". Benchmarks compare tools
    # by it.
    agent_calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (agent, service, op)

    def reset_faults(self) -> None:
        with self.lock:
            self.fail_next.clear()
            self.image_failures.clear()
            self.alarms.clear()
            self.slow_install.clear()
            self.throttles.clear()
            self.lost_answers.clear()
            self.errors.clear()
            self.dropped_before.clear()
            self.dropped_after.clear()
            self.events = EventFaults()
            self.fault_agent = None
            self.latency_seconds = 0.0
            self.latency_by_operation.clear()


CONTROL = Control()


def _now() -> datetime:
    return CONTROL.clock.now()


def _runs(backend: CodeDeployBackend) -> dict[str, DeploymentRun]:
    runs: dict[str, DeploymentRun] | None = getattr(backend, "_sandbox_runs", None)
    if runs is None:
        runs = {}
        backend._sandbox_runs = runs  # type: ignore[attr-defined]
    return runs


def _configs(backend: CodeDeployBackend) -> dict[str, dict[str, Any]]:
    configs: dict[str, dict[str, Any]] | None = getattr(backend, "_sandbox_configs", None)
    if configs is None:
        configs = {}
        backend._sandbox_configs = configs  # type: ignore[attr-defined]
    return configs


def _revisions(backend: CodeDeployBackend) -> dict[tuple[str, str], dict[str, Any]]:
    revs: dict[tuple[str, str], dict[str, Any]] | None = getattr(backend, "_sandbox_revisions", None)
    if revs is None:
        revs = {}
        backend._sandbox_revisions = revs  # type: ignore[attr-defined]
    return revs
