"""The domain's records: a deploy request as deploybot keeps it, and CodeDeploy's view of a deployment."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class State(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    CANCELLED = "cancelled"
    STARTING = "starting"  # approved; task definition and CreateDeployment under way
    START_FAILED = "start_failed"
    IN_PROGRESS = "in_progress"
    ROLLING_BACK = "rolling_back"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # CodeDeploy failed it (rolled back when the group says so)
    STOPPED = "stopped"  # stopped by a person, an alarm or the ready-wait timeout

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def in_flight(self) -> bool:
        return self in (State.STARTING, State.IN_PROGRESS, State.ROLLING_BACK)


TERMINAL_STATES = frozenset({State.CANCELLED, State.START_FAILED, State.SUCCEEDED, State.FAILED, State.STOPPED})


class Phase(StrEnum):
    """Where an in-flight deployment is, derived from CodeDeploy (reference table 1.11)."""

    WAITING = "waiting"
    PROVISIONING = "provisioning"
    READY = "ready"
    SHIFTING = "shifting"
    BAKING = "baking"  # all traffic on green, blue kept until the termination wait ends
    ROLLING_BACK = "rolling_back"
    DONE = "done"


class Image(BaseModel):
    model_config = ConfigDict(frozen=True)

    repository_uri: str
    tag: str
    digest: str

    @property
    def pinned(self) -> str:
        return f"{self.repository_uri}@{self.digest}"

    @property
    def short_digest(self) -> str:
        return self.digest.split(":", 1)[-1][:12]


class ServiceState(BaseModel):
    """What runs now: the live service as ECS describes it."""

    task_definition_arn: str
    image: str
    running_version: str | None
    container_port: int
    container_name: str
    platform_version: str | None = None
    network_configuration: dict[str, object] | None = None
    capacity_provider_strategy: list[dict[str, object]] = Field(default_factory=list)


class EventView(BaseModel):
    name: str
    status: str
    start: datetime | None = None
    end: datetime | None = None
    error_code: str | None = None
    message: str | None = None
    log_tail: str | None = None
    script: str | None = None


class Snapshot(BaseModel):
    """One read of a CodeDeploy deployment (GetDeployment + its ECS target)."""

    deployment_id: str
    status: str
    target_status: str | None = None
    events: list[EventView] = Field(default_factory=list)
    green_weight: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    rollback_deployment_id: str | None = None
    rollback_of: str | None = None
    create_time: datetime | None = None
    complete_time: datetime | None = None
    description: str | None = None
    config_name: str | None = None
    stopped_tasks: list[str] = Field(default_factory=list)  # at a failure: why the green tasks stopped

    @property
    def terminal(self) -> bool:
        return self.status in ("Succeeded", "Failed", "Stopped")

    @property
    def failed_event(self) -> EventView | None:
        return next((e for e in self.events if e.status == "Failed"), None)


class ActiveDeployment(BaseModel):
    """A CodeDeploy deployment that has not finished, as ListDeployments + BatchGetDeployments show it."""

    deployment_id: str
    status: str
    description: str = ""
    config_name: str | None = None
    revision_sha: str | None = None  # the AppSpec's sha256, to read it back
    creator: str = ""  # CodeDeploy's: user, autoscaling, codeDeployRollback, ...
    application: str = ""
    group: str = ""


class DeploymentEvent(BaseModel):
    """A CodeDeploy state-change event (EventBridge): which deployment changed, not how it looks now."""

    deployment_id: str
    state: str = ""  # START, SUCCESS, FAILURE, STOP, READY
    application: str = ""
    group: str = ""


class PastDeployment(BaseModel):
    """A deployment of a group as CodeDeploy lists it, whoever started it (deploybot, CI, the console)."""

    deployment_id: str
    status: str
    description: str = ""
    creator: str = ""  # CodeDeploy's: user, autoscaling, codeDeployRollback, ...
    create_time: datetime | None = None
    complete_time: datetime | None = None
    error_code: str | None = None


class CiInfo(BaseModel):
    """Who asked through the CI hand-off, and the links of that run (the release workflow's fields)."""

    model_config = ConfigDict(frozen=True)

    actor: str = Field(min_length=1, max_length=100)
    # Shown as Slack links, so nothing that could end or split one (`<`, `>`, `|`, spaces).
    commit_url: str | None = Field(default=None, max_length=500, pattern=r"^https://[^\s<>|]+$")
    run_url: str | None = Field(default=None, max_length=500, pattern=r"^https://[^\s<>|]+$")


class Hold(BaseModel):
    """A lock a person (or deploybot, after a rollback) put on an app in one environment: no deploys."""

    app: str
    environment: str
    user: str  # a Slack user id, or "deploybot"
    reason: str = ""
    since: datetime
    reminded_at: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.app}:{self.environment}"


