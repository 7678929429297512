"""Bad input gets a clear answer and changes nothing; clicks are re-checked on the server."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import Sandbox

from .helpers import buttons, request_and_wait_root, roots, wait_text, wait_thread


def aws_writes() -> list[str]:
    return [op for _, op in CONTROL.calls if op in ("RegisterTaskDefinition", "CreateDeployment")]


async def test_help(sandbox: Sandbox, bot: object) -> None:
    result = await sandbox.slack.slash("help")
    assert result.ok
    assert "/deploy &lt;app&gt; &lt;version&gt;" in str(result.body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web9 v1.2.3", "I don't know an app called `web9`. Known apps: `api`, `shop`, `web1`, `web2`."),
        ("web1 1.2.3", "must match"),
        ("web1 v1.2.3\n", "must match"),
        ("web1 v" + "1" * 200, "the limit is 128"),
        ("wbe1", "I need an app and a version"),  # an app alone opens the dialog (test_home_and_dialog)
    ],
)
async def test_bad_requests_are_refused_in_the_ack(sandbox: Sandbox, bot: object, text: str, expected: str) -> None:
    result = await sandbox.slack.slash(text)
    assert result.ok
    assert expected in result.text
    assert roots(sandbox) == []
    assert aws_writes() == []


async def test_missing_tag_names_repository_and_tag(sandbox: Sandbox, bot: object) -> None:
    result = await sandbox.slack.slash("web1 v9.9.9")
    assert result.ok and not result.text
    message = await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0ALICE") if "no image tagged `v9.9.9`" in t], what="refusal"
    )
    assert sandbox.slack.ephemerals("U0ALICE") == message  # a quick answer comes alone: no "Checking…" left
    assert "`web1`" in message[0] and "nothing was changed" in message[0]
    assert roots(sandbox) == []
    assert aws_writes() == []


async def test_latest_resolves_to_its_version_tag(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox, "web1 latest")
    assert "Deploy web1 v1.2.3" in str(root.blocks)


async def test_outsider_and_self_approval_are_refused(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox, user="U0BOB")  # bob is an approver asking for himself
    await sandbox.slack.click(root, "deploy_approve", user="U0CAROL")
    await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0CAROL") if "Only approvers" in t], what="refusal"
    )
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0BOB") if "someone else has to approve" in t],
        what="self-approval refusal",
    )
    fresh = sandbox.slack.ws.find(root.channel, root.ts)
    assert buttons(fresh) == ["deploy_approve", "deploy_cancel"]
    assert aws_writes() == []


async def test_double_approve_starts_one_deployment(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox)
    first, second = await asyncio.gather(
        sandbox.slack.click(root, "deploy_approve", user="U0BOB"),
        sandbox.slack.click(root, "deploy_approve", user="U0BOB"),
    )
    assert first.ok and second.ok
    await wait_thread(sandbox, root, "created with")
    await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0BOB") if "already approved" in t], what="second click told"
    )
    assert aws_writes().count("CreateDeployment") == 1


async def test_requester_cancels(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox)
    stale_click = sandbox.slack.block_actions_payload(root, "deploy_approve", "U0BOB")
    await sandbox.slack.click(root, "deploy_cancel", user="U0ALICE")
    text = await wait_text(sandbox, root, "Cancelled")
    assert "<@U0ALICE>" in text
    assert (await sandbox.slack.deliverer.interactive(stale_click)).ok  # bob's screen still showed Approve
    await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0BOB") if "cancelled" in t], what="late click told"
    )
    assert aws_writes() == []


async def test_second_request_while_one_runs_is_refused(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox)
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    await sandbox.slack.slash("web1 v1.2.3", user="U0ALICE")
    await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0ALICE") if "already being deployed" in t], what="refusal"
    )
    assert len(roots(sandbox)) == 1


async def test_request_that_cannot_be_posted_is_answered_and_closed(sandbox: Sandbox, bot: object) -> None:
    sandbox.slack.faults["chat.postMessage"].extend(["500"] * 3)  # more than slack_sdk retries
    await sandbox.slack.slash("web1 v1.2.3")
    message = await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0ALICE") if "did not take" in t], what="an answer"
    )
    assert "it is cancelled, and nothing was deployed. Try again once Slack answers." in message[0]
    assert aws_writes() == []
    root = await request_and_wait_root(sandbox)  # the closed request does not block the next one
    assert buttons(root) == ["deploy_approve", "deploy_cancel"]
