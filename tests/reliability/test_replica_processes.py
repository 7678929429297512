"""Three `deploybot serve` processes in HTTP mode on one DynamoDB table, the sandbox spreading Slack's
deliveries across them: 20 concurrent requests give one, concurrent approvals one deployment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.runtime.stores import StoreSettings, init_store
from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import Sandbox
from tests.e2e.helpers import advance, roots, thread_texts, wait_text, wait_thread
from tests.reliability.processes import Bot


@pytest.fixture
async def processes(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[Bot]]:
    for name, value in sandbox.aws.env().items():
        monkeypatch.setenv(name, value)
    init_store(StoreSettings(store_url="dynamodb://deploybot-procs", aws_endpoint_url=sandbox.aws.endpoint))
    bots = [
        Bot(sandbox, tmp_path, transport="http", store="dynamodb://deploybot-procs", name=f"r{i}") for i in range(3)
    ]
    await asyncio.gather(*(b.start(sandbox) for b in bots))
    sandbox.slack.deliverer.events_urls = [b.events_url for b in bots]
    yield bots
    for bot in bots:
        await bot.stop()


async def test_three_processes(sandbox: Sandbox, processes: list[Bot]) -> None:
    results = await asyncio.gather(*(sandbox.slack.slash("web1 v1.2.3", user="U0ALICE") for _ in range(20)))
    assert all(r.ok for r in results)
    refusals = await sandbox.slack.wait_for(
        lambda: (lambda found: found if len(found) == 19 else None)(
            [
                t
                for t in sandbox.slack.ephemerals("U0ALICE")
                if "already has a request waiting" in t or "being prepared" in t
            ]
        ),
        timeout=30,
        what="19 refusals",
    )
    assert len(refusals) == 19
    await sandbox.slack.wait_for(lambda: roots(sandbox), what="the request")
    assert len(roots(sandbox)) == 1
    root = roots(sandbox)[0]
    clicks = await asyncio.gather(*(sandbox.slack.click(root, "deploy_approve", user="U0BOB") for _ in range(3)))
    assert all(c.ok for c in clicks)
    await wait_thread(sandbox, root, "created with", timeout=20)
    assert sum(1 for _, op in CONTROL.calls if op == "CreateDeployment") == 1
    advance(3)
    advance(60)
    root = await sandbox.slack.wait_for(
        lambda: (lambda m: m if "deploy_gate" in str(m.blocks) else None)(sandbox.slack.ws.find(root.channel, root.ts)),
        timeout=20,
        what="Shift traffic",
    )
    await sandbox.slack.click(root, "deploy_gate", user="U0BOB")
    await wait_thread(sandbox, root, "started shifting", timeout=20)
    advance(320)
    await wait_thread(sandbox, root, "All traffic is on green", timeout=20)
    advance(600)
    await wait_thread(sandbox, root, "is live", timeout=20)
    await wait_text(sandbox, root, "Deployed", timeout=20)
    texts = thread_texts(sandbox, root)
    for needle in ("created with", "CodeDeploy started", "Green is up", "is live"):
        assert sum(needle in t for t in texts) == 1, (needle, texts)
