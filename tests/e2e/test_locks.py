"""/deploy lock and unlock: who holds it, why and since when; the automatic lock after a rollback;
reminders for locks held too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.runtime.config import load_catalog
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from sandbox.runner import CATALOG, Sandbox
from sandbox.slack.server import LocalSlack
from tests.conftest import composed
from tests.fakes import FakeEngine

from .helpers import advance, request_and_wait_root, roots, wait_thread


async def told(box: Sandbox, user: str, needle: str) -> str:
    found: list[str] = await box.slack.wait_for(
        lambda: [t for t in box.slack.ephemerals(user) if needle in t], what=needle
    )
    return found[-1]


async def test_lock_refuses_requests_and_approvals_until_unlocked(sandbox: Sandbox, bot: object) -> None:
    waiting = await request_and_wait_root(sandbox, "web1 v1.2.3")
    await sandbox.slack.slash("lock web1 db migration <!here>", user="U0BOB")
    note = await sandbox.slack.wait_for(
        lambda: [m.text for m in sandbox.slack.messages("C0DEPLOYS") if ":lock:" in m.text], what="lock note"
    )
    assert note[0] == ":lock: <@U0BOB> locked `web1`: db migration &lt;!here&gt;."

    await sandbox.slack.click(waiting, "deploy_approve", user="U0DAVE")  # locked after the request: no start
    refusal = await told(sandbox, "U0DAVE", "is locked by <@U0BOB>")
    assert "db migration" in refusal and "/deploy unlock web1" in refusal
    await sandbox.slack.click(waiting, "deploy_cancel", user="U0ALICE")
    await sandbox.slack.slash("web1 v1.2.3")
    assert "is locked by <@U0BOB> since" in await told(sandbox, "U0ALICE", "is locked by")
    await sandbox.slack.slash("web2 v1.2.3")  # other apps are not affected
    await told(sandbox, "U0ALICE", "Asked for approval of `web2 (production)`")

    await sandbox.slack.slash("unlock web1", user="U0CAROL")
    await told(sandbox, "U0CAROL", "Only the person who locked `web1` or one of its approvers")
    await sandbox.slack.slash("unlock web1", user="U0BOB")
    await told(sandbox, "U0BOB", "Unlocked `web1`.")
    again = await request_and_wait_root(sandbox, "web1 v1.2.3")
    assert "deploy_approve" in str(again.blocks)
    assert len([m for m in roots(sandbox) if m.text.startswith("Deploy ")]) == 3  # the refused one made none


async def test_a_rollback_locks_the_app(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox, "web1 v1.2.4-broken")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    advance(60)
    await wait_thread(sandbox, root, "Rolling back")
    advance(30)
    await wait_thread(sandbox, root, "failed after")
    await wait_thread(sandbox, root, "is now locked after this rollback")
    await sandbox.slack.slash("web1 v1.2.3")
    refusal = await told(sandbox, "U0ALICE", "is locked by deploybot")
    assert "rolled back" in refusal


async def test_locks_held_too_long_are_reminded(slack: LocalSlack, tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "holds.db"))
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]
    catalog = load_catalog(CATALOG)
    parts = composed(catalog, store, chat, FakeEngine(), lambda: now[0], lock_reminder=timedelta(hours=4))
    holds = parts.services.holds
    web1 = catalog.get("web1")
    assert web1 is not None
    hook = slack.new_hook("C0DEPLOYS", "U0BOB", None, "commands")
    await holds.lock(web1, "U0BOB", "T0SANDBOX", "incident 7", hook)
    now[0] += timedelta(hours=3)
    assert await holds.remind() == 0
    now[0] += timedelta(hours=1)
    assert await holds.remind() == 1
    assert await holds.remind() == 0  # not again until another interval has passed
    now[0] += timedelta(hours=4)
    assert await holds.remind() == 1
    reminders = [m.text for m in slack.messages("C0DEPLOYS") if "Reminder" in m.text]
    assert reminders[0] == (
        ":lock: Reminder: `web1` has been locked by <@U0BOB> for 4 h: incident 7. "
        "`/deploy unlock web1` when it is safe to deploy again."
    )
    assert "for 8 h" in reminders[1]
    store.close()
