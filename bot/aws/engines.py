"""The engine each service gets, from what ECS says about it: the DeploymentEngine port over every engine.

A service whose deployment controller is CODE_DEPLOY deploys through CodeDeploy; one whose controller is ECS
through ECS's own deployments (its deployment configuration names the strategy). Nothing in the catalog
says which, so nothing can drift: the controller is read from DescribeServices (and kept a few minutes).
A record goes back to the engine that started it (``Deployment.engine``).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence

import structlog

from ..domain.catalog import AppConfig, Catalog
from ..domain.errors import UpstreamError
from ..domain.models import Deployment
from ..domain.ports import DeploymentEngine
from ..domain.progress import DeploymentEvent, Found, Gate, Live, PastDeployment, Plan, Progress, Revision, Started
from .accounts import Accounts
from .taskdefs import TaskDefinitions

log = structlog.get_logger(__name__)
CONTROLLERS = {"CODE_DEPLOY": "codedeploy", "ECS": "ecs"}
KEEP = 900.0  # seconds a service's controller is remembered (it changes only when a team migrates)
LEGACY = "codedeploy"  # records saved before engines had keys were all CodeDeploy's


class Engines:
    def __init__(self, accounts: Accounts, catalog: Catalog, engines: Mapping[str, DeploymentEngine]) -> None:
        self.accounts = accounts
        self.catalog = catalog
        self.engines = dict(engines)
        self._controllers: dict[str, tuple[float, str]] = {}

    async def engine_of(self, app: AppConfig) -> DeploymentEngine:
        """The engine of the app's service, by its deployment controller."""
        key = await self.key_of(app)
        return self.engines[key]

    async def key_of(self, app: AppConfig) -> str:
        cached = self._controllers.get(app.key)
        if cached is None or time.monotonic() - cached[0] >= KEEP:
            await self._learn([app])
        return self._key(app)

    def _key(self, app: AppConfig) -> str:
        controller = self._controllers[app.key][1]
        key = CONTROLLERS.get(controller)
        if key is None or key not in self.engines:
            raise UpstreamError(
                f"The ECS service `{app.service}` has the {controller} deployment controller, which deploybot "
                "cannot drive (it deploys services whose controller is ECS or CODE_DEPLOY)."
            )
        return key

    async def _learn(self, apps: Sequence[AppConfig]) -> None:
        """Read the deployment controllers of these apps' services, ten services a DescribeServices call."""
        groups: dict[tuple[int, str], list[AppConfig]] = {}
        for app in apps:
            groups.setdefault((id(self.accounts.clients(app)), app.cluster), []).append(app)
        now = time.monotonic()
        for mine in groups.values():
            taskdefs = TaskDefinitions(self.accounts.clients(mine[0]).ecs)
            for start in range(0, len(mine), 10):
                chunk = mine[start : start + 10]
                found = await taskdefs.controllers(chunk[0].cluster, [a.service for a in chunk])
                for app in chunk:
                    if app.service not in found:
                        raise UpstreamError(f"The ECS service `{app.service}` was not found in `{app.cluster}`.")
                    self._controllers[app.key] = (now, found[app.service])

    def _for(self, record: Deployment) -> DeploymentEngine:
        return self.engines.get(record.engine or LEGACY) or self.engines[LEGACY]

    async def live(self, app: AppConfig) -> Live:
        return await (await self.engine_of(app)).live(app)

    async def plan(self, app: AppConfig) -> Plan:
        return await (await self.engine_of(app)).plan(app)

    async def register(self, app: AppConfig, record: Deployment) -> Revision:
        return await self._for(record).register(app, record)

    async def start(self, app: AppConfig, record: Deployment) -> Started:
        return await self._for(record).start(app, record)

    async def find(self, app: AppConfig, record: Deployment) -> Started | None:
        return await self._for(record).find(app, record)

    async def read(self, records: Sequence[Deployment], detail: int | None = None) -> dict[str, Progress]:
        by_engine: dict[str, list[Deployment]] = {}
        for record in records:
            by_engine.setdefault(record.engine or LEGACY, []).append(record)
        out: dict[str, Progress] = {}
        for key, mine in by_engine.items():
            out |= await self.engines.get(key, self.engines[LEGACY]).read(mine, detail)
        return out

    def batch(self, record: Deployment) -> tuple[str, int]:
        key, size = self._for(record).batch(record)
        return f"{record.engine or LEGACY} {key}", size

    def detailed(self, record: Deployment) -> bool:
        return self._for(record).detailed(record)

    async def open_gate(self, record: Deployment, gate: Gate) -> None:
        await self._for(record).open_gate(record, gate)

    async def finish_early(self, record: Deployment) -> None:
        await self._for(record).finish_early(record)

    async def roll_back(self, record: Deployment) -> None:
        await self._for(record).roll_back(record)

    async def unfollowed(
        self, apps: Sequence[AppConfig], following: Collection[str], near: Sequence[DeploymentEvent] | None = None
    ) -> list[Found]:
        stale = [
            a for a in apps if a.key not in self._controllers or time.monotonic() - self._controllers[a.key][0] >= KEEP
        ]
        try:
            await self._learn(stale)
        except UpstreamError as exc:
            log.warning("service_unreadable", reason=exc.message)
        by_engine: dict[str, list[AppConfig]] = {}
        for app in apps:
            try:
                by_engine.setdefault(await self.key_of(app), []).append(app)
            except UpstreamError as exc:  # one service that cannot be read must not hide the others
                log.warning("service_unreadable", app=app.key, reason=exc.message)
        out: list[Found] = []
        for key, mine in by_engine.items():
            out += await self.engines[key].unfollowed(mine, following, near)
        return out

    async def deployed(self, app: AppConfig, found: Found) -> tuple[str, str] | None:
        return await (await self.engine_of(app)).deployed(app, found)

    async def recent(self, app: AppConfig, limit: int) -> list[PastDeployment]:
        return await (await self.engine_of(app)).recent(app, limit)
