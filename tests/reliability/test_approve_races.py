"""100 double-approve races, each on its own request: exactly one deployment each, the loser told.

The AWS side is a fake of the domain's own ports (counting CreateDeployment); the store is the real
SQLite store and Slack is the local workspace, so the race runs through the real compare-and-set."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from bot.config import load_catalog
from bot.deployer import Deployer, utcnow
from bot.domain.lifecycle import Action
from bot.domain.models import Image, ServiceState, Snapshot, State
from bot.notifier import Notifier
from bot.outbox import Outbox
from bot.sandbox.runner import CATALOG
from bot.sandbox.slack.server import LocalSlack
from bot.slack.gateway import SlackGateway
from bot.store.sqlite import SqliteStore

RACES = 100


class FakeAws:
    def __init__(self) -> None:
        self.created: list[str] = []

    async def resolve(self, repository: str, tag: str, version_pattern: str) -> Image:
        return Image(repository_uri=f"r/{repository}", tag=tag, digest="sha256:" + "b" * 64)

    async def version_of(self, repository: str, image: str, version_pattern: str) -> str | None:
        return "v1.2.2"

    async def service_state(self, cluster: str, service: str, container: str) -> ServiceState:
        await asyncio.sleep(0)  # yield, as a real call would, so the racers interleave
        return ServiceState(
            task_definition_arn="td:1",
            image="r/web1:v1.2.2",
            running_version="v1.2.2",
            container_port=3000,
            container_name=container,
        )

    async def group_settings(self, application: str, group: str) -> tuple[str, float | None, float]:
        return "CodeDeployDefault.ECSAllAtOnce", None, 5.0

    async def register_image(self, task_definition_arn: str, container: str, image: str) -> str:
        await asyncio.sleep(0)
        return "td:2"

    async def create_deployment(
        self, application: str, group: str, service: ServiceState, task_definition_arn: str, description: str
    ) -> str:
        self.created.append(description.split()[1].rstrip(":"))
        return f"d-{len(self.created):09d}"

    async def snapshots(self, deployment_ids: Sequence[str]) -> list[Snapshot]:
        return []

    async def find_deployment(self, application: str, group: str, description_prefix: str) -> str | None:
        return None

    async def continue_deployment(self, deployment_id: str, wait_type: str) -> None:
        return None

    async def stop_deployment(self, deployment_id: str, rollback: bool) -> None:
        return None


async def test_hundred_double_approve_races(slack: LocalSlack, tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "races.db"))
    aws = FakeAws()
    gateway = SlackGateway(slack.ws.bot_token, slack.api_url)
    deployer = Deployer(
        load_catalog(CATALOG), store, aws, aws, Notifier(gateway, "us-east-1", Outbox(store, gateway, "races", utcnow))
    )
    app = deployer.catalog.apps["web1"]
    try:
        for race in range(RACES):
            record = await deployer.request(app, "v1.2.3", "U0ALICE", "T0SANDBOX", f"{slack.base_url}/none")
            assert record is not None
            await asyncio.gather(
                *(deployer.click(Action.APPROVE, record.id, "U0BOB", "T0SANDBOX", "C0DEPLOYS") for _ in range(2))
            )
            final = await store.get(record.id)
            assert final is not None and final.state is State.IN_PROGRESS, race
            assert aws.created.count(record.id) == 1, race
            await store.release_lock(f"app:{app.name}", record.id)  # let the next race request web1
        told = [t for t in slack.ephemerals("U0BOB") if "already approved" in t or "starting" in t]
        assert len(aws.created) == RACES and len(set(aws.created)) == RACES
        assert len(told) == RACES  # every losing click was told why
    finally:
        store.close()
