"""100 double-approve races, each on its own request: exactly one deployment each, the loser told.

The engine is a fake of the domain's own port (counting the starts); the store is the real SQLite store
and Slack is the local workspace, so the race runs through the real compare-and-set."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.domain.lifecycle import Action
from bot.domain.models import State
from bot.runtime.config import load_catalog
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from sandbox.runner import CATALOG
from sandbox.slack.server import LocalSlack
from tests.conftest import composed
from tests.fakes import FakeEngine

RACES = 100


async def test_hundred_double_approve_races(slack: LocalSlack, tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "races.db"))
    engine = FakeEngine()
    catalog = load_catalog(CATALOG)
    services = composed(catalog, store, SlackChat(slack.ws.bot_token, slack.api_url), engine).services
    app = catalog.get("web1")
    assert app is not None
    try:
        for race in range(RACES):
            record = await services.requests.request(app, "v1.2.3", "U0ALICE", "T0SANDBOX", f"{slack.base_url}/none")
            assert record is not None
            await asyncio.gather(
                *(services.clicks.click(Action.APPROVE, record.id, "U0BOB", "T0SANDBOX", "C0DEPLOYS") for _ in range(2))
            )
            final = await store.get(record.id)
            assert final is not None and final.state is State.IN_PROGRESS, race
            assert [r.id for r in engine.started].count(record.id) == 1, race
            await store.release_lock(f"app:{app.key}", record.id)  # let the next race request web1
        told = [t for t in slack.ephemerals("U0BOB") if "already approved" in t or "starting" in t]
        started = [r.id for r in engine.started]
        assert len(started) == RACES and len(set(started)) == RACES
        assert len(told) == RACES  # every losing click was told why
    finally:
        store.close()
