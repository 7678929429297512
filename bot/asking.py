"""The request path: `/deploy` (and `/deploy rollback`, and the CI hand-off) up to the request message
waiting for its approval, or a refusal that says why. Mixed into ``Deployer``, which starts what is approved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from .catalog import AppConfig, Catalog
from .domain import audit, policy
from .domain.errors import DeployError, NotAllowed, shown
from .domain.lifecycle import transition
from .domain.models import CiInfo, Deployment, State
from .domain.ports import DeployPlatform, ImageRegistry, Store
from .holds import Holds
from .keys import RUN_LEASE, Tell, app_lock, new_request_id
from .notifier import Notifier

log = structlog.get_logger(__name__)


class Asking:
    catalog: Catalog
    store: Store
    registry: ImageRegistry
    platform: DeployPlatform
    notifier: Notifier
    holds: Holds | None
    approval_timeout: timedelta
    now: Callable[[], datetime]

    async def _audit(self, record_id: str, app: str, actor: str, action: str, **detail: object) -> None:
        raise NotImplementedError  # Deployer's

    async def _start(self, app: AppConfig, record: Deployment) -> None:
        raise NotImplementedError  # Deployer's

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
        """Who holds the app, since when, and what to do: the answer to a request that must wait."""
        other = await self.store.get(holder)
        if other is None:
            return f"Another deploy request for `{app.label}` is being prepared right now. Try again in a moment."
        who = (
            f"started outside deploybot ({shown(other.outside)})"
            if other.outside
            else "asked for by CI"
            if other.ci
            else f"asked by <@{other.requester}>"
        )
        since = f"{other.created_at:%H:%M} UTC"
        if other.state is State.PENDING_APPROVAL:
            return (
                f"`{app.label}` already has a request waiting for approval since {since} (`{other.tag}`, {who}). "
                "Approve or cancel it first."
            )
        return (
            f"`{app.label}` is already being deployed since {since} (`{other.tag}`, {who}). "
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
