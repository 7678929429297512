"""Finding deployments again after a crash or a lost store, and the ones started outside deploybot.

Two cases: a record left in STARTING by a process that died around the engine's start call, and a
running deployment that deploybot started but whose record the store no longer has (a store restored
from a backup, a table recreated). The engine finds both by the request id it marked the deployment
with. Deployments of catalog services that deploybot did not start (CI, the console) get a thread too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from .. import metrics
from ..domain.catalog import AppConfig, Catalog
from ..domain.changes import Decision, Entry, Noted, Posted
from ..domain.errors import ChatError, Conflict, DeployError
from ..domain.keys import RUN_LEASE, app_lock, outside_id
from ..domain.lifecycle import deadline
from ..domain.models import Deployment, Image, State
from ..domain.ports import Chat, Clock, DeploymentEngine, ImageRegistry, StaleRecord, Store
from ..domain.progress import DeploymentEvent, Found, Phase
from ..render import replies
from .records import Records, Tell
from .starts import Starts
from .telling import Teller, reply

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Search:
    """What one search for lost deployments did: how many it adopted, and the AWS calls the search itself
    made (reading what it adopted is not counted: a one-off, like the first read of a deployment started)."""

    adopted: int
    calls: int


@dataclass(frozen=True)
class Recovery:
    catalog: Catalog
    store: Store
    records: Records
    teller: Teller
    chat: Chat
    engine: DeploymentEngine
    registry: ImageRegistry
    starts: Starts
    clock: Clock

    async def stranded(self, record: Deployment) -> None:
        """A record left in STARTING by a replica that died: adopt its deployment or say it never began."""
        app = self.catalog.get(record.app, record.environment)
        if app is None:
            return
        try:
            found = await self.engine.find(app, record)
            if found is not None:
                log.info("deployment_adopted", found=found.deployment_id)
                await self.starts.started(app, record, found)
            else:
                await self.starts.failed(app, record, replies.never_began())
        except (StaleRecord, Conflict):
            return  # another replica recovered it first

    async def lost(self, near: Sequence[DeploymentEvent] | None = None) -> Search:
        """Adopt the catalog's running deployments the store does not know: deploybot's own (found by their
        request id) and those started outside it (CI, the console). ``near`` limits the search to where
        these events happened; without it the engine lists the whole account once."""
        in_flight = await self.store.in_flight()
        following = {d for r in in_flight for d in (r.deployment_id, r.rollback_deployment_id) if d}
        with metrics.tally() as calls:
            try:
                found = await self.engine.unfollowed(self.catalog.all(), following, near)
            except DeployError as exc:
                log.warning("lost_deployment_scan_failed", reason=exc.message)
                return Search(0, calls[0])
        adopted = 0
        for deployment in found:
            app = self.catalog.targets.get(deployment.app)
            if app is None:
                continue
            request_id = deployment.claim.request_id if deployment.claim else outside_id(deployment.deployment_id)
            if await self.store.get(request_id) is not None:
                continue
            if await self._adopt(app, deployment, request_id):
                adopted += 1
        return Search(adopted, calls[0])

    async def _record(self, app: AppConfig, found: Found, request_id: str) -> Deployment | None:
        """The record a found deployment would have had (what it deploys read back from the engine)."""
        try:
            deployed = await self.engine.deployed(app, found)
            plan = found.plan or await self.engine.plan(app)
            task_definition, pinned = deployed or (None, "")
            tag = found.claim.tag if found.claim else None
            if tag is None and pinned:
                tag = await self.registry.version_of(app, pinned)
        except DeployError as exc:
            log.warning("lost_deployment_unreadable", deployment_id=found.deployment_id, reason=exc.message)
            return None
        tag = tag or "unknown"
        repository, _, digest = pinned.partition("@")
        if not digest and ":" in repository.rsplit("/", 1)[-1]:
            repository = repository.rsplit(":", 1)[0]  # deployed by tag: the digest is not known
        claim = found.claim
        now = self.clock()
        return Deployment(
            id=request_id,
            app=app.name,
            environment=app.environment,
            show_environment=not app.only_environment,
            tag=tag,
            image=Image(repository_uri=repository or app.repository, tag=tag, digest=digest or "unknown"),
            requester=claim.requester if claim else "",
            approvals=claim.approvals if claim else [],
            approver=claim.approvals[-1] if claim and claim.approvals else None,
            auto_approved=claim is not None and not claim.approvals,
            outside=None if claim else found.origin,
            team_id=self.chat.home_team,
            channel=app.deploy_channel,
            state=State.IN_PROGRESS,
            phase=Phase.WAITING,
            began=found.began,
            created_at=now,
            updated_at=now,
            started_at=now,
            deployment_id=found.deployment_id,
            link=found.link,
            task_definition_arn=task_definition,
            engine=plan.engine,
            engine_name=plan.engine_name,
            strategy=found.strategy or plan.strategy,
            gate_minutes=plan.gate_minutes,
            bake_minutes=plan.bake_minutes,
            blue_green=plan.blue_green,
            deadline_at=now + deadline(plan.gate_minutes, plan.bake_minutes),
        )

    async def _adopt(self, app: AppConfig, found: Found, request_id: str) -> bool:
        record = await self._record(app, found, request_id)
        if record is None:
            return False
        action = "adopted" if found.claim else "outside_deployment"
        try:
            record = await self.records.create(
                record, Entry("deploybot", action, {"deployment_id": found.deployment_id})
            )
        except StaleRecord:
            return False  # another replica adopted it first
        structlog.contextvars.bind_contextvars(
            request_id=record.id, app=app.name, version=record.tag, deployment_id=found.deployment_id
        )
        log.warning("deployment_found_without_record" if found.claim else "outside_deployment_found")
        await self.store.acquire_lock(app_lock(app.key), record.id, self.clock() + RUN_LEASE)
        note = reply(replies.found_again(record) if found.claim else replies.found_outside(record))
        try:
            ts = await self.teller.post_root(record)
            change: Posted | Noted = Posted(message_ts=ts)
        except ChatError as exc:  # the record exists: its thread starts late, its outcome still comes
            log.warning("adopted_root_not_posted", error=exc.code)
            change = Noted()
        # The root was just rendered from this record: only the note is owed (a re-render would spend one of
        # Slack's update turns on nothing, and a scan can find hundreds of deployments at once).
        posted = change.message_ts if isinstance(change, Posted) else None

        async def adopted(current: Deployment) -> Decision:
            if posted and current.message_ts:  # the watcher posted its root meanwhile: one is enough
                return Decision(Noted(), messages=(note,))
            return Decision(change, messages=(note,))

        saved = await self.records.change(record, adopted, tell=Tell.OWED)
        if posted and saved is not None and saved.message_ts != posted:
            await self.teller.drop_root(saved, posted)
        if saved is not None and saved.version > record.version + 1:
            await self.teller.sync_root(saved)  # another replica moved it on while the root was being posted
        structlog.contextvars.unbind_contextvars("request_id", "app", "version", "deployment_id")
        return True
