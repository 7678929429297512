"""An approval request that nobody approves expires (by deploybot's clock, here a fake one): the thread
and the root say so, its app is free again, and a late Approve starts nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain.lifecycle import Action
from bot.domain.models import State
from bot.runtime.config import load_catalog
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from bot.watch.watcher import LAST_LOOK
from sandbox.runner import CATALOG
from sandbox.slack.server import LocalSlack
from tests.conftest import composed
from tests.fakes import FakeEngine


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_an_unapproved_request_expires_and_frees_its_app(slack: LocalSlack, tmp_path: Path) -> None:
    clock, store, engine = Clock(), SqliteStore(str(tmp_path / "e.db")), FakeEngine()
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    catalog = load_catalog(CATALOG)
    parts = composed(catalog, store, chat, engine, clock, approval_timeout=timedelta(hours=2))
    requests, clicks, watcher = parts.services.requests, parts.services.clicks, parts.watcher
    web1 = catalog.get("web1")
    assert web1 is not None

    def hook() -> str:
        return slack.new_hook("C0DEPLOYS", "U0ALICE", None, "commands")

    record = await requests.request(web1, "v1.2.3", "U0ALICE", "T0SANDBOX", hook(), "C0DEPLOYS")
    assert record is not None
    root = slack.ws.find("C0DEPLOYS", record.message_ts or "")
    assert "(expires 14:00 UTC)" in str(root.blocks)

    clock.now += timedelta(hours=1, minutes=59)
    await watcher.tick()
    assert (await store.get(record.id)).state is State.PENDING_APPROVAL  # type: ignore[union-attr]

    clock.now += timedelta(minutes=2)
    await watcher.tick()
    expired = await store.get(record.id)
    assert expired is not None and expired.state is State.CANCELLED and expired.expired
    assert [m.text for m in slack.thread(root)] == [
        ":hourglass: This request expired: nobody approved it within 2 h. Ask again with /deploy."
    ]
    assert "Expired" in str(root.blocks) and "deploy_approve" not in str(root.blocks)
    assert "expired" in [e.action for e in await store.audit_log(record.id)]

    await clicks.click(Action.APPROVE, record.id, "U0BOB", "T0SANDBOX", "C0DEPLOYS")
    assert "expired without an approval" in slack.ephemerals("U0BOB")[-1]
    assert engine.started == []
    again = await requests.request(web1, "v1.2.3", "U0ALICE", "T0SANDBOX", hook(), "C0DEPLOYS")
    assert again is not None and again.state is State.PENDING_APPROVAL  # the app is free again
    await watcher.tick()
    clock.now += LAST_LOOK  # the expired one's root is looked at once more, then let go
    await watcher.tick()
    assert await store.in_flight() == [await store.get(again.id)]  # only the new one is still watched
    store.close()
