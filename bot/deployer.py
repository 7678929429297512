"""Use cases: request a deployment, act on a button. Coordinates the ports; decides nothing itself.

Every state change goes through ``lifecycle.transition`` and is saved with a compare-and-set, so
two clicks racing on one request start exactly one deployment.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog

from .catalog import AppConfig, Catalog
from .crashpoints import crash_point
from .domain import audit, policy
from .domain.errors import AlreadyDeploying, Conflict, DeployError, NotAllowed, UpstreamError
from .domain.lifecycle import Action, deadline, explain_state, require_action, transition
from .domain.models import CiInfo, Deployment, Phase, State
from .domain.ports import DeployPlatform, ImageRegistry, StaleRecord, Store
from .holds import Holds
from .notifier import Notifier, reply
from .slack.render import console_url

log = structlog.get_logger(__name__)


CLICK_ATTEMPTS = 3
APPROVAL_TIMEOUT = timedelta(hours=2)  # an unapproved request expires then, and frees its app
RUN_LEASE = timedelta(minutes=10)  # renewed by the watcher on every tick while a deployment runs


Tell = Callable[[str], Awaitable[None]]  # how a requester is answered (response_url, or the CI's HTTP reply)


def utcnow() -> datetime:
    return datetime.now(UTC)


def app_lock(key: str) -> str:
    """One open request per app and environment (``AppConfig.key``, ``Deployment.target``)."""
    return f"app:{key}"


def watch_lock(request_id: str) -> str:
    return f"watch:{request_id}"


def marker(request_id: str) -> str:
    """How a CodeDeploy deployment's description names the request that created it."""
    return f"deploybot {request_id}:"


def new_request_id() -> str:
    return "r-" + secrets.token_hex(5)


