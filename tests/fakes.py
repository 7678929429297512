"""Fakes of the domain's own ports (DeploymentEngine, ImageRegistry) for tests of the use cases alone:
they answer like a quiet engine would and record what they were asked."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from bot.domain.catalog import AppConfig
from bot.domain.models import Deployment, Image
from bot.domain.progress import DeploymentEvent, Found, Gate, Live, PastDeployment, Plan, Progress, Revision, Started


class FakeEngine:
    def __init__(self) -> None:
        self.started: list[Deployment] = []  # the records each start was asked for, in order
        self.gates: list[tuple[str, str]] = []  # (deployment id, gate id)
        self.finished: list[str] = []
        self.rolled_back: list[str] = []

    # -- ImageRegistry ----------------------------------------------------------------------------

    async def resolve(self, app: AppConfig, tag: str) -> Image:
        return Image(repository_uri=f"r/{app.repository}", tag=tag, digest="sha256:" + "b" * 64)

    async def has_digest(self, app: AppConfig, digest: str) -> bool:
        return True

    async def version_of(self, app: AppConfig, image: str) -> str | None:
        return "v1.2.2"

    # -- DeploymentEngine -------------------------------------------------------------------------

    async def live(self, app: AppConfig) -> Live:
        await asyncio.sleep(0)  # yield, as a real call would, so racers interleave
        return Live(task_definition="td:1", image=f"r/{app.repository}:v1.2.2")

    async def plan(self, app: AppConfig) -> Plan:
        return Plan(engine="fake", engine_name="FakeEngine", strategy="all at once", bake_minutes=5.0)

    async def register(self, app: AppConfig, record: Deployment) -> Revision:
        await asyncio.sleep(0)
        return Revision(task_definition="td:2", previous="td:1")

    async def start(self, app: AppConfig, record: Deployment) -> Started:
        self.started.append(record)
        return Started(deployment_id=f"d-{len(self.started):09d}", link=None)

    async def find(self, app: AppConfig, record: Deployment) -> Started | None:
        return None

    async def read(self, records: Sequence[Deployment], detail: int | None = None) -> dict[str, Progress]:
        return {}

    def batch(self, record: Deployment) -> tuple[str, int]:
        return "fake", 25

    def detailed(self, record: Deployment) -> bool:
        return True

    async def open_gate(self, record: Deployment, gate: Gate) -> None:
        self.gates.append((record.deployment_id or "", gate.id))

    async def finish_early(self, record: Deployment) -> None:
        self.finished.append(record.deployment_id or "")

    async def roll_back(self, record: Deployment) -> None:
        self.rolled_back.append(record.tracked_deployment or "")

    async def unfollowed(
        self, apps: Sequence[AppConfig], following: Collection[str], near: Sequence[DeploymentEvent] | None = None
    ) -> list[Found]:
        return []

    async def deployed(self, app: AppConfig, found: Found) -> tuple[str, str] | None:
        return None

    async def recent(self, app: AppConfig, limit: int) -> list[PastDeployment]:
        return []

    @property
    def moved(self) -> bool:
        """Whether anything was asked of a running deployment (a gate, finish, rollback)."""
        return bool(self.gates or self.finished or self.rolled_back)
