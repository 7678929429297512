"""The audit trail: one entry per decision and state change, with who, team, channel and AWS request ids;
read in Slack by approvers (`/deploy audit web1`) and exported as JSON lines (`deploybot audit export`)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from bot.app import Runtime
from sandbox.runner import Sandbox
from tests.e2e.helpers import advance, request_and_wait_root, wait_thread


async def test_audit_trail_in_slack_and_exported(sandbox: Sandbox, bot: Runtime, tmp_path: Path) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0ALICE")  # refused: she asked
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    advance(2000)
    await wait_thread(sandbox, root, "is live")

    await sandbox.slack.slash("audit web2", user="U0BOB")
    trail = await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0BOB") if "Audit trail of `web2`" in t], what="audit trail"
    )
    lines = trail[0].splitlines()[1:]
    assert "state:succeeded" in lines[0]  # newest first
    assert any("<@U0BOB> · *approved*" in line for line in lines)
    assert any("<@U0ALICE> · *refused:deploy_approve*" in line for line in lines)
    assert "<@U0ALICE> · *requested*" in lines[-1]

    await sandbox.slack.slash("audit web2", user="U0EVE")  # from a partner workspace: no requester of web2
    await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0EVE") if "Only approvers and requesters" in t],
        what="refusal",
    )

    env = {**os.environ, "DEPLOYBOT_STORE": bot.settings.store_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "audit", "export", "--app", "web2", env=env, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await proc.communicate()
    assert proc.returncode == 0
    out = stdout.decode()
    entries = [json.loads(line) for line in out.splitlines()]
    actions = [e["action"] for e in entries]
    assert actions[:3] == ["requested", "refused:deploy_approve", "approved"]
    assert actions[-1] == "state:succeeded" and "deployment_created" in actions
    by_action = {e["action"]: e for e in entries}
    assert by_action["approved"]["team"] == "T0SANDBOX" and by_action["approved"]["channel"] == "C0DEPLOYS"
    created = by_action["deployment_created"]
    assert created["actor"] == "deploybot" and len(created["aws_request_ids"]) >= 2  # register + create
    assert by_action["state:succeeded"]["actor"] == "codedeploy"
