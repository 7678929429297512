"""The state machine: phases from CodeDeploy readings, buttons per phase, checked transitions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.catalog import DEFAULT_VERSION_PATTERN
from bot.domain.errors import BadVersion, Conflict
from bot.domain.lifecycle import Action, actions_for, check_version, observe, phase_of, transition
from bot.domain.models import EventView, Phase, Snapshot, State

from .factories import NOW, record


def snap(status: str, target: str | None = "InProgress", running: str | None = None, **kw: object) -> Snapshot:
    events = [EventView(name=running, status="InProgress")] if running else []
    return Snapshot(deployment_id="d-1", status=status, target_status=target, events=events, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reading", "phase"),
    [
        (snap("Created", None), Phase.WAITING),
        (snap("InProgress", running="Install"), Phase.PROVISIONING),
        (snap("Ready", "Ready"), Phase.READY),
        (snap("InProgress", running="AllowTraffic"), Phase.SHIFTING),
        (snap("InProgress", "Succeeded"), Phase.BAKING),
        (snap("Baking", running="Install"), Phase.PROVISIONING),
        (snap("Succeeded", "Succeeded"), Phase.DONE),
    ],
)
def test_phase_of(reading: Snapshot, phase: Phase) -> None:
    assert phase_of(reading) is phase


def test_buttons_per_phase() -> None:
    assert actions_for(record()) == [Action.APPROVE, Action.CANCEL]
    assert actions_for(record(state=State.IN_PROGRESS, phase=Phase.READY)) == [Action.SHIFT, Action.ROLLBACK]
    assert actions_for(record(state=State.IN_PROGRESS, phase=Phase.BAKING)) == [Action.FINISH, Action.ROLLBACK]
    assert actions_for(record(state=State.IN_PROGRESS, phase=Phase.SHIFTING)) == [Action.ROLLBACK]
    assert actions_for(record(state=State.SUCCEEDED)) == []


def test_transitions_are_checked() -> None:
    with pytest.raises(Conflict):
        transition(record(state=State.CANCELLED), State.STARTING, NOW)
    started = transition(record(), State.STARTING, NOW, approver="U0BOB")
    assert started.state is State.STARTING and started.approver == "U0BOB"


def test_observe_reports_milestones_once() -> None:
    rec = record(state=State.IN_PROGRESS, cd_status="Created")
    first = observe(rec, snap("Ready", "Ready"), NOW)
    assert [m.kind.value for m in first.milestones] == ["started", "ready"]
    again = observe(first.record, snap("Ready", "Ready"), NOW)
    assert not again.changed


def test_failure_with_rollback_then_final() -> None:
    rec = record(state=State.IN_PROGRESS, cd_status="InProgress")
    failed = observe(
        rec,
        snap(
            "Failed", "Failed", error_code="HOOK_EXECUTION_FAILURE", error_message="boom", rollback_deployment_id="d-2"
        ),
        NOW,
    )
    assert failed.record.state is State.ROLLING_BACK and failed.record.tracked_deployment == "d-2"
    done = observe(failed.record, snap("Succeeded", "Succeeded", complete_time=NOW), NOW)
    assert done.record.state is State.FAILED and done.record.green_weight == 0.0


@pytest.mark.parametrize("version", ["v1.2.3", "v1", "v2.0.0-rc.1", "v1_2"])
def test_valid_versions(version: str) -> None:
    assert check_version(version, DEFAULT_VERSION_PATTERN) == version


@pytest.mark.parametrize("version", ["1.2.3", "v1.2.3\n", "v1.2.3 ", "v", "v1;rm", "v1.2.3/x", "v" + "1" * 128])
def test_invalid_versions(version: str) -> None:
    with pytest.raises(BadVersion):
        check_version(version, DEFAULT_VERSION_PATTERN)


@given(st.text(max_size=200))
def test_any_accepted_version_is_safe(text: str) -> None:
    try:
        check_version(text, DEFAULT_VERSION_PATTERN)
    except BadVersion:
        return
    assert text.startswith("v") and len(text) <= 128
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in text)


def test_a_late_approval_is_told_who_approved() -> None:
    from bot.domain.lifecycle import explain_state

    for state, phase in ((State.STARTING, Phase.WAITING), (State.IN_PROGRESS, Phase.SHIFTING)):
        text = explain_state(record(state=state, phase=phase, approver="U0BOB"))
        assert "already approved by <@U0BOB>" in text, text
