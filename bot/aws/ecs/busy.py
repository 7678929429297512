"""Which services the scan for deployments nobody follows has to list.

ListServiceDeployments answers for one service a call; DescribeServices for ten. The scan asks the latter
which services have a deployment in progress (``rolloutState``) and which service deployment is current
(``currentServiceDeployment``: where ECS names it, nothing needs listing), and lists only those, and among them only
the ones whose deployments in progress changed since they were last listed (or were listed longer ago
than ``RELIST``, so a deployment whose adoption failed for a passing reason is found again): a fleet of a
thousand quiet services costs a hundred calls a scan, not a thousand, and a busy one no more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ...domain.catalog import AppConfig
from ..calls import call

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

DESCRIBE_BATCH = 10  # DescribeServices takes at most ten services
RELIST = 300.0  # seconds: a listed service is listed again after this long even if nothing changed


class BusyServices:
    """What the last scans saw of each service's deployments in progress (ECS's own ids for them)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._settled: dict[tuple[int, str, str], tuple[frozenset[str], float]] = {}  # -> (ids, when listed)
        self._seen: dict[tuple[int, str, str], frozenset[str]] = {}
        self._current: dict[tuple[int, str, str], str] = {}  # -> the service deployment ECS says is current

    async def among(self, ecs: ECSClient, apps: Sequence[AppConfig]) -> list[AppConfig]:
        """The apps whose service has a deployment in progress not already settled."""
        by_cluster: dict[str, list[AppConfig]] = {}
        for app in apps:
            by_cluster.setdefault(app.cluster, []).append(app)
        out: list[AppConfig] = []
        for cluster, mine in by_cluster.items():
            for start in range(0, len(mine), DESCRIBE_BATCH):
                chunk = mine[start : start + DESCRIBE_BATCH]
                names = list(dict.fromkeys(a.service for a in chunk))
                resp = await call(ecs.describe_services, cluster=cluster, services=names)
                moving = {
                    str(s.get("serviceName")): frozenset(
                        str(d.get("id")) for d in s.get("deployments", []) if d.get("rolloutState") == "IN_PROGRESS"
                    )
                    for s in resp.get("services", [])
                }
                services = resp.get("services", [])
                current = {str(s.get("serviceName")): s.get("currentServiceDeployment") for s in services}
                now = self._clock()
                for app in chunk:
                    key = (id(ecs), cluster, app.service)
                    ids = moving.get(app.service, frozenset())
                    self._seen[key] = ids
                    self._current.pop(key, None)
                    if ids and current.get(app.service):
                        self._current[key] = str(current[app.service])
                    settled, at = self._settled.get(key, (None, 0.0))
                    if ids and (settled != ids or now - at >= RELIST):
                        out.append(app)
        return out

    def current(self, ecs: ECSClient, app: AppConfig) -> str | None:
        """The service deployment in progress the last scan saw ECS name as current (None: list them)."""
        return self._current.get((id(ecs), app.cluster, app.service))

    def settle(self, ecs: ECSClient, app: AppConfig) -> None:
        """``app``'s service was listed (what it found is adopted now): skip it until its deployments in
        progress change, or for ``RELIST``."""
        key = (id(ecs), app.cluster, app.service)
        self._settled[key] = (self._seen.get(key, frozenset()), self._clock())
