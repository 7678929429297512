"""Waiting in line (`--queue`) for a busy or locked app: places, the turn, leaving the line, a lock taken
meanwhile, a request expiring in line, and a line that outlives the process, in both transports."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.runner import Sandbox
from sandbox.slack.workspace import Message
from tests.conftest import running_bot

from .helpers import advance, buttons, request_and_wait_root, roots, wait_button, wait_text, wait_thread


async def told(box: Sandbox, user: str, needle: str) -> str:
    found: list[str] = await box.slack.wait_for(
        lambda: [t for t in box.slack.ephemerals(user) if needle in t], what=needle
    )
    return found[-1]


async def queue(box: Sandbox, text: str, user: str) -> Message:
    before = len(roots(box))
    await box.slack.slash(f"{text} --queue", user=user)
    found: list[Message] = await box.slack.wait_for(lambda: roots(box)[before:], what="the request in line")
    return found[0]


async def test_a_busy_app_queues_and_the_line_moves_on(sandbox: Sandbox, bot: object) -> None:
    first = await request_and_wait_root(sandbox, "web1 v1.2.3", user="U0ALICE")
    await sandbox.slack.slash("web1 v1.2.3", user="U0DAVE")
    busy = await told(sandbox, "U0DAVE", "already has a request waiting")
    assert "add `--queue` to your command to wait in line" in busy

    dave = await queue(sandbox, "web1 v1.2.3", "U0DAVE")
    assert "#1 in line after `web1` `v1.2.3` by <@U0ALICE>" in await told(sandbox, "U0DAVE", "#1 in line")
    shown = await wait_text(sandbox, dave, "In line")
    assert "waits for its app to be free" in shown and buttons(dave) == ["deploy_cancel"]
    assert "Leave the line" in str(dave.blocks)
    bob = await queue(sandbox, "web1 v1.2.4-broken", "U0BOB")
    assert "#2 in line after `web1` `v1.2.3` by <@U0DAVE>" in await told(sandbox, "U0BOB", "#2 in line")

    await sandbox.slack.slash("status web1", user="U0CAROL")
    status = await told(sandbox, "U0CAROL", "What runs where")
    assert status.index("#1 in line") < status.index("#2 in line") and "v1.2.4-broken" in status
    await sandbox.slack.slash("web1 v1.2.3", user="U0ALICE")
    assert "2 requests wait in line" in await told(sandbox, "U0ALICE", "wait in line for it")

    await sandbox.slack.click(first, "deploy_cancel", user="U0ALICE")  # the app is free: Dave's turn
    turn = await wait_thread(sandbox, dave, "this request is next")
    assert turn == (":busstop: <@U0DAVE>, `web1` is free and this request is next: an approver can approve it now.")
    dave = await wait_button(sandbox, dave, "deploy_approve")
    assert buttons(dave) == ["deploy_approve", "deploy_cancel"]
    await wait_text(sandbox, bob, "In line")  # still waiting behind Dave's

    await sandbox.slack.click(bob, "deploy_cancel", user="U0CAROL")  # neither his nor an approver of web1
    assert "Only the requester or an approver" in await told(sandbox, "U0CAROL", "Only the requester")
    await sandbox.slack.click(bob, "deploy_cancel", user="U0BOB")  # leaves the line
    await wait_text(sandbox, bob, "Cancelled by <@U0BOB>")
    await sandbox.slack.click(dave, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, dave, "created with")
    assert len(sandbox.aws.client("codedeploy").list_deployments()["deployments"]) == 1


async def test_a_lock_holds_the_line_and_a_turn_without_approval_starts(sandbox: Sandbox, bot: object) -> None:
    await sandbox.slack.slash("lock web2 staging smoke tests running", user="U0BOB")
    await told(sandbox, "U0BOB", "Locked `web2 (staging)`")
    await sandbox.slack.slash("web2 v1.2.3 to staging", user="U0ALICE")
    await told(sandbox, "U0ALICE", "is locked by <@U0BOB>")  # without --queue: refused, as before
    waiting = await queue(sandbox, "web2 v1.2.3 to staging", "U0ALICE")
    assert "#1 in line behind the lock <@U0BOB> put on it" in await told(sandbox, "U0ALICE", "#1 in line")
    await sandbox.slack.slash("web2 v1.2.3 to staging --queue", user="U0DAVE")
    assert "#2 in line after `web2` `v1.2.3` by <@U0ALICE>" in await told(sandbox, "U0DAVE", "#2 in line")
    advance(60)
    await wait_text(sandbox, waiting, "In line")  # the lock holds the line

    await sandbox.slack.slash("unlock web2 staging", user="U0BOB")
    turn = await wait_thread(sandbox, waiting, "this request is next")
    assert "it starts now (no approval needed)" in turn
    await wait_thread(sandbox, waiting, "created with")
    await wait_text(sandbox, waiting, "not needed in staging")


async def test_a_request_in_line_expires(
    sandbox: Sandbox, tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(sandbox, tmp_path, transport, monkeypatch, clock=sandbox.now):
        await request_and_wait_root(sandbox, "web1 v1.2.3", user="U0ALICE")
        waiting = await queue(sandbox, "web1 v1.2.3", "U0DAVE")
        advance(2 * 3600 + 60)  # Alice's request expires: Dave's turn
        await wait_thread(sandbox, waiting, "this request is next")
        advance(2 * 3600 + 60)  # ... and his expires unapproved in turn
        await wait_thread(sandbox, waiting, "nobody approved it")
        later = await queue(sandbox, "web1 v1.2.3", "U0BOB")  # the app is free: no line to join
        assert buttons(later) == ["deploy_approve", "deploy_cancel"]
        behind = await queue(sandbox, "web1 v1.2.3", "U0DAVE")
        advance(8 * 3600 + 60)  # Bob's request and Dave's place in line both run out
        left = await wait_thread(sandbox, behind, "left the line")
        assert "was not free within 8 h. Nothing was deployed." in left
        shown = await wait_text(sandbox, behind, "Expired")
        assert "its turn did not come in time" in shown


async def test_the_line_outlives_the_process(
    sandbox: Sandbox, tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(sandbox, tmp_path, transport, monkeypatch):
        first = await request_and_wait_root(sandbox, "web1 v1.2.3", user="U0ALICE")
        waiting = await queue(sandbox, "web1 v1.2.3", "U0DAVE")
    async with running_bot(sandbox, tmp_path, transport, monkeypatch):  # a restart, on the same store
        await sandbox.slack.click(first, "deploy_cancel", user="U0ALICE")
        await wait_thread(sandbox, waiting, "this request is next")
        await wait_button(sandbox, waiting, "deploy_approve")
