"""The request path: `/deploy` (and `/deploy rollback`, and the CI hand-off) up to the request message
waiting for its approval (or started, where no approval is needed, or in line for a busy app), or a
refusal that says why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from ..domain import audit, policy
from ..domain.catalog import AppConfig
from ..domain.changes import AutoApproved, Cancelled, Decision, Entry, Posted
from ..domain.errors import ChatError, DeployError, NotAllowed
from ..domain.keys import APPROVAL_TIMEOUT, QUEUE_TIMEOUT, RUN_LEASE, UNSTARTED, app_lock, new_request_id
from ..domain.models import CiInfo, Deployment, Hold, Outgoing, State
from ..domain.ports import Chat, Clock, DeploymentEngine, Faults, ImageRegistry, Store, no_faults
from ..render import answers
from ..render.emergency import emergency_alert, emergency_started
from ..render.line import in_line as in_line_answer
from ..render.root import emergency_line
from .holds import Holds
from .records import Records, Tell
from .starts import Starts
from .telling import Teller, reply

log = structlog.get_logger(__name__)
Answer = Callable[[str], Awaitable[None]]  # how a requester is answered (response_url, or the CI's HTTP reply)


@dataclass(frozen=True)
class Asked:
    """One request, as it was asked for."""

    app: AppConfig
    tag: str
    user: str
    team: str
    channel: str = ""
    rollback: bool = False
    ci: CiInfo | None = None
    emergency: str | None = None
    queue: bool = False  # wait in line when the app is busy or locked, instead of being refused


@dataclass(frozen=True)
class InLine:
    """Where a request joins the line: its place, and what is ahead of it (a request, or a lock)."""

    place: int
    ahead: Deployment | None
    hold: Hold | None


async def waiting(store: Store, target: str) -> list[Deployment]:
    """The requests in line for ``target`` (`app:environment`), first first."""
    return in_line(await store.in_flight(), target)


def in_line(records: Iterable[Deployment], target: str) -> list[Deployment]:
    """Of ``records``, those in line for ``target``, first first."""
    found = [r for r in records if r.target == target and r.state is State.QUEUED]
    return sorted(found, key=lambda r: (r.queued_at or r.created_at, r.id))


@dataclass(frozen=True)
class Requests:
    store: Store
    records: Records
    teller: Teller
    chat: Chat
    registry: ImageRegistry
    engine: DeploymentEngine
    holds: Holds
    starts: Starts
    clock: Clock
    approval_timeout: timedelta = APPROVAL_TIMEOUT
    fault: Faults = no_faults
    # A request that needs no approval starts within seconds; one not started by then was left by a
    # replica that stopped in between (the watcher's starting grace, the same judgement for a start).
    unstarted: timedelta = UNSTARTED

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
        tell: Answer | None = None,
        ci: CiInfo | None = None,
        emergency: str | None = None,
        queue: bool = False,
    ) -> Deployment | None:
        """Ask to deploy ``tag``, or with ``rollback`` the last known-good release from history; with an
        ``emergency`` reason (break-glass), start it at once without approval, past any freeze; with
        ``queue``, wait in line when the app is busy or locked instead of being refused.

        What the requester is told goes to ``response_url``, or to ``tell`` (the CI hand-off's answer)."""
        audit.begin(team, channel)

        async def respond(text: str) -> None:
            await self.chat.respond(response_url, text)

        tell = tell or respond
        asked = Asked(app, tag, user, team, channel, rollback, ci, emergency, queue)
        try:
            return await self._request(asked, tell)
        except DeployError as exc:  # refused on the way, with what to tell
            log.warning("deploy_request_failed", reason=exc.message)
            await tell(exc.message)
            return None
        except Exception:
            log.exception("deploy_request_failed")
            await tell(answers.went_wrong(app.label, tag))
            return None

    async def precheck(
        self, app: AppConfig, tag: str, user: str, team: str, channel: str, *, queue: bool = False
    ) -> None:
        """The checks a request makes before any change, for a dialog to show its refusal in place:
        DeployError with the same message the request would answer. ``request`` makes them again. One that
        waits in line (``queue``) is not refused for a busy or locked app."""
        members = await self.chat.group_members(policy.groups(app, approvers=False, requesters=True))
        policy.check_request(app, user, team, self.chat.home_team, channel, members)
        await self.holds.check(app, tag, lock=not queue)
        other = next((r for r in await self.store.in_flight() if r.target == app.key and not r.state.terminal), None)
        if other is not None and not queue:
            raise DeployError(answers.busy(app.label, other))
        await self.registry.resolve(app, tag)

    async def _request(self, asked: Asked, tell: Answer) -> Deployment | None:
        app, user = asked.app, asked.user
        members = await self.chat.group_members(policy.groups(app, approvers=False, requesters=True))
        try:
            if asked.ci is None:  # a CI hand-off is authorized by its token instead
                policy.check_request(app, user, asked.team, self.chat.home_team, asked.channel, members)
            if asked.emergency is not None:
                allowed = await self.chat.group_members(list(app.emergency.usergroups))
                policy.check_emergency(app, user, allowed)
            # In line, a lock is waited out like a busy app; a freeze is refused (it says when it ends).
            await self.holds.check(app, asked.tag, emergency=asked.emergency is not None, lock=not asked.queue)
        except NotAllowed as exc:
            log.info("request_refused", user=user, reason=exc.message)
            entry = Entry(user, "refused:request", {"tag": asked.tag, "reason": exc.message})
            await self.records.note("-", app.name, entry)
            await tell(exc.message)
            return None
        request_id = new_request_id()
        line = await waiting(self.store, app.key)
        hold = await self.store.get_hold(app.key) if asked.queue else None
        holder = None
        if not line and hold is None:
            # One open request per app across every replica: the lock is taken before any AWS work, for the
            # grace a request gets to be made (a replica that dies first holds it no longer), then kept for
            # the request's wait once its record is saved.
            until = self.clock() + min(self.unstarted, self.approval_timeout)
            holder = await self.store.acquire_lock(app_lock(app.key), request_id, until)
        if line or hold is not None or holder is not None:
            ahead = line[-1] if line else (await self.store.get(holder) if holder else None)
            if asked.queue:
                return await self._prepare(request_id, asked, tell, InLine(len(line) + 1, ahead, hold))
            await tell(answers.busy(app.label, ahead, len(line)) if ahead else answers.being_prepared(app.label))
            return None
        try:
            record = await self._prepare(request_id, asked, tell)
        except BaseException:
            await self.store.release_lock(app_lock(app.key), request_id)
            raise
        if record is None:
            await self.store.release_lock(app_lock(app.key), request_id)
        return record

    async def _prepare(
        self, request_id: str, asked: Asked, tell: Answer, in_line: InLine | None = None
    ) -> Deployment | None:
        app, tag, user, emergency = asked.app, asked.tag, asked.user, asked.emergency
        good: Deployment | None = None
        try:
            live = await self.engine.live(app)
            if asked.rollback:
                good = await self._known_good(app, live.image)
                image = good.image
            else:
                image = await self.registry.resolve(app, tag)
            running = await self.registry.version_of(app, live.image)
            plan = await self.engine.plan(app)
        except DeployError as exc:
            await tell(exc.message)
            return None
        now = self.clock()
        record = Deployment(
            id=request_id,
            app=app.name,
            environment=app.environment,
            show_environment=not app.only_environment,
            tag=image.tag,
            image=image,
            requester=user,
            team_id=asked.team,
            channel=app.deploy_channel,
            created_at=now,
            updated_at=now,
            running_before=running,
            previous_task_definition=live.task_definition,
            engine=plan.engine,
            engine_name=plan.engine_name,
            strategy=plan.strategy,
            gate_minutes=plan.gate_minutes,
            bake_minutes=plan.bake_minutes,
            blue_green=plan.blue_green,
            approvals_needed=app.approvals,
            expires_at=now + (QUEUE_TIMEOUT if in_line else self.deadline(app.require_approval and not emergency)),
            rollback_to=good.id if good else None,
            ci=asked.ci,
            emergency=emergency,
            state=State.QUEUED if in_line else State.PENDING_APPROVAL,
            queued_at=now if in_line else None,
        )
        structlog.contextvars.bind_contextvars(request_id=record.id, app=app.name, version=image.tag)
        said = {"emergency": emergency} if emergency else {}
        requested = Entry(user, "requested", {"tag": image.tag, "digest": image.digest, **said})
        record = await self.records.create(record, requested)
        if in_line is None and not await self.store.renew_lock(app_lock(app.key), record.id, record.expires_at or now):
            # Made too slowly: the app's lock ran out and another request may hold it now. Nothing was shown.
            closed = Decision(
                Cancelled(cancelled_by="deploybot"),
                Entry("deploybot", "cancelled", {"state": "cancelled", "reason": "the app's lock ran out"}),
            )
            await self.records.put(record, closed, tell=Tell.LATER)
            raise DeployError(answers.made_too_slowly(app.label))
        record = await self._post(record)
        log.info("deploy_requested", digest=image.digest, queued=in_line is not None)
        if in_line is not None:
            await tell(in_line_answer(app, image, in_line.place, in_line.ahead, in_line.hold))
            return record
        if not app.require_approval or emergency:
            return await self.start_without_approval(app, record, tell)
        await tell(answers.asked_for_approval(app, image, rollback=good is not None))
        return record

    def deadline(self, waits: bool) -> timedelta:
        """How long the request may wait: for its approval, or (none needed) for its start."""
        return self.approval_timeout if waits else min(self.unstarted, self.approval_timeout)

    async def _post(self, record: Deployment) -> Deployment:
        try:
            ts = await self.teller.post_root(record)
        except ChatError as exc:
            # Nobody could ever approve a request that has no message: close it, then tell the requester.
            reason = f"Slack did not take its message ({exc.code})"
            closed = Decision(
                Cancelled(cancelled_by="deploybot"),
                Entry("deploybot", "cancelled", {"state": "cancelled", "reason": reason}),
            )
            await self.records.put(record, closed, tell=Tell.LATER)
            raise DeployError(answers.not_posted(record.label, record.tag, exc.code)) from exc

        async def posted(current: Deployment) -> Decision | None:
            return None if current.message_ts else Decision(Posted(message_ts=ts))

        saved = await self.records.change(record, posted, tell=Tell.LATER) or record
        if saved.message_ts != ts:  # the watcher posted it first, taking this request for one left unshown
            await self.teller.drop_root(saved, ts)
            return saved
        if saved.version > record.version + 1:
            await self.teller.sync_root(saved)  # it moved on while the root was being posted: show where to
        return saved

    async def _known_good(self, app: AppConfig, running_image: str) -> Deployment:
        """The latest successful deployment whose image is not the one running now, still in ECR.

        Taken from the store's history, not "the previous task definition revision": a revision
        registered by a failed deployment was never good."""
        running = await self._running_digest(app, running_image)
        history = await self.store.history(app.name, app.environment, 50)
        good = next(
            (
                r
                for r in history
                if r.state is State.SUCCEEDED and r.image.pinned_by_digest and r.image.digest != running
            ),
            None,
        )
        if good is None:
            raise DeployError(answers.nothing_known_good(app))
        if not await self.registry.has_digest(app, good.image.digest):
            raise DeployError(answers.known_good_gone(app, good))
        return good

    async def _running_digest(self, app: AppConfig, running_image: str) -> str | None:
        """The digest of the running image; a tag (an outside deployment's `repo:v1.2.5`) is read in
        ECR, so the image running now is never offered as the known-good one to go back to."""
        ref = running_image.rsplit("/", 1)[-1]
        if "@" in ref:
            return ref.split("@", 1)[1]
        if ":" not in ref:
            return None
        try:
            return (await self.registry.resolve(app, ref.split(":", 1)[1])).digest or None
        except DeployError:
            return None

    async def start_without_approval(
        self, app: AppConfig, record: Deployment, tell: Answer | None = None
    ) -> Deployment:
        """An environment that needs no approval (`require_approval: false`) starts at once (a request in
        line, when its turn comes), and so does an emergency (told in the alert channel, mentioning
        on-call, as it starts)."""
        self.fault("before_auto_start")
        now = self.clock()
        await self.store.renew_lock(app_lock(app.key), record.id, now + RUN_LEASE)
        approved = Decision(
            AutoApproved(auto_approved=True, approved_at=now),
            Entry("deploybot", "approved", {"reason": "no approval required"}),
        )
        if record.emergency is not None:
            why = f"emergency deploy by {record.requester}: {record.emergency}"
            link = self.chat.permalink(record.channel, record.message_ts or "")
            text, blocks = emergency_alert(record, link, app.oncall)
            alert = Outgoing(text=text, channel=app.alert_channel, blocks=blocks)
            said = reply(emergency_line(record))  # in the thread too, where the deployment is followed
            approved = Decision(approved.change, Entry("deploybot", "approved", {"reason": why}), (said, alert))
        started = await self.records.put(record, approved, tell=Tell.LATER) or record
        if tell is not None:
            await tell(
                emergency_started(app, started.tag) if record.emergency else answers.deploying_now(app, started.tag)
            )
        await self.starts.start(app, started)
        return started
