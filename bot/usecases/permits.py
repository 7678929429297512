"""The permission check every command shares: look up the user groups the decision needs, let
``policy`` decide, and answer a refusal to the person who asked."""

from __future__ import annotations

from ..domain import policy
from ..domain.catalog import AppConfig
from ..domain.errors import NotAllowed
from ..domain.models import Hold
from ..domain.ports import Chat


async def permitted(
    chat: Chat, ask: policy.Ask, app: AppConfig, user: str, team: str, response_url: str, hold: Hold | None = None
) -> bool:
    """Whether ``user`` may ``ask``; when not, they are told why (through the command's response_url)."""
    members = await chat.group_members(policy.groups(app, requesters=ask is not policy.Ask.UNLOCK))
    try:
        policy.check_ask(ask, app, user, team, chat.home_team, members, hold)
    except NotAllowed as exc:
        await chat.respond(response_url, exc.message)
        return False
    return True
