"""How many AWS calls following many CodeDeploy deployments costs, against the sandbox: every deployment
is read on every tick in batches of 25, its ECS target only within a small per-tick ration, except a
failure's diagnostics, which are always read at once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.fleet import appspec, first_revision, seed_fleet
from bot.aws.accounts import Accounts
from bot.aws.codedeploy.engine import CodeDeployEngine
from bot.aws.codedeploy.reading import TARGET_CALLS, ProgressReader, target_id
from bot.domain.progress import Phase, Result
from bot.runtime.config import load_catalog
from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.server import LocalAws
from sandbox.aws.simulation import HookFailure
from sandbox.runner import CATALOG

COUNT = 30
FAILING = ("fleet-0003", "fleet-0017", "fleet-0029")


def deploy(cd: Any, svc: str) -> str:
    """What `aws ecs deploy` would do, with the service's own task definition."""
    return str(
        cd.create_deployment(
            applicationName=f"AppECS-apps-{svc}",
            deploymentGroupName=f"DgpECS-apps-{svc}",
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec(first_revision(svc))}},
        )["deploymentId"]
    )


def start_fleet(aws: LocalAws) -> list[str]:
    cd = aws.client("codedeploy")
    return [deploy(cd, svc) for svc in seed_fleet(aws.client, COUNT, [60])]


@pytest.fixture
def reader(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> ProgressReader:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    return CodeDeployEngine(Accounts("us-east-1", aws.endpoint), load_catalog(CATALOG)).place(None).reader


def calls_since(mark: int) -> Counter[str]:
    return Counter(op for _, op in CONTROL.calls[mark:])


async def test_targets_are_rationed_and_every_deployment_is_still_refreshed(
    aws: LocalAws, reader: ProgressReader
) -> None:
    ids = start_fleet(aws)
    CONTROL.clock.advance(30)  # all of them are running their lifecycle events
    read: set[str] = set()
    for _ in range(12):
        mark = len(CONTROL.calls)
        readings = await reader.read(ids)
        calls = calls_since(mark)
        assert len(readings) == COUNT and all(p.began and p.phase is not Phase.DONE for p in readings.values())
        assert calls["BatchGetDeployments"] == 2  # 30 ids, 25 a call
        assert calls["GetDeploymentTarget"] + calls["ListDeploymentTargets"] <= TARGET_CALLS
        read |= {d for d, p in readings.items() if p.steps}
    # 12 ticks of 8 calls: every deployment had its target read, the first ones twice (no one starves).
    assert read == set(ids)
    assert sum(1 for p in readings.values() if p.steps) == COUNT  # a target once read is shown until read again


async def test_a_move_is_read_before_the_targets_never_read_and_names_its_next_moment(
    aws: LocalAws, reader: ProgressReader
) -> None:
    ids = start_fleet(aws)  # thirty found at once: reading all their targets takes eight reads
    CONTROL.clock.advance(30)
    first = await reader.read(ids)
    shown = {d for d, p in first.items() if p.steps}
    assert len(shown) == TARGET_CALLS // 2  # a first target read costs two calls (listing, then the target)
    CONTROL.clock.advance(30)  # every one past AfterAllowTraffic: its termination wait (an hour) has begun
    mark = len(CONTROL.calls)
    readings = await reader.read(ids)
    # Those shown moved (their target succeeded): read first, one call each, before any never read.
    for dep in shown:
        assert readings[dep].phase is Phase.BAKING and readings[dep].next_change_at is not None
    assert calls_since(mark)["GetDeploymentTarget"] == len(shown) + (TARGET_CALLS - len(shown)) // 2
    assert sum(1 for p in readings.values() if p.phase is Phase.BAKING) == len(shown) + 2


async def test_a_target_id_known_from_the_catalog_is_read_without_listing_and_a_wrong_one_is_listed(
    aws: LocalAws, reader: ProgressReader
) -> None:
    ids = start_fleet(aws)
    CONTROL.clock.advance(30)
    catalog = load_catalog(CATALOG)
    services = [f"fleet-{i:04d}" for i in range(COUNT)]
    hints = {d: f"apps:{svc}" for d, svc in zip(ids, services, strict=True)}  # <cluster>:<service>
    app = catalog.get("web1")
    assert app is not None and target_id(app) == f"{app.cluster}:{app.service}"
    arns = app.model_copy(update={"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/" + app.cluster})
    assert target_id(arns) == target_id(app)  # names, where the catalog gives an ARN
    hints[ids[0]] = "apps:renamed-in-codedeploy"  # not the target's id: listed, then read
    mark = len(CONTROL.calls)
    readings = await reader.read(ids, detail=TARGET_CALLS, targets=hints)
    calls = calls_since(mark)
    # The ration reads eight targets, one call each; the wrong hint costs two more, once (it failed, then
    # the listing), and its target's own id is kept for the next reads.
    assert calls["ListDeploymentTargets"] == 1 and calls["GetDeploymentTarget"] == TARGET_CALLS + 1
    assert sum(1 for p in readings.values() if p.steps) == TARGET_CALLS
    assert readings[ids[0]].steps
    mark = len(CONTROL.calls)
    await reader.read(ids[:1], detail=1, targets=hints)
    assert calls_since(mark) == Counter({"BatchGetDeployments": 1, "GetDeploymentTarget": 1})


async def test_a_failure_is_diagnosed_at_once_whatever_the_ration(aws: LocalAws, reader: ProgressReader) -> None:
    ids = start_fleet(aws)
    CONTROL.clock.advance(5)
    await reader.read(ids)
    failing = start_fleet_failures(aws)
    CONTROL.clock.advance(60)
    readings = await reader.read(ids + failing)
    for dep in failing:
        assert readings[dep].result is Result.FAILED
        assert any(s.message and "smoke test failed" in s.message for s in readings[dep].steps)


def start_fleet_failures(aws: LocalAws) -> list[str]:
    """Stops three services' deployments and starts new ones there, which fail at AfterInstall."""
    cd = aws.client("codedeploy")
    out = []
    for svc in FAILING:
        active = cd.list_deployments(
            applicationName=f"AppECS-apps-{svc}",
            deploymentGroupName=f"DgpECS-apps-{svc}",
            includeOnlyStatuses=["Created", "InProgress", "Ready"],
        )["deployments"]
        for dep in active:
            cd.stop_deployment(deploymentId=dep, autoRollbackEnabled=False)
        CONTROL.fail_next[svc] = HookFailure(event="AfterInstall", message=f"{svc} smoke test failed")
        out.append(deploy(cd, svc))
    return out
