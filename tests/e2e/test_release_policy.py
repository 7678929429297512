"""Change freezes (the catalog's windows and `/deploy freeze`), break-glass deploys (`--emergency`) and
the delivery figures (`/deploy stats`), in both transports."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import Runtime
from bot.runtime.config import load_catalog
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from sandbox.runner import CATALOG, Sandbox
from sandbox.slack.server import LocalSlack
from tests.conftest import composed, running_bot
from tests.fakes import FakeEngine

from .helpers import advance, request_and_wait_root, root_text, roots, wait_button, wait_text, wait_thread


async def told(box: Sandbox, user: str, needle: str) -> str:
    found: list[str] = await box.slack.wait_for(
        lambda: [t for t in box.slack.ephemerals(user) if needle in t], what=needle
    )
    return found[-1]


def requests_made(box: Sandbox) -> int:
    return len([m for m in roots(box) if "Deploy " in m.text])


async def test_an_ad_hoc_freeze_refuses_requests_and_approvals_until_lifted(sandbox: Sandbox, bot: object) -> None:
    waiting = await request_and_wait_root(sandbox, "web1 v1.2.3")
    await sandbox.slack.slash("freeze web1 2h release train", user="U0ALICE")  # a requester, not an approver
    assert "Only approvers of `web1` can freeze it" in await told(sandbox, "U0ALICE", "can freeze it")
    await sandbox.slack.slash("freeze web1 2x", user="U0BOB")
    assert "'2x' is not a duration" in await told(sandbox, "U0BOB", "not a duration")

    await sandbox.slack.slash("freeze web1 2h release train", user="U0BOB")
    assert (await told(sandbox, "U0BOB", "Froze `web1`")).startswith("Froze `web1` until ")
    note = await sandbox.slack.wait_for(
        lambda: [m.text for m in sandbox.slack.messages("C0DEPLOYS") if ":snowflake:" in m.text], what="note"
    )
    assert "<@U0BOB> froze `web1` until" in note[0] and "release train" in note[0]

    await sandbox.slack.click(waiting, "deploy_approve", user="U0DAVE")  # asked before the freeze: still refused
    refusal = await told(sandbox, "U0DAVE", "is frozen by")
    assert "is frozen by <@U0BOB> until" in refusal and ": release train." in refusal
    assert "`/deploy unfreeze web1`" in refusal
    assert "--emergency" in refusal  # web1 names people who may break the glass
    await sandbox.slack.click(waiting, "deploy_cancel", user="U0ALICE")
    before = requests_made(sandbox)
    await sandbox.slack.slash("web1 v1.2.3")
    assert "Nothing new is deployed during a freeze" in await told(sandbox, "U0ALICE", "is frozen by")
    assert requests_made(sandbox) == before  # refused before any message or AWS change

    await sandbox.slack.slash("status web1")
    status = await told(sandbox, "U0ALICE", "What runs where")
    assert ":snowflake: frozen by <@U0BOB> until" in status and "release train" in status

    await sandbox.slack.slash("unfreeze web1", user="U0DAVE")  # any approver may lift it
    await told(sandbox, "U0DAVE", "Lifted the freeze on `web1`.")
    await sandbox.slack.slash("unfreeze web1", user="U0DAVE")
    await told(sandbox, "U0DAVE", "`web1` has no freeze to lift.")
    again = await request_and_wait_root(sandbox, "web1 v1.2.3")
    assert "deploy_approve" in str(again.blocks)

    await sandbox.slack.slash("audit web1", user="U0BOB")
    trail = await told(sandbox, "U0BOB", "unfroze")
    assert "froze" in trail and "<@U0DAVE>" in trail


async def test_a_freeze_starting_does_not_stop_a_deployment_running(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox, "web1 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    await sandbox.slack.slash("freeze web1 1d incident", user="U0BOB")
    await told(sandbox, "U0BOB", "Froze `web1`")
    advance(3)
    advance(60)
    root = await wait_button(sandbox, root, "deploy_gate")
    await sandbox.slack.click(root, "deploy_gate", user="U0BOB")  # the engine's own gate: still for people
    await wait_thread(sandbox, root, "started shifting traffic")
    advance(5)
    advance(300)
    advance(10)
    root = await wait_button(sandbox, root, "deploy_finish")
    await sandbox.slack.click(root, "deploy_finish", user="U0BOB")
    await wait_text(sandbox, root, "Deployed")


async def test_an_emergency_deploy_skips_approval_and_the_freeze_but_not_the_rest(
    sandbox: Sandbox, bot: object
) -> None:
    await sandbox.slack.slash("freeze web1 4h quiet period", user="U0DAVE")
    await told(sandbox, "U0DAVE", "Froze `web1`")
    await sandbox.slack.slash('web1 v1.2.3 --emergency "checkout is down"', user="U0ALICE")
    assert "Only <@U0BOB> can deploy `web1` as an emergency" in await told(sandbox, "U0ALICE", "as an emergency")
    await sandbox.slack.slash("web2 v1.2.3 --emergency outage", user="U0BOB")
    assert "Emergency deploys are off for `web2 (production)`" in await told(sandbox, "U0BOB", "are off")
    await sandbox.slack.slash("web1 v1.2.3 --emergency", user="U0BOB")
    assert "an emergency deploy needs its reason" in await told(sandbox, "U0BOB", "needs its reason")
    await sandbox.slack.slash("web1 v9.9.9 --emergency “checkout is down”", user="U0BOB")
    assert "v9.9.9" in await told(sandbox, "U0BOB", "v9.9.9")  # the image checks stay

    before = len(roots(sandbox))
    await sandbox.slack.slash("web1 v1.2.3 --emergency “checkout is down”", user="U0BOB")  # Slack's curly quotes
    answer = await told(sandbox, "U0BOB", "as an emergency")
    assert "Deploying `web1` `v1.2.3` now as an emergency, without approval" in answer
    root = (await sandbox.slack.wait_for(lambda: roots(sandbox)[before:], what="emergency root"))[0]
    shown = await wait_text(sandbox, root, "Emergency deploy")
    assert "Emergency deploy* by <@U0BOB>, without approval and past any change freeze: checkout is down" in shown
    assert "skipped: emergency" in shown
    alert = await sandbox.slack.wait_for(
        lambda: [m for m in sandbox.slack.messages("C0ALERTS") if "Emergency deploy" in m.text], what="alert"
    )
    assert alert[0].text.startswith("<!subteam^S0APPROVERS> Emergency deploy of web1 v1.2.3")  # on-call paged
    assert "checkout is down" in root_text(alert[0])

    said = await wait_thread(sandbox, root, "Emergency deploy")
    assert "by <@U0BOB>, without approval and past any change freeze: checkout is down" in said
    await wait_thread(sandbox, root, "created with")
    advance(3)
    advance(60)
    root = await wait_button(sandbox, root, "deploy_gate")  # the engine's gate is not skipped
    await sandbox.slack.click(root, "deploy_gate", user="U0BOB")
    advance(5)
    advance(300)
    advance(10)
    root = await wait_button(sandbox, root, "deploy_finish")
    await sandbox.slack.click(root, "deploy_finish", user="U0BOB")
    await wait_thread(sandbox, root, "is live")
    review = await wait_thread(sandbox, root, "review note")
    assert review.startswith(":memo: <@U0BOB>, this was an emergency deploy.")
    assert len([m for m in sandbox.slack.messages("C0ALERTS") if "Emergency" in m.text]) == 1

    await sandbox.slack.slash("audit web1", user="U0BOB")
    trail = await told(sandbox, "U0BOB", "emergency deploy by U0BOB")
    assert "checkout is down" in trail


async def test_an_emergency_does_not_pass_a_lock(sandbox: Sandbox, bot: object) -> None:
    await sandbox.slack.slash("lock web1 db migration", user="U0DAVE")
    await told(sandbox, "U0DAVE", "Locked `web1`")
    before = requests_made(sandbox)
    await sandbox.slack.slash("web1 v1.2.3 --emergency now", user="U0BOB")
    assert "is locked by <@U0DAVE>" in await told(sandbox, "U0BOB", "is locked by")
    assert requests_made(sandbox) == before


WINDOW = """
freezes:
  - name: year end
    timezone: Europe/Berlin
    start: "{start}"
    end: "{end}"
    reason: books are closing
    environments: [production]
