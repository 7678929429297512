"""What a CodeDeploy reading means in deploybot's words: the phase from the deployment's status and its
ECS target, the Ready gate, the termination wait that can be ended early, and the rollback CodeDeploy
runs as a deployment of its own."""

from __future__ import annotations

from typing import Any

import pytest

from bot.aws.codedeploy.reading import progress, rollback_progress
from bot.domain.progress import Phase, Result, StepStatus


def info(status: str, **kw: Any) -> dict[str, Any]:
    return {"deploymentId": "d-1", "status": status, **kw}


def target(status: str = "InProgress", running: str | None = None, green: float = 0.0) -> dict[str, Any]:
    events = [{"lifecycleEventName": running, "status": "InProgress"}] if running else []
    sets = [{"taskSetLabel": "Blue", "trafficWeight": 100 - green}, {"taskSetLabel": "Green", "trafficWeight": green}]
    return {"status": status, "lifecycleEvents": events, "taskSetsInfo": sets}


@pytest.mark.parametrize(
    ("reading", "seen", "phase"),
    [
        (info("Created"), None, Phase.WAITING),
        (info("Queued"), None, Phase.WAITING),
        (info("InProgress"), target(running="Install"), Phase.PROVISIONING),
        (info("Ready"), target("Ready"), Phase.GATED),
        (info("InProgress"), target(running="AllowTraffic", green=10), Phase.SHIFTING),
        (info("InProgress"), target("Succeeded", green=100), Phase.BAKING),
        (info("Baking"), target(running="Install"), Phase.PROVISIONING),
        (info("Succeeded"), target("Succeeded", green=100), Phase.DONE),
    ],
)
def test_phases(reading: dict[str, Any], seen: dict[str, Any] | None, phase: Phase) -> None:
    assert progress(reading, seen, []).phase is phase


def test_the_ready_gate_and_the_termination_wait() -> None:
    ready = progress(info("Ready"), target("Ready"), [])
    assert ready.gate is not None and ready.gate.id == "READY_WAIT" and ready.gate.opens is Phase.SHIFTING
    assert not ready.can_finish_early
    baking = progress(info("InProgress"), target("Succeeded", green=100), [])
    assert baking.gate is None and baking.can_finish_early and baking.traffic == 100.0


def test_steps_traffic_and_their_absence() -> None:
    read = progress(info("InProgress"), target(running="AllowTraffic", green=10), [])
    assert [(s.name, s.status) for s in read.steps] == [("AllowTraffic", StepStatus.RUNNING)]
    assert read.traffic == 10.0 and read.began
    unread = progress(info("InProgress"), None, [])  # the target was not read this time
    assert unread.traffic is None and unread.steps == []
    assert not progress(info("Created"), None, []).began


def test_endings() -> None:
    succeeded = progress(info("Succeeded"), None, [])
    assert succeeded.phase is Phase.DONE and succeeded.result is Result.SUCCEEDED
    failed = progress(info("Failed", errorInformation={"code": "HEALTH_CONSTRAINTS", "message": "x"}), None, ["t"])
    assert failed.phase is Phase.DONE and failed.result is Result.FAILED and failed.stopped_tasks == ["t"]
    for code in ("MANUAL_STOP", "ALARM_ACTIVE", "TIMEOUT"):
        assert progress(info("Failed", errorInformation={"code": code}), None, []).result is Result.STOPPED
    rolling = progress(info("Stopped", rollbackInfo={"rollbackDeploymentId": "d-2"}), None, [])
    assert rolling.phase is Phase.ROLLING_BACK and rolling.rollback_id == "d-2" and rolling.result is Result.STOPPED


def test_the_rollback_deployment() -> None:
    assert rollback_progress(info("InProgress")).phase is Phase.ROLLING_BACK
    assert rollback_progress(info("Succeeded")).rollback_error is None
    failed = rollback_progress(info("Failed", errorInformation={"message": "no capacity"}))
    assert failed.phase is Phase.DONE and failed.rollback_error == "Failed: no capacity"
