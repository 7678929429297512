"""The EventBridge-to-SQS wake-up: with polling and scanning all but off, CodeDeploy's own state-change
events (the sandbox's EventBridge rule delivers them to a real SQS queue on its moto) make deploybot
find an outside deployment and tell its outcome at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.aws.seed import ALERT_QUEUE
from sandbox.runner import Sandbox

from ..conftest import running_bot
from .helpers import advance, roots, wait_thread
from .test_outside_deployments import ci_deploy

HOUR = 3600.0


@pytest.fixture
async def eventful_bot(
    sandbox: Sandbox, tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[object]:
    queue = sandbox.aws.client("sqs").get_queue_url(QueueName=ALERT_QUEUE)["QueueUrl"]
    overrides = {"poll_interval": HOUR, "scan_seconds": HOUR, "events_queue_url": queue}
    async with running_bot(sandbox, tmp_path, transport, monkeypatch, **overrides) as runtime:
        await sandbox.slack.wait_for(lambda: runtime.watcher.scan.scanned is not None, what="the start-up scan")
        yield runtime


async def test_events_find_an_outside_deployment_and_tell_its_outcome(sandbox: Sandbox, eventful_bot: object) -> None:
    deployment = ci_deploy(sandbox, "v1.2.3", "release workflow run 9")
    advance(3)  # CodeDeploy starts it: the START event is what wakes deploybot, not an hourly scan
    found = await sandbox.slack.wait_for(lambda: roots(sandbox), what="a thread for the outside deployment")
    assert deployment in await wait_thread(sandbox, found[0], "was started outside deploybot")
    advance(2000)  # to the end: the SUCCESS event makes it read now, not in an hour
    assert "*web2 v1.2.3* is live" in await wait_thread(sandbox, found[0], "is live")


async def test_healthz_reports_the_events_wakeup(sandbox: Sandbox, eventful_bot: object) -> None:
    import aiohttp

    port = eventful_bot.port  # type: ignore[attr-defined]
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as resp:
        body = await resp.json()
    assert resp.status == 200 and body["checks"]["events"] is True


async def test_ecs_events_find_an_update_service_and_tell_its_outcome(sandbox: Sandbox, eventful_bot: object) -> None:
    from .test_ecs_lifecycle import update_service_elsewhere

    update_service_elsewhere(sandbox, "api", "v1.2.3")
    advance(3)  # ECS starts it: "ECS Deployment State Change" IN_PROGRESS wakes deploybot
    found = await sandbox.slack.wait_for(lambda: roots(sandbox), what="a thread for the outside deployment")
    await wait_thread(sandbox, found[0], "was started outside deploybot")
    advance(1000)  # to the end: SERVICE_DEPLOYMENT_COMPLETED makes it read now, not in an hour
    assert "*api v1.2.3* is live" in await wait_thread(sandbox, found[0], "is live")


async def test_a_pause_hook_event_shows_the_gate_at_once(sandbox: Sandbox, eventful_bot: object) -> None:
    from sandbox.aws.moto_ext import CONTROL

    from .helpers import request_and_wait_root, wait_button

    def reads() -> int:
        return sum(op == "DescribeServiceDeployments" for _, _, op in CONTROL.bot_log)

    root = await request_and_wait_root(sandbox, "shop v1.2.3")
    before = reads()
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    await sandbox.slack.wait_for(lambda: reads() > before, what="the read right after the start")
    advance(3)  # ECS starts it; no poll comes for an hour, the IN_PROGRESS event wakes deploybot
    await wait_thread(sandbox, root, "ECS started")
    advance(60)  # to the pause: "ECS Hook State Change" HOOK_AWAITING_ACTION
    root = await wait_button(sandbox, root, "deploy_gate")
    await wait_thread(sandbox, root, "Production traffic stays on blue")
