"""The scan for ECS deployments nobody follows, against the sandbox's ECS: quiet services cost one
DescribeServices per ten; only a service with a new deployment in progress is looked at (its current
service deployment as DescribeServices names it, or listed where it does not), once, and again only when
its deployments change or after a while; what several services show is described together."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.aws.accounts import Accounts
from bot.aws.ecs.busy import RELIST, BusyServices
from bot.aws.ecs.engine import EcsEngine
from bot.domain.catalog import AppConfig
from bot.domain.progress import DeploymentEvent
from bot.runtime.config import load_catalog
from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.server import LocalAws
from sandbox.runner import CATALOG

from ...sandbox.test_ecs_sim import deploy


@pytest.fixture
def engine(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> EcsEngine:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    return EcsEngine(Accounts("us-east-1", aws.endpoint), load_catalog(CATALOG))


def home_apps(engine: EcsEngine) -> list[AppConfig]:
    """The catalog's apps on ECS's own deployments in the home account (their one cluster)."""
    return [a for a in engine.catalog.all() if a.service in ("shop", "shop-staging", "api")]


def staging_deployed(aws: LocalAws, engine: EcsEngine) -> list[AppConfig]:
    """The home apps, with a deployment of shop-staging under way."""
    deploy(aws, "shop-staging", "v1.2.3")
    CONTROL.clock.advance(5)
    return home_apps(engine)


def calls() -> Counter[str]:
    return Counter(op for service, op in CONTROL.calls if service == "ecs")


async def test_quiet_services_cost_one_describe_per_ten(engine: EcsEngine) -> None:
    apps = home_apps(engine)
    CONTROL.calls.clear()
    assert await engine.unfollowed(apps, following=()) == []
    assert calls() == Counter({"DescribeServices": 1})  # three services, one call; nothing listed


async def test_a_new_deployment_is_listed_once_then_only_when_its_service_changes(
    aws: LocalAws, engine: EcsEngine
) -> None:
    apps = staging_deployed(aws, engine)
    CONTROL.calls.clear()
    found = await engine.unfollowed(apps, following=())
    assert [f.app for f in found] == ["shop:staging"]
    # DescribeServices names the current deployment: nothing listed, the busy one described and its revision.
    assert calls() == Counter(
        {"DescribeServices": 1, "DescribeServiceDeployments": 1, "DescribeServiceRevisions": 1}
    ) + Counter({"DescribeTaskDefinition": calls()["DescribeTaskDefinition"]})
    assert calls()["DescribeTaskDefinition"] <= 1  # its tags (whose request it is), unless read before
    CONTROL.calls.clear()
    assert await engine.unfollowed(apps, following=[found[0].deployment_id]) == []  # adopted meanwhile
    assert calls() == Counter({"DescribeServices": 1})  # settled: not listed again while nothing changes
    deploy(aws, "shop-staging", "v1.2.4-broken")  # another one supersedes it
    CONTROL.clock.advance(5)
    newer = await engine.unfollowed(apps, following=[found[0].deployment_id])
    assert [f.app for f in newer] == ["shop:staging"] and newer[0].deployment_id != found[0].deployment_id


async def test_a_found_deployment_says_its_plan_and_its_revision_is_read_once(aws: LocalAws, engine: EcsEngine) -> None:
    apps = staging_deployed(aws, engine)
    [found] = await engine.unfollowed(apps, following=())
    app = next(a for a in apps if a.key == found.app)
    assert found.plan == await engine.plan(app)  # what adoption needs, without asking the service again
    CONTROL.calls.clear()
    definition, image = await engine.deployed(app, found) or ("", "")
    assert definition.rsplit("/", 1)[-1].startswith("shop-staging:")
    assert "@sha256:" in image  # deployed by tag, pinned to the digest ECS resolved
    assert calls()["DescribeTaskDefinition"] == 0  # read once, while finding it (its tags name no request)


async def test_a_listed_service_is_listed_again_after_a_while_in_case_its_adoption_failed(
    aws: LocalAws, engine: EcsEngine
) -> None:
    apps = staging_deployed(aws, engine)
    now = [0.0]
    busy = BusyServices(clock=lambda: now[0])
    ecs = engine.place(apps[0]).ecs
    [listed] = await busy.among(ecs, apps)
    busy.settle(ecs, listed)  # listed; say its deployment could not be adopted (a passing error)
    now[0] = RELIST - 1
    assert await busy.among(ecs, apps) == []
    now[0] = RELIST
    assert await busy.among(ecs, apps) == [listed]


async def test_an_event_s_service_is_listed_and_several_finds_are_described_together(
    aws: LocalAws, engine: EcsEngine
) -> None:
    deploy(aws, "shop-staging", "v1.2.3")
    deploy(aws, "api", "v1.2.3")
    CONTROL.clock.advance(5)
    apps = home_apps(engine)
    CONTROL.calls.clear()
    found = await engine.unfollowed(apps, following=())
    assert sorted(f.app for f in found) == ["api:production", "shop:staging"]
    assert calls()["DescribeServiceDeployments"] == 1 and calls()["DescribeServiceRevisions"] == 1
    assert calls()["ListServiceDeployments"] == 0
    # An event names only the service: its deployments are listed (the scan's DescribeServices was not made).
    event = DeploymentEvent(deployment_id="ecs-svc/1", scope=found[0].deployment_id.rsplit("/", 1)[0])
    CONTROL.calls.clear()
    again = await engine.unfollowed(apps, following=(), near=[event])
    assert [f.deployment_id for f in again] == [found[0].deployment_id]
    assert calls()["ListServiceDeployments"] == 1 and "DescribeServices" not in calls()
