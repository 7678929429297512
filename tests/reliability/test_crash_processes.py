"""Real `deploybot serve` processes killed at each crash point (the fault hook exits like SIGKILL):
the next process (a restart on SQLite, or a replica already running on DynamoDB) finishes the story with
exactly one final status message, no message twice, and no orphaned deployment."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.runtime.stores import StoreSettings, init_store
from sandbox.runner import Sandbox
from sandbox.slack.workspace import Message
from tests.e2e.helpers import advance, request_and_wait_root, thread_texts
from tests.reliability.crashing_bot import POINTS, REQUEST_POINTS
from tests.reliability.processes import Bot

FINAL = ("is live", "could not be started", "failed after", "was stopped after")
ROOT = Path(__file__).resolve().parents[2]


def test_every_fault_point_in_the_code_is_tested() -> None:
    """The flow names exactly the points these tests kill the process at."""
    named = set()
    for source in (ROOT / "bot").rglob("*.py"):
        named |= set(re.findall(r"self\.fault\(\"([a-z_]+)\"\)", source.read_text()))
    assert named == {*POINTS, *REQUEST_POINTS}


@pytest.fixture
async def bots() -> AsyncIterator[list[Bot]]:
    started: list[Bot] = []
    yield started
    for bot in started:
        await bot.stop()


async def drive(until: object, step: float = 15.0, rounds: int = 400) -> None:
    """Move the sandbox clock in steps, letting the bot process poll between them."""
    for _ in range(rounds):
        if until():  # type: ignore[operator]
            return
        advance(step)
        await asyncio.sleep(0.05)  # a real process polls on its own schedule; this paces the simulated clock
    raise AssertionError("the scenario did not reach its end")


@pytest.mark.parametrize("point", POINTS)
async def test_killed_at_crash_point(point: str, sandbox: Sandbox, tmp_path: Path, bots: list[Bot]) -> None:
    first = Bot(sandbox, tmp_path, crash_at=point)
    bots.append(first)
    await first.start(sandbox)
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    assert first.proc is not None
    await drive(lambda: first.proc.returncode is not None)  # type: ignore[union-attr]
    assert first.proc.returncode == 137, first.log.read_text()[-2000:]

    second = Bot(sandbox, tmp_path)
    bots.append(second)
    await second.start(sandbox)
    await finishes_once(sandbox, root, point, second)


# Crashes that happen while a click is handled; the others happen in the watcher.
IN_CLICK = ("after_approval", "after_register", "after_create", "after_post")


@pytest.mark.parametrize("point", POINTS)
async def test_replica_killed_while_another_runs_on_dynamodb(
    point: str, sandbox: Sandbox, tmp_path: Path, bots: list[Bot], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sandbox.aws.env().items():
        monkeypatch.setenv(name, value)
    table = "dynamodb://deploybot-kill"
    init_store(StoreSettings(store_url=table, aws_endpoint_url=sandbox.aws.endpoint))
    # A 3-second lease: long enough that a busy machine never lets the other replica take the
    # deployment over before the doomed one reaches its crash point, short enough to take over after.
    doomed = Bot(sandbox, tmp_path, crash_at=point, transport="http", store=table, name="doomed", lease_seconds=3)
    other = Bot(sandbox, tmp_path, transport="http", store=table, name="other", lease_seconds=3)
    bots.extend([doomed, other])
    await doomed.start(sandbox)
    sandbox.slack.deliverer.events_urls = [doomed.events_url]  # the doomed replica takes the click
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    if point in IN_CLICK:
        await other.start(sandbox)
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    if point not in IN_CLICK:
        # The doomed replica watches the deployment; the other one starts beside it.
        await sandbox.slack.wait_for(lambda: "deployment_watch_taken" in doomed.log.read_text(), what="watch lease")
        await other.start(sandbox)
    assert doomed.proc is not None
    await drive(lambda: doomed.proc.returncode is not None)  # type: ignore[union-attr]
    assert doomed.proc.returncode == 137, doomed.log.read_text()[-2000:]
    sandbox.slack.deliverer.events_urls = [other.events_url]
    await finishes_once(sandbox, root, point, other)


async def finishes_once(sandbox: Sandbox, root: Message, point: str, second: Bot) -> None:
    await drive(lambda: any(f in t for t in thread_texts(sandbox, root) for f in FINAL))
    rounds = iter(range(10))
    await drive(lambda: next(rounds, None) is None)  # ten more polls: a duplicate would show up here
    texts = thread_texts(sandbox, root)
    finals = [t for t in texts if any(f in t for f in FINAL)]
    assert len(finals) == 1, finals
    assert len(texts) == len(set(texts)), texts  # no message posted twice, final or not
    cd = sandbox.aws.client("codedeploy")
    ids = cd.list_deployments(applicationName="AppECS-apps-web2", deploymentGroupName="DgpECS-apps-web2")["deployments"]
    statuses = [cd.get_deployment(deploymentId=i)["deploymentInfo"]["status"] for i in ids]
    assert all(s in ("Succeeded", "Failed", "Stopped") for s in statuses), statuses  # nothing left running
    if point == "after_post":  # the message the first process posted was found in Slack, not posted again
        assert "outbox_already_posted" in second.log.read_text()
    if point in ("after_approval", "after_register"):
        assert ids == [] and "nothing was deployed" in finals[0]
    else:
        assert len(ids) == 1 and "is live" in finals[0]


async def test_killed_before_a_request_without_approval_starts(
    sandbox: Sandbox, tmp_path: Path, bots: list[Bot]
) -> None:
    """Found by the fault campaign (seed 100): a request that needs no approval was left waiting for one
    nobody could give, for good. It is closed once its start is overdue, nothing deployed, its app free."""
    first = Bot(sandbox, tmp_path, crash_at="before_auto_start")
    bots.append(first)
    await first.start(sandbox)
    root = await request_and_wait_root(sandbox, "web2 v1.2.3 to staging")
    assert first.proc is not None
    await drive(lambda: first.proc.returncode is not None)  # type: ignore[union-attr]
    assert first.proc.returncode == 137, first.log.read_text()[-2000:]

    second = Bot(sandbox, tmp_path)
    bots.append(second)
    await second.start(sandbox)
    await drive(lambda: any("never started" in t for t in thread_texts(sandbox, root)))
    assert thread_texts(sandbox, root) == [
        ":hourglass: This request never started: deploybot stopped while it was being made. Nothing was "
        "deployed. Ask again with /deploy."
    ]
    cd = sandbox.aws.client("codedeploy")
    group = {"applicationName": "AppECS-apps-web2-staging", "deploymentGroupName": "DgpECS-apps-web2-staging"}
    assert cd.list_deployments(**group)["deployments"] == []
    again = await request_and_wait_root(sandbox, "web2 v1.2.3 to staging")  # the app is free again
    await drive(lambda: any("created with" in t for t in thread_texts(sandbox, again)))
