"""A restarted bot (one replica, SQLite) resumes every in-flight deployment from its store and
finishes its thread, including deployments that ended while it was down."""

from __future__ import annotations

from pathlib import Path

from bot.app import Runtime
from bot.runtime.config import load_catalog
from sandbox.runner import CATALOG, Sandbox
from tests.conftest import bot_settings
from tests.e2e.helpers import advance, request_and_wait_root, thread_texts, wait_text, wait_thread


async def restart(sandbox: Sandbox, tmp_path: Path, transport: str) -> Runtime:
    """A new process on the same store."""
    second = Runtime(bot_settings(sandbox.slack, sandbox.aws, tmp_path, transport), load_catalog(CATALOG))
    await second.start()
    if transport == "http":
        sandbox.slack.deliverer.events_url = f"http://127.0.0.1:{second.port}/slack/events"
    return second


async def test_restart_mid_shift_finishes_the_thread(
    sandbox: Sandbox, bot: Runtime, tmp_path: Path, transport: str
) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    advance(60)
    await wait_thread(sandbox, root, "10% of traffic on green")
    await bot.stop()  # the process goes away mid-shift

    advance(2000)  # the deployment finishes while nobody watches

    second = await restart(sandbox, tmp_path, transport)
    try:
        final = await wait_thread(sandbox, root, "is live")
        await wait_text(sandbox, root, "Deployed")
        assert sum("is live" in t for t in thread_texts(sandbox, root)) == 1
        assert "web2 v1.2.3" in final
        assert len(sandbox.slack.messages("C0DEPLOYS")) == 2  # the root and the broadcast of the final reply
    finally:
        await second.tasks.drain()
        await second.stop()


async def test_outcome_not_yet_posted_when_the_bot_stops_is_posted_once_after_restart(
    sandbox: Sandbox, bot: Runtime, tmp_path: Path, transport: str
) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    await wait_thread(sandbox, root, "CodeDeploy started")
    sandbox.slack.faults["chat.postMessage"].extend(["500"] * 1000)  # Slack is down ...
    sandbox.slack.faults["chat.update"].extend(["500"] * 1000)
    advance(2000)  # ... when the deployment ends
    await bot.watcher.tick()
    finished = [r for r in await bot.store.in_flight() if r.state.terminal]
    assert len(finished) == 1 and not finished[0].settled  # decided, but not yet told
    await bot.stop()  # the queued last words die with the process
    sandbox.slack.faults.clear()

    second = await restart(sandbox, tmp_path, transport)
    try:
        await wait_thread(sandbox, root, "is live")
        await wait_text(sandbox, root, "Deployed")
        await second.watcher.tick()
        assert sum("is live" in t for t in thread_texts(sandbox, root)) == 1
        # Told: all that is left is to read the root once more later (its updates failed during the outage,
        # and one that got no answer could still land over a newer one).
        [left] = await second.store.in_flight()
        assert left.settled and not left.outbox and left.recheck_at is not None
    finally:
        await second.tasks.drain()
        await second.stop()


async def test_messages_queued_during_an_outage_survive_a_crash(
    sandbox: Sandbox, bot: Runtime, tmp_path: Path, transport: str
) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    sandbox.slack.faults["chat.postMessage"].extend(["fatal"] * 1000)  # Slack goes down ...
    sandbox.slack.faults["chat.update"].extend(["fatal"] * 1000)
    for _ in range(4):  # ... while the deployment moves on, one step per tick
        advance(70)
        await bot.watcher.tick()
    [record] = await bot.store.in_flight()
    owed = [m.text for m in record.outbox]
    assert len(owed) >= 4, owed  # started, lifecycle events, traffic steps: all kept in the store
    await bot.stop()  # the process goes away with Slack still down
    sandbox.slack.faults.clear()

    second = await restart(sandbox, tmp_path, transport)
    try:
        await wait_thread(sandbox, root, owed[-1])
        # Replies that waited are joined into fewer messages (with newlines): the same words, in order.
        thread = "\n".join(thread_texts(sandbox, root))
        assert thread.count("\n".join(owed)) == 1  # every one, once, in order
        advance(2000)
        await second.watcher.tick()
        await wait_thread(sandbox, root, "is live")
        texts = thread_texts(sandbox, root)
        assert len(texts) == len(set(texts))
    finally:
        await second.tasks.drain()
        await second.stop()


async def test_a_deployment_the_store_lost_is_found_by_its_request_id(
    sandbox: Sandbox, bot: Runtime, tmp_path: Path, transport: str
) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    await wait_thread(sandbox, root, "CodeDeploy started")
    [record] = await bot.store.in_flight()
    await bot.stop()
    (tmp_path / "restored").mkdir()  # the store comes back empty (a table recreated, a lost volume)

    second = await restart(sandbox, tmp_path / "restored", transport)
    try:
        found = await sandbox.slack.wait_for(
            lambda: [m for m in sandbox.slack.messages("C0DEPLOYS") if m.ts != root.ts and not m.thread_ts],
            what="a new root for the found deployment",
        )
        again = found[0]
        note = await wait_thread(sandbox, again, "found it again")
        assert record.deployment_id and record.deployment_id in note
        adopted = await second.store.get(record.id)  # same request id, same deployment, same image
        assert adopted is not None and adopted.deployment_id == record.deployment_id
        assert adopted.image.digest == record.image.digest and adopted.approver == "U0BOB"
        assert adopted.requester == "U0ALICE"
        advance(2000)
        await second.watcher.tick()
        await wait_thread(sandbox, again, "is live")
        await wait_text(sandbox, again, "Deployed")
        await second.watcher.tick()
        left = await second.store.in_flight()
        assert all(r.state.terminal and r.settled for r in left)  # told; watched only for one last look
        roots = [m for m in sandbox.slack.messages("C0DEPLOYS") if not m.thread_ts or m.thread_ts == m.ts]
        assert len(roots) == 2  # the lost one was adopted once, not once per tick
    finally:
        await second.tasks.drain()
        await second.stop()
