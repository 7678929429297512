"""A service deployment as the local ECS keeps it, and its views in the shapes of the installed botocore
model (ServiceDeployment, ServiceDeploymentBrief, ServiceRevision, DeploymentLifecycleHookDetail)."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
# The steps a native deployment walks through: the reported stages, and the hook stage that runs before
# production traffic moves (reported as PRODUCTION_TRAFFIC_SHIFT: the stage has begun, no weight has moved).
STEPS = (*STAGES[:6], "PRE_PRODUCTION_TRAFFIC_SHIFT", *STAGES[6:])
TERMINAL = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
_ALPHABET = string.ascii_letters + string.digits + "-_"


def new_id(length: int = 22) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass
class Revision:
    """A service revision: what one deployment runs (its task definition and the service's settings)."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    created: datetime
    launch_type: str | None = None
    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    network_configuration: dict[str, Any] | None = None
    images: list[dict[str, str]] = field(default_factory=list)  # containerName, imageDigest, image

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "loadBalancers": self.load_balancers,
            "containerImages": self.images,
            "createdAt": self.created,
        }
        if self.launch_type:
            out["launchType"] = self.launch_type
        if self.network_configuration:
            out["networkConfiguration"] = self.network_configuration
        return out


@dataclass(frozen=True)
class Hook:
    """A lifecycle hook of the deployment configuration."""

    target_type: str  # AWS_LAMBDA | PAUSE
    stages: tuple[str, ...]
    target_arn: str | None = None
    timeout_minutes: float = 1440.0
    timeout_action: str = "ROLLBACK"

    @classmethod
    def from_api(cls, hook: dict[str, Any]) -> Hook:
        timeout = hook.get("timeoutConfiguration") or {}
        return cls(
            target_type=str(hook.get("targetType") or "AWS_LAMBDA"),
            stages=tuple(hook.get("lifecycleStages") or ()),
            target_arn=hook.get("hookTargetArn"),
            timeout_minutes=float(timeout.get("timeoutInMinutes", 1440)),
            timeout_action=str(timeout.get("action") or "ROLLBACK"),
        )


@dataclass
class HookRun:
    """One hook running at one stage of one deployment."""

    hook: Hook
    stage: str
    started: datetime
    id: str = field(default_factory=lambda: new_id(12))
    status: str = "IN_PROGRESS"  # AWAITING_ACTION | IN_PROGRESS | SUCCEEDED | FAILED | TIMED_OUT
    finished: datetime | None = None  # when it succeeded, failed, or someone answered it

    @property
    def expires_at(self) -> datetime:
        return self.started + timedelta(minutes=self.hook.timeout_minutes)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hookId": self.id,
            "targetType": self.hook.target_type,
            "status": self.status,
            "expiresAt": self.expires_at,
            "timeoutAction": self.hook.timeout_action,
        }
        if self.hook.target_arn:
            out["targetArn"] = self.hook.target_arn
        return out


@dataclass
class Failure:
    """How a broken image fails: a Lambda hook at a stage, or the new tasks exiting."""

    stage: str = "POST_TEST_TRAFFIC_SHIFT"
    reason: str = "The smoke test returned HTTP 502 from /healthz"
    exit_code: int = 1
    stopped_reason: str = "Essential container in task exited"


