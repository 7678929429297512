"""Locks people put on an app in one environment (`/deploy lock`, `/deploy unlock`), the lock deploybot
puts on after a rollback (`lock_after_rollback`), and the reminders that keep locks from being forgotten."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from slack_sdk.errors import SlackApiError

from .catalog import AppConfig, Catalog
from .domain import audit, policy
from .domain.errors import NotAllowed, shown
from .domain.models import Deployment, Hold
from .domain.ports import Store
from .slack.gateway import SlackGateway

log = structlog.get_logger(__name__)
DEPLOYBOT = "deploybot"
REMINDER = timedelta(hours=4)


def held_text(app: AppConfig, hold: Hold) -> str:
    who = "deploybot" if hold.user == DEPLOYBOT else f"<@{hold.user}>"
    why = f": {shown(hold.reason)}" if hold.reason else ""
    return (
        f"`{app.label}` is locked by {who} since {hold.since:%Y-%m-%d %H:%M} UTC{why}. "
        f"Nothing can be deployed there until someone runs `/deploy unlock {app.name}"
        f"{'' if app.only_environment else ' ' + app.environment}`."
    )


class Holds:
    def __init__(
        self,
        store: Store,
        slack: SlackGateway,
        catalog: Catalog,
        clock: Callable[[], datetime],
        reminder: timedelta = REMINDER,
    ) -> None:
        self.store = store
        self.slack = slack
        self.catalog = catalog
        self.now = clock
        self.reminder = reminder

    async def check(self, app: AppConfig) -> None:
        """Raise NotAllowed when the app is locked in that environment."""
        hold = await self.store.get_hold(app.key)
        if hold is not None:
            raise NotAllowed(held_text(app, hold))

    async def _may(self, app: AppConfig, user: str, team: str) -> bool:
        if self.slack.team_id and team != self.slack.team_id:
            return False
        groups = [*app.approvers.usergroups, *(app.requesters.usergroups if app.requesters else [])]
        members = await self.slack.usergroup_members(groups) if groups else set()
        if policy.is_approver(app, user, members):
            return True
        return app.requesters is None or policy.is_member(app.requesters, user, members)

    async def lock(self, app: AppConfig, user: str, team: str, reason: str, response_url: str) -> None:
        audit.begin(team, "")
        if not await self._may(app, user, team):
            await self.slack.respond(response_url, f"Only approvers and requesters of `{app.label}` can lock it.")
            return
        hold = Hold(app=app.name, environment=app.environment, user=user, reason=reason, since=self.now())
        existing = await self.store.hold(hold)
        if existing is not None:
            await self.slack.respond(response_url, held_text(app, existing))
            return
        await self.store.audit(
            audit.event(self.now(), "-", app.name, user, "locked", environment=app.environment, reason=reason)
        )
        await self._announce(app, f":lock: <@{user}> locked `{app.label}`{': ' + shown(reason) if reason else ''}.")
        await self.slack.respond(response_url, f"Locked `{app.label}`. `/deploy unlock {app.name}` lifts it.")

    async def unlock(self, app: AppConfig, user: str, team: str, response_url: str) -> None:
        audit.begin(team, "")
        hold = await self.store.get_hold(app.key)
        if hold is None:
            await self.slack.respond(response_url, f"`{app.label}` is not locked.")
            return
        groups = list(app.approvers.usergroups)
        members = await self.slack.usergroup_members(groups) if groups else set()
        home = not self.slack.team_id or team == self.slack.team_id
        if not home or (user != hold.user and not policy.is_approver(app, user, members)):
            await self.slack.respond(
                response_url, f"Only the person who locked `{app.label}` or one of its approvers can unlock it."
            )
            return
        await self.store.release_hold(app.key)
        await self.store.audit(audit.event(self.now(), "-", app.name, user, "unlocked", environment=app.environment))
        await self._announce(app, f":unlock: <@{user}> unlocked `{app.label}`.")
        await self.slack.respond(response_url, f"Unlocked `{app.label}`.")

    async def after_rollback(self, app: AppConfig, record: Deployment) -> bool:
        """Lock the app after a rolled-back deployment when its catalog entry asks for that."""
        if not app.lock_after_rollback:
            return False
        reason = f"automatic after {record.tag} was rolled back (request {record.id})"
        hold = Hold(app=app.name, environment=app.environment, user=DEPLOYBOT, reason=reason, since=self.now())
        if await self.store.hold(hold) is None:
            await self.store.audit(audit.event(self.now(), record.id, app.name, DEPLOYBOT, "locked", reason=reason))
        return True

    async def remind(self) -> int:
        """Tell the owners of locks held longer than the reminder interval (then again each interval)."""
        sent = 0
        for hold in await self.store.holds():
            app = self.catalog.get(hold.app, hold.environment)
            last = hold.reminded_at or hold.since
            if app is None or self.now() - last < self.reminder:
                continue
            who = "the rollback" if hold.user == DEPLOYBOT else f"<@{hold.user}>"
            hours = (self.now() - hold.since).total_seconds() / 3600
            await self._announce(
                app,
                f":lock: Reminder: `{app.label}` has been locked by {who} for {hours:.0f} h"
                f"{': ' + shown(hold.reason) if hold.reason else ''}. `/deploy unlock {app.name}"
                f"{'' if app.only_environment else ' ' + app.environment}` when it is safe to deploy again.",
            )
            await self.store.update_hold(hold.model_copy(update={"reminded_at": self.now()}))
            sent += 1
        return sent

    async def _announce(self, app: AppConfig, text: str) -> None:
        try:
            await self.slack.post(app.deploy_channel, text)
        except SlackApiError as exc:  # the lock holds either way; the channel note is a courtesy
            log.warning("lock_note_failed", error=exc.response.get("error"))
