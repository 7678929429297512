"""HTTP mode at the edge: forged requests are refused; a command whose text says "payload" still works."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest

from bot.sandbox.aws.moto_ext import CONTROL
from bot.sandbox.runner import Sandbox


@pytest.mark.parametrize("transport", ["http"])
async def test_forged_and_stale_requests_get_401(sandbox: Sandbox, bot: object) -> None:
    body = urlencode({"command": "/deploy", "text": "web1 v1.2.3", "user_id": "U0ALICE", "team_id": "T0SANDBOX"})
    deliver = sandbox.slack.deliverer
    forged = await deliver.post_signed(body, signature="v0=" + "0" * 64)
    stale = await deliver.post_signed(body, timestamp=str(int(time.time()) - 301))
    assert (forged.status, stale.status) == (401, 401)
    assert [op for _, op in CONTROL.calls if op != "ListDeployments"] == []
    assert sandbox.slack.calls("chat.postMessage") == []


@pytest.mark.parametrize("transport", ["http"])
async def test_payload_in_command_text_is_parsed_as_a_command(sandbox: Sandbox, bot: object) -> None:
    result = await sandbox.slack.slash("payload-api v1.2.3")
    assert result.ok and "I don't know an app called `payload-api`" in result.text
