"""What every strategy's deployment does the same way: begin, succeed, roll back, and the effects on the
service (its task definition, its tasks, its events) through the ``Effects`` protocol."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from .state import ServiceDeploymentRun

START_DELAY = 2.0  # seconds from UpdateService to IN_PROGRESS
ROLLBACK_START = 1.0  # ROLLBACK_REQUESTED to ROLLBACK_IN_PROGRESS
ROLLBACK_SECONDS = 5.0  # to ROLLBACK_SUCCESSFUL: traffic back on the source, the new tasks stopped


class Effects(Protocol):
    def tasks_failed(self, run: ServiceDeploymentRun, count: int) -> None:
        """``count`` of the target revision's tasks stopped, as a broken image's do."""
        ...

    def service_on(self, run: ServiceDeploymentRun, task_definition: str) -> None:
        """The service now runs ``task_definition`` (the source again, after a rollback)."""
        ...

    def emit(self, run: ServiceDeploymentRun, name: str, at: datetime, reason: str | None = None) -> None:
        """An `ECS Deployment State Change` event."""
        ...

    def hook_event(self, run: ServiceDeploymentRun, hook_id: str, status: str, at: datetime) -> None:
        """An `ECS Hook State Change` event."""
        ...


def begin(run: ServiceDeploymentRun, fx: Effects) -> datetime:
    at = run.created + timedelta(seconds=START_DELAY)
    run.status, run.started_at, run.updated_at = "IN_PROGRESS", at, at
    if run.circuit.get("status") == "DISABLED" and circuit_breaker(run)[0]:
        run.circuit = {**run.circuit, "status": "MONITORING"}
    fx.emit(run, "SERVICE_DEPLOYMENT_IN_PROGRESS", at)
    return at


def succeed(run: ServiceDeploymentRun, at: datetime, fx: Effects) -> None:
    run.status, run.finished_at, run.updated_at = "SUCCESSFUL", at, at
    run.status_reason = None
    if run.circuit.get("status") == "MONITORING":
        run.circuit = {**run.circuit, "status": "MONITORING_COMPLETE"}
    run.hooks = [h for h in run.hooks if h.status != "AWAITING_ACTION"]
    fx.emit(run, "SERVICE_DEPLOYMENT_COMPLETED", at)


def roll_back(run: ServiceDeploymentRun, at: datetime, reason: str, fx: Effects) -> None:
    """ECS goes back to the last successful revision (and creates none): requested, in progress, done."""
    run.status, run.status_reason, run.updated_at = "ROLLBACK_REQUESTED", reason, at
    source = run.source.arn if run.source else run.target.arn
    run.rollback = {"reason": reason, "startedAt": at, "serviceRevisionArn": source}
    run.rollback_until = at + timedelta(seconds=ROLLBACK_START + ROLLBACK_SECONDS)
    for hook in run.hooks:
        if hook.status in ("AWAITING_ACTION", "IN_PROGRESS"):
            hook.status, hook.finished = "FAILED", at
    fx.emit(run, "SERVICE_DEPLOYMENT_FAILED", at, reason)


def rollback_step(run: ServiceDeploymentRun, now: datetime, fx: Effects) -> bool:
    """Move a rollback on; True when something changed."""
    started = run.rollback["startedAt"] if run.rollback else now
    if run.status == "ROLLBACK_REQUESTED":
        at = started + timedelta(seconds=ROLLBACK_START)
        if now < at:
            return False
        run.status, run.updated_at = "ROLLBACK_IN_PROGRESS", at
        run.production_weight = run.test_weight = 0.0  # the listeners point at the source again
        return True
    until = run.rollback_until or now
    if now < until:
        return False
    run.status, run.finished_at, run.updated_at, run.running = "ROLLBACK_SUCCESSFUL", until, until, 0
    if run.source:
        fx.service_on(run, run.source.task_definition)
    fx.emit(run, "SERVICE_DEPLOYMENT_COMPLETED", until, run.status_reason)
    return True


def stop(run: ServiceDeploymentRun, at: datetime, fx: Effects) -> None:
    """StopServiceDeployment ROLLBACK (the only stop type the docs allow)."""
    if run.rolling_back:
        return
    roll_back(run, at, "Service deployment rolled back because of a StopServiceDeployment request.", fx)


def supersede(run: ServiceDeploymentRun, at: datetime, fx: Effects) -> None:
    """A newer UpdateService replaces a deployment still under way."""
    run.status, run.stopped_at, run.finished_at, run.updated_at = "STOPPED", at, at, at
    run.status_reason = "Service deployment stopped because a newer deployment of the service started."
    fx.emit(run, "SERVICE_DEPLOYMENT_COMPLETED", at, run.status_reason)


def circuit_breaker(run: ServiceDeploymentRun) -> tuple[bool, bool]:
    """(enabled, rolls back) from the deployment configuration."""
    breaker = run.config.get("deploymentCircuitBreaker") or {}
    return bool(breaker.get("enable")), bool(breaker.get("rollback"))
