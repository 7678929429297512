"""A restarted bot (one replica, SQLite) resumes every in-flight deployment from its store and
finishes its thread, including deployments that ended while it was down."""

from __future__ import annotations

from pathlib import Path

from bot.app import Runtime
from bot.config import load_catalog
from bot.sandbox.runner import CATALOG, Sandbox
from tests.conftest import bot_settings
from tests.e2e.helpers import advance, request_and_wait_root, thread_texts, wait_text, wait_thread


async def test_restart_mid_shift_finishes_the_thread(
    sandbox: Sandbox, bot: Runtime, tmp_path: Path, transport: str
) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    advance(60)
    await wait_thread(sandbox, root, "10% of traffic on green")
    await bot.stop()  # the process goes away mid-shift

    advance(2000)  # the deployment finishes while nobody watches

    settings = bot_settings(sandbox.slack, sandbox.aws, tmp_path, transport)
    second = Runtime(settings, load_catalog(CATALOG))
    await second.start()
    if transport == "http":
        sandbox.slack.deliverer.events_url = f"http://127.0.0.1:{second.port}/slack/events"
    try:
        final = await wait_thread(sandbox, root, "is live")
        await wait_text(sandbox, root, "Deployed")
        assert sum("is live" in t for t in thread_texts(sandbox, root)) == 1
        assert "web2 v1.2.3" in final
        assert len(sandbox.slack.messages("C0DEPLOYS")) == 2  # the root and the broadcast of the final reply
    finally:
        await second.tasks.drain()
        await second.stop()
