"""ECS's own blue/green, linear and canary deployments on the simulated clock.

A deployment walks ECS's lifecycle stages in order. Each step does its work (the new tasks scale up, test
traffic moves, production traffic moves as the strategy says, the bake time passes, the old tasks go), then
runs the hooks configured for it: a Lambda hook answers after a few seconds (a broken image's smoke test
fails), a pause hook waits for ContinueServiceDeployment until its timeout and then takes its timeout action.
``advance`` replays every transition due by ``now`` at the moment it was due.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from .state import STEPS, Hook, HookRun, ServiceDeploymentRun
from .transitions import START_DELAY, Effects, begin, roll_back, rollback_step, succeed

WORK_SECONDS = {"RECONCILE_SERVICE": 2.0, "SCALE_UP": 20.0, "TEST_TRAFFIC_SHIFT": 3.0, "CLEAN_UP": 3.0}
SHIFT_SETTLE = 3.0  # after the last production weight change, before the stage's hooks
LAMBDA_SECONDS = 5.0  # a Lambda hook's answer
DEFAULT_STEP = (10.0, 6.0)  # LINEAR: stepPercent, stepBakeTimeInMinutes
DEFAULT_CANARY = (5.0, 10.0)  # CANARY: canaryPercent, canaryBakeTimeInMinutes


def advance(run: ServiceDeploymentRun, now: datetime, fx: Effects) -> None:
    while run.active and _step(run, now, fx):
        pass
    if run.active and not run.rolling_back and run.part == "work" and STEPS[run.step] == "PRODUCTION_TRAFFIC_SHIFT":
        began = run.step_started or now
        into = (now - began).total_seconds()
        weight = weight_at(run, into)
        if weight != run.production_weight:  # a step taken: the deployment was updated when it was due
            run.production_weight = weight
            run.updated_at = began + timedelta(seconds=max(at for at, _ in shift_schedule(run) if into >= at))


def reported(step: str) -> str:
    return "PRODUCTION_TRAFFIC_SHIFT" if step == "PRE_PRODUCTION_TRAFFIC_SHIFT" else step


def shift_schedule(run: ServiceDeploymentRun) -> list[tuple[float, float]]:
    """(seconds into PRODUCTION_TRAFFIC_SHIFT, production weight) for the run's strategy."""
    if run.strategy == "LINEAR":
        linear = run.config.get("linearConfiguration") or {}
        percent = float(linear.get("stepPercent", DEFAULT_STEP[0]))
        bake = float(linear.get("stepBakeTimeInMinutes", DEFAULT_STEP[1])) * 60
        steps = math.ceil(100 / percent)
        return [(i * bake, min(100.0, percent * (i + 1))) for i in range(steps)]
    if run.strategy == "CANARY":
        canary = run.config.get("canaryConfiguration") or {}
        percent = float(canary.get("canaryPercent", DEFAULT_CANARY[0]))
        bake = float(canary.get("canaryBakeTimeInMinutes", DEFAULT_CANARY[1])) * 60
        return [(0.0, percent), (bake, 100.0)]
    return [(0.0, 100.0)]


def weight_at(run: ServiceDeploymentRun, seconds: float) -> float:
    weight = 0.0
    for at, value in shift_schedule(run):
        if seconds >= at:
            weight = value
    return weight


def work_seconds(run: ServiceDeploymentRun, step: str) -> float:
    if step == "PRODUCTION_TRAFFIC_SHIFT":
        return shift_schedule(run)[-1][0] + SHIFT_SETTLE
    if step == "BAKE_TIME":
        return float(run.config.get("bakeTimeInMinutes") or 0) * 60
    return WORK_SECONDS.get(step, 0.0) + (run.slow_start if step == "SCALE_UP" else 0.0)


def _step(run: ServiceDeploymentRun, now: datetime, fx: Effects) -> bool:
    if run.status == "PENDING":
        if now < run.created + timedelta(seconds=START_DELAY):
            return False
        _enter(run, 0, begin(run, fx))
        return True
    if run.rolling_back:
        return rollback_step(run, now, fx)
    if run.part == "hooks":
        return _hooks(run, now, fx)
    step = STEPS[run.step]
    done = (run.step_started or now) + timedelta(seconds=work_seconds(run, step))
    if now < done:
        return False
    _worked(run, step, done, fx)
    return True


