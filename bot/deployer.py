"""Use cases: act on a button, and start what was approved (the request path is in ``bot.asking``).
Coordinates the ports; decides nothing itself.

Every state change goes through ``lifecycle.transition`` and is saved with a compare-and-set, so
two clicks racing on one request start exactly one deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from .asking import Asking
from .catalog import AppConfig, Catalog
from .crashpoints import crash_point
from .domain import audit, policy
from .domain.errors import AlreadyDeploying, Conflict, DeployError, NotAllowed, UpstreamError
from .domain.lifecycle import Action, deadline, explain_state, require_action, transition
from .domain.models import Deployment, Phase, State
from .domain.ports import DeployPlatform, ImageRegistry, StaleRecord, Store
from .holds import Holds
from .keys import APPROVAL_TIMEOUT, RUN_LEASE, app_lock, marker, utcnow
from .notifier import Notifier, reply
from .slack.render import console_url

log = structlog.get_logger(__name__)
CLICK_ATTEMPTS = 3


class Deployer(Asking):
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        registry: ImageRegistry,
        platform: DeployPlatform,
        notifier: Notifier,
        poke: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        holds: Holds | None = None,
        approval_timeout: timedelta = APPROVAL_TIMEOUT,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.registry = registry
        self.platform = platform
        self.notifier = notifier
        self.poke = poke
        self.now = clock
        self.holds = holds
        self.approval_timeout = approval_timeout

    async def _audit(self, record_id: str, app: str, actor: str, action: str, **detail: object) -> None:
        await self.store.audit(audit.event(self.now(), record_id, app, actor, action, **detail))

    # -- buttons ------------------------------------------------------------------------------

    async def click(self, action: Action, record_id: str, user: str, team: str, channel: str) -> None:
        audit.begin(team, channel)
        slack = self.notifier.slack
        for attempt in range(CLICK_ATTEMPTS):
            record = await self.store.get(record_id)
            if record is None:
                await slack.ephemeral(channel, user, "I have no record of that deployment; nothing was changed.")
                return
            structlog.contextvars.bind_contextvars(
                request_id=record.id, app=record.app, version=record.tag, deployment_id=record.deployment_id
            )
            try:
                await self._click(action, record, user, team)
                return
            except StaleRecord:
                # Someone saved first (the request's own follow-up, or another replica): decide again
                # on the fresh record rather than refusing a click that may still be valid.
                if attempt + 1 < CLICK_ATTEMPTS:
                    continue
                fresh = await self.store.get(record_id) or record
                await slack.ephemeral(channel, user, explain_state(fresh))
                await self.notifier.sync_root(fresh, self.now(), force=True)
            except NotAllowed as exc:
                log.info("click_refused", action=action.value, user=user, reason=exc.message)
                await self._audit(record.id, record.app, user, f"refused:{action.value}", reason=exc.message)
                await slack.ephemeral(channel, user, exc.message)
            except Conflict as exc:
                await self._audit(record.id, record.app, user, f"conflict:{action.value}", reason=exc.message)
                await slack.ephemeral(channel, user, exc.message)
                await self.notifier.sync_root(await self.store.get(record_id) or record, self.now(), force=True)
            except DeployError as exc:
                await slack.ephemeral(channel, user, exc.message)
            return

    async def _click(self, action: Action, record: Deployment, user: str, team: str) -> None:
        app = self.catalog.get(record.app, record.environment)
        if app is None:
            raise NotAllowed(f"`{record.target}` is no longer in the catalog, so nobody can act on it.")
        slack = self.notifier.slack
        members = await slack.usergroup_members(app.approvers.usergroups) if app.approvers.usergroups else set()
        policy.check(action, app, record, user, team, members)
        require_action(record, action)
        await self._act(action, app, record, user)

    async def _act(self, action: Action, app: AppConfig, record: Deployment, user: str) -> None:
        now = self.now()
        if action is Action.APPROVE:
            if record.expires_at is not None and now >= record.expires_at:
                raise Conflict(
                    f"This request expired at {record.expires_at:%H:%M} UTC without an approval. "
                    "Ask again with /deploy."
                )
            if self.holds is not None:
                await self.holds.check(app)  # locked after the request was made: nothing starts
            approvals = [*record.approvals, user]
            if len(approvals) < policy.needed(app, record):
                # Not enough yet: record this one (compare-and-set), show the count, keep waiting.
                record = await self.store.save(record.model_copy(update={"approvals": approvals, "updated_at": now}))
                await self._audit(
                    record.id, app.name, user, "approved", approvals=len(approvals), needed=policy.needed(app, record)
                )
                await self.notifier.sync_root(record, now)
                return
            if not await self.store.renew_lock(app_lock(app.key), record.id, now + RUN_LEASE):
                raise Conflict(
                    f"This request is too old: its hold on `{app.label}` ran out and another request took "
                    "it. Ask again with /deploy."
                )
            record = await self.store.save(
                transition(record, State.STARTING, now, approver=user, approvals=approvals, approved_at=now)
            )
            crash_point("after_approval")
            await self._audit(record.id, app.name, user, "approved", approvals=len(approvals), state=record.state.value)
            await self.notifier.sync_root(record, now)
            await self._start(app, record)
            return
        if action is Action.CANCEL:
            record = await self.store.save(transition(record, State.CANCELLED, now, cancelled_by=user))
            await self.store.release_lock(app_lock(app.key), record.id)
            await self._audit(record.id, app.name, user, "cancelled", state=record.state.value)
            await self.notifier.sync_root(record, now)
            return
        deployment_id = record.deployment_id
        if deployment_id is None:
            raise Conflict(explain_state(record))
        if action is Action.SHIFT:
            await self.platform.continue_deployment(deployment_id, "READY_WAIT")
            text = f":arrow_forward: <@{user}> started shifting traffic to green."
        elif action is Action.FINISH:
            await self.platform.continue_deployment(deployment_id, "TERMINATION_WAIT")
            text = f":fast_forward: <@{user}> ended the termination wait; blue is being removed."
        else:
            # Record who asked first (a compare-and-set), then call AWS: a lost race retries cleanly.
            record = await self.store.save(record.model_copy(update={"rollback_requested_by": user, "updated_at": now}))
            await self.platform.stop_deployment(deployment_id, rollback=True)
            text = f":rewind: <@{user}> asked for a rollback; CodeDeploy is sending traffic back to blue."
        await self._audit(record.id, app.name, user, action.value, deployment_id=deployment_id)
        await self.notifier.outbox.add(record.id, [reply(text)])
        await self.notifier.flush(record.id)
        self.poke()

    async def _start(self, app: AppConfig, record: Deployment) -> None:
        try:
            record, deployment_id = await self._create(app, record)
        except DeployError as exc:
            await self.start_failed(app, record, exc.message)
            return
        await self.started(app, record, deployment_id)

    async def _create(self, app: AppConfig, record: Deployment) -> tuple[Deployment, str]:
        service = await self.platform.service_state(app.cluster, app.service, app.container)
        td = await self.platform.register_image(service.task_definition_arn, app.container, record.image.pinned)
        record = await self.store.save(
            record.model_copy(
                update={"task_definition_arn": td, "previous_task_definition": service.task_definition_arn}
            )
        )
        crash_point("after_register")
        description = (
            f"{marker(record.id)} {record.target} {record.tag} requested by {record.requester}, "
            f"approved by {','.join(record.approvals) or record.approver or 'nobody-needed'}"
        )
        try:
            deployment_id = await self.platform.create_deployment(
                app.codedeploy_application, app.deployment_group, service, td, description
            )
        except (AlreadyDeploying, UpstreamError):
            # CreateDeployment has no idempotency token: a call that timed out may have succeeded,
            # and its retry then meets our own deployment. Adopt it when it carries our request id.
            found = await self.platform.find_deployment(
                app.codedeploy_application, app.deployment_group, marker(record.id)
            )
            if found is None:
                raise
            log.info("deployment_adopted", found=found)
            deployment_id = found
        crash_point("after_create")
        return record, deployment_id

    async def start_failed(self, app: AppConfig, record: Deployment, reason: str) -> None:
        now = self.now()
        record = await self.store.save(
            transition(record, State.START_FAILED, now, error_message=reason, finished_at=now).queue(
                reply(f":x: The deployment could not be started: {reason}", broadcast=True)
            )
        )
        await self.store.release_lock(app_lock(app.key), record.id)
        await self._audit(record.id, app.name, "deploybot", "start_failed", reason=reason, state=record.state.value)
        log.warning("deployment_start_failed", reason=reason)
        await self.notifier.sync_root(record, now)
        await self.notifier.flush(record.id)

    async def started(self, app: AppConfig, record: Deployment, deployment_id: str) -> None:
        now = self.now()
        structlog.contextvars.bind_contextvars(deployment_id=deployment_id)
        created = reply(
            f":rocket: CodeDeploy deployment <{console_url(self.notifier.region, deployment_id)}|"
            f"{deployment_id}> created with `{record.config_name}`; image pinned to "
            f"`{record.image.short_digest}`."
        )
        record = await self.store.save(
            transition(
                record,
                State.IN_PROGRESS,
                now,
                deployment_id=deployment_id,
                started_at=now,
                deadline_at=now + deadline(record.wait_minutes, record.termination_minutes),
                phase=Phase.WAITING,
                cd_status="Created",
            ).queue(created)
        )
        await self._audit(
            record.id,
            app.name,
            "deploybot",
            "deployment_created",
            deployment_id=deployment_id,
            task_definition=record.task_definition_arn,
            state=record.state.value,
        )
        log.info("deployment_created", task_definition=record.task_definition_arn)
        await self.notifier.sync_root(record, now)
        await self.notifier.flush(record.id)
        self.poke()
