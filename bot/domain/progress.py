"""What a deployment engine tells about its deployments, in deploybot's words.

Every engine (CodeDeploy blue/green, ECS's own strategies) maps its statuses, stages, hooks and waits onto
these models in its own room; nothing here names an engine's vocabulary. ``Progress`` is one reading of a
deployment: where it is, how much traffic the new version has, the steps it went through, the gate a
person can open, and once known, how it ends.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Phase(StrEnum):
    """Where a running deployment is; each engine maps its own stages onto these."""

    WAITING = "waiting"  # accepted by the engine, not begun
    PROVISIONING = "provisioning"  # the new version's tasks are started and tested
    GATED = "gated"  # waits at a gate a person opens
    SHIFTING = "shifting"  # production traffic moves to the new version
    BAKING = "baking"  # all traffic on the new version; the old one kept for an instant rollback
    ROLLING_BACK = "rolling_back"
    DONE = "done"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class Step(BaseModel):
    """One step of a deployment (a lifecycle event, a hook, a stage), with its diagnostics if it failed."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: StepStatus
    start: datetime | None = None
    end: datetime | None = None
    error_code: str | None = None
    message: str | None = None
    log_tail: str | None = None
    script: str | None = None


class OnTimeout(StrEnum):
    """What the engine does when nobody opens a gate in time."""

    STOP = "stop"
    ROLL_BACK = "roll_back"
    GO_ON = "go_on"


class Gate(BaseModel):
    """A point where the engine waits for a person: opening it lets the deployment go on."""

    model_config = ConfigDict(frozen=True)

    id: str  # the engine's own name for it, handed back when someone opens it
    opens: Phase  # what opening it starts (SHIFTING: production traffic moves)
    stage: str = ""  # where it waits, in the engine's words
    expires_at: datetime | None = None  # when the engine stops waiting, if it says
    on_timeout: OnTimeout = OnTimeout.STOP


class Result(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the new version failed
    STOPPED = "stopped"  # stopped by a person, an alarm or a timeout


class Progress(BaseModel):
    """One reading of a deployment."""

    deployment_id: str
    phase: Phase
    scope: str = ""  # where it happens, in the engine's terms (as its events name it)
    began: bool = False  # the engine is past its queue and working on it
    steps: list[Step] = Field(default_factory=list)
    traffic: float | None = None  # percent of production traffic on the new version; None: not read this time
    test_traffic: float | None = None  # percent of test traffic on it, for engines with a test listener
    stage: str | None = None  # where it is, in the engine's own words (shown beside the phase)
    bake_ends_at: datetime | None = None  # when the old version is let go, if the engine says
    # When the engine's own schedule next changes the deployment (a traffic step, the end of a wait), if
    # known: the watcher reads it then instead of waiting its turn.
    next_change_at: datetime | None = None
    gate: Gate | None = None
    can_finish_early: bool = False  # the old version's keep-alive can be ended now
    result: Result | None = None  # once the deployment's fate is known (it may still be rolling back)
    error_code: str | None = None
    error_message: str | None = None
    rollback_id: str | None = None  # the engine rolls back with a deployment of its own: follow that one
    rollback_error: str | None = None  # the rollback ended without restoring the version before: why
    rolled_back: bool = False  # (when done) it ended by going back to the version before
    started_at: datetime | None = None  # by the engine's clock
    finished_at: datetime | None = None
    stopped_tasks: list[str] = Field(default_factory=list)  # at a failure: why the new tasks stopped

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if s.status is StepStatus.FAILED), None)


class Live(BaseModel):
    """What a service runs now."""

    task_definition: str
    image: str


class Plan(BaseModel):
    """How an engine will deploy an app: shown on the request, and the source of its deadline."""

    engine: str  # the key of the engine's adapter
    engine_name: str  # how messages name it
    strategy: str  # how it moves traffic, in the engine's words
    gate_minutes: float | None = None  # a gate's wait before the engine stops the deployment (None: no limit)
    bake_minutes: float | None = None  # how long the old version is kept once all traffic has moved
    # True: the new version runs beside the old one and traffic moves between them (blue/green, linear,
    # canary); False: the old tasks are replaced in place (a rolling update).
    blue_green: bool = True


class Revision(BaseModel):
    """The task definition registered for a deployment: the live one with only the image changed."""

    task_definition: str
    previous: str


class Started(BaseModel):
    """A deployment the engine accepted (or one found again after a crash)."""

    deployment_id: str
    link: str | None = None  # the engine's console page for it


class Claim(BaseModel):
    """What a deployment's own record at the engine says of the deploybot request that started it."""

    request_id: str
    tag: str
    requester: str
    approvals: list[str]  # empty: its environment needed no approval


class Found(BaseModel):
    """A running deployment of a catalog app that deploybot does not follow (lost, or started elsewhere)."""

    app: str  # the catalog key (`app:environment`) of the service it deploys
    deployment_id: str
    link: str | None = None
    began: bool = True
    strategy: str | None = None
    creator: str = ""  # who or what started it, in the engine's words
    description: str = ""
    claim: Claim | None = None  # deploybot's own, found again
    handle: str | None = None  # the engine's way back to what it deploys (see DeploymentEngine.deployed)
    plan: Plan | None = None  # how it deploys, when what found it says so (saves asking the engine again)

    @property
    def origin(self) -> str:
        """Who or what started it, as its record keeps it."""
        who = self.creator or "someone"
        return f"{who}: {self.description}" if self.description else who


class PastDeployment(BaseModel):
    """A deployment of an app as the engine lists it, whoever started it (deploybot, CI, the console)."""

    deployment_id: str
    status: str  # in the engine's words, shown as it is
    succeeded: bool = False
    ours: bool = False  # started by deploybot
    description: str = ""
    creator: str = ""
    create_time: datetime | None = None
    complete_time: datetime | None = None
    error_code: str | None = None


class DeploymentEvent(BaseModel):
    """A state-change event (EventBridge): which deployment changed, not how it looks now."""

    deployment_id: str
    state: str = ""
    scope: str = ""  # where it happened, in the engine's terms: its adapter searches there first
