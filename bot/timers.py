"""The watcher's rules that run on the clock rather than on CodeDeploy's news: approval requests that
expire, Ready waits about to run out, deployments past their deadline, and deployments CodeDeploy no
longer knows. A mixin of ``Watcher``, which supplies the store, the platform and the way to tell Slack."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from .catalog import Catalog
from .domain import audit
from .domain.errors import DeployError
from .domain.lifecycle import NOT_FOUND, deadline, ready_warning, transition
from .domain.models import Deployment, Phase, State
from .domain.ports import DeployPlatform, StaleRecord, Store
from .keys import app_lock
from .notifier import Notifier, reply
from .slack import render

log = structlog.get_logger(__name__)
MISSES = 3  # reads in a row that do not find a deployment before it is given up as gone


class Timers:
    catalog: Catalog
    store: Store
    platform: DeployPlatform
    notifier: Notifier
    now: Callable[[], datetime]
    _misses: dict[str, int]

    async def _tell(self, record: Deployment) -> bool:
        raise NotImplementedError  # the watcher's

    async def _deadlines(self, record: Deployment) -> Deployment:
        """Warn before a Ready wait runs out; stop (with a rollback) a deployment past its deadline."""
        if record.state is not State.IN_PROGRESS:
            return record
        now = self.now()
        updates: dict[str, object] = {}
        messages = []
        if record.phase is Phase.READY and record.wait_minutes and record.ready_at and not record.ready_warned:
            ends = record.ready_at + timedelta(minutes=record.wait_minutes)
            if now >= ends - ready_warning(record.wait_minutes):
                updates["ready_warned"] = True
                messages.append(
                    reply(
                        f":warning: Green is still waiting for *Shift traffic*: CodeDeploy stops this deployment at "
                        f"{ends:%H:%M} UTC unless an approver shifts traffic before then."
                    )
                )
        if record.deadline_at and now >= record.deadline_at and not record.deadline_hit and record.tracked_deployment:
            try:
                await self.platform.stop_deployment(record.tracked_deployment, rollback=True)
            except DeployError as exc:
                log.warning("deadline_stop_failed", request_id=record.id, reason=exc.message)
                return record
            took = deadline(record.wait_minutes, record.termination_minutes).total_seconds() / 60
            updates["deadline_hit"] = True
            messages.append(
                reply(
                    f":alarm_clock: This deployment ran past its deadline ({took:.0f} min: the group's waits plus "
                    "a margin), so deploybot stopped it; CodeDeploy is sending traffic back to blue."
                )
            )
            await self.store.audit(
                audit.event(
                    now, record.id, record.app, "deploybot", "deadline_stop", deployment_id=record.deployment_id
                )
            )
        if not updates:
            return record
        try:
            return await self.store.save(record.model_copy(update={**updates, "updated_at": now}).queue(*messages))
        except StaleRecord:
            return await self.store.get(record.id) or record

    async def _expire(self, record: Deployment) -> None:
        """Nobody approved it in time: close it, free its app, and say so in its thread."""
        now = self.now()
        waited = record.expires_at - record.created_at if record.expires_at else None
        hours = f" within {waited.total_seconds() / 3600:g} h" if waited else ""
        expired = transition(record, State.CANCELLED, now, expired=True).queue(
            reply(f":hourglass: This request expired: nobody approved it{hours}. Ask again with /deploy.")
        )
        try:
            saved = await self.store.save(expired)
        except StaleRecord:
            return  # approved or cancelled meanwhile
        await self.store.release_lock(app_lock(saved.target), saved.id)
        await self.store.audit(audit.event(now, saved.id, saved.app, "deploybot", "expired"))
        log.info("request_expired", request_id=saved.id)
        await self._tell(saved)

    async def _missing(self, record: Deployment) -> Deployment:
        """CodeDeploy answered but did not know the deployment (BatchGetDeployments leaves such ids out)."""
        misses = self._misses[record.id] = self._misses.get(record.id, 0) + 1
        if misses < MISSES:
            return record
        self._misses.pop(record.id, None)
        now = self.now()
        lost = transition(
            record,
            State.FAILED,
            now,
            phase=Phase.DONE,
            finished_at=now,
            error_code=NOT_FOUND,
            error_message=(
                f"CodeDeploy no longer knows deployment {record.tracked_deployment}, so its outcome is unknown. "
                "Check the service in the ECS console before deploying again."
            ),
        )
        lost = lost.queue(
            reply(render.outcome_text(lost), broadcast=True),
            *self.notifier.alert(lost, self.catalog.get(lost.app, lost.environment)),
        )
        try:
            saved = await self.store.save(lost)
        except StaleRecord:
            return await self.store.get(record.id) or record
        log.warning("deployment_not_found", request_id=record.id, deployment_id=record.tracked_deployment)
        await self.store.audit(
            audit.event(now, saved.id, saved.app, "deploybot", "not_found", deployment_id=record.tracked_deployment)
        )
        return saved
