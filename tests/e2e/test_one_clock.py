"""In the demo the bot lives on the sandbox's clock (issue 15, rough edge 4): the times it shows, Slack's
message times and the local AWS's all agree, however far the simulated clock has run ahead of the wall."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.server import LocalAws
from sandbox.runner import Sandbox
from tests.conftest import running_bot

from .helpers import advance, request_and_wait_root, root_text, wait_text, wait_thread

AHEAD = timedelta(hours=7)  # any whole-hours lead shows in every HH:MM


@pytest.fixture
async def demo_box(aws: LocalAws) -> AsyncIterator[Sandbox]:
    box = Sandbox(one_clock=True)  # as `deploybot demo` builds it
    box.aws = aws
    await box.slack.start()
    box.slack.aws_panel, box.slack.aws_control = box.panel, box.control
    advance(AHEAD.total_seconds())
    yield box
    await box.slack.stop()


def times(text: str) -> list[datetime]:
    return [
        datetime.strptime(t, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        for t in re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", text)
    ]


async def test_every_time_shown_is_on_the_sandbox_clock(
    demo_box: Sandbox, tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = demo_box
    async with running_bot(box, tmp_path, transport, monkeypatch, clock=box.now):
        asked = box.now()
        assert asked - datetime.now(UTC) > AHEAD - timedelta(minutes=1)
        root = await request_and_wait_root(box, "web2 v1.2.3")  # no Ready gate
        # Slack's own message time is the sandbox's, as the page shows it.
        assert abs(float(root.ts) - asked.timestamp()) < 60
        expires = asked + timedelta(minutes=120)  # the default approval timeout, on the same clock
        assert f"(expires {expires:%H:%M} UTC)" in root_text(root)

        await box.slack.click(root, "deploy_approve", user="U0BOB")
        await wait_thread(box, root, "created with")
        advance(3)
        live = await wait_text(box, root, "Elapsed")
        assert "Elapsed: under a minute" in live, live  # started and now read from one clock
        advance(2000)
        await wait_thread(box, root, "is live")

        await box.slack.slash("history web2", user="U0CAROL")
        history = await box.slack.wait_for(
            lambda: next((t for t in box.slack.ephemerals("U0CAROL") if "History of" in t), None), what="history"
        )
        shown = times(history)
        assert shown, history
        # Newest first, and deploybot's request sits among CodeDeploy's own list at the time it happened.
        assert shown == sorted(shown, reverse=True), history
        assert abs(shown[0] - asked) < timedelta(minutes=2), history
        assert CONTROL.clock.now() - asked >= timedelta(seconds=2000)
