"""What two replicas deciding and telling at once leave in Slack (the real SQLite store, the local Slack, a
fake engine): the root ends showing the latest state even when an older render lands last, and an ending
two replicas both decide is saved, audited and told once. Both were found by the fault campaign (soak/)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain.errors import ChatError
from bot.domain.models import State
from bot.domain.ports import ROOT
from bot.domain.progress import Found, Phase
from bot.render.root import root_text
from bot.runtime.config import load_catalog
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from bot.usecases.outbox import RECHECK
from bot.watch.watcher import LAST_LOOK
from sandbox.runner import CATALOG
from sandbox.slack.server import LocalSlack
from tests.conftest import composed
from tests.fakes import FakeEngine
from tests.unit.factories import record
from tests.usecases.test_recovery import FindingEngine


async def parts(slack: LocalSlack, tmp_path: Path) -> tuple[SqliteStore, object]:
    store = SqliteStore(str(tmp_path / "t.db"))
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    return store, composed(load_catalog(CATALOG), store, chat, FakeEngine())


async def test_a_root_render_that_lands_after_a_newer_one_is_followed_by_the_newest(
    slack: LocalSlack, tmp_path: Path
) -> None:
    store, built = await parts(slack, tmp_path)
    teller = built.teller  # type: ignore[attr-defined]
    created = await store.create(record(channel="C0DEPLOYS", state=State.IN_PROGRESS))
    ts = await teller.post_root(created)
    older = await store.save(created.model_copy(update={"message_ts": ts}))
    # Another replica saves the outcome (and renders it) while this one is still sending the older state.
    newer = await store.save(older.model_copy(update={"state": State.FAILED, "error_message": "smoke test failed"}))
    assert await teller.sync_root(older)
    assert slack.ws.find("C0DEPLOYS", ts).text == root_text(newer)  # not the "in progress" it was asked to send
    updates = slack.calls("chat.update")
    assert len(updates) == 2 and updates[-1].args["text"] == root_text(newer)
    assert await teller.sync_root(newer)  # nothing new: not sent again
    assert len(slack.calls("chat.update")) == 2
    store.close()


async def test_a_failed_start_decided_by_two_replicas_is_ended_once(slack: LocalSlack, tmp_path: Path) -> None:
    store, built = await parts(slack, tmp_path)
    starts, teller = built.starts, built.teller  # type: ignore[attr-defined]
    created = await store.create(record(channel="C0DEPLOYS", state=State.STARTING))
    ts = await teller.post_root(created)
    starting = await store.save(created.model_copy(update={"message_ts": ts}))
    app = load_catalog(CATALOG).get("web1", None)
    assert app is not None
    # The replica whose start failed, and one that took over the start it thought stranded.
    await starts.failed(app, starting, "AWS refused the call (InternalFailure)")
    await starts.failed(app, starting, "nothing was deployed")
    ended = await store.get(starting.id)
    assert ended is not None and ended.state is State.START_FAILED
    assert ended.error_message == "AWS refused the call (InternalFailure)"  # the first decision stands
    audit = [e.action for e in await store.audit_log(starting.id)]
    assert audit.count("start_failed") == 1
    told = [m.text for m in slack.thread(slack.ws.find("C0DEPLOYS", ts))]
    assert len(told) == 1, told
    store.close()


class SlowRootChat(SlackChat):
    """Slack whose root posts take a while: ``meanwhile`` runs before the post returns (another replica)."""

    meanwhile: Any = None

    async def post(self, channel: str, text: str, blocks: Any = None, **kw: Any) -> str:
        ts = await super().post(channel, text, blocks, **kw)
        if self.meanwhile is not None and kw["mark"].first == ROOT:  # the root, not a reply
            step, self.meanwhile = self.meanwhile, None
            await step()
        return ts


async def test_an_adopted_deployment_that_ends_while_its_root_is_posted_shows_its_end(
    slack: LocalSlack, tmp_path: Path
) -> None:
    """Found by the fault campaign (seed 4): the replica watching it told the outcome before the adopting one
    had saved where the root is; the root kept 'Created: waiting' for good."""
    store = SqliteStore(str(tmp_path / "a.db"))
    chat = SlowRootChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    found = Found(app="web2:staging", deployment_id="d-CI", creator="user", description="deployed by CI")
    recovery = composed(load_catalog(CATALOG), store, chat, FindingEngine([found])).recovery

    async def finished_elsewhere() -> None:
        record = await store.get("x-d-CI")
        assert record is not None
        await store.save(record.model_copy(update={"state": State.SUCCEEDED, "phase": Phase.DONE, "traffic": 100.0}))

    chat.meanwhile = finished_elsewhere
    assert (await recovery.lost()).adopted == 1
    record = await store.get("x-d-CI")
    assert record is not None and record.message_ts and record.state is State.SUCCEEDED
    assert slack.ws.find("C0DEPLOYS", record.message_ts).text == root_text(record)
    store.close()


class LateUpdateChat(SlackChat):
    """Slack taking one root update after the client gave up on it: it lands when ``land`` is called."""

    late: Any = None

    async def update(self, channel: str, ts: str, text: str, blocks: Any, *, paced: bool = True) -> None:
        if self.late is None:
            self.late = (channel, ts, text, blocks)
            raise ChatError("TimeoutError", answered=False)
        await super().update(channel, ts, text, blocks, paced=paced)

    async def land(self) -> None:
        channel, ts, text, blocks = self.late
        await SlackChat.update(self, channel, ts, text, blocks, paced=False)


async def test_a_root_update_without_an_answer_that_lands_over_a_newer_one_is_rendered_again(
    slack: LocalSlack, tmp_path: Path
) -> None:
    """Found by the fault campaign (seed 6): an update that timed out landed after the outcome's, and the root
    said 'Created' for good."""
    now = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    store = SqliteStore(str(tmp_path / "l.db"))
    chat = LateUpdateChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    teller = composed(load_catalog(CATALOG), store, chat, FakeEngine(), clock=lambda: now[0]).teller
    created = await store.create(record(channel="C0DEPLOYS", state=State.IN_PROGRESS))
    ts = await teller.post_root(created)
    starting = await store.save(created.model_copy(update={"message_ts": ts, "phase": Phase.PROVISIONING}))
    assert not await teller.sync_root(starting, force=True)  # no answer: it may land yet
    pending = await store.get(starting.id)
    assert pending is not None and pending.recheck_at == now[0] + RECHECK and pending.watched
    # Another replica tells the outcome; then the lost update lands over it.
    ended = await store.save(pending.model_copy(update={"state": State.SUCCEEDED, "phase": Phase.DONE}))
    await SlackChat.update(chat, "C0DEPLOYS", ts, root_text(ended), [], paced=False)
    await chat.land()
    assert slack.ws.find("C0DEPLOYS", ts).text == root_text(starting)
    assert await teller.tell(ended)  # not due yet: this replica thinks its render stands
    now[0] += RECHECK
    assert await teller.tell(ended)
    assert slack.ws.find("C0DEPLOYS", ts).text == root_text(ended)
    done = await store.get(starting.id)
    assert done is not None and done.recheck_at is None  # the watcher settles it next
    store.close()


async def test_a_deployment_adopted_while_slack_took_no_root_gets_its_root_when_next_told(
    slack: LocalSlack, tmp_path: Path
) -> None:
    store = SqliteStore(str(tmp_path / "m.db"))
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    found = Found(app="web2:staging", deployment_id="d-CI", creator="user", description="deployed by CI")
    built = composed(load_catalog(CATALOG), store, chat, FindingEngine([found]))
    # The root and both of slack_sdk's retries, twice: adopting it, and once more as it saves (a 500 may have
    # posted it after all, so the recheck it asks for saved the record meanwhile, which is told again).
    slack.faults["chat.postMessage"].extend(["500"] * 6)
    assert (await built.recovery.lost()).adopted == 1
    adopted = await store.get("x-d-CI")
    assert adopted is not None and adopted.message_ts is None and adopted.outbox  # the note still owed
    assert slack.messages("C0DEPLOYS") == []
    assert await built.teller.tell(adopted)  # the watcher's next turn
    told = await store.get("x-d-CI")
    assert told is not None and told.message_ts and not told.outbox
    [root] = slack.messages("C0DEPLOYS")
    assert root.ts == told.message_ts and root.text == root_text(told)
    assert ["was started outside deploybot" in m.text for m in slack.thread(root)] == [True]
    store.close()


async def test_a_request_left_without_its_root_expires_into_a_thread_of_its_own(
    slack: LocalSlack, tmp_path: Path
) -> None:
    """Found by the fault campaign (make test's seed): a replica killed between saving a request that needs
    no approval and posting its root left a record nobody could see or cancel. Its start is overdue, so
    it expires, and its root is posted then, with the reason in its thread."""
    store, built = await parts(slack, tmp_path)
    watcher, teller = built.watcher, built.teller  # type: ignore[attr-defined]
    old = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    left = await store.create(
        record(channel="C0DEPLOYS", app="web2", environment="staging", created_at=old, expires_at=old, updated_at=old)
    )
    expired = await watcher.rules.expire(left)
    assert expired.state is State.CANCELLED and expired.expired and expired.message_ts is None
    assert await teller.tell(await store.get(left.id))
    saved = await store.get(left.id)
    assert saved is not None and saved.message_ts and not saved.outbox
    root = slack.ws.find("C0DEPLOYS", saved.message_ts)
    assert "*Expired*: it never started: deploybot stopped while it was being made" in str(root.blocks)
    assert [m.text for m in slack.ws.thread("C0DEPLOYS", saved.message_ts)] == [
        ":hourglass: This request never started: deploybot stopped while it was being made. Nothing was "
        "deployed. Ask again with /deploy."
    ]
    store.close()


class HeldRootChat(SlackChat):
    """Slack as a replica stopped half-way through a request sees it: its first root post waits for ``go``."""

    def __init__(self, token: str, url: str) -> None:
        super().__init__(token, url)
        self.go = asyncio.Event()
        self.holding = asyncio.Event()

    async def post(self, channel: str, text: str, blocks: Any = None, **kw: Any) -> str:
        if not self.holding.is_set():
            self.holding.set()
            await self.go.wait()
        return await super().post(channel, text, blocks, **kw)


async def test_a_request_left_unshown_gets_its_root_from_the_watcher(slack: LocalSlack, tmp_path: Path) -> None:
    """Found by the fault campaign (seed 103): a replica killed between saving a request and posting its
    root left it waiting, invisible, for its two hours (its app busy all along). Past the starting grace the
    watcher posts its root, so an approver can act on it; the request's own post, if it comes after all,
    is deleted rather than kept as a second root."""
    store = SqliteStore(str(tmp_path / "t.db"))
    chat = HeldRootChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    now = [datetime(2026, 11, 22, 12, 0, tzinfo=UTC)]
    catalog = load_catalog(CATALOG)
    built = composed(catalog, store, chat, FakeEngine(), lambda: now[0])
    web1 = catalog.get("web1")
    assert web1 is not None
    hook = slack.new_hook("C0DEPLOYS", "U0ALICE", None, "commands")
    asked = asyncio.ensure_future(
        built.services.requests.request(web1, "v1.2.3", "U0ALICE", "T0SANDBOX", hook, "C0DEPLOYS")
    )
    await chat.holding.wait()  # saved, its root not yet posted
    (left,) = await store.in_flight()
    await built.watcher.tick()
    assert (await store.get(left.id)).message_ts is None  # type: ignore[union-attr]  # its maker may still post it
    now[0] += timedelta(minutes=6)  # past the starting grace (five minutes)
    await built.watcher.tick()
    shown = await store.get(left.id)
    assert shown is not None and shown.message_ts and shown.state is State.PENDING_APPROVAL
    assert "deploy_approve" in str(slack.ws.find("C0DEPLOYS", shown.message_ts).blocks)
    chat.go.set()  # the request's own post, late: one root stays
    late = await asked
    assert late is not None and late.message_ts == shown.message_ts
    roots = [m for m in slack.messages("C0DEPLOYS") if not m.thread_ts or m.thread_ts == m.ts]
    assert len(roots) == 1
    store.close()


async def test_a_cancel_whose_replica_died_before_the_update_still_shows(slack: LocalSlack, tmp_path: Path) -> None:
    """Found by the fault campaign (seed 101): a Cancel saved by a replica killed before its chat.update left
    the root saying "Waiting for approval" for good. Every ending is now told once more by the watcher."""
    store, built = await parts(slack, tmp_path)
    teller, watcher = built.teller, built.watcher  # type: ignore[attr-defined]
    created = await store.create(record(channel="C0DEPLOYS"))
    ts = await teller.post_root(created)
    shown = await store.save(created.model_copy(update={"message_ts": ts}))
    await store.save(shown.model_copy(update={"state": State.CANCELLED, "cancelled_by": "U0ALICE"}))  # then killed
    assert "Waiting for approval" in slack.ws.find("C0DEPLOYS", ts).text
    await watcher.tick()
    assert slack.ws.find("C0DEPLOYS", ts).text.endswith("Cancelled")
    settled = await store.get(created.id)
    assert settled is not None and settled.settled and settled.recheck_at is not None  # one last look to come
    store.close()


async def test_a_request_made_too_slowly_gives_up_rather_than_share_its_app(slack: LocalSlack, tmp_path: Path) -> None:
    """Found by the fault campaign (seed 102): a replica killed while making a request held its app for the
    two hours of an approval. The app is now held for the starting grace until the request is saved; a
    request that took longer than that (the app may be someone else's by then) is closed, nothing shown."""
    now = [datetime(2026, 11, 22, 12, 0, tzinfo=UTC)]
    store = SqliteStore(str(tmp_path / "t.db"), lambda: now[0])
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()

    class Slow(FakeEngine):
        async def live(self, app: Any) -> Any:
            held = await store.acquire_lock("app:web1:production", "r-other", now[0] + timedelta(hours=2))
            assert held is not None  # still this request's: five minutes of grace
            now[0] += timedelta(minutes=6)  # AWS took its time; the grace ran out and another request came
            assert await store.acquire_lock("app:web1:production", "r-other", now[0] + timedelta(hours=2)) is None
            return await super().live(app)

    catalog = load_catalog(CATALOG)
    built = composed(catalog, store, chat, Slow(), lambda: now[0])
    hook = slack.new_hook("C0DEPLOYS", "U0ALICE", None, "commands")
    web1 = catalog.get("web1")
    assert web1 is not None
    assert await built.services.requests.request(web1, "v1.2.3", "U0ALICE", "T0SANDBOX", hook, "C0DEPLOYS") is None
    said = slack.hooks[hook.split("/hooks/", 1)[1].split("?", 1)[0]].said
    assert "took so long that its hold on the app ran out" in said[-1]
    (closed,) = await store.history("web1", "production", 5)
    assert closed.state is State.CANCELLED and closed.cancelled_by == "deploybot" and closed.message_ts is None
    assert slack.messages("C0DEPLOYS") == []  # nothing asked
    store.close()


class FailingOnceChat(SlackChat):
    """Slack answering one root update with an error (its fate unknown), then every later one."""

    failed = False

    async def update(self, channel: str, ts: str, text: str, blocks: Any, *, paced: bool = True) -> None:
        if not self.failed:
            self.failed = True
            raise ChatError("TimeoutError", answered=False)
        await super().update(channel, ts, text, blocks, paced=paced)


async def test_an_ending_told_before_its_recheck_is_not_sent_again_on_every_tick(
    slack: LocalSlack, tmp_path: Path
) -> None:
    """Found by the fault campaign (seed 35): once a root update got no answer, the finished deployment stayed
    watched until its recheck, and every tick (of whichever replica took it next) sent the same root again."""
    now = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    store = SqliteStore(str(tmp_path / "r.db"))
    chat = FailingOnceChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    built = composed(load_catalog(CATALOG), store, chat, FakeEngine(), clock=lambda: now[0])
    created = await store.create(record(channel="C0DEPLOYS", state=State.IN_PROGRESS))
    ts = await built.teller.post_root(created)
    shown = await store.save(created.model_copy(update={"message_ts": ts}))
    ended = await store.save(shown.model_copy(update={"state": State.SUCCEEDED, "phase": Phase.DONE}))
    assert not await built.teller.sync_root(ended)  # no answer: rechecked later
    for _ in range(3):
        await built.watcher.tick()
    assert slack.ws.find("C0DEPLOYS", ts).text == root_text(ended)
    assert len(slack.calls("chat.update")) == 1  # rendered once, not once a tick
    kept = await store.get(created.id)
    assert kept is not None and kept.settled and kept.recheck_at is not None and kept.watched
    now[0] += RECHECK
    await built.watcher.tick()
    assert len(slack.calls("chat.update")) == 2  # the recheck renders it once more, whatever was shown
    done = await store.get(created.id)
    assert done is not None and done.recheck_at is None and not done.watched
    assert created.id not in {r.id for r in await store.in_flight()}
    store.close()


class LateRootChat(SlackChat):
    """Slack taking a root post after the client gave up on it: it lands when ``land`` is called."""

    late: Any = None

    async def post(self, channel: str, text: str, blocks: Any = None, **kw: Any) -> str:
        if self.late is None and kw["mark"].first == ROOT:
            self.late = (channel, text, blocks, kw)
            raise ChatError("TimeoutError", answered=False)
        return await super().post(channel, text, blocks, **kw)

    async def land(self) -> None:
        channel, text, blocks, kw = self.late
        await SlackChat.post(self, channel, text, blocks, **kw)


async def test_a_root_post_without_an_answer_that_lands_late_is_removed_on_the_recheck(
    slack: LocalSlack, tmp_path: Path
) -> None:
    """Found by the fault campaign (seed 102): a root whose post got no answer landed later, a message with
    live buttons that no record knew."""
    now = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    store = SqliteStore(str(tmp_path / "root.db"))
    chat = LateRootChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    catalog = load_catalog(CATALOG)
    built = composed(catalog, store, chat, FakeEngine(), clock=lambda: now[0])
    web1 = catalog.get("web1")
    assert web1 is not None
    hook = slack.new_hook("C0DEPLOYS", "U0ALICE", None, "commands")
    assert await built.services.requests.request(web1, "v1.2.3", "U0ALICE", "T0SANDBOX", hook, "C0DEPLOYS") is None
    (closed,) = await store.history("web1", "production", 5)
    assert closed.state is State.CANCELLED and closed.message_ts is None and closed.recheck_at == now[0] + RECHECK
    await chat.land()  # Slack took it after all: a root nobody can act on
    assert [m.text for m in slack.messages("C0DEPLOYS")] == [
        root_text(closed.model_copy(update={"state": State.PENDING_APPROVAL}))
    ]
    await built.watcher.tick()
    assert len(slack.messages("C0DEPLOYS")) == 1  # not due yet
    now[0] += RECHECK
    await built.watcher.tick()
    assert slack.messages("C0DEPLOYS") == []
    done = await store.get(closed.id)
    assert done is not None and done.recheck_at is None and closed.id not in {r.id for r in await store.in_flight()}
    store.close()


async def test_a_deployment_another_replica_settled_is_let_go(slack: LocalSlack, tmp_path: Path) -> None:
    """A replica paused past its lease finds, once resumed, that another one told and settled its deployment:
    it forgets the lease, rather than keep it for as long as it runs."""
    store, built = await parts(slack, tmp_path)
    watcher, leases = built.watcher, built.leases  # type: ignore[attr-defined]
    created = await store.create(record(channel="C0DEPLOYS", state=State.SUCCEEDED, phase=Phase.DONE))
    assert await leases.own(created) and created.id in leases.holding  # then paused
    await store.save(created.model_copy(update={"message_ts": "1.000100", "settled": True}))  # by another
    await watcher.tick()
    assert created.id not in leases.holding
    store.close()


async def test_a_late_root_is_removed_only_once_the_records_own_root_is_known(
    slack: LocalSlack, tmp_path: Path
) -> None:
    """A recheck due while the record has no root yet waits: the root being posted at that moment (its ts not
    yet saved) must not be taken for the late copy."""
    now = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    store = SqliteStore(str(tmp_path / "known.db"))
    chat = LateRootChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    built = composed(load_catalog(CATALOG), store, chat, FakeEngine(), clock=lambda: now[0])
    teller, outbox = built.teller, built.outbox  # type: ignore[attr-defined]
    unshown = await store.create(record(channel="C0DEPLOYS", state=State.IN_PROGRESS))
    assert not await teller.sync_root(unshown)  # no answer: it may land yet
    await chat.land()
    now[0] += RECHECK
    assert await outbox.flush(unshown.id)
    assert len(slack.messages("C0DEPLOYS")) == 1  # its own root is not known yet: nothing removed
    waiting = await store.get(unshown.id)
    assert waiting is not None and waiting.recheck_at == now[0] + RECHECK
    assert await teller.sync_root(waiting)  # the watcher posts its root
    shown = await store.get(unshown.id)
    assert shown is not None and shown.message_ts and len(slack.messages("C0DEPLOYS")) == 2
    now[0] += RECHECK
    assert await teller.tell(shown)
    assert [m.ts for m in slack.messages("C0DEPLOYS")] == [shown.message_ts]  # the late one went
    store.close()


async def test_an_older_render_landing_after_the_end_is_told_is_overwritten_by_the_last_look(
    slack: LocalSlack, tmp_path: Path
) -> None:
    """Found by the fault campaign (seed 104): a replica paused (or killed) right after sending an older render
    landed it after the outcome's, and never corrected it; the replica that told the end thought it stood."""
    now = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    store = SqliteStore(str(tmp_path / "look.db"))
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    built = composed(load_catalog(CATALOG), store, chat, FakeEngine(), clock=lambda: now[0])
    created = await store.create(record(channel="C0DEPLOYS", state=State.IN_PROGRESS, phase=Phase.SHIFTING))
    ts = await built.teller.post_root(created)
    shown = await store.save(created.model_copy(update={"message_ts": ts}))
    ended = await store.save(shown.model_copy(update={"state": State.SUCCEEDED, "phase": Phase.DONE}))
    await built.watcher.tick()
    told = await store.get(created.id)
    assert told is not None and told.settled and told.recheck_at == now[0] + LAST_LOOK
    assert slack.ws.find("C0DEPLOYS", ts).text == root_text(ended)
    await SlackChat.update(chat, "C0DEPLOYS", ts, root_text(shown), [], paced=False)  # the other's, late
    await built.watcher.tick()
    assert slack.ws.find("C0DEPLOYS", ts).text == root_text(shown)  # nobody knows yet
    now[0] += LAST_LOOK
    await built.watcher.tick()
    assert slack.ws.find("C0DEPLOYS", ts).text == root_text(ended)
    assert created.id not in {r.id for r in await store.in_flight()}
    store.close()
