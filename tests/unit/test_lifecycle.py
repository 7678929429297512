"""The state machine in deploybot's own words: buttons per phase, checked moves between states, and what a
reading of the engine changes (each milestone told once, a rollback followed to its end)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.catalog import DEFAULT_VERSION_PATTERN
from bot.domain.changes import Approved, Cancelled, Posted, StartFailed
from bot.domain.errors import BadVersion, Conflict
from bot.domain.lifecycle import Action, MilestoneKind, actions_for, check_version, explain_state, observe
from bot.domain.models import State
from bot.domain.progress import Gate, Phase, Progress, Result, Step, StepStatus

from .factories import NOW, record

GATE = Gate(id="g", opens=Phase.SHIFTING)


def reading(phase: Phase, **kw: object) -> Progress:
    return Progress(deployment_id="d-1", phase=phase, began=phase is not Phase.WAITING, **kw)  # type: ignore[arg-type]


def test_buttons_per_phase() -> None:
    """Each phase offers what makes sense there; a gate or an early finish only when the engine offers one."""
    assert actions_for(record()) == [Action.APPROVE, Action.CANCEL]
    gated = record(state=State.IN_PROGRESS, phase=Phase.GATED, gate=GATE)
    assert actions_for(gated) == [Action.OPEN_GATE, Action.ROLLBACK]
    assert actions_for(record(state=State.IN_PROGRESS, phase=Phase.GATED)) == [Action.ROLLBACK]  # no gate known
    baking = record(state=State.IN_PROGRESS, phase=Phase.BAKING, can_finish_early=True)
    assert actions_for(baking) == [Action.FINISH, Action.ROLLBACK]
    assert actions_for(record(state=State.IN_PROGRESS, phase=Phase.BAKING)) == [Action.ROLLBACK]
    assert actions_for(record(state=State.IN_PROGRESS, phase=Phase.SHIFTING)) == [Action.ROLLBACK]
    assert actions_for(record(state=State.ROLLING_BACK, phase=Phase.ROLLING_BACK)) == []
    assert actions_for(record(state=State.SUCCEEDED)) == []


def test_changes_move_only_where_the_state_machine_allows() -> None:
    """A typed change to another state is checked against the state machine."""
    with pytest.raises(Conflict):
        Approved(approver="U0BOB", approvals=["U0BOB"], approved_at=NOW).apply(record(state=State.CANCELLED), NOW)
    started = Approved(approver="U0BOB", approvals=["U0BOB"], approved_at=NOW).apply(record(), NOW)
    assert started.state is State.STARTING and started.approver == "U0BOB"
    with pytest.raises(Conflict, match="finished successfully"):
        Cancelled(cancelled_by="U0BOB").apply(
            record(state=State.SUCCEEDED), NOW, explain_state(record(state=State.SUCCEEDED))
        )


def test_a_finished_record_never_takes_a_state_again_but_still_changes_otherwise() -> None:
    """Two replicas deciding the same ending (a start that failed, say) must not end it twice: the second
    decision is refused, so it is neither saved, audited nor told again."""
    failed = record(state=State.START_FAILED)
    with pytest.raises(Conflict):
        StartFailed(error_message="again", finished_at=NOW).apply(failed, NOW)
    assert Posted(message_ts="1.2").apply(failed, NOW).message_ts == "1.2"  # no state named: fine
    assert StartFailed(error_message="AWS said no", finished_at=NOW).apply(record(state=State.STARTING), NOW).state is (
        State.START_FAILED
    )


def test_a_change_names_only_fields_of_the_record() -> None:
    """A misspelt field cannot be set: the change class itself is refused when it is defined."""
    from bot.domain.changes import Change

    with pytest.raises(TypeError, match="not a field of Deployment"):

        class Misspelt(Change):
            approvr: str

    with pytest.raises(TypeError, match=r"Deployment\.traffic"):

        class Mistyped(Change):
            traffic: str


def test_observe_reports_milestones_once() -> None:
    """The start and the gate are told once; the same reading again changes nothing."""
    rec = record(state=State.IN_PROGRESS)
    first = observe(rec, reading(Phase.GATED, gate=GATE), NOW)
    assert [m.kind for m in first.milestones] == [MilestoneKind.STARTED, MilestoneKind.GATED]
    assert first.change is not None
    after = first.change.apply(rec, NOW)
    assert after.phase is Phase.GATED and after.gate == GATE and after.gate_opened_at == NOW
    again = observe(after, reading(Phase.GATED, gate=GATE), NOW)
    assert again.change is None and again.milestones == []


def test_steps_and_traffic_are_told_as_they_change() -> None:
    rec = record(state=State.IN_PROGRESS, began=True)
    steps = [Step(name="Install", status=StepStatus.SUCCEEDED), Step(name="AllowTraffic", status=StepStatus.RUNNING)]
    seen = observe(rec, reading(Phase.SHIFTING, steps=steps, traffic=10.0), NOW)
    assert [(m.kind, m.step.name if m.step else m.traffic) for m in seen.milestones] == [
        (MilestoneKind.STEP, "Install"),
        (MilestoneKind.TRAFFIC, 10.0),
    ]
    assert seen.change is not None
    after = seen.change.apply(rec, NOW)
    assert after.steps == {"Install": StepStatus.SUCCEEDED, "AllowTraffic": StepStatus.RUNNING}
    assert after.traffic == 10.0
    unread = observe(after, reading(Phase.SHIFTING, traffic=None), NOW)  # traffic not read this time: kept
    assert unread.change is None


def test_the_engines_own_stage_test_traffic_and_bake_end_are_kept_while_it_runs() -> None:
    """What an engine says beyond the phase (its stage name, test traffic, the bake's end) is shown while
    the deployment runs and cleared once it ends."""
    rec = record(state=State.IN_PROGRESS, began=True)
    ends = NOW.replace(hour=13)
    bake = reading(Phase.BAKING, stage="BAKE_TIME", test_traffic=100.0, traffic=100.0, bake_ends_at=ends)
    seen = observe(rec, bake, NOW)
    assert seen.change is not None
    baking = seen.change.apply(rec, NOW)
    assert (baking.stage, baking.test_traffic, baking.bake_ends_at) == ("BAKE_TIME", 100.0, ends)
    unread = observe(baking, reading(Phase.BAKING, stage="BAKE_TIME", bake_ends_at=ends), NOW)
    assert unread.change is None  # test traffic not read this time: kept
    done = observe(baking, reading(Phase.DONE, result=Result.SUCCEEDED), NOW)
    assert done.change is not None
    final = done.change.apply(baking, NOW)
    assert (final.stage, final.test_traffic, final.bake_ends_at) == (None, None, None)


def test_a_failure_rolled_back_by_a_deployment_of_its_own_ends_when_the_rollback_does() -> None:
    """The verdict is taken at the failure; the rollback's end finishes the record (traffic back to 0)."""
    rec = record(state=State.IN_PROGRESS, began=True, traffic=40.0)
    failed = observe(
        rec,
        reading(Phase.ROLLING_BACK, result=Result.FAILED, error_code="HOOK", error_message="boom", rollback_id="d-2"),
        NOW,
    )
    assert [m.kind for m in failed.milestones] == [MilestoneKind.ROLLING_BACK]
    assert failed.change is not None
    rolling = failed.change.apply(rec, NOW)
    assert rolling.state is State.ROLLING_BACK and rolling.tracked_deployment == "d-2"
    assert rolling.ends_as is State.FAILED and rolling.error_message == "boom"
    done = observe(rolling, Progress(deployment_id="d-2", phase=Phase.DONE, finished_at=NOW), NOW)
    assert done.change is not None
    final = done.change.apply(rolling, NOW)
    assert final.state is State.FAILED and final.traffic == 0.0 and final.rolled_back
    assert [m.kind for m in done.milestones] == [MilestoneKind.FINISHED]


def test_a_stop_that_rolls_back_in_place_ends_stopped_and_a_failed_rollback_keeps_its_reason() -> None:
    rec = record(state=State.IN_PROGRESS, began=True, traffic=100.0)
    stopping = observe(rec, reading(Phase.ROLLING_BACK, result=Result.STOPPED, error_code="MANUAL"), NOW)
    assert stopping.change is not None
    rolling = stopping.change.apply(rec, NOW)
    assert rolling.ends_as is State.STOPPED and rolling.rollback_deployment_id is None
    broken = Progress(deployment_id="d-1", phase=Phase.DONE, rollback_error="Failed: no capacity")
    end = observe(rolling, broken, NOW)
    assert end.change is not None
    final = end.change.apply(rolling, NOW)
    assert final.state is State.STOPPED and final.traffic == 100.0 and final.rollback_error == "Failed: no capacity"


def test_a_success_finishes_at_once() -> None:
    rec = record(state=State.IN_PROGRESS, began=True)
    done = observe(rec, reading(Phase.DONE, result=Result.SUCCEEDED, traffic=100.0, finished_at=NOW), NOW)
    assert done.change is not None
    final = done.change.apply(rec, NOW)
    assert final.state is State.SUCCEEDED and final.finished_at == NOW and final.traffic == 100.0
    assert [m.kind for m in done.milestones] == [MilestoneKind.FINISHED]  # no traffic step at the end


def test_records_saved_before_the_engine_port_still_load() -> None:
    """A record an earlier deploybot saved (CodeDeploy's field names) loads into today's fields."""
    old = record().model_dump(mode="json")
    for new in ("strategy", "traffic", "steps", "began", "gate_opened_at", "engine_started_at"):
        old.pop(new)
    old.update(
        state="in_progress",
        phase="ready",
        config_name="CodeDeployDefault.ECSCanary10Percent5Minutes",
        wait_minutes=60.0,
        green_weight=10.0,
        cd_status="Ready",
        events={"Install": "Succeeded", "AllowTraffic": "InProgress"},
        ready_at=NOW.isoformat(),
    )
    loaded = type(record()).model_validate(old)
    assert loaded.phase is Phase.GATED and loaded.began and loaded.traffic == 10.0
    assert loaded.strategy == "CodeDeployDefault.ECSCanary10Percent5Minutes" and loaded.gate_minutes == 60.0
    assert loaded.steps == {"Install": StepStatus.SUCCEEDED} and loaded.gate_opened_at == NOW


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
    for state, phase in ((State.STARTING, Phase.WAITING), (State.IN_PROGRESS, Phase.SHIFTING)):
        text = explain_state(record(state=state, phase=phase, approver="U0BOB"))
        assert "already approved by <@U0BOB>" in text, text
