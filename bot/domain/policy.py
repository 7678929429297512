"""Who may do what. Only the user id and team id Slack signed are trusted, never names."""

from __future__ import annotations

from collections.abc import Collection

from ..catalog import AppConfig, People
from .errors import NotAllowed
from .lifecycle import Action
from .models import Deployment


def is_member(people: People, user: str, group_members: Collection[str]) -> bool:
    return user in people.users or user in group_members


def is_approver(app: AppConfig, user: str, group_members: Collection[str]) -> bool:
    return is_member(app.approvers, user, group_members)


def check_request(
    app: AppConfig, user: str, team: str, home_team: str, channel: str, requester_members: Collection[str]
) -> None:
    """May ``user`` ask for a deployment of ``app`` from ``channel``? Raise NotAllowed with the reason."""
    if home_team and team != home_team:
        raise NotAllowed(
            "deploybot only takes requests from its own workspace; people from other organizations in a "
            "shared channel cannot ask for deployments."
        )
    if app.request_channels and channel not in app.request_channels:
        where = ", ".join(f"<#{c}>" for c in app.request_channels)
        raise NotAllowed(f"`{app.label}` can only be requested in {where}. Nothing was changed.")
    if app.requesters is not None and not is_member(app.requesters, user, requester_members):
        raise NotAllowed(f"You are not on the list of people who may request `{app.label}`. Ask one of its owners.")


def check(
    action: Action, app: AppConfig, record: Deployment, user: str, team: str, group_members: Collection[str]
) -> None:
    """Raise NotAllowed with a reason the clicker can act on."""
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
        if user in record.approvals:
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


def needed(app: AppConfig, record: Deployment) -> int:
    """Approvals this request needs: what it was asked under, or more if the catalog has tightened since."""
    return max(app.approvals, record.approvals_needed)


def _approver_list(app: AppConfig) -> str:
    names = [f"<@{u}>" for u in app.approvers.users] + [f"<!subteam^{g}>" for g in app.approvers.usergroups]
    return ", ".join(names) or "none configured"
