"""The moments CodeDeploy's own schedule names, read from the sandbox's CodeDeploy: the next step of a
linear or a custom canary configuration, the end of the termination wait, the Ready wait's timeout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.fleet import seed_fleet
from bot.aws.accounts import Accounts
from bot.aws.codedeploy.engine import CodeDeployEngine
from bot.aws.codedeploy.reading import ProgressReader
from bot.aws.codedeploy.schedule import moments, predefined, traffic_steps
from bot.domain.progress import Phase, Progress, Step, StepStatus
from bot.runtime.config import load_catalog
from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.server import LocalAws
from sandbox.runner import CATALOG

from .test_progress_reads import deploy


@pytest.fixture
def reader(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> ProgressReader:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    return CodeDeployEngine(Accounts("us-east-1", aws.endpoint), load_catalog(CATALOG)).place(None).reader


def test_the_predefined_configurations_are_known_by_name() -> None:
    assert traffic_steps(predefined("CodeDeployDefault.ECSCanary10Percent5Minutes") or {}) == [(0, 10), (300, 100)]
    linear = traffic_steps(predefined("CodeDeployDefault.ECSLinear10PercentEvery3Minutes") or {})
    assert linear[:2] == [(0, 10), (180, 20)] and linear[-1] == (1620, 100)
    assert predefined("CodeDeployDefault.ECSAllAtOnce") == {"type": "AllAtOnce"}
    assert predefined("MyTeamsCanary") is None  # a custom one is read with GetDeploymentConfig


async def until(reader: ProgressReader, dep: str, phase: Phase, step: float = 1.0) -> Progress:
    for _ in range(2000):
        reading = (await reader.read([dep]))[dep]
        if reading.phase is phase:
            return reading
        CONTROL.clock.advance(step)
    raise AssertionError(f"{dep} never reached {phase}")


async def test_each_phase_names_when_codedeploy_changes_it_next(aws: LocalAws, reader: ProgressReader) -> None:
    cd: Any = aws.client("codedeploy")
    cd.create_deployment_config(
        deploymentConfigName="Canary20Percent2Minutes",
        computePlatform="ECS",
        trafficRoutingConfig={
            "type": "TimeBasedCanary",
            "timeBasedCanary": {"canaryPercentage": 20, "canaryInterval": 2},
        },
    )
    configs = ["CodeDeployDefault.ECSLinear10PercentEvery1Minutes", "Canary20Percent2Minutes"]
    linear, canary, gated = seed_fleet(
        aws.client, 3, [7], [*configs, "CodeDeployDefault.ECSAllAtOnce"], [None, None, 45]
    )
    deps = {svc: deploy(cd, svc) for svc in (linear, canary, gated)}

    shifting = await until(reader, deps[linear], Phase.SHIFTING)
    began = next(s.start for s in shifting.steps if s.name == "AllowTraffic")
    assert began is not None and shifting.traffic == 10.0
    assert shifting.next_change_at == began + timedelta(minutes=1)  # the next 10 % step
    first = await until(reader, deps[canary], Phase.SHIFTING)
    began = next(s.start for s in first.steps if s.name == "AllowTraffic")
    assert began is not None and first.next_change_at == began + timedelta(minutes=2)  # from GetDeploymentConfig

    ready = await until(reader, deps[gated], Phase.GATED)
    tested = next(s.end for s in ready.steps if s.name == "AfterAllowTestTraffic")
    assert tested is not None and ready.gate is not None
    assert ready.next_change_at == ready.gate.expires_at == tested + timedelta(minutes=45)

    baking = await until(reader, deps[canary], Phase.BAKING, step=5.0)
    shifted = next(s.end for s in baking.steps if s.name == "AfterAllowTraffic")
    assert shifted is not None and baking.bake_ends_at == baking.next_change_at == shifted + timedelta(minutes=7)


def test_near_the_end_the_moment_named_is_the_one_just_passed() -> None:
    """All traffic moved, or the last hook (AfterAllowTraffic) running: the moment named is when that
    began, already passed, which is how the watcher knows to read the deployment closely until it ends."""
    began = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    allow = Step(name="AllowTraffic", status=StepStatus.RUNNING, start=began)
    canary = predefined("CodeDeployDefault.ECSCanary10Percent5Minutes")
    shifted = Progress(deployment_id="d-1", phase=Phase.SHIFTING, steps=[allow], traffic=100.0)
    assert moments({}, shifted, canary).next_change == began + timedelta(minutes=5)
    at_once = Progress(deployment_id="d-1", phase=Phase.SHIFTING, steps=[allow], traffic=100.0)
    assert moments({}, at_once, {"type": "AllAtOnce"}).next_change == began
    hook = Step(name="AfterAllowTraffic", status=StepStatus.RUNNING, start=began + timedelta(minutes=6))
    baking = Progress(deployment_id="d-1", phase=Phase.BAKING, steps=[allow, hook], traffic=100.0)
    when = moments({}, baking, canary)
    assert when.next_change == began + timedelta(minutes=6) and when.bake_ends is None
