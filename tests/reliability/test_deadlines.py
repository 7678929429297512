"""Deadlines by deploybot's clock (a fake one here) against the sandbox's CodeDeploy: a gate's wait about
to run out is announced, and a deployment past its deadline (the plan's waits plus 10 minutes, as
`aws ecs deploy` computes it) is stopped with a rollback and reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Ports, Tuning, compose
from bot.aws.accounts import Accounts
from bot.aws.codedeploy.engine import CodeDeployEngine
from bot.aws.ecr import EcrRegistry
from bot.domain.lifecycle import Action, deadline
from bot.domain.models import State
from bot.domain.progress import Phase
from bot.runtime.config import load_catalog
from bot.runtime.tasks import TaskSupervisor
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import CATALOG, Sandbox
from tests.e2e.helpers import advance


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_the_deadline_is_computed_as_aws_ecs_deploy_does() -> None:
    assert deadline(60, 5) == timedelta(minutes=75)
    assert deadline(None, 5) == timedelta(minutes=30)  # at least 30 minutes
    assert deadline(600, 60) == timedelta(minutes=360)  # at most 6 hours


async def test_ready_wait_warning_then_deadline_stop(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sandbox.aws.env().items():
        monkeypatch.setenv(name, value)
    # deploybot's clock starts where the sandbox's is and moves with it: the gate's end CodeDeploy names
    # (read from its target) and the bot's own times must agree, as they do against AWS.
    clock, store = Clock(), SqliteStore(str(tmp_path / "d.db"))
    clock.now = CONTROL.clock.now()
    chat = SlackChat(sandbox.slack.ws.bot_token, sandbox.slack.api_url)
    await chat.identify()
    accounts = Accounts("us-east-1", sandbox.aws.endpoint)
    catalog = load_catalog(CATALOG)
    ports = Ports(store, chat, CodeDeployEngine(accounts, catalog), EcrRegistry(accounts), clock)
    parts = compose(catalog, ports, Tuning(), TaskSupervisor())
    requests, clicks, watcher = parts.services.requests, parts.services.clicks, parts.watcher
    web1 = catalog.get("web1")  # canary behind a 60-minute Ready gate, 5-minute termination wait
    assert web1 is not None
    hook = sandbox.slack.new_hook("C0DEPLOYS", "U0ALICE", None, "commands")
    record = await requests.request(web1, "v1.2.3", "U0ALICE", "T0SANDBOX", hook, "C0DEPLOYS")
    assert record is not None
    await clicks.click(Action.APPROVE, record.id, "U0BOB", "T0SANDBOX", "C0DEPLOYS")
    started = await store.get(record.id)
    assert started is not None and started.deadline_at == clock.now + timedelta(minutes=75)

    advance(3)
    advance(60)
    clock.now = CONTROL.clock.now()
    await watcher.tick()
    ready = await store.get(record.id)
    assert ready is not None and ready.phase is Phase.GATED and ready.gate_opened_at == clock.now
    # CodeDeploy's Ready wait (60 minutes) runs from the end of AfterAllowTestTraffic, a little before now.
    expires = ready.gate.expires_at if ready.gate else None
    assert expires is not None and timedelta(minutes=59) < expires - clock.now <= timedelta(minutes=60)
    root = sandbox.slack.ws.find("C0DEPLOYS", ready.message_ts or "")

    def thread() -> list[str]:
        return [m.text for m in sandbox.slack.thread(root)]

    clock.now += timedelta(minutes=54)
    await watcher.tick()
    assert not [t for t in thread() if "still waiting for *Shift traffic*" in t]
    clock.now += timedelta(minutes=1)
    await watcher.tick()
    await watcher.tick()
    warnings = [t for t in thread() if "still waiting for *Shift traffic*" in t]
    assert warnings == [
        f":warning: The deployment is still waiting for *Shift traffic*: at {expires:%H:%M} UTC CodeDeploy stops "
        "the deployment unless an approver presses it before then."
    ]

    clock.now = started.deadline_at + timedelta(seconds=1)  # type: ignore[operator]
    await watcher.tick()
    assert [t for t in thread() if "ran past its deadline (75 min" in t]
    advance(30)
    await watcher.tick()
    await watcher.tick()
    final = await store.get(record.id)
    assert final is not None and final.state is State.STOPPED and final.deadline_hit
    assert "deadline_stop" in [e.action for e in await store.audit_log(record.id)]
    assert sum("ran past its deadline" in t for t in thread()) == 1
    store.close()
