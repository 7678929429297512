"""ECS's rolling update on the simulated clock, with its deployment circuit breaker.

New tasks start in batches as ``maximumPercent`` allows; each batch is healthy after BATCH_SECONDS, and
the deployment succeeds once the desired count runs the new revision. A broken image's tasks exit with
code 1: each failed task counts towards the circuit breaker's threshold (half the desired count, between 3
and 200), and when it trips, the deployment rolls back (with `rollback: true`) or stops.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from .state import ServiceDeploymentRun
from .transitions import START_DELAY, Effects, begin, circuit_breaker, roll_back, rollback_step, succeed

BATCH_SECONDS = 15.0
SETTLE = 5.0  # the last batch healthy, to SUCCESSFUL


def threshold(desired: int) -> int:
    return max(3, min(200, math.ceil(desired / 2)))


def batch_size(run: ServiceDeploymentRun) -> int:
    maximum = int(run.config.get("maximumPercent") or 200)
    return max(1, math.floor(run.desired * (maximum - 100) / 100))


def advance(run: ServiceDeploymentRun, now: datetime, fx: Effects) -> None:
    while run.active and _step(run, now, fx):
        pass


def _step(run: ServiceDeploymentRun, now: datetime, fx: Effects) -> bool:
    if run.status == "PENDING":
        if now < run.created + timedelta(seconds=START_DELAY):
            return False
        at = begin(run, fx)
        run.circuit = {**run.circuit, "threshold": threshold(run.desired)}
        run.pending_batch = at + timedelta(seconds=BATCH_SECONDS + run.slow_start)
        return True
    if run.rolling_back:
        return rollback_step(run, now, fx)
    due = run.pending_batch
    if due is None or now < due:
        return False
    size = min(batch_size(run), run.desired - run.running)
    if run.failure is None:
        run.running += size
        run.updated_at = due
        if run.running >= run.desired:
            run.pending_batch = None
            succeed(run, due + timedelta(seconds=SETTLE), fx)
        else:
            run.pending_batch = due + timedelta(seconds=BATCH_SECONDS)
        return True
    _failed_batch(run, size, due, fx)
    return True


def _failed_batch(run: ServiceDeploymentRun, size: int, at: datetime, fx: Effects) -> None:
    run.failed += size
    run.updated_at = at
    fx.tasks_failed(run, size)
    enabled, rolls_back = circuit_breaker(run)
    count = run.circuit.get("failureCount", 0) + size
    run.circuit = {**run.circuit, "failureCount": count}
    if enabled and count >= run.circuit.get("threshold", threshold(run.desired)):
        run.circuit = {**run.circuit, "status": "TRIGGERED"}
        reason = "ECS deployment circuit breaker: tasks failed to start."  # ECS's words; counts are separate
        if rolls_back:
            roll_back(run, at, reason, fx)
        else:
            run.status, run.status_reason, run.stopped_at, run.finished_at = "STOPPED", reason, at, at
            fx.emit(run, "SERVICE_DEPLOYMENT_FAILED", at, reason)
        run.pending_batch = None
        return
    run.pending_batch = at + timedelta(seconds=BATCH_SECONDS)  # ECS keeps trying to start them
