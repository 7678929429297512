"""Who may do what: every permission deploybot checks, decided here and nowhere else.

Only the user id and team id Slack signed are trusted, never names. A decision that involves user groups
takes their members (looked up by the caller, ``groups`` says which); a group that cannot be read counts as
empty, so it fails closed. The people of an app:

- its **approvers** (users and user groups) approve, open gates, finish early, roll back and unlock;
- its **requesters** ask for deployments; with no `requesters` list, everyone in deploybot's workspace is one;
- the requester of one deployment may cancel it or roll it back.

Locking an app and reading its audit trail are for its approvers and requesters; freezing it and lifting
a freeze for its approvers; deploying with ``--emergency`` for the people its ``emergency`` entry names.
Nobody from another workspace (a Slack Connect channel) may ask for, act on or read anything.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from .catalog import AppConfig, People
from .errors import NotAllowed
from .lifecycle import Action
from .models import Deployment, Hold, State


class Ask(StrEnum):
    """The decisions besides the buttons."""

    LOCK = "lock"
    UNLOCK = "unlock"
    AUDIT = "audit"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"


def groups(app: AppConfig, *, approvers: bool = True, requesters: bool = False, emergency: bool = False) -> list[str]:
    """The user groups whose members a decision about ``app`` needs."""
    found = list(app.approvers.usergroups) if approvers else []
    if requesters and app.requesters is not None:
        found += app.requesters.usergroups
    if emergency:
        found += app.emergency.usergroups
    return found


def is_member(people: People, user: str, group_members: Collection[str]) -> bool:
    return user in people.users or user in group_members


def is_approver(app: AppConfig, user: str, group_members: Collection[str]) -> bool:
    return is_member(app.approvers, user, group_members)


def is_requester(app: AppConfig, user: str, group_members: Collection[str]) -> bool:
    return app.requesters is None or is_member(app.requesters, user, group_members)


def at_home(team: str, home_team: str) -> bool:
    """From deploybot's own workspace (when it knows which that is)."""
    return not home_team or team == home_team


def check_request(
    app: AppConfig, user: str, team: str, home_team: str, channel: str, requester_members: Collection[str]
) -> None:
    """May ``user`` ask for a deployment of ``app`` from ``channel``? Raise NotAllowed with the reason."""
    if not at_home(team, home_team):
        raise NotAllowed(
            "deploybot only takes requests from its own workspace; people from other organizations in a "
            "shared channel cannot ask for deployments."
        )
    if app.request_channels and channel not in app.request_channels:
        where = ", ".join(f"<#{c}>" for c in app.request_channels)
        raise NotAllowed(f"`{app.label}` can only be requested in {where}. Nothing was changed.")
    if not is_requester(app, user, requester_members):
        raise NotAllowed(f"You are not on the list of people who may request `{app.label}`. Ask one of its owners.")


def check(
    action: Action, app: AppConfig, record: Deployment, user: str, team: str, group_members: Collection[str]
) -> None:
    """May ``user`` press ``action`` on ``record``? Raise NotAllowed with a reason the clicker can act on."""
    if team != record.team_id:
        raise NotAllowed("Only members of the workspace that asked for this deployment can act on it.")
    approver = is_approver(app, user, group_members)
    who = _approver_list(app)
    if action is Action.APPROVE:
        if app.approvers.empty:
            raise NotAllowed(
                f"`{app.label}` has no approvers configured, so nobody can approve it. "
                "Add approvers to its catalog entry."
            )
        if not approver:
            raise NotAllowed(f"Only approvers of `{app.label}` can approve ({who}). Nothing was changed.")
        if user == record.requester and not app.allow_self_approval:
            raise NotAllowed("You asked for this deployment, so someone else has to approve it.")
        # Only while it waits: once it has moved on, its state (deployed, approved by ...) is what to tell.
        if user in record.approvals and record.state is State.PENDING_APPROVAL:
            raise NotAllowed(
                f"You already approved this request; it needs {needed(app, record) - len(record.approvals)} more "
                "approval(s) from someone else."
            )
        return
    if action in (Action.CANCEL, Action.ROLLBACK):
        if not approver and user != record.requester:
            raise NotAllowed(f"Only the requester or an approver of `{app.label}` can do that ({who}).")
        return
    if not approver:
        raise NotAllowed(f"Only approvers of `{app.label}` can move traffic ({who}).")


def check_emergency(app: AppConfig, user: str, group_members: Collection[str]) -> None:
    """May ``user`` deploy ``app`` as an emergency (no approval, past a freeze)? NotAllowed says why not."""
    if app.emergency.empty:
        raise NotAllowed(
            f"Emergency deploys are off for `{app.label}` (its catalog entry names nobody under `emergency`). "
            "Ask for a normal deploy, or ask an approver to lift the freeze."
        )
    if not is_member(app.emergency, user, group_members):
        people = app.emergency
        allowed = ", ".join([f"<@{u}>" for u in people.users] + [f"<!subteam^{g}>" for g in people.usergroups])
        raise NotAllowed(f"Only {allowed} can deploy `{app.label}` as an emergency. Nothing was changed.")


def check_ask(
    ask: Ask,
    app: AppConfig,
    user: str,
    team: str,
    home_team: str,
    group_members: Collection[str],
    hold: Hold | None = None,
) -> None:
    """May ``user`` lock, unlock or read the audit trail of ``app``? NotAllowed says why not."""
    home = at_home(team, home_team)
    if ask in (Ask.FREEZE, Ask.UNFREEZE):
        if not home or not is_approver(app, user, group_members):
            what = "freeze it" if ask is Ask.FREEZE else "lift its freeze"
            raise NotAllowed(f"Only approvers of `{app.label}` can {what} ({_approver_list(app)}).")
        return
    if ask is Ask.UNLOCK:
        if not home or (hold is not None and user != hold.user and not is_approver(app, user, group_members)):
            raise NotAllowed(f"Only the person who locked `{app.label}` or one of its approvers can unlock it.")
        return
    ours = home and (is_approver(app, user, group_members) or is_requester(app, user, group_members))
    if not ours:
        what = "lock it" if ask is Ask.LOCK else "read its audit trail"
        raise NotAllowed(f"Only approvers and requesters of `{app.label}` can {what}.")


def check_report(team: str, home_team: str) -> None:
    """`/deploy status` and `/deploy history` answer anyone in deploybot's own workspace."""
    if not at_home(team, home_team):
        raise NotAllowed("deploybot only answers people of its own workspace.")


def needed(app: AppConfig, record: Deployment) -> int:
    """Approvals this request needs: what it was asked under, or more if the catalog has tightened since."""
    return max(app.approvals, record.approvals_needed)


def _approver_list(app: AppConfig) -> str:
    names = [f"<@{u}>" for u in app.approvers.users] + [f"<!subteam^{g}>" for g in app.approvers.usergroups]
    return ", ".join(names) or "none configured"
