"""The domain's records: a deploy request as deploybot keeps it, locks people put on apps, and the Slack
messages a deployment still owes. Engine-neutral: what an engine reports lives in ``progress``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .progress import Gate, Phase, Step, StepStatus


class State(StrEnum):
    QUEUED = "queued"  # in line (`--queue`) until its app is free; then asked for approval (or started)
    PENDING_APPROVAL = "pending_approval"
    CANCELLED = "cancelled"
    STARTING = "starting"  # approved; the new revision and the deployment are being created
    START_FAILED = "start_failed"
    IN_PROGRESS = "in_progress"
    ROLLING_BACK = "rolling_back"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the new version failed (rolled back when the service says so)
    STOPPED = "stopped"  # stopped by a person, an alarm, a gate's timeout or deploybot's deadline

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def in_flight(self) -> bool:
        return self in (State.STARTING, State.IN_PROGRESS, State.ROLLING_BACK)


TERMINAL_STATES = frozenset({State.CANCELLED, State.START_FAILED, State.SUCCEEDED, State.FAILED, State.STOPPED})


class Image(BaseModel):
    model_config = ConfigDict(frozen=True)

    repository_uri: str
    tag: str
    digest: str

    @property
    def pinned(self) -> str:
        return f"{self.repository_uri}@{self.digest}"

    @property
    def pinned_by_digest(self) -> bool:
        """Whether the exact image is known (an outside deployment by tag may not say)."""
        return self.digest.startswith("sha256:")

    @property
    def short_digest(self) -> str:
        return self.digest.split(":", 1)[-1][:12]


class CiInfo(BaseModel):
    """Who asked through the CI hand-off, and the links of that run (the release workflow's fields)."""

    model_config = ConfigDict(frozen=True)

    actor: str = Field(min_length=1, max_length=100)
    # Shown as Slack links, so nothing that could end or split one (`<`, `>`, `|`, spaces).
    commit_url: str | None = Field(default=None, max_length=500, pattern=r"^https://[^\s<>|]+$")
    run_url: str | None = Field(default=None, max_length=500, pattern=r"^https://[^\s<>|]+$")
    committed_at: datetime | None = None  # when the commit was made: where its lead time starts


class PushedVersion(BaseModel):
    """A version tag in the app's repository, as a version picker offers it."""

    model_config = ConfigDict(frozen=True)

    tag: str
    digest: str
    pushed_at: datetime | None = None


class Hold(BaseModel):
    """A lock a person (or deploybot, after a rollback) put on an app in one environment: no deploys.

    Of kind ``freeze``, an ad hoc change freeze an approver put on until ``until`` (`/deploy freeze`): it
    lives beside a lock under its own key, and a deploy marked as an emergency passes it."""

    app: str
    environment: str
    user: str  # a Slack user id, or "deploybot"
    reason: str = ""
    since: datetime
    reminded_at: datetime | None = None
    kind: Literal["lock", "freeze"] = "lock"
    until: datetime | None = None  # a freeze's end

    @property
    def key(self) -> str:
        return hold_key(self.app, self.environment, self.kind)


def hold_key(app: str, environment: str, kind: str = "lock") -> str:
    """`web1:production` for a lock, `web1:production#freeze` for an ad hoc freeze."""
    return f"{app}:{environment}" + ("" if kind == "lock" else f"#{kind}")


class Outgoing(BaseModel):
    """A Slack message owed for a deployment, kept in its record until Slack has it (the outbox)."""

    model_config = ConfigDict(frozen=True)

    seq: int = 0
    text: str
    broadcast: bool = False
    channel: str | None = None  # None: a reply in the deployment's thread
    blocks: list[dict[str, Any]] | None = None
    queued_at: datetime | None = None  # when the record first owed it (None: saved before this was kept)


class SendClaim(BaseModel):
    """Who is posting the outbox right now, up to which message, and until when the claim holds."""

    model_config = ConfigDict(frozen=True)

    owner: str
    until: datetime
    upto: int


class Deployment(BaseModel):
    """A deploy request and everything deploybot learned about it. Saved with a version for CAS.

    Changed only through the typed changes of ``bot.domain.changes``."""

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
    # What ran before, and how the engine will deploy (read when the request was made).
    running_before: str | None = None
    previous_task_definition: str | None = None
    engine: str = "codedeploy"  # which engine runs it (the key its adapter answers to)
    engine_name: str = "CodeDeploy"  # how messages name that engine
    strategy: str | None = None  # how the engine moves traffic, in its own words
    gate_minutes: float | None = None  # how long a gate waits before the engine stops the deployment
    bake_minutes: float | None = None  # how long the old version is kept once all traffic has moved
    blue_green: bool = True  # the new version runs beside the old one (False: a rolling update)
    # Who asked and who decided.
    approver: str | None = None  # the approval that started it
    approvals: list[str] = Field(default_factory=list)  # every approver, in order
    auto_approved: bool = False  # its environment needs no approval
    approvals_needed: int = 1
    approved_at: datetime | None = None
    cancelled_by: str | None = None
    expires_at: datetime | None = None  # an unapproved request is cancelled then
    ci: CiInfo | None = None  # asked for by a CI job through the hand-off endpoint
    outside: str | None = None  # started outside deploybot: by whom or what
    rollback_to: str | None = None  # `/deploy rollback`: the known-good request whose image this redeploys
    emergency: str | None = None  # `--emergency "reason"`: started without approval, past any freeze
    queued_at: datetime | None = None  # `--queue`: when it joined the line
    turn_at: datetime | None = None  # when its app was free and its turn came
    expired: bool = False
    message_ts: str | None = None
    # The engine's deployment and how it went.
    task_definition_arn: str | None = None
    deployment_id: str | None = None
    link: str | None = None  # the engine's console page of the deployment
    rollback_deployment_id: str | None = None  # a rollback the engine runs as a deployment of its own
    rollback_requested_by: str | None = None
    phase: Phase = Phase.WAITING
    began: bool = False  # the engine was seen working on it (its start was told)
    steps: dict[str, StepStatus] = Field(default_factory=dict)
    traffic: float = 0.0  # percent of production traffic on the new version
    test_traffic: float | None = None  # percent of test traffic on it (engines with a test listener)
    stage: str | None = None  # where it is, in the engine's own words
    bake_ends_at: datetime | None = None  # when the old version is let go, if the engine says
    gate: Gate | None = None  # the gate the deployment waits at, if any
    can_finish_early: bool = False
    ends_as: State | None = None  # while rolling back: how the deployment ends once the rollback is done
    error_code: str | None = None
    error_message: str | None = None
    rollback_error: str | None = None  # the rollback itself did not complete: why
    failed_step: Step | None = None
    stopped_tasks: list[str] = Field(default_factory=list)
    started_at: datetime | None = None  # deploybot's clock: when the engine accepted the deployment
    finished_at: datetime | None = None  # deploybot's clock: when the outcome was seen
    engine_started_at: datetime | None = None  # the engine's clock, the one its steps use
    engine_finished_at: datetime | None = None
    deadline_at: datetime | None = None  # past it, deploybot stops the deployment with a rollback
    deadline_hit: bool = False
    gate_opened_at: datetime | None = None  # when the deployment reached its gate (the wait's start)
    gate_warned: bool = False
    settled: bool = False  # the final message, alert and root reached Slack
    # Messages not yet in Slack, saved with the change that caused them, so a crash or an outage
    # can delay them but never lose them.
    outbox: list[Outgoing] = Field(default_factory=list)
    next_seq: int = 1
    sending: SendClaim | None = None
    # A post whose fate was unknown (no answer came) may still land after a copy was sent again: Slack is
    # read once more then, and a later copy of a message removed.
    recheck_at: datetime | None = None
    recheck_in: list[str] = Field(default_factory=list)  # channels to read then besides the thread

    @model_validator(mode="before")
    @classmethod
    def _saved_before_engines(cls, data: Any) -> Any:
        return upgrade(data) if isinstance(data, dict) else data

    @property
    def took(self) -> tuple[datetime | None, datetime | None]:
        """The deployment's duration by the engine's clock when known, else by deploybot's."""
        if self.engine_started_at and self.engine_finished_at:
            return self.engine_started_at, self.engine_finished_at
        return self.started_at, self.finished_at

    @property
    def watched(self) -> bool:
        """The watcher still looks after it: running, owed messages, or finished but not yet told."""
        return (
            self.state in (State.IN_PROGRESS, State.ROLLING_BACK)
            or (self.state is State.PENDING_APPROVAL and self.expires_at is not None)  # to expire it
            or self.state is State.QUEUED  # to give it its turn, or expire it
            or bool(self.outbox)
            or self.recheck_at is not None
            # Every ending, a cancel too: told once more by the watcher, so a root whose update died with its
            # replica (a Cancel saved, the replica killed before chat.update) still ends showing it.
            or (self.state.terminal and not self.settled)
        )

    @property
    def rolled_back(self) -> bool:
        """It ended with its traffic sent back to the version before (a rollback, or a stop)."""
        went_back = self.ends_as is not None or self.rollback_deployment_id is not None
        return self.state.terminal and (went_back or self.state is State.STOPPED)

    def queue(self, *messages: Outgoing, at: datetime | None = None) -> Deployment:
        """A copy with ``messages`` appended to the outbox, numbered in order (and stamped ``at``)."""
        numbered = [m.model_copy(update={"seq": self.next_seq + i, "queued_at": at}) for i, m in enumerate(messages)]
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


# Records saved before deploybot had an engine port used other names for these fields.
_RENAMED = {
    "config_name": "strategy",
    "wait_minutes": "gate_minutes",
    "termination_minutes": "bake_minutes",
    "green_weight": "traffic",
    "cd_created": "engine_started_at",
    "cd_completed": "engine_finished_at",
    "ready_at": "gate_opened_at",
    "ready_warned": "gate_warned",
    "failed_event": "failed_step",
}
_DROPPED = ("events", "cd_status", "target_status")


def _status(value: object) -> StepStatus | None:
    try:
        return StepStatus(str(value).lower())
    except ValueError:
        return None  # a step still running then: the next reading says how it is now


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A record as an earlier deploybot saved it, in today's fields (today's records pass unchanged).
    What it cannot carry over (a gate, a running step) the next reading of the deployment fills in."""
    if not any(old in data for old in (*_RENAMED, *_DROPPED)):
        return data
    out = {_RENAMED.get(k, k): v for k, v in data.items() if k not in _DROPPED}
    steps = {name: _status(value) for name, value in (data.get("events") or {}).items()}
    out.setdefault("steps", {name: status for name, status in steps.items() if status is not None})
    failed = out.get("failed_step")
    if isinstance(failed, dict):
        out["failed_step"] = {**failed, "status": _status(failed.get("status")) or StepStatus.FAILED}
    out.setdefault("began", out.get("phase", Phase.WAITING) != Phase.WAITING)
    if out.get("phase") == "ready":
        out["phase"] = Phase.GATED
    return out