class Outgoing(BaseModel):
    """A Slack message owed for a deployment, kept in its record until Slack has it (the outbox)."""

    model_config = ConfigDict(frozen=True)

    seq: int = 0
    text: str
    broadcast: bool = False
    channel: str | None = None  # None: a reply in the deployment's thread
    blocks: list[dict[str, Any]] | None = None


class SendClaim(BaseModel):
    """Who is posting the outbox right now, up to which message, and until when the claim holds."""

    model_config = ConfigDict(frozen=True)

    owner: str
    until: datetime
    upto: int


class Deployment(BaseModel):
    """A deploy request and everything deploybot learned about it. Saved with a version for CAS."""

    id: str
    version: int = 0
    app: str
    environment: str = "production"
    show_environment: bool = False  # the app has several environments: messages name this one
    tag: str
    image: Image
    requester: str
    team_id: str
    channel: str
    state: State = State.PENDING_APPROVAL
    created_at: datetime
    updated_at: datetime
    config_name: str | None = None
    running_before: str | None = None
    previous_task_definition: str | None = None
    approver: str | None = None  # the approval that started it
    approvals: list[str] = Field(default_factory=list)  # every approver, in order
    auto_approved: bool = False  # its environment needs no approval
    approvals_needed: int = 1
    approved_at: datetime | None = None
    cancelled_by: str | None = None
    expires_at: datetime | None = None  # an unapproved request is cancelled then
    ci: CiInfo | None = None  # asked for by a CI job through the hand-off endpoint
    outside: str | None = None  # started outside deploybot: by whom or what (CodeDeploy's creator, description)
    rollback_to: str | None = None  # `/deploy rollback`: the known-good request whose image this redeploys
    expired: bool = False
    message_ts: str | None = None
    task_definition_arn: str | None = None
    deployment_id: str | None = None
    rollback_deployment_id: str | None = None
    rollback_requested_by: str | None = None
    phase: Phase = Phase.WAITING
    cd_status: str | None = None
    target_status: str | None = None
    events: dict[str, str] = Field(default_factory=dict)
    green_weight: float = 0.0
    error_code: str | None = None
    error_message: str | None = None
    failed_event: EventView | None = None
    stopped_tasks: list[str] = Field(default_factory=list)
    started_at: datetime | None = None  # deploybot's clock: when CreateDeployment returned
    finished_at: datetime | None = None  # deploybot's clock: when the outcome was seen
    cd_created: datetime | None = None  # CodeDeploy's clock, the one its lifecycle events use
    cd_completed: datetime | None = None

    @property
    def took(self) -> tuple[datetime | None, datetime | None]:
        """The deployment's duration by CodeDeploy's clock when known, else by deploybot's."""
        if self.cd_created and self.cd_completed:
            return self.cd_created, self.cd_completed
        return self.started_at, self.finished_at

    wait_minutes: float | None = None
    termination_minutes: float | None = None
    deadline_at: datetime | None = None  # past it, deploybot stops the deployment with a rollback
    deadline_hit: bool = False
    ready_at: datetime | None = None  # when green became ready (the Ready wait's start)
    ready_warned: bool = False
    settled: bool = False  # the final message, alert and root reached Slack
    # Messages not yet in Slack, saved with the change that caused them, so a crash or an outage
    # can delay them but never lose them.
    outbox: list[Outgoing] = Field(default_factory=list)
    next_seq: int = 1
    sending: SendClaim | None = None

    @property
    def watched(self) -> bool:
        """The watcher still looks after it: running, owed messages, or finished but not yet told."""
        return (
            self.state in (State.IN_PROGRESS, State.ROLLING_BACK)
            or (self.state is State.PENDING_APPROVAL and self.expires_at is not None)  # to expire it
            or bool(self.outbox)
            or (self.state in (State.SUCCEEDED, State.FAILED, State.STOPPED) and not self.settled)
        )

    def queue(self, *messages: Outgoing) -> Deployment:
        """A copy with ``messages`` appended to the outbox, numbered in order."""
        numbered = [m.model_copy(update={"seq": self.next_seq + i}) for i, m in enumerate(messages)]
        return self.model_copy(update={"outbox": [*self.outbox, *numbered], "next_seq": self.next_seq + len(numbered)})

    @property
    def target(self) -> str:
        """`app:environment`, the key of its app lock."""
        return f"{self.app}:{self.environment}"

    @property
    def label(self) -> str:
        return f"{self.app} ({self.environment})" if self.show_environment else self.app

    @property
    def tracked_deployment(self) -> str | None:
        return self.rollback_deployment_id or self.deployment_id
