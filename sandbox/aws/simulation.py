"""One CodeDeploy ECS blue/green deployment as a state machine driven by simulated time.

``advance(now)`` replays every transition due by ``now`` at the moment it was due, so a test that
jumps the clock ten minutes ahead sees the same timestamps as a demo watching in real time.
The moto-facing side effects (task sets, the service's task definition, EventBridge) go through
the small ``Effects`` protocol so this module stays independent of moto.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from .traffic import TrafficSchedule

LIFECYCLE = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
HOOKABLE = {"BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"}
# Simulated seconds each event takes; AllowTraffic lasts as long as its traffic schedule plus SETTLE.
EVENT_SECONDS = {
    "BeforeInstall": 3.0,
    "Install": 20.0,
    "AfterInstall": 3.0,
    "AllowTestTraffic": 3.0,
    "AfterAllowTestTraffic": 10.0,
    "BeforeAllowTraffic": 3.0,
    "AfterAllowTraffic": 5.0,
}
ROLLBACK_EVENT_SECONDS = 1.0
START_DELAY = 2.0
SETTLE = 3.0
TERMINAL = {"Succeeded", "Failed", "Stopped"}


class Effects(Protocol):
    def create_green(self, run: DeploymentRun) -> str: ...
    def make_primary(self, run: DeploymentRun, task_set_id: str) -> None: ...
    def delete_task_set(self, run: DeploymentRun, task_set_id: str) -> None: ...
    def start_rollback(self, run: DeploymentRun, at: datetime) -> str: ...
    def emit(self, run: DeploymentRun, state: str, at: datetime) -> None: ...
    def alarm_active(self, run: DeploymentRun) -> str | None: ...
    def stop_tasks(self, run: DeploymentRun, task_set_id: str, reason: str, exit_code: int) -> None: ...


@dataclass
class HookFailure:
    event: str
    message: str = "The hook reported Failed: smoke test returned HTTP 502 from /healthz"
    log_tail: str = (
        "GET /healthz -> 502 Bad Gateway\nGET /healthz -> 502 Bad Gateway\nsmoke test failed after 3 attempts"
    )
    # The green tasks die with this (None: they stay up, as when only a hook's check fails).
    exit_code: int | None = 1
    stopped_reason: str = "Essential container in task exited"


@dataclass
class LifecycleEvent:
    name: str
    status: str = "Pending"
    start: datetime | None = None
    end: datetime | None = None
    diagnostics: dict[str, str] | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lifecycleEventName": self.name, "status": self.status}
        if self.start:
            out["startTime"] = self.start
        if self.end:
            out["endTime"] = self.end
        if self.diagnostics:
            out["diagnostics"] = self.diagnostics
        return out


@dataclass
class DeploymentRun:
    """Simulation state kept beside moto's DeploymentInfo (and reset with it)."""

    deployment_id: str
    cluster: str
    service: str
    created: datetime
    task_definition: str
    schedule: TrafficSchedule
    ready_wait_minutes: float | None  # None: CONTINUE_DEPLOYMENT
    termination_wait_minutes: float
    auto_rollback_events: set[str]
    target_groups: tuple[str, str]
    blue_task_set: str
    hook_names: dict[str, str] = field(default_factory=dict)
    failure: HookFailure | None = None
    install_extra: float = 0.0  # simulated seconds added to Install (a slow image pull)
    is_rollback: bool = False
    status: str = "Created"
    target_status: str = "Pending"
    events: list[LifecycleEvent] = field(default_factory=lambda: [LifecycleEvent(n) for n in LIFECYCLE])
    index: int = -1
    event_started: datetime | None = None
    green_task_set: str | None = None
    blue_alive: bool = True
    blue_draining: bool = False  # a rollback's replacement set, drained once traffic is back on the original
    green_weight: float = 0.0
    phase: str = "created"  # created | events | ready | termination_wait | done
    deadline: datetime | None = None
    error: dict[str, str] | None = None
    rollback_id: str | None = None
    rollback_message: str | None = None
    start_time: datetime | None = None
    complete_time: datetime | None = None
    last_updated: datetime | None = None

    @property
    def target_id(self) -> str:
        return f"{self.cluster}:{self.service}"

    @property
    def active(self) -> bool:
        return self.status not in TERMINAL

    def event_seconds(self, name: str) -> float:
        if self.is_rollback:
            return ROLLBACK_EVENT_SECONDS
        if name == "AllowTraffic":
            return self.schedule.duration + SETTLE
        return EVENT_SECONDS[name] + (self.install_extra if name == "Install" else 0.0)

    # -- time --------------------------------------------------------------------------------

    def advance(self, now: datetime, fx: Effects) -> None:
        while self.active and self._step(now, fx):
            pass
        if self.active and self.phase == "events" and self.current == "AllowTraffic" and self.event_started:
            self._set_weight((now - self.event_started).total_seconds())

    @property
    def current(self) -> str | None:
        return LIFECYCLE[self.index] if 0 <= self.index < len(LIFECYCLE) else None

    def _step(self, now: datetime, fx: Effects) -> bool:
        if self.phase == "created":
            at = self.created + timedelta(seconds=START_DELAY)
            if now < at:
                return False
            self.status, self.target_status, self.start_time = "InProgress", "InProgress", at
            fx.emit(self, "START", at)
            self._begin(0, at)
            return True
        if self.phase == "ready" and self.deadline is not None:
            if now < self.deadline:
                return False
            self._finish(
                "Stopped",
                self.deadline,
                fx,
                code="TIMEOUT",
                message="The deployment timed out while waiting for traffic to be rerouted.",
                rollback=False,
            )
            return True
        if self.phase == "termination_wait" and self.deadline is not None:
            if now < self.deadline:
                return False
            self._terminate_blue(self.deadline, fx)
            return True
        if self.phase != "events" or self.event_started is None:
            return False
        name = LIFECYCLE[self.index]
        if name == "AllowTraffic":
            alarm = fx.alarm_active(self)
            if alarm and not self.is_rollback:
                self._set_weight((now - self.event_started).total_seconds())
                self._fail_event(now, diagnostics=None)
                self._finish(
                    "Stopped",
                    now,
                    fx,
                    code="ALARM_ACTIVE",
                    message=f"The deployment was stopped because the alarm {alarm} is in ALARM.",
                    rollback="DEPLOYMENT_STOP_ON_ALARM" in self.auto_rollback_events,
                )
                return True
        duration = self.event_seconds(name)
        if self.failure and self.failure.event == name and not self.is_rollback:
            at = self.event_started + timedelta(seconds=duration / 2)
            if now < at:
                return False
            self._fail_hook(at, fx)
            return True
        at = self.event_started + timedelta(seconds=duration)
        if now < at:
            return False
        self._complete_event(at, fx)
        return True

    # -- transitions -------------------------------------------------------------------------

    def _begin(self, index: int, at: datetime) -> None:
        self.index, self.event_started, self.phase = index, at, "events"
        event = self.events[index]
        event.status, event.start = "InProgress", at
        self.last_updated = at

    def _complete_event(self, at: datetime, fx: Effects) -> None:
        name = LIFECYCLE[self.index]
        event = self.events[self.index]
        event.status, event.end = "Succeeded", at
        self.last_updated = at
        if name == "Install":
            self.green_task_set = fx.create_green(self)
        elif name == "AllowTraffic":
            self._set_weight(float("inf"))
            if self.green_task_set:
                fx.make_primary(self, self.green_task_set)
            self.blue_draining = self.is_rollback
        if name == "AfterAllowTestTraffic" and self.ready_wait_minutes is not None and not self.is_rollback:
            self.phase, self.status, self.target_status = "ready", "Ready", "Ready"
            self.deadline = at + timedelta(minutes=self.ready_wait_minutes)
            fx.emit(self, "READY", at)
            return
        if name == "AfterAllowTraffic":
            self.target_status = "Succeeded"
            if self.is_rollback:
                self._terminate_blue(at, fx)
                return
            self.phase = "termination_wait"
            self.deadline = at + timedelta(minutes=self.termination_wait_minutes)
            return
        self._begin(self.index + 1, at)

    def _set_weight(self, offset: float) -> None:
        self.green_weight = 100.0 if self.is_rollback and offset > 0 else self.schedule.weight_at(offset)

    def _fail_event(self, at: datetime, diagnostics: dict[str, str] | None) -> None:
        event = self.events[self.index]
        event.status, event.end, event.diagnostics = "Failed", at, diagnostics
        for later in self.events[self.index + 1 :]:
            later.status = "Skipped"

    def _fail_hook(self, at: datetime, fx: Effects) -> None:
        failure = self.failure or HookFailure(event=LIFECYCLE[self.index])
        name = failure.event
        hookable = name in HOOKABLE
        diagnostics = {
            "errorCode": "ScriptFailed" if hookable else "UnknownError",
            "scriptName": self.hook_names.get(name, f"CodeDeployHook_{name}"),
            "message": failure.message,
            "logTail": failure.log_tail,
        }
        self._fail_event(at, diagnostics)
        if self.green_task_set and failure.exit_code is not None:
            fx.stop_tasks(self, self.green_task_set, failure.stopped_reason, failure.exit_code)
        code = "HOOK_EXECUTION_FAILURE" if hookable else "ECS_UPDATE_ERROR"
        message = (
            f"The deployment failed because the {name} lifecycle event hook failed: {failure.message}"
            if hookable
            else f"The deployment failed during {name}: {failure.message}"
        )
        self._finish(
            "Failed", at, fx, code=code, message=message, rollback="DEPLOYMENT_FAILURE" in self.auto_rollback_events
        )

    def stop(self, at: datetime, fx: Effects, *, rollback: bool) -> None:
        self._fail_event_if_running(at)
        self._finish(
            "Stopped",
            at,
            fx,
            code="MANUAL_STOP",
            message="The deployment was stopped by a user request.",
            rollback=rollback,
        )

    def _fail_event_if_running(self, at: datetime) -> None:
        if self.phase == "events" and 0 <= self.index < len(self.events):
            event = self.events[self.index]
            if event.status == "InProgress":
                event.status, event.end = "Failed", at
            for later in self.events[self.index + 1 :]:
                if later.status == "Pending":
                    later.status = "Skipped"

    def continue_ready(self, at: datetime) -> None:
        self.status, self.target_status = "InProgress", "InProgress"
        self._begin(LIFECYCLE.index("BeforeAllowTraffic"), at)

    def continue_termination(self, at: datetime, fx: Effects) -> None:
        self._terminate_blue(at, fx)

    def _terminate_blue(self, at: datetime, fx: Effects) -> None:
        fx.delete_task_set(self, self.blue_task_set)
        self.blue_alive = False
        self.phase, self.status, self.complete_time, self.last_updated = "done", "Succeeded", at, at
        fx.emit(self, "SUCCESS", at)

    def _finish(self, status: str, at: datetime, fx: Effects, *, code: str, message: str, rollback: bool) -> None:
        self.phase, self.status, self.complete_time, self.last_updated = "done", status, at, at
        self.target_status = "Failed"
        self.error = {"code": code, "message": message}
        if rollback and self.green_task_set:
            self.rollback_id = fx.start_rollback(self, at)
            self.rollback_message = (
                f"Deployment rolled back: rollback deployment {self.rollback_id} reroutes traffic to the "
                "original task set."
            )
        else:
            # Nothing to reroute through a new deployment: production never left blue, or the
            # deployment is stopped without rollback; green is removed either way.
            self.green_weight = 0.0
            fx.make_primary(self, self.blue_task_set)
            if self.green_task_set:
                fx.delete_task_set(self, self.green_task_set)
                self.green_task_set = None
        fx.emit(self, "FAILURE" if status == "Failed" else "STOP", at)

    # -- API views ---------------------------------------------------------------------------

    def overview(self) -> dict[str, int]:
        out = {k: 0 for k in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")}
        out[self.target_status if self.target_status in out else "Pending"] = 1
        return out

    def task_sets_info(self, counts: int) -> list[dict[str, Any]]:
        blue_weight = 100.0 - self.green_weight
        sets = [(self.blue_task_set, "Blue", blue_weight, self.target_groups[0])] if self.blue_alive else []
        if self.green_task_set:
            sets.append((self.green_task_set, "Green", self.green_weight, self.target_groups[1]))
        primary = self.green_task_set if self.green_weight >= 100.0 and self.green_task_set else self.blue_task_set
        return [
            {
                "identifer": ident,
                "desiredCount": counts,
                "pendingCount": 0,
                "runningCount": counts,
                "status": "PRIMARY"
                if ident == primary
                else "DRAINING"
                if label == "Blue" and self.blue_draining
                else "ACTIVE",
                "trafficWeight": weight,
                "targetGroup": {"name": group},
                "taskSetLabel": label,
            }
            for ident, label, weight, group in sets
        ]
