"""Recovery on its own (a fake engine, the real store and local Slack): deployments found running without a
record get one root and one note each, and adopting them spends none of Slack's update turns."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from bot.domain.catalog import AppConfig
from bot.domain.progress import Claim, DeploymentEvent, Found
from bot.runtime.config import load_catalog
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from sandbox.runner import CATALOG
from sandbox.slack.server import LocalSlack
from tests.conftest import composed
from tests.fakes import FakeEngine


class FindingEngine(FakeEngine):
    """An engine that finds these deployments running (and no others) on every scan."""

    def __init__(self, found: list[Found]) -> None:
        super().__init__()
        self.found = found

    async def unfollowed(
        self, apps: Sequence[AppConfig], following: Collection[str], near: Sequence[DeploymentEvent] | None = None
    ) -> list[Found]:
        return [f for f in self.found if f.deployment_id not in following]


async def test_found_deployments_are_adopted_once_each_without_root_updates(slack: LocalSlack, tmp_path: Path) -> None:
    ours = Claim(request_id="r-0123456789", tag="v1.2.3", requester="U0ALICE", approvals=["U0BOB"])
    found = [
        Found(app="web1:production", deployment_id="d-OURS", claim=ours, creator="user", description="deploybot …"),
        Found(app="web2:staging", deployment_id="d-CI", creator="user", description="deployed by CI"),
        Found(app="web2:production", deployment_id="d-CONSOLE", creator="user"),
    ]
    store = SqliteStore(str(tmp_path / "r.db"))
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    recovery = composed(load_catalog(CATALOG), store, chat, FindingEngine(found)).recovery

    assert (await recovery.lost()).adopted == 3
    assert (await recovery.lost()).adopted == 0  # the next scan knows them all
    roots = [m for m in slack.messages("C0DEPLOYS") if not m.thread_ts or m.thread_ts == m.ts]
    assert len(roots) == 3 and slack.calls("chat.update") == []
    notes = [[r.text for r in slack.thread(root)] for root in roots]
    assert all(len(n) == 1 for n in notes)
    adopted = await store.get("r-0123456789")
    assert adopted is not None and adopted.approver == "U0BOB" and adopted.requester == "U0ALICE"
    outside = await store.get("x-d-CI")
    assert outside is not None and outside.outside == "user: deployed by CI" and outside.environment == "staging"
    store.close()
