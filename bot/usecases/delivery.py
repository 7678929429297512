"""The delivery figures of an app in one environment (`/deploy stats`, `deploybot stats --json`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from ..domain.catalog import AppConfig
from ..domain.delivery import Figures, changes, figures, quantile
from ..domain.errors import DeployError
from ..domain.ports import Clock, DeploymentEngine, Store

log = structlog.get_logger(__name__)
HISTORY = 1000  # records read per app and environment: far more than a busy month
OUTSIDE = 100  # the engine's own list, for the deployments deploybot never saw


@dataclass(frozen=True)
class Delivery:
    store: Store
    clock: Clock
    engine: DeploymentEngine | None = None  # None (the CLI): deploybot's own history only

    async def figures(self, app: AppConfig, days: int) -> Figures:
        records = await self.store.history(app.name, app.environment, HISTORY)
        past = []
        if self.engine is not None:
            try:
                past = await self.engine.recent(app, OUTSIDE)
            except DeployError as exc:  # the figures stand on deploybot's own history then
                log.warning("stats_engine_read_failed", reason=exc.message)
        return figures(changes(records, past), self.clock() - timedelta(days=days), days)


def as_json(app: AppConfig, found: Figures) -> dict[str, Any]:
    """One app and environment's figures for dashboards (durations in seconds, None when unknown)."""

    def seconds(value: timedelta | None) -> float | None:
        return None if value is None else value.total_seconds()

    return {
        "app": app.name,
        "environment": app.environment,
        "days": found.days,
        "deployments": found.deployments,
        "succeeded": found.succeeded,
        "failed": found.failed,
        "deployments_per_day": round(found.per_day, 3),
        "lead_time_median_seconds": seconds(quantile(found.lead_times, 0.5)),
        "lead_time_p90_seconds": seconds(quantile(found.lead_times, 0.9)),
        "lead_time_count": len(found.lead_times),
        "change_failure_rate": None if found.failure_rate is None else round(found.failure_rate, 4),
        "time_to_restore_median_seconds": seconds(quantile(found.restores, 0.5)),
        "restore_count": len(found.restores),
    }
