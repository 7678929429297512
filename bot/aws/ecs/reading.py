"""What an ECS service deployment (DescribeServiceDeployments) means in deploybot's words.

Native strategies (BLUE_GREEN, LINEAR, CANARY) walk ECS's lifecycle stages; each stage passed is a step,
a pause hook awaiting action is a gate, production and test traffic weights come from the target revision,
and the bake time's end from when the BAKE_TIME stage began. A rolling update has no stages: the share of
the new revision's tasks running is its traffic. A rollback after a failed hook, a tripped circuit breaker
or an alarm is a failure; one a person asked for (StopServiceDeployment, or a pause answered ROLLBACK) is
a stop.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from ...domain.progress import Gate, OnTimeout, Phase, Progress, Result, Step, StepStatus

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
BEFORE_PRODUCTION = ("TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
ACTIVE = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
ROLLING_BACK = ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
DONE = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
ASKED = ("StopServiceDeployment", "ContinueServiceDeployment")  # in a rollback's reason: a person asked


def _phase_of_stage(stage: str | None) -> Phase:
    if stage in ("PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"):
        return Phase.SHIFTING
    if stage in ("BAKE_TIME", "CLEAN_UP"):
        return Phase.BAKING
    return Phase.PROVISIONING


def _gate(info: dict[str, Any]) -> Gate | None:
    """The pause hook awaiting action, as the gate a person opens."""
    hook = next((h for h in info.get("lifecycleHookDetails") or [] if h.get("status") == "AWAITING_ACTION"), None)
    if hook is None:
        return None
    stage = str(info.get("lifecycleStage") or "")
    weight = float((info.get("targetServiceRevision") or {}).get("requestedProductionTrafficWeight") or 0.0)
    if stage in BEFORE_PRODUCTION and weight < 100:
        opens = Phase.SHIFTING  # production traffic moves once it is opened
    else:  # what comes after the stage it waits at
        opens = Phase.PROVISIONING if _phase_of_stage(stage) is Phase.PROVISIONING else Phase.BAKING
    timeout = OnTimeout.GO_ON if hook.get("timeoutAction") == "CONTINUE" else OnTimeout.ROLL_BACK
    return Gate(id=str(hook["hookId"]), opens=opens, stage=stage, expires_at=hook.get("expiresAt"), on_timeout=timeout)


def _steps(info: dict[str, Any], failed: bool, reason: str | None) -> list[Step]:
    """Every stage passed (succeeded), the one under way, and the one a failure stopped at."""
    stage = info.get("lifecycleStage")
    if stage not in STAGES:
        return []
    index = STAGES.index(stage)
    done = info.get("status") == "SUCCESSFUL"
    steps = [Step(name=s, status=StepStatus.SUCCEEDED) for s in STAGES[:index]]
    if failed:
        steps.append(Step(name=str(stage), status=StepStatus.FAILED, message=reason))
    else:
        steps.append(Step(name=str(stage), status=StepStatus.SUCCEEDED if done else StepStatus.RUNNING))
    return steps


def _failure(info: dict[str, Any]) -> tuple[str | None, str | None]:
    """(code, reason) of why a deployment rolled back or stopped."""
    reason = (info.get("rollback") or {}).get("reason") or info.get("statusReason")
    breaker = info.get("deploymentCircuitBreaker") or {}
    alarms = info.get("alarms") or {}
    hooks = info.get("lifecycleHookDetails") or []
    if breaker.get("status") == "TRIGGERED":
        count = f"{breaker.get('failureCount', 0)} tasks failed; the threshold is {breaker.get('threshold', 0)}"
        return "CIRCUIT_BREAKER", f"{reason or 'The circuit breaker tripped.'} ({count})"
    if alarms.get("status") == "TRIGGERED":
        names = ", ".join(alarms.get("triggeredAlarmNames") or []) or "an alarm"
        return "ALARM", f"{reason or 'An alarm went off.'} (alarms: {names})"
    if any(h.get("status") == "FAILED" and h.get("targetType") == "AWS_LAMBDA" for h in hooks):
        return "HOOK_FAILED", reason
    if any(h.get("status") == "TIMED_OUT" for h in hooks):
        return "HOOK_TIMED_OUT", reason
    return None, reason


def _verdict(info: dict[str, Any]) -> tuple[Result, str | None, str | None]:
    """A failure when the new version failed (a hook, the circuit breaker, an alarm); a stop when a person
    asked for it, nobody opened a pause in time, or a newer deployment replaced it."""
    code, reason = _failure(info)
    if code in ("CIRCUIT_BREAKER", "ALARM", "HOOK_FAILED"):
        return Result.FAILED, code, reason
    asked = reason is not None and any(word in reason for word in ASKED)
    if code == "HOOK_TIMED_OUT" or info.get("status") == "STOPPED" or asked:
        return Result.STOPPED, code or "STOPPED", reason
    return Result.FAILED, code or "FAILED", reason


def _weights(info: dict[str, Any]) -> tuple[float | None, float | None]:
    target = info.get("targetServiceRevision") or {}
    production, test = target.get("requestedProductionTrafficWeight"), target.get("requestedTestTrafficWeight")
    return (None if production is None else float(production)), (None if test is None else float(test))


def _bake_end(info: dict[str, Any]) -> datetime | None:
    """When the bake time ends: its length after the stage began (the deployment's last update then)."""
    minutes = (info.get("deploymentConfiguration") or {}).get("bakeTimeInMinutes")
    began = info.get("updatedAt")
    if info.get("lifecycleStage") != "BAKE_TIME" or minutes is None or not isinstance(began, datetime):
        return None
    return began + timedelta(minutes=float(minutes))


def _shift_steps(config: dict[str, Any]) -> list[tuple[float, float]]:
    """(seconds into PRODUCTION_TRAFFIC_SHIFT, production weight from then) of a strategy, as documented."""
    strategy = config.get("strategy")
    if strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        percent, every = float(linear.get("stepPercent") or 10), float(linear.get("stepBakeTimeInMinutes") or 6) * 60
        return [(k * every, min(100.0, percent * (k + 1))) for k in range(math.ceil(100 / percent))]
    if strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        percent, wait = float(canary.get("canaryPercent") or 5), float(canary.get("canaryBakeTimeInMinutes") or 10)
        return [(0.0, percent), (wait * 60, 100.0)]
    return [(0.0, 100.0)]


def _next_change(info: dict[str, Any], production: float | None) -> datetime | None:
    """When ECS's own schedule next changes a native deployment: its next production traffic step. Once the
    last step is taken, and in the stages after it but the bake, the moment that began: passed, it tells the
    watcher the end is near (clean-up, then success), so the deployment is read closely for a while."""
    stage, updated = info.get("lifecycleStage"), info.get("updatedAt")
    if info.get("status") != "IN_PROGRESS" or not isinstance(updated, datetime):
        return None
    if stage in ("POST_PRODUCTION_TRAFFIC_SHIFT", "CLEAN_UP"):
        return updated
    if stage != "PRODUCTION_TRAFFIC_SHIFT":
        return None
    steps = _shift_steps(info.get("deploymentConfiguration") or {})
    ahead = [at for at, weight in steps if weight > (production or 0.0) + 1e-6]
    if not ahead:
        return updated
    # The deployment was last updated when the stage began or, since, when its last step was taken.
    taken = [at for at, weight in steps if weight <= (production or 0.0) + 1e-6]
    return updated + timedelta(seconds=ahead[0] - (taken[-1] if taken else 0.0))


def native(info: dict[str, Any], stopped_tasks: list[str]) -> Progress:
    """A reading of a blue/green, linear or canary service deployment."""
    status = str(info.get("status"))
    production, test = _weights(info)
    common: dict[str, Any] = {
        "deployment_id": str(info["serviceDeploymentArn"]),
        "scope": str(info.get("serviceArn") or ""),
        "began": status != "PENDING",
        "stage": info.get("lifecycleStage"),
        "started_at": info.get("startedAt"),
        "stopped_tasks": stopped_tasks,
    }
    if status in ("PENDING", "IN_PROGRESS", "STOP_REQUESTED"):
        gate = _gate(info)
        phase = Phase.WAITING if status == "PENDING" else Phase.GATED if gate else _phase_of_stage(common["stage"])
        return Progress(
            **common,
            phase=phase,
            steps=_steps(info, False, None),
            traffic=production,
            test_traffic=test,
            gate=gate,
            bake_ends_at=_bake_end(info),
            next_change_at=None if gate else _next_change(info, production),
        )
    if status == "SUCCESSFUL":
        steps = _steps(info, False, None)
        return Progress(
            **common,
            phase=Phase.DONE,
            steps=steps,
            traffic=production,
            result=Result.SUCCEEDED,
            finished_at=info.get("finishedAt"),
        )
    return _ending(info, common, production)


def _ending(info: dict[str, Any], common: dict[str, Any], production: float | None) -> Progress:
    status = str(info.get("status"))
    result, code, reason = _verdict(info)
    steps = _steps(info, result is Result.FAILED, reason)
    rolling_back = status in ROLLING_BACK
    return Progress(
        **common,
        phase=Phase.ROLLING_BACK if rolling_back else Phase.DONE,
        steps=steps,
        traffic=production,
        result=result,
        error_code=code,
        error_message=reason,
        rolled_back=status in ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"),
        rollback_error=(info.get("statusReason") or "no reason given") if status == "ROLLBACK_FAILED" else None,
        finished_at=info.get("finishedAt"),
    )


def rolling(info: dict[str, Any], stopped_tasks: list[str]) -> Progress:
    """A reading of a rolling update: the share of the new revision's tasks running is its traffic."""
    status = str(info.get("status"))
    target = info.get("targetServiceRevision") or {}
    wanted = int(target.get("requestedTaskCount") or 0)
    share = 100.0 * int(target.get("runningTaskCount") or 0) / wanted if wanted else 0.0
    common: dict[str, Any] = {
        "deployment_id": str(info["serviceDeploymentArn"]),
        "scope": str(info.get("serviceArn") or ""),
        "began": status != "PENDING",
        "started_at": info.get("startedAt"),
        "stopped_tasks": stopped_tasks,
    }
    if status in ("PENDING", "IN_PROGRESS", "STOP_REQUESTED"):
        phase = Phase.WAITING if status == "PENDING" else Phase.SHIFTING if share else Phase.PROVISIONING
        # Every new task running: the old ones are drained next, and then it ends; read it closely meanwhile.
        near = info.get("updatedAt") if status == "IN_PROGRESS" and share >= 100 else None
        return Progress(**common, phase=phase, traffic=share, next_change_at=near)
    if status == "SUCCESSFUL":
        return Progress(
            **common, phase=Phase.DONE, traffic=100.0, result=Result.SUCCEEDED, finished_at=info.get("finishedAt")
        )
    return _ending(info, common, share)
