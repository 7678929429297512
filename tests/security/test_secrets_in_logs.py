"""Every log line of a full scenario, with every library at DEBUG, holds no token, signing secret,
response_url or AWS key: the redaction processor and filter catch what the libraries print."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from urllib.parse import urlencode

import pytest
import structlog

from bot.app import Runtime
from bot.runtime.config import load_catalog
from bot.runtime.logging import configure
from sandbox.runner import CATALOG, Sandbox
from tests.conftest import bot_settings
from tests.e2e.helpers import advance, request_and_wait_root, wait_thread

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS documentation example key


@pytest.mark.parametrize("transport", ["http"])
async def test_no_secret_reaches_any_log_line(
    sandbox: Sandbox, tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sandbox.aws.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    buffer = io.StringIO()
    configure("json", level=logging.DEBUG)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    root_logger = logging.getLogger()
    for handler in root_logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(buffer)
    root_logger.setLevel(logging.DEBUG)  # the worst case: an operator debugging every library
    bot = Runtime(bot_settings(sandbox.slack, sandbox.aws, tmp_path, transport), load_catalog(CATALOG))
    try:
        await bot.start()
        sandbox.slack.deliverer.events_url = f"http://127.0.0.1:{bot.port}/slack/events"
        root = await request_and_wait_root(sandbox, "web1 v1.2.3")
        await sandbox.slack.click(root, "deploy_approve", user="U0CAROL")  # refused
        sandbox.slack.faults["chat.update"].append("429")
        await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
        await wait_thread(sandbox, root, "created with")
        await sandbox.slack.deliverer.post_signed(urlencode({"command": "/deploy"}), signature="v0=" + "0" * 64)
        advance(3)
        advance(60)
        root = await sandbox.slack.wait_for(
            lambda: (lambda m: m if "deploy_gate" in str(m.blocks) else None)(
                sandbox.slack.ws.find(root.channel, root.ts)
            ),
            what="Shift traffic",
        )
        await sandbox.slack.click(root, "deploy_rollback", user="U0ALICE")
        await wait_thread(sandbox, root, "asked for a rollback")
        advance(30)
        await wait_thread(sandbox, root, "was stopped")
        await bot.tasks.drain()
    finally:
        await bot.stop()
        configure("console")
    text = buffer.getvalue()
    assert "botocore" in text and "request_refused" in text  # the libraries' debug output was captured
    ws = sandbox.slack.ws
    for secret in (ws.bot_token, ws.app_token, ws.signing_secret, ACCESS_KEY, SECRET_KEY, "/hooks/"):
        assert secret not in text, secret
