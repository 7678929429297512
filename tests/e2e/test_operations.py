"""Operating the bot: acks stay fast when AWS is slow, /healthz tells the truth, logs carry context
and no secrets."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import aiohttp
import pytest

from bot.runtime.logging import configure
from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import Sandbox

from .helpers import advance, request_and_wait_root, wait_thread


async def test_ack_is_in_time_when_aws_is_slower_than_slacks_deadline(sandbox: Sandbox, bot: object) -> None:
    CONTROL.latency_by_operation["DescribeImages"] = 3.5  # longer than Slack waits for an ack
    result = await sandbox.slack.slash("web1 v1.2.3")
    assert result.ok and not result.text  # acked at once; the answer follows
    # Slower than a moment: the holding note comes first, then the request in the channel.
    notes = await sandbox.slack.wait_for(lambda: sandbox.slack.ephemerals("U0ALICE"), timeout=15, what="the note")
    assert notes == ["Checking `web1` `v1.2.3` in ECR…"]
    await sandbox.slack.wait_for(lambda: sandbox.slack.messages("C0DEPLOYS"), timeout=15, what="the request")


async def test_healthz_reports_readiness(sandbox: Sandbox, bot: object) -> None:
    port = bot.port  # type: ignore[attr-defined]
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as resp:
        body = await resp.json()
    assert resp.status == 200 and body["ok"] is True and body["checks"]["store"] is True
    bot.ready = False  # type: ignore[attr-defined]
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as resp:
        assert resp.status == 503


@pytest.mark.parametrize("transport", ["http"])
async def test_deployment_logs_carry_context_and_no_secrets(sandbox: Sandbox, bot: object) -> None:
    buffer = io.StringIO()
    configure("json")
    import structlog

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    try:
        root = await request_and_wait_root(sandbox, "web2 v1.2.3")
        await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
        await wait_thread(sandbox, root, "created with")
        advance(3)
        advance(2000)
        await wait_thread(sandbox, root, "is live")
    finally:
        configure("console")
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    about = [x for x in lines if x["event"] in ("deployment_created", "deployment_progressed", "deployment_finished")]
    assert {x["event"] for x in about} == {"deployment_created", "deployment_progressed", "deployment_finished"}
    for line in about:
        assert {"request_id", "app", "version", "deployment_id"} <= set(line), line
    text = buffer.getvalue()
    for secret in (sandbox.slack.ws.bot_token, sandbox.slack.ws.signing_secret, "/hooks/"):
        assert secret not in text


def test_sandbox_command_prints_the_environment() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--speed", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("# Open"):
                break
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    exports = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
    assert exports["SLACK_BOT_TOKEN"].startswith("xoxb-") and exports["SLACK_APP_TOKEN"].startswith("xapp-")
    assert exports["DEPLOYBOT_SLACK_API_URL"].startswith("http://127.0.0.1:")
    assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:") and exports["AWS_REGION"] == "us-east-1"
    assert {"SLACK_SIGNING_SECRET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(exports)
    assert lines[-1].startswith("# Open the sandbox workspace: http://127.0.0.1:")
