"""Starting what was approved: the task definition with the image pinned by digest, recorded before the
engine is asked to deploy it, then the deployment, then the thread told. A start that fails is told as
such and frees the app; nothing is left half-started."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from ..domain.catalog import AppConfig
from ..domain.changes import Decision, Entry, Launched, Registered, StartFailed
from ..domain.errors import DeployError
from ..domain.lifecycle import deadline
from ..domain.models import Deployment, State
from ..domain.ports import Clock, DeploymentEngine, Faults, no_faults
from ..domain.progress import Phase, Started
from ..render import replies
from .records import Records, Tell
from .telling import reply

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Starts:
    engine: DeploymentEngine
    records: Records
    clock: Clock
    poke: Callable[[], None]
    fault: Faults = no_faults

    async def start(self, app: AppConfig, record: Deployment) -> None:
        """Deploy an approved request (its record is STARTING)."""
        try:
            revision = await self.engine.register(app, record)

            async def registered(current: Deployment) -> Decision:
                return Decision(
                    Registered(task_definition_arn=revision.task_definition, previous_task_definition=revision.previous)
                )

            fresh = await self.records.change(record, registered, tell=Tell.LATER)
            record = fresh or record
            self.fault("after_register")
            started = await self.engine.start(app, record)
            self.fault("after_create")
        except DeployError as exc:
            await self.failed(app, record, exc.message)
            return
        await self.started(app, record, started)

    async def failed(self, app: AppConfig, record: Deployment, reason: str) -> None:
        now = self.clock()

        async def failure(current: Deployment) -> Decision | None:
            if current.state is not State.STARTING:
                return None  # decided already (a replica that took over a stranded start, say): once is enough
            return Decision(
                StartFailed(error_message=reason, finished_at=now),
                Entry("deploybot", "start_failed", {"reason": reason, "state": "start_failed"}),
                (reply(replies.start_failed(reason), broadcast=True),),
            )

        await self.records.change(record, failure)
        log.warning("deployment_start_failed", reason=reason)

    async def started(self, app: AppConfig, record: Deployment, started: Started) -> None:
        now = self.clock()
        structlog.contextvars.bind_contextvars(deployment_id=started.deployment_id)

        async def launched(current: Deployment) -> Decision:
            change = Launched(
                deployment_id=started.deployment_id,
                link=started.link,
                started_at=now,
                deadline_at=now + deadline(current.gate_minutes, current.bake_minutes),
                phase=Phase.WAITING,
            )
            preview = change.apply(current, now)
            entry = Entry(
                "deploybot",
                "deployment_created",
                {
                    "deployment_id": started.deployment_id,
                    "task_definition": current.task_definition_arn,
                    "state": "in_progress",
                },
            )
            return Decision(change, entry, (reply(replies.created(preview)),))

        saved = await self.records.change(record, launched)
        log.info("deployment_created", task_definition=saved.task_definition_arn if saved else None)
        self.poke()
