"""Courtesy notes in an app's deploy channel (a lock, a freeze, a reminder): what they announce holds whether
Slack takes the note or not, so a note Slack refuses is logged, never raised."""

from __future__ import annotations

import structlog

from ..domain.catalog import AppConfig
from ..domain.errors import ChatError
from ..domain.ports import Chat

log = structlog.get_logger(__name__)


async def announce(chat: Chat, app: AppConfig, text: str, failed: str) -> None:
    """Post ``text`` in ``app``'s deploy channel; ``failed``: the event logged when Slack does not take it."""
    try:
        await chat.post(app.deploy_channel, text)
    except ChatError as exc:
        log.warning(failed, error=exc.code)
