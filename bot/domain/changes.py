"""Typed changes to a deployment record, and the decision that carries one.

A change names exactly the record fields it sets, with their types: a misspelt or mistyped field fails
when the module is imported (and mypy checks every construction). A change that moves the record to
another state says which (``to``), and ``apply`` refuses a move the state machine does not allow.
``bot.usecases.records.Records`` is the one place that applies and saves them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from .errors import Conflict
from .models import Deployment, Outgoing, SendClaim, State
from .progress import Gate, Phase, Step, StepStatus

ALLOWED: dict[State, frozenset[State]] = {
    State.QUEUED: frozenset({State.PENDING_APPROVAL, State.CANCELLED}),
    State.PENDING_APPROVAL: frozenset({State.STARTING, State.CANCELLED}),
    State.STARTING: frozenset({State.IN_PROGRESS, State.START_FAILED}),
    State.IN_PROGRESS: frozenset({State.IN_PROGRESS, State.ROLLING_BACK, State.SUCCEEDED, State.FAILED, State.STOPPED}),
    State.ROLLING_BACK: frozenset({State.FAILED, State.STOPPED}),
}


def may_move(start: State, end: State, *, moving: bool = False) -> bool:
    """Whether a record in ``start`` may end up in ``end``. ``moving``: the change names a state of its own,
    which a finished record never takes again, not even its own (its ending is decided, audited and told
    once, however many replicas decide it)."""
    if end is start:
        return not (moving and start.terminal)
    return end in ALLOWED.get(start, frozenset())


class Change(BaseModel):
    """Base of every change: its fields are fields of ``Deployment`` with the same types."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    to: ClassVar[State | None] = None  # the state the change moves the record to, if it always does

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        record = Deployment.model_fields
        for name, info in cls.model_fields.items():
            if name not in record:
                raise TypeError(f"{cls.__name__}.{name} is not a field of Deployment")
            if info.annotation != record[name].annotation:
                raise TypeError(
                    f"{cls.__name__}.{name} is {info.annotation}, Deployment.{name} is {record[name].annotation}"
                )

    def apply(self, record: Deployment, now: datetime, explain: str = "") -> Deployment:
        """The changed copy of ``record`` (which is not modified); Conflict if the state may not move so."""
        fields: dict[str, object] = {name: getattr(self, name) for name in self.model_fields_set}
        if self.to is not None:
            fields["state"] = self.to
        end = fields.get("state", record.state)
        if isinstance(end, State) and not may_move(record.state, end, moving="state" in fields):
            raise Conflict(explain or f"That no longer fits this request: it is {record.state.value}.")
        return record.model_copy(update={**fields, "updated_at": now})


# -- requests and approvals ----------------------------------------------------------------------


class Posted(Change):
    """The root message is in Slack."""

    message_ts: str | None


class Approval(Change):
    """One more approval, not yet enough to start."""

    approvals: list[str]


class Approved(Change):
    to = State.STARTING
    approver: str | None
    approvals: list[str]
    approved_at: datetime | None


class AutoApproved(Change):
    """Its environment needs no approval."""

    to = State.STARTING
    auto_approved: bool
    approved_at: datetime | None


class Cancelled(Change):
    to = State.CANCELLED
    cancelled_by: str | None


class Expired(Change):
    """Nobody approved it in time (or, ``error_message`` says, its turn or its start never came)."""

    to = State.CANCELLED
    expired: bool
    error_message: str | None = None


class Turn(Change):
    """Its app is free and it is first in line: it waits for its approval now."""

    to = State.PENDING_APPROVAL
    turn_at: datetime | None
    expires_at: datetime | None


# -- starting ------------------------------------------------------------------------------------


class Registered(Change):
    """The task definition the deployment will run, recorded before the engine is asked to deploy it."""

    task_definition_arn: str | None
    previous_task_definition: str | None


class Launched(Change):
    """The engine accepted the deployment."""

    to = State.IN_PROGRESS
    deployment_id: str | None
    link: str | None
    started_at: datetime | None
    deadline_at: datetime | None
    phase: Phase


class StartFailed(Change):
    to = State.START_FAILED
    error_message: str | None
    finished_at: datetime | None


# -- while it runs -------------------------------------------------------------------------------


class RollbackAsked(Change):
    rollback_requested_by: str | None


class Progressed(Change):
    """What a reading of the engine changed (``bot.domain.lifecycle.observe`` builds it)."""

    state: State
    phase: Phase
    began: bool
    steps: dict[str, StepStatus]
    traffic: float
    test_traffic: float | None
    stage: str | None
    bake_ends_at: datetime | None
    gate: Gate | None
    can_finish_early: bool
    gate_opened_at: datetime | None
    engine_started_at: datetime | None
    # Set once the reading shows how it ends (or that it is rolling back).
    error_code: str | None
    error_message: str | None
    failed_step: Step | None
    stopped_tasks: list[str]
    rollback_deployment_id: str | None
    ends_as: State | None
    finished_at: datetime | None
    engine_finished_at: datetime | None
    rollback_error: str | None


class RolledBack(Change):
    """The rollback that followed a failure or a stop has ended."""

    state: State
    phase: Phase
    traffic: float
    rollback_error: str | None
    finished_at: datetime | None
    engine_finished_at: datetime | None


class Reminded(Change):
    """A clock rule has told the thread (a gate about to time out), or acted (the deadline passed)."""

    gate_warned: bool
    deadline_hit: bool


class Lost(Change):
    """The engine no longer knows the deployment: its outcome is unknown."""

    to = State.FAILED
    phase: Phase
    finished_at: datetime | None
    error_code: str | None
    error_message: str | None


class Noted(Change):
    """Nothing but the messages the decision queues."""


class Settled(Change):
    """Its last words reached Slack: the watcher lets it go, after one last look when ``recheck_at`` is set."""

    settled: bool
    recheck_at: datetime | None = None


# -- the outbox's bookkeeping --------------------------------------------------------------------


class Claimed(Change):
    sending: SendClaim | None


class Delivered(Change):
    outbox: list[Outgoing]
    sending: SendClaim | None


class Recheck(Change):
    """When Slack is to be read again for copies of a message whose post got no answer (None: done), and
    the channels besides the thread to read."""

    recheck_at: datetime | None
    recheck_in: list[str]


@dataclass(frozen=True)
class Entry:
    """An audit entry to append once the change is saved."""

    actor: str
    action: str
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """A change, the audit entry it makes and the messages it owes, decided on one stored record."""

    change: Change
    entry: Entry | None = None
    messages: tuple[Outgoing, ...] = ()
