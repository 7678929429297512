"""The scan for CodeDeploy deployments nobody follows, against the sandbox: what it finds says how the
deployment runs (its group's blue/green settings travel with it), so adopting one asks nothing more of
the deployment group."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.fleet import catalog_apps, seed_fleet, write_catalog
from bot.aws.accounts import Accounts
from bot.aws.codedeploy.engine import CodeDeployEngine, names
from bot.aws.codedeploy.events import scope
from bot.domain.progress import DeploymentEvent
from bot.runtime.config import load_catalog
from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.server import LocalAws
from tests.unit.factories import record

from .test_progress_reads import deploy


@pytest.fixture
def engine(aws: LocalAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CodeDeployEngine:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    services = seed_fleet(aws.client, 2, [0, 7], ["CodeDeployDefault.ECSAllAtOnce", "Canary10Percent1Minute"])
    write_catalog(tmp_path / "catalog.yml", catalog_apps(services))
    return CodeDeployEngine(Accounts("us-east-1", aws.endpoint), load_catalog(tmp_path / "catalog.yml"))


async def test_a_found_deployment_says_its_plan_without_reading_its_group(
    aws: LocalAws, engine: CodeDeployEngine
) -> None:
    apps = engine.catalog.all()
    cd = aws.client("codedeploy")
    for app in apps:
        deploy(cd, app.service)
    CONTROL.calls.clear()
    found = sorted(await engine.unfollowed(apps, following=()), key=lambda f: f.app)
    assert [f.app for f in found] == sorted(a.key for a in apps)
    assert "GetDeploymentGroup" not in Counter(op for _, op in CONTROL.calls)
    for app, one in zip(sorted(apps, key=lambda a: a.key), found, strict=True):
        assert one.plan == await engine.plan(app)  # the same as the group's own answer
    assert [(f.plan.strategy, f.plan.bake_minutes) for f in found if f.plan] == [
        ("CodeDeployDefault.ECSAllAtOnce", 0.0),
        ("Canary10Percent1Minute", 7.0),
    ]


def test_deployments_in_one_account_and_region_are_read_together(engine: CodeDeployEngine) -> None:
    apps = engine.catalog.all()
    records = [record(id=f"r-{i}", app=app.name, environment=app.environment) for i, app in enumerate(apps)]
    assert all(engine.catalog.get(r.app, r.environment) for r in records)  # each found by its catalog entry
    keys = {engine.batch(r) for r in records}
    assert keys == {(next(iter(keys))[0], 25)}  # one BatchGetDeployments takes all of them, up to 25


async def test_events_name_their_deployments_so_finding_them_is_one_call_and_lists_nothing(
    aws: LocalAws, engine: CodeDeployEngine
) -> None:
    apps = engine.catalog.all()
    cd = aws.client("codedeploy")
    ids = [deploy(cd, app.service) for app in apps]
    events = [
        DeploymentEvent(deployment_id=d, state="START", scope=scope(*names(a))) for d, a in zip(ids, apps, strict=True)
    ]
    elsewhere = DeploymentEvent(deployment_id="d-ELSEWHERE", state="START", scope="AppOther/DgpOther")
    CONTROL.calls.clear()
    found = await engine.unfollowed(apps, following=(), near=[*events, elsewhere])
    assert sorted(f.deployment_id for f in found) == sorted(ids)
    assert Counter(op for _, op in CONTROL.calls) == Counter({"BatchGetDeployments": 1})
    CONTROL.calls.clear()
    assert await engine.unfollowed(apps, following=ids[:1], near=events[:1]) == []  # followed already: no call
    assert not CONTROL.calls
