"""Pacing against the local Slack with Slack's rate limits switched on: a whole deployment is told
without one 429, its thread replies are joined rather than dropped, and joined replies are still
recognised after a crash (their metadata covers every message they hold)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.ports import Mark
from bot.slack.chat import SlackChat
from sandbox.runner import Sandbox
from sandbox.slack.server import LocalSlack

from ..conftest import running_bot
from ..e2e.helpers import advance, request_and_wait_root, thread_texts, wait_thread


@pytest.fixture
async def paced_bot(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[object]:
    sandbox.slack.limiter.enabled = True
    defaults = {"slack_posts_per_minute": 55.0, "slack_updates_per_minute": 45.0}  # the tests turn them off
    async with running_bot(sandbox, tmp_path, "socket", monkeypatch, **defaults) as runtime:
        yield runtime


async def test_a_deployment_under_slacks_limits_is_told_whole_without_a_429(
    sandbox: Sandbox, paced_bot: object
) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3 to staging")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    for _ in range(12):
        advance(60)
    await wait_thread(sandbox, root, "is live in staging", timeout=30)
    limited = [c for c in sandbox.slack.ws.calls if c.error == "ratelimited"]
    assert limited == []
    lines = "\n".join(thread_texts(sandbox, root)).splitlines()
    order = ["created with", "BeforeInstall", "AllowTraffic", "is live in staging"]
    found = [next(i for i, line in enumerate(lines) if needle in line) for needle in order]
    assert found == sorted(found)  # every step is there, in order
    assert len(lines) > len(thread_texts(sandbox, root))  # and some replies went out joined


async def test_joined_replies_count_as_arrived_for_every_message_they_hold(slack: LocalSlack) -> None:
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    root = await chat.post("C0DEPLOYS", "Deploy web1 v1.2.3")
    await chat.reply("C0DEPLOYS", root, "one", mark=Mark("r-joined00001", 1, 1))
    await chat.reply("C0DEPLOYS", root, "two\nthree\nfour", mark=Mark("r-joined00001", 2, 4))
    assert await chat.marked("C0DEPLOYS", "r-joined00001", thread_ts=root) == {1, 2, 3, 4}
