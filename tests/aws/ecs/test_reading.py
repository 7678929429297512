"""What a service deployment means in deploybot's words (bot.aws.ecs.reading), and the plan read off a
deployment configuration (plan_of): pure functions on DescribeServiceDeployments shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.aws.ecs.engine import plan_of
from bot.aws.ecs.reading import native, rolling
from bot.domain.progress import OnTimeout, Phase, Result, StepStatus

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:ecs:us-east-1:123456789012:service-deployment/apps/shop/AbC"


def deployment(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "serviceDeploymentArn": ARN,
        "status": "IN_PROGRESS",
        "lifecycleStage": "SCALE_UP",
        "startedAt": AT,
        "updatedAt": AT,
        "deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5},
        "targetServiceRevision": {"requestedProductionTrafficWeight": 0.0, "requestedTestTrafficWeight": 0.0},
    }
    return base | over


def test_stages_passed_are_steps_and_the_current_one_runs() -> None:
    progress = native(deployment(lifecycleStage="TEST_TRAFFIC_SHIFT"), [])
    assert progress.phase is Phase.PROVISIONING and progress.stage == "TEST_TRAFFIC_SHIFT"
    assert [s.name for s in progress.steps][:2] == ["RECONCILE_SERVICE", "PRE_SCALE_UP"]
    assert progress.steps[-1].name == "TEST_TRAFFIC_SHIFT" and progress.steps[-1].status is StepStatus.RUNNING
    assert progress.result is None


def test_a_pause_awaiting_action_is_a_gate_that_shifts_production_traffic() -> None:
    hook = {"hookId": "h1", "targetType": "PAUSE", "status": "AWAITING_ACTION", "timeoutAction": "ROLLBACK"}
    info = deployment(
        lifecycleStage="PRODUCTION_TRAFFIC_SHIFT",
        lifecycleHookDetails=[{**hook, "expiresAt": AT + timedelta(hours=1)}],
        targetServiceRevision={"requestedProductionTrafficWeight": 0.0, "requestedTestTrafficWeight": 100.0},
    )
    progress = native(info, [])
    assert progress.phase is Phase.GATED and progress.gate is not None
    assert (progress.gate.id, progress.gate.opens, progress.gate.on_timeout) == (
        "h1",
        Phase.SHIFTING,
        OnTimeout.ROLL_BACK,
    )
    assert progress.gate.expires_at == AT + timedelta(hours=1)
    assert (progress.traffic, progress.test_traffic) == (0.0, 100.0)


def test_a_pause_after_production_traffic_just_continues() -> None:
    hook = {"hookId": "h2", "targetType": "PAUSE", "status": "AWAITING_ACTION", "timeoutAction": "CONTINUE"}
    info = deployment(
        lifecycleStage="POST_PRODUCTION_TRAFFIC_SHIFT",
        lifecycleHookDetails=[hook],
        targetServiceRevision={"requestedProductionTrafficWeight": 100.0},
    )
    gate = native(info, []).gate
    assert gate is not None and gate.opens is Phase.BAKING and gate.on_timeout is OnTimeout.GO_ON
    assert gate.stage == "POST_PRODUCTION_TRAFFIC_SHIFT"  # the button says Continue, not Shift traffic


def test_the_bake_ends_its_length_after_it_began() -> None:
    progress = native(deployment(lifecycleStage="BAKE_TIME", updatedAt=AT), [])
    assert progress.phase is Phase.BAKING and progress.bake_ends_at == AT + timedelta(minutes=5)


LINEAR = {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}}
CANARY = {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3}}


@pytest.mark.parametrize(
    ("config", "weight", "after"),
    [
        (LINEAR, 25.0, timedelta(minutes=2)),  # the first step at the stage's start, the next two minutes on
        (LINEAR, 75.0, timedelta(minutes=2)),  # last updated when the third step was taken
        (CANARY, 10.0, timedelta(minutes=3)),  # the canary's wait, then the rest
        (CANARY, 0.0, timedelta(0)),  # the canary's own step is due as the stage begins
    ],
)
def test_the_next_production_traffic_step_is_a_moment_ecs_names(
    config: dict[str, Any], weight: float, after: timedelta
) -> None:
    info = deployment(
        lifecycleStage="PRODUCTION_TRAFFIC_SHIFT",
        updatedAt=AT,
        deploymentConfiguration=config,
        targetServiceRevision={"requestedProductionTrafficWeight": weight},
    )
    assert native(info, []).next_change_at == AT + after


@pytest.mark.parametrize(
    ("stage", "weight"),
    [("PRODUCTION_TRAFFIC_SHIFT", 100.0), ("POST_PRODUCTION_TRAFFIC_SHIFT", 100.0), ("CLEAN_UP", 100.0)],
)
def test_near_the_end_the_moment_is_when_the_last_stage_began(stage: str, weight: float) -> None:
    """All traffic moved (blue/green's one step, the last of a linear), or cleaning up: the moment named has
    passed, which is how the watcher knows to read it closely until it ends."""
    info = deployment(
        lifecycleStage=stage,
        updatedAt=AT,
        deploymentConfiguration=LINEAR if stage == "PRODUCTION_TRAFFIC_SHIFT" else {"strategy": "BLUE_GREEN"},
        targetServiceRevision={"requestedProductionTrafficWeight": weight},
    )
    assert native(info, []).next_change_at == AT


def test_no_moment_while_scaling_up_waiting_at_a_gate_or_once_ended() -> None:
    assert native(deployment(lifecycleStage="SCALE_UP"), []).next_change_at is None
    hook = {"hookId": "h1", "targetType": "PAUSE", "status": "AWAITING_ACTION", "timeoutAction": "ROLLBACK"}
    gated = deployment(lifecycleStage="CLEAN_UP", lifecycleHookDetails=[hook])
    assert native(gated, []).next_change_at is None  # the gate's own expiry is its moment
    assert native(deployment(lifecycleStage="CLEAN_UP", status="SUCCESSFUL"), []).next_change_at is None


def test_a_rolling_update_with_every_new_task_running_is_near_its_end() -> None:
    config = {"strategy": "ROLLING"}
    half = {"requestedTaskCount": 2, "runningTaskCount": 1}
    assert rolling(deployment(deploymentConfiguration=config, targetServiceRevision=half), []).next_change_at is None
    full = {"requestedTaskCount": 2, "runningTaskCount": 2}
    info = deployment(deploymentConfiguration=config, targetServiceRevision=full, updatedAt=AT)
    assert rolling(info, []).next_change_at == AT


@pytest.mark.parametrize(
    ("extra", "result", "code"),
    [
        (
            {"lifecycleHookDetails": [{"hookId": "x", "targetType": "AWS_LAMBDA", "status": "FAILED"}]},
            Result.FAILED,
            "HOOK_FAILED",
        ),
        ({"alarms": {"status": "TRIGGERED", "triggeredAlarmNames": ["shop-5xx"]}}, Result.FAILED, "ALARM"),
        (
            {"rollback": {"reason": "Service deployment rolled back because of a StopServiceDeployment request."}},
            Result.STOPPED,
            "STOPPED",
        ),
        (
            {"lifecycleHookDetails": [{"hookId": "p", "targetType": "PAUSE", "status": "TIMED_OUT"}]},
            Result.STOPPED,
            "HOOK_TIMED_OUT",
        ),
    ],
)
def test_a_rollback_is_a_failure_only_when_the_new_version_failed(
    extra: dict[str, Any], result: Result, code: str
) -> None:
    progress = native(deployment(status="ROLLBACK_SUCCESSFUL", lifecycleStage="POST_TEST_TRAFFIC_SHIFT", **extra), [])
    assert (progress.result, progress.error_code, progress.rolled_back) == (result, code, True)
    assert progress.phase is Phase.DONE
    if code == "ALARM":
        assert "shop-5xx" in (progress.error_message or "")


def test_a_failed_rollback_says_so() -> None:
    info = deployment(
        status="ROLLBACK_FAILED", statusReason="the old tasks did not start", alarms={"status": "TRIGGERED"}
    )
    progress = native(info, [])
    assert progress.result is Result.FAILED and progress.rollback_error == "the old tasks did not start"


def test_a_rolling_update_shows_the_share_of_new_tasks_and_its_breaker() -> None:
    info = deployment(
        deploymentConfiguration={"strategy": "ROLLING"},
        targetServiceRevision={"requestedTaskCount": 4, "runningTaskCount": 1},
    )
    assert rolling(info, []).traffic == 25.0 and rolling(info, []).phase is Phase.SHIFTING
    tripped = deployment(
        status="ROLLBACK_SUCCESSFUL",
        statusReason="ECS deployment circuit breaker: tasks failed to start.",
        deploymentCircuitBreaker={"status": "TRIGGERED", "failureCount": 4, "threshold": 3},
        targetServiceRevision={"requestedTaskCount": 4, "runningTaskCount": 0},
    )
    done = rolling(tripped, ["4 tasks: exit code 1"])
    assert done.result is Result.FAILED and done.error_code == "CIRCUIT_BREAKER"
    assert "4 tasks failed; the threshold is 3" in (done.error_message or "") and done.stopped_tasks


@pytest.mark.parametrize(
    ("config", "words", "bake", "gate"),
    [
        (
            {"strategy": "ROLLING", "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
            "rolling update, circuit breaker with rollback",
            None,
            None,
        ),
        (
            {
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 5,
                "lifecycleHooks": [{"targetType": "PAUSE", "timeoutConfiguration": {"timeoutInMinutes": 60}}],
            },
            "blue/green, bake 5 min, 1 pause hook",
            5.0,
            60.0,
        ),
        (
            {
                "strategy": "LINEAR",
                "linearConfiguration": {"stepPercent": 25, "stepBakeTimeInMinutes": 1},
                "bakeTimeInMinutes": 1,
            },
            "linear, 25% every 1 min, bake 1 min",
            4.0,
            None,
        ),
        (
            {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 5}},
            "canary, 10% for 5 min",
            5.0,
            None,
        ),
    ],
)
def test_the_plan_comes_from_the_service_configuration(
    config: dict[str, Any], words: str, bake: float | None, gate: float | None
) -> None:
    plan = plan_of(config)
    assert (plan.strategy, plan.gate_minutes, plan.engine) == (words, gate, "ecs")
    assert plan.blue_green is (config["strategy"] != "ROLLING")
    if bake is not None:
        assert plan.bake_minutes == bake  # the deadline counts the shifting waits too
