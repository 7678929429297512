"""Several replicas on one DynamoDB table, the sandbox spreading Slack's deliveries across them:
concurrent requests give one request, concurrent approvals one deployment, every message once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import metrics
from bot.app import Runtime
from bot.runtime.config import load_catalog
from bot.runtime.stores import StoreSettings, init_store
from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import CATALOG, Sandbox
from tests.conftest import bot_settings
from tests.e2e.helpers import (
    advance,
    request_and_wait_root,
    roots,
    thread_texts,
    wait_button,
    wait_text,
    wait_thread,
)

TABLE = "deploybot-replicas"


async def in_process_replicas(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, **settings: object
) -> AsyncIterator[list[Runtime]]:
    for name, value in sandbox.aws.env().items():
        monkeypatch.setenv(name, value)
    init_store(StoreSettings(store_url=f"dynamodb://{TABLE}", aws_endpoint_url=sandbox.aws.endpoint))
    runtimes = []
    for _ in range(count):
        config = bot_settings(sandbox.slack, sandbox.aws, tmp_path, "http").model_copy(
            update={"store_url": f"dynamodb://{TABLE}", "replicas": count, **settings}
        )
        runtime = Runtime(config, load_catalog(CATALOG))
        await runtime.start()
        runtimes.append(runtime)
    sandbox.slack.deliverer.events_urls = [f"http://127.0.0.1:{r.port}/slack/events" for r in runtimes]
    yield runtimes
    for runtime in runtimes:
        await runtime.tasks.drain()
        await runtime.stop()


@pytest.fixture
async def replicas(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[Runtime]]:
    async for runtimes in in_process_replicas(sandbox, tmp_path, monkeypatch, 3):
        yield runtimes


def creates() -> int:
    return sum(1 for _, op in CONTROL.calls if op == "CreateDeployment")


async def test_three_replicas_one_request_one_deployment_every_message_once(
    sandbox: Sandbox, replicas: list[Runtime]
) -> None:
    users = ["U0ALICE", "U0CAROL"]
    results = await asyncio.gather(*(sandbox.slack.slash("web1 v1.2.3", user=users[i % 2]) for i in range(20)))
    assert all(r.ok for r in results)  # every one acked in time
    await sandbox.slack.wait_for(lambda: roots(sandbox), what="the request")
    refusals = await sandbox.slack.wait_for(
        lambda: (lambda found: found if len(found) == 19 else None)(
            [
                t
                for u in users
                for t in sandbox.slack.ephemerals(u)
                if "already has a request waiting" in t or "being prepared" in t
            ]
        ),
        timeout=20,
        what="19 refusals",
    )
    assert len(refusals) == 19 and len(roots(sandbox)) == 1
    root = roots(sandbox)[0]

    clicks = await asyncio.gather(*(sandbox.slack.click(root, "deploy_approve", user="U0BOB") for _ in range(3)))
    assert all(c.ok for c in clicks)
    await wait_thread(sandbox, root, "created with")
    await sandbox.slack.wait_for(
        lambda: len([t for t in sandbox.slack.ephemerals("U0BOB") if "already approved" in t]) == 2,
        what="the other approvals told",
    )
    assert creates() == 1

    advance(3)
    advance(60)
    root = await sandbox.slack.wait_for(
        lambda: (lambda m: m if "deploy_gate" in str(m.blocks) else None)(sandbox.slack.ws.find(root.channel, root.ts)),
        what="Shift traffic",
    )
    await sandbox.slack.click(root, "deploy_gate", user="U0BOB")
    await wait_thread(sandbox, root, "started shifting")
    advance(320)  # past the 5-minute canary, inside the 5-minute termination wait
    await wait_thread(sandbox, root, "All traffic is on green")
    advance(600)
    await wait_thread(sandbox, root, "is live")
    await wait_text(sandbox, root, "Deployed")
    for runtime in replicas:
        await runtime.watcher.tick()  # every replica has looked at the finished deployment
    texts = thread_texts(sandbox, root)
    for needle in ("created with", "CodeDeploy started", "`Install` succeeded", "Green is up", "is live"):
        assert sum(needle in t for t in texts) == 1, (needle, texts)
    assert creates() == 1


@pytest.fixture
async def two_replicas(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[list[Runtime]]:
    async for runtimes in in_process_replicas(sandbox, tmp_path, monkeypatch, 2, lease_seconds=1.0):
        yield runtimes


async def test_another_replica_takes_over_when_the_watching_one_dies(
    sandbox: Sandbox, two_replicas: list[Runtime]
) -> None:
    root = await request_and_wait_root(sandbox)
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    await wait_thread(sandbox, root, "CodeDeploy started")
    watching = [r for r in two_replicas if r.parts.leases.holding]
    assert len(watching) == 1  # exactly one replica tells this deployment's story
    dead, survivor = watching[0], next(r for r in two_replicas if r is not watching[0])
    takeovers = metrics.REGISTRY.get_sample_value("deploybot_watch_takeovers_total") or 0.0
    await dead.stop(graceful=False)  # dies holding its lease
    sandbox.slack.deliverer.events_urls = [f"http://127.0.0.1:{survivor.port}/slack/events"]

    advance(60)
    await wait_thread(sandbox, root, "Green is up", timeout=15)  # after the 1-second lease ran out
    assert survivor.parts.leases.holding
    assert metrics.REGISTRY.get_sample_value("deploybot_watch_takeovers_total") == takeovers + 1
    texts = thread_texts(sandbox, root)
    assert sum("CodeDeploy started" in t for t in texts) == 1


async def test_replicas_on_an_ecs_pause_one_update_and_a_takeover_at_the_gate(
    sandbox: Sandbox, two_replicas: list[Runtime]
) -> None:
    root = await request_and_wait_root(sandbox, "shop v1.2.3")
    clicks = await asyncio.gather(*(sandbox.slack.click(root, "deploy_approve", user="U0BOB") for _ in range(3)))
    assert all(c.ok for c in clicks)
    await wait_thread(sandbox, root, "created with")
    advance(3)
    await wait_thread(sandbox, root, "ECS started")
    watching = [r for r in two_replicas if r.parts.leases.holding]
    assert len(watching) == 1
    dead, survivor = watching[0], next(r for r in two_replicas if r is not watching[0])
    await dead.stop(graceful=False)  # dies holding its lease, before the pause
    sandbox.slack.deliverer.events_urls = [f"http://127.0.0.1:{survivor.port}/slack/events"]

    advance(60)
    await wait_thread(sandbox, root, "Production traffic stays on blue", timeout=15)  # the survivor took over
    root = await wait_button(sandbox, root, "deploy_gate")
    await sandbox.slack.click(root, "deploy_gate", user="U0DAVE")
    await wait_thread(sandbox, root, "started shifting traffic")
    advance(10)
    await wait_thread(sandbox, root, "Blue stays up")
    advance(400)
    await wait_thread(sandbox, root, "is live", timeout=15)
    texts = thread_texts(sandbox, root)
    for needle in ("created with", "ECS started", "Production traffic stays on blue", "is live"):
        assert sum(needle in t for t in texts) == 1, (needle, texts)
    assert sum(1 for _, op in CONTROL.calls if op == "UpdateService") == 1
    updates = sandbox.aws.client("ecs").list_service_deployments(cluster="apps", service="shop")
    assert len(updates["serviceDeployments"]) == 1
