"""Who may do what. Only the clicker's user id and team id are trusted, never names."""

from __future__ import annotations

from collections.abc import Collection

from ..config import AppConfig
from .errors import NotAllowed
from .lifecycle import Action
from .models import Deployment


def is_approver(app: AppConfig, user: str, group_members: Collection[str]) -> bool:
    return user in app.approvers.users or user in group_members


def check(
    action: Action, app: AppConfig, record: Deployment, user: str, team: str, group_members: Collection[str]
) -> None:
    """Raise NotAllowed with a reason the clicker can act on."""
    if team != record.team_id:
        raise NotAllowed("Only members of the workspace that asked for this deployment can act on it.")
    approver = is_approver(app, user, group_members)
    who = _approver_list(app)
    if action is Action.APPROVE:
        if not app.approvers.users and not app.approvers.usergroups:
            raise NotAllowed(
                f"`{app.name}` has no approvers configured, so nobody can approve it. "
                "Add approvers to its catalog entry."
            )
        if not approver:
            raise NotAllowed(f"Only approvers of `{app.name}` can approve ({who}). Nothing was changed.")
        if user == record.requester and not app.allow_self_approval:
            raise NotAllowed("You asked for this deployment, so someone else has to approve it.")
        return
    if action in (Action.CANCEL, Action.ROLLBACK):
        if not approver and user != record.requester:
            raise NotAllowed(f"Only the requester or an approver of `{app.name}` can do that ({who}).")
        return
    if not approver:
        raise NotAllowed(f"Only approvers of `{app.name}` can move traffic ({who}).")


def _approver_list(app: AppConfig) -> str:
    names = [f"<@{u}>" for u in app.approvers.users] + [f"<!subteam^{g}>" for g in app.approvers.usergroups]
    return ", ".join(names) or "none configured"