class Deployer:
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

    # -- /deploy <app> <version> --------------------------------------------------------------

    async def request(
        self,
        app: AppConfig,
        tag: str,
        user: str,
        team: str,
        response_url: str,
        channel: str = "",
        *,
        rollback: bool = False,
        tell: Tell | None = None,
        ci: CiInfo | None = None,
    ) -> Deployment | None:
        """Ask to deploy ``tag``, or with ``rollback`` the last known-good release from history.

        What the requester is told goes to ``response_url``, or to ``tell`` (the CI hand-off's answer)."""
        audit.begin(team, channel)

        async def respond(text: str) -> None:
            await self.notifier.slack.respond(response_url, text)

        tell = tell or respond
        try:
            return await self._request(app, tag, user, team, tell, channel, rollback, ci)
        except Exception:
            log.exception("deploy_request_failed")
            await tell(
                f"Something went wrong on deploybot's side while preparing `{app.label}` `{tag}`; "
                "nothing was deployed. Try again, and tell the deploybot admins if it keeps happening.",
            )
            return None

    async def _request(
        self,
        app: AppConfig,
        tag: str,
        user: str,
        team: str,
        tell: Tell,
        channel: str,
        rollback: bool,
        ci: CiInfo | None,
    ) -> Deployment | None:
        slack = self.notifier.slack
        groups = app.requesters.usergroups if app.requesters else []
        members = await slack.usergroup_members(groups) if groups else set()
        try:
            if ci is None:  # a CI hand-off is authorized by its token instead
                policy.check_request(app, user, team, slack.team_id, channel, members)
            if self.holds is not None:
                await self.holds.check(app)
        except NotAllowed as exc:
            log.info("request_refused", user=user, reason=exc.message)
            await self._audit("-", app.name, user, "refused:request", tag=tag, reason=exc.message)
            await tell(exc.message)
            return None
        request_id = new_request_id()
        # One open request per app across every replica: the lock is taken before any AWS work.
        holder = await self.store.acquire_lock(app_lock(app.key), request_id, self.now() + self.approval_timeout)
        if holder is not None:
            await tell(await self._busy(app, holder))
            return None
        try:
            record = await self._prepare(request_id, app, tag, user, team, tell, rollback, ci)
        except BaseException:
            await self.store.release_lock(app_lock(app.key), request_id)
            raise
        if record is None:
            await self.store.release_lock(app_lock(app.key), request_id)
        return record

    async def _busy(self, app: AppConfig, holder: str) -> str:
        other = await self.store.get(holder)
        if other is None:
            return f"Another deploy request for `{app.label}` is being prepared right now. Try again in a moment."
        if other.state is State.PENDING_APPROVAL:
            return (
                f"`{app.label}` already has a request waiting for approval (`{other.tag}`, asked by "
                f"<@{other.requester}>). Approve or cancel it first."
            )
        return (
            f"`{app.label}` is already being deployed (`{other.tag}`, requested by <@{other.requester}>). "
            "Wait for it to finish or roll it back."
        )

    async def _prepare(
        self,
        request_id: str,
        app: AppConfig,
        tag: str,
        user: str,
        team: str,
        tell: Tell,
        rollback: bool,
        ci: CiInfo | None,
    ) -> Deployment | None:
        good: Deployment | None = None
        try:
            service = await self.platform.service_state(app.cluster, app.service, app.container)
            if rollback:
                good = await self._known_good(app, service.image)
                image = good.image
            else:
                image = await self.registry.resolve(app.repository, tag, app.version_pattern)
            running = await self.registry.version_of(app.repository, service.image, app.version_pattern)
            config_name, wait, term = await self.platform.group_settings(
                app.codedeploy_application, app.deployment_group
            )
        except DeployError as exc:
            await tell(exc.message)
            return None
        now = self.now()
        record = Deployment(
            id=request_id,
            app=app.name,
            environment=app.environment,
            show_environment=not app.only_environment,
            tag=image.tag,
            image=image,
            requester=user,
            team_id=team,
            channel=app.deploy_channel,
            created_at=now,
            updated_at=now,
            config_name=config_name,
            running_before=running,
            previous_task_definition=service.task_definition_arn,
            wait_minutes=wait,
            termination_minutes=term,
            approvals_needed=app.approvals,
            expires_at=None if not app.require_approval else now + self.approval_timeout,
            rollback_to=good.id if good else None,
            ci=ci,
        )
        structlog.contextvars.bind_contextvars(request_id=record.id, app=app.name, version=image.tag)
        record = await self.store.create(record)
        await self._audit(record.id, app.name, user, "requested", tag=image.tag, digest=image.digest)
        try:
            ts = await self.notifier.post_root(record, now)
        except Exception:
            # Nobody could ever approve a request that has no message: close it, then tell the requester.
            await self.store.save(transition(record, State.CANCELLED, self.now(), cancelled_by="deploybot"))
            raise
        record = await self.store.save(record.model_copy(update={"message_ts": ts}))
        log.info("deploy_requested", digest=image.digest)
        if not app.require_approval:
            return await self._without_approval(app, record, tell)
        what = f"rolling `{app.label}` back to `{image.tag}`" if good else f"`{app.label}` `{image.tag}`"
        await tell(f"Asked for approval of {what} in <#{app.deploy_channel}>.")
        return record

    async def _known_good(self, app: AppConfig, running_image: str) -> Deployment:
        """The latest successful deployment whose image is not the one running now, still in ECR.

        Taken from the store's history, not "the previous task definition revision": a revision
        registered by a failed deployment was never good."""
        running = running_image.split("@", 1)[1] if "@" in running_image else None
        history = await self.store.history(app.name, app.environment, 50)
        good = next((r for r in history if r.state is State.SUCCEEDED and r.image.digest != running), None)
        if good is None:
            raise DeployError(
                f"Nothing known good to roll back to: deploybot has no earlier successful deployment of "
                f"`{app.label}` with another image. Deploy a version by name instead: "
                f"`/deploy {app.name} &lt;version&gt;`."
            )
        if not await self.registry.has_digest(app.repository, good.image.digest):
            raise DeployError(
                f"The last known-good release of `{app.label}`, `{good.tag}` ({good.image.short_digest}), is no "
                "longer in ECR, so it cannot be rolled back to. Deploy a version by name instead."
            )
        return good

    async def _without_approval(self, app: AppConfig, record: Deployment, tell: Tell) -> Deployment:
        """An environment that needs no approval (`require_approval: false`) starts at once."""
        now = self.now()
        await self.store.renew_lock(app_lock(app.key), record.id, now + RUN_LEASE)
        record = await self.store.save(transition(record, State.STARTING, now, auto_approved=True, approved_at=now))
        await self._audit(record.id, app.name, "deploybot", "approved", reason="no approval required")
        await tell(
            f"Deploying `{app.label}` `{record.tag}` now (no approval needed there); follow it in "
            f"<#{app.deploy_channel}>.",
        )
        await self._start(app, record)
        return record

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
