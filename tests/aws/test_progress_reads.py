"""How many AWS calls following many deployments costs, against the sandbox's CodeDeploy: every deployment
is read on every tick in batches of 25, its ECS target only within a small per-tick ration, except a
failure's diagnostics, which are always read at once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.fleet import appspec, first_revision, seed_fleet
from bot.aws.gateway import AwsGateway
from bot.aws.progress import TARGET_CALLS
from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.server import LocalAws
from sandbox.aws.simulation import HookFailure

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
def gateway(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> AwsGateway:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    return AwsGateway("us-east-1", aws.endpoint)


def calls_since(mark: int) -> Counter[str]:
    return Counter(op for _, op in CONTROL.calls[mark:])


async def test_targets_are_rationed_and_every_deployment_is_still_refreshed(aws: LocalAws, gateway: AwsGateway) -> None:
    ids = start_fleet(aws)
    CONTROL.clock.advance(30)  # all of them are running their lifecycle events
    read: set[str] = set()
    for _ in range(12):
        mark = len(CONTROL.calls)
        snaps = await gateway.snapshots(ids)
        calls = calls_since(mark)
        assert len(snaps) == COUNT and all(s.status == "InProgress" for s in snaps)
        assert calls["BatchGetDeployments"] == 2  # 30 ids, 25 a call
        assert calls["GetDeploymentTarget"] + calls["ListDeploymentTargets"] <= TARGET_CALLS
        read |= {s.deployment_id for s in snaps if s.events}
    # 12 ticks of 8 calls: every deployment had its target read, the first ones twice (no one starves).
    assert read == set(ids)
    assert sum(1 for s in snaps if s.events) == COUNT  # a target once read is shown until read again


async def test_a_failure_is_diagnosed_at_once_whatever_the_ration(aws: LocalAws, gateway: AwsGateway) -> None:
    ids = start_fleet(aws)
    CONTROL.clock.advance(5)
    await gateway.snapshots(ids)
    failing = start_fleet_failures(aws)
    CONTROL.clock.advance(60)
    snaps = {s.deployment_id: s for s in await gateway.snapshots(ids + failing)}
    for dep in failing:
        assert snaps[dep].status == "Failed"
        assert any(e.message and "smoke test failed" in e.message for e in snaps[dep].events)


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