def _enter(run: ServiceDeploymentRun, index: int, at: datetime) -> None:
    run.step, run.step_started, run.part = index, at, "work"
    run.stage, run.updated_at = reported(STEPS[index]), at


def _worked(run: ServiceDeploymentRun, step: str, at: datetime, fx: Effects) -> None:
    """A step's own work is done: its effect, then its hooks (or the next step)."""
    failure = run.failure
    if step == "SCALE_UP":
        if failure is not None and not _lambda_at(run, failure.stage):
            fx.tasks_failed(run, run.desired)  # no smoke test catches it: the new tasks never get healthy
            roll_back(run, at, f"Service deployment rolled back: the new tasks failed to start ({failure.reason}).", fx)
            return
        run.running = run.desired
    elif step == "TEST_TRAFFIC_SHIFT":
        run.test_weight = 100.0
    elif step == "PRODUCTION_TRAFFIC_SHIFT":
        run.production_weight = 100.0
    elif step == "CLEAN_UP":
        succeed(run, at, fx)
        return
    hooks = [h for h in _configured(run) if step in h.stages]
    if not hooks:
        _next(run, at)
        return
    run.part, run.updated_at = "hooks", at
    run.hooks = [
        HookRun(hook, step, at, status="AWAITING_ACTION" if hook.target_type == "PAUSE" else "IN_PROGRESS")
        for hook in hooks
    ]
    for hook in run.hooks:
        if hook.status == "AWAITING_ACTION":
            fx.hook_event(run, hook.id, "HOOK_AWAITING_ACTION", at)


def _first_status(hook: Hook) -> str:
    return "AWAITING_ACTION" if hook.target_type == "PAUSE" else "IN_PROGRESS"


def _next(run: ServiceDeploymentRun, at: datetime) -> None:
    if run.step + 1 < len(STEPS):
        _enter(run, run.step + 1, at)


def _hooks(run: ServiceDeploymentRun, now: datetime, fx: Effects) -> bool:
    changed = False
    current = [h for h in run.hooks if h.stage == STEPS[run.step]]
    for hook in current:
        if hook.status == "IN_PROGRESS":
            at = hook.started + timedelta(seconds=LAMBDA_SECONDS)
            if now < at:
                continue
            failure = run.failure
            if failure is not None and failure.stage == hook.stage:
                hook.status, hook.finished = "FAILED", at
                reason = f"The lifecycle hook {hook.hook.target_arn} failed at {hook.stage}: {failure.reason}."
                roll_back(run, at, reason, fx)
                return True
            hook.status, hook.finished, changed = "SUCCEEDED", at, True
        elif hook.status == "AWAITING_ACTION" and now >= hook.expires_at:
            hook.status, hook.finished, changed = "TIMED_OUT", hook.expires_at, True
            fx.hook_event(run, hook.id, "HOOK_TIMED_OUT", hook.expires_at)
            if hook.hook.timeout_action == "ROLLBACK":
                roll_back(run, hook.expires_at, f"The pause hook at {hook.stage} timed out.", fx)
                return True
    if all(h.status in ("SUCCEEDED", "TIMED_OUT") for h in current):
        _next(run, max(h.finished or now for h in current))
        return True
    return changed


def answer(run: ServiceDeploymentRun, hook_id: str, action: str, at: datetime, fx: Effects) -> None:
    """ContinueServiceDeployment: a waiting pause hook goes on (CONTINUE) or rolls the deployment back."""
    hook = next((h for h in run.hooks if h.id == hook_id), None)
    if hook is None or hook.status != "AWAITING_ACTION":
        raise ValueError(f"The lifecycle hook {hook_id} is not awaiting action.")
    if action == "ROLLBACK":
        hook.status, hook.finished = "SUCCEEDED", at
        roll_back(run, at, f"Service deployment rolled back by ContinueServiceDeployment at {hook.stage}.", fx)
        return
    hook.status, hook.finished = "SUCCEEDED", at
    fx.hook_event(run, hook.id, "HOOK_SUCCEEDED", at)


def _configured(run: ServiceDeploymentRun) -> list[Hook]:
    return [Hook.from_api(h) for h in run.config.get("lifecycleHooks") or []]


def _lambda_at(run: ServiceDeploymentRun, stage: str) -> bool:
    return any(h.target_type == "AWS_LAMBDA" and stage in h.stages for h in _configured(run))