"""


async def test_a_catalog_window_refuses_and_only_the_catalog_lifts_it(
    sandbox: Sandbox, tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    berlin = sandbox.now().astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    window = WINDOW.format(
        start=(berlin - timedelta(hours=1)).isoformat(" ", "minutes"),
        end=(berlin + timedelta(hours=3)).isoformat(" ", "minutes"),
    )
    catalog = tmp_path / "catalog.yml"
    catalog.write_text(window + CATALOG.read_text())
    async with running_bot(sandbox, tmp_path, transport, monkeypatch, clock=sandbox.now, catalog=catalog):
        await sandbox.slack.slash("web2 v1.2.3")
        refusal = await told(sandbox, "U0ALICE", "by the catalog's freeze")
        assert "year end" in refusal and "Europe/Berlin" in refusal and "books are closing" in refusal
        assert "lifting it early means changing the catalog" in refusal
        await sandbox.slack.slash("unfreeze web2", user="U0BOB")
        assert "which is in the catalog" in await told(sandbox, "U0BOB", "which is in the catalog")
        await sandbox.slack.slash("web2 v1.2.3 to staging")  # the window covers production only
        await told(sandbox, "U0ALICE", "Deploying `web2 (staging)` `v1.2.3` now")


async def test_an_ad_hoc_freeze_ends_by_itself(slack: LocalSlack, tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "freezes.db"))
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    now = [datetime(2026, 12, 11, 15, 0, tzinfo=UTC)]
    catalog = load_catalog(CATALOG)
    parts = composed(catalog, store, chat, FakeEngine(), lambda: now[0])
    freezes = parts.services.freezes
    web1 = catalog.get("web1")
    assert web1 is not None
    hook = slack.new_hook("C0DEPLOYS", "U0BOB", None, "commands")
    await freezes.freeze(web1, "U0BOB", "T0SANDBOX", timedelta(hours=2), "", hook)
    found = await freezes.in_force(web1)
    assert found is not None and found.until == now[0] + timedelta(hours=2)
    await freezes.freeze(web1, "U0BOB", "T0SANDBOX", timedelta(minutes=30), "shorter", hook)  # replaces it
    found = await freezes.in_force(web1)
    assert found is not None and found.until == now[0] + timedelta(minutes=30) and found.reason == "shorter"
    now[0] += timedelta(minutes=30)
    assert await freezes.in_force(web1) is None
    await parts.services.holds.check(web1, "v1.2.3")  # nothing refuses it any more
    store.close()


async def test_stats_tell_the_four_delivery_figures(sandbox: Sandbox, bot: Runtime) -> None:
    await sandbox.slack.slash("stats web2 staging")
    empty = await told(sandbox, "U0ALICE", "Delivery of `web2 (staging)`")
    assert "the last 30 days" in empty and "No deployment reached the engine" in empty

    for version, outcome in (("v1.2.3", "is live"), ("v1.2.4-broken", "failed after"), ("v1.2.2", "is live")):
        root = await request_and_wait_root(sandbox, f"web2 {version} to staging")
        await wait_thread(sandbox, root, "created with")
        for _ in range(6):
            advance(120)
        await wait_thread(sandbox, root, outcome, timeout=20)
        await wait_text(sandbox, root, "Deployed" if outcome == "is live" else "Failed")

    await sandbox.slack.slash("stats web2 staging 7d")
    figures = await told(sandbox, "U0ALICE", "the last 7 days")
    assert "*Deployment frequency*: 0.29 a day (2 live in 7 days)" in figures
    assert "*Change failure rate*: 33% (1 of 3 failed, stopped or rolled back)" in figures
    assert "(of 2)" in figures and "(of 1)" in figures  # two lead times, one restore
    await sandbox.slack.slash("stats web2 staging 400d")
    assert "Usage: `/deploy stats" in await told(sandbox, "U0ALICE", "Usage: `/deploy stats")

    # The same figures for dashboards, from the store (the command a cron job or CI step runs).
    env = {**os.environ, "DEPLOYBOT_STORE": bot.settings.store_url, "DEPLOYBOT_CONFIG": str(CATALOG)}
    out = await deploybot(env, "stats", "--json", "--app", "web2", "--days", "7")
    assert out[0] == 0
    rows = {row["environment"]: row for row in json.loads(out[1])}
    assert set(rows) == {"production", "staging"}
    staging = rows["staging"]
    assert (staging["deployments"], staging["succeeded"], staging["failed"]) == (3, 2, 1)
    assert staging["change_failure_rate"] == 0.3333 and staging["lead_time_count"] == 2
    assert staging["restore_count"] == 1 and staging["time_to_restore_median_seconds"] >= 0
    assert rows["production"]["deployments"] == 0 and rows["production"]["change_failure_rate"] is None
    code, _, err = await deploybot(env, "stats", "--app", "web9")
    assert code == 2 and "no app 'web9' in the catalog" in err


async def deploybot(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await proc.communicate()
    return proc.returncode or 0, stdout.decode(), stderr.decode()
