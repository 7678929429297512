"""Identity through real Slack payloads, in both transports: only the signed user id and team count."""

from __future__ import annotations

from sandbox.runner import Sandbox
from tests.e2e.helpers import request_and_wait_root, roots


async def test_a_spoofed_user_name_does_not_make_an_approver(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox, "web1 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0CAROL", user_name="bob")  # Carol, named "bob"
    refusal = await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0CAROL") if "Only approvers" in t], what="refusal"
    )
    assert "Nothing was changed" in refusal[0]
    assert "Waiting for approval" in str(sandbox.slack.ws.find(root.channel, root.ts).blocks)


async def test_a_request_from_another_workspace_is_refused(sandbox: Sandbox, bot: object) -> None:
    result = await sandbox.slack.slash("web1 v1.2.3", user="U0EVE")  # Slack Connect: a partner's user
    assert result.ok
    refusal = await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0EVE") if "own workspace" in t], what="refusal"
    )
    assert "other organizations" in refusal[0]
    assert roots(sandbox) == []