@dataclass
class ServiceDeploymentRun:
    """One service deployment, driven by ``native`` (BLUE_GREEN, LINEAR, CANARY) or ``rolling`` (ROLLING)."""

    arn: str
    short_id: str  # the service's deployment id (`ecs-svc/…`), as DescribeServices and events name it
    cluster: str
    service: str
    cluster_arn: str
    service_arn: str
    strategy: str
    config: dict[str, Any]
    desired: int
    source: Revision | None
    target: Revision
    created: datetime
    failure: Failure | None = None
    status: str = "PENDING"
    status_reason: str | None = None
    stage: str | None = None
    step: int = -1  # index into STEPS (native)
    step_started: datetime | None = None
    part: str = "work"  # of the step: its own work, then its hooks
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    updated_at: datetime | None = None
    production_weight: float = 0.0
    test_weight: float = 0.0
    hooks: list[HookRun] = field(default_factory=list)  # the current step's
    rollback: dict[str, Any] | None = None
    rollback_until: datetime | None = None  # when the rollback under way is done
    circuit: dict[str, Any] = field(default_factory=lambda: {"status": "DISABLED", "failureCount": 0, "threshold": 0})
    running: int = 0  # the target revision's tasks up
    failed: int = 0  # the target revision's tasks that failed to start
    pending_batch: datetime | None = None  # rolling: when the batch being started is up (or fails)
    slow_start: float = 0.0  # extra seconds the new tasks take to become healthy (the page's switch)

    @property
    def active(self) -> bool:
        return self.status not in TERMINAL

    @property
    def rolling_back(self) -> bool:
        return self.status in ROLLING_BACK

    def awaiting(self) -> HookRun | None:
        return next((h for h in self.hooks if h.status == "AWAITING_ACTION"), None)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created,
            "targetServiceRevision": self._summary(self.target, target=True),
            "sourceServiceRevisions": [self._summary(self.source, target=False)] if self.source else [],
            "status": self.status,
            "deploymentConfiguration": self.config,
            "lifecycleHookDetails": [h.to_api() for h in self.hooks],
            "deploymentCircuitBreaker": self.circuit,
            "alarms": {"status": "DISABLED", "alarmNames": [], "triggeredAlarmNames": []},
        }
        for key, value in (
            ("startedAt", self.started_at),
            ("finishedAt", self.finished_at),
            ("stoppedAt", self.stopped_at),
            ("updatedAt", self.updated_at),
            ("statusReason", self.status_reason),
            ("lifecycleStage", self.stage),
            ("rollback", self.rollback),
        ):
            if value is not None:
                out[key] = value
        return out

    def _summary(self, revision: Revision | None, *, target: bool) -> dict[str, Any]:
        if revision is None:
            return {}
        # The source keeps its tasks until the deployment succeeds (blue stays up through the bake time).
        up = self.running if target else (0 if self.status == "SUCCESSFUL" else self.desired)
        out: dict[str, Any] = {
            "arn": revision.arn,
            "requestedTaskCount": self.desired,
            "runningTaskCount": up,
            "pendingTaskCount": max(0, self.desired - up) if target and self.active else 0,
        }
        if self.strategy != "ROLLING":
            production = self.production_weight if target else 100.0 - self.production_weight
            test = self.test_weight if target else 100.0 - self.test_weight
            out |= {"requestedProductionTrafficWeight": production, "requestedTestTrafficWeight": test}
        return out

    def current_revisions(self) -> list[dict[str, Any]]:
        """DescribeServices' currentServiceRevisions: what the service runs at this point of the deployment."""

        def summary(revision: Revision | None, running: int) -> list[dict[str, Any]]:
            if revision is None:
                return []
            pending = max(0, self.desired - running) if self.active else 0
            return [
                {"arn": revision.arn, "requestedTaskCount": self.desired, "runningTaskCount": running}
                | {"pendingTaskCount": pending}
            ]

        if self.status == "SUCCESSFUL" or (self.active and self.source is None):
            return summary(self.target, self.running if self.active else self.desired)
        if not self.active:  # rolled back or stopped: the revision before is what runs
            return summary(self.source, self.desired)
        return summary(self.target, self.running) + summary(self.source, self.desired)

    def brief(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created,
            "targetServiceRevisionArn": self.target.arn,
            "status": self.status,
        }
        for key, value in (
            ("startedAt", self.started_at),
            ("finishedAt", self.finished_at),
            ("statusReason", self.status_reason),
        ):
            if value is not None:
                out[key] = value
        return out
