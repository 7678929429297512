"""The "working on it" note of a slash command (`Checking web1 v1.2.3 in ECR…`): sent only when the answer
takes longer than a moment, and never after the answer, so a quick command leaves one ephemeral, its answer,
and a slow one the note first and then the answer."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from ..domain.ports import Chat

NOTE_AFTER = 2.0  # seconds: under it, the answer alone is sent


class Holding:
    def __init__(self, chat: Chat, after: float = NOTE_AFTER) -> None:
        self.chat = chat
        self.after = after

    async def run(self, response_url: str, note: str, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self.after)
        if not done:
            # The Chat drops a note whose response_url has been answered already (the work may have got there
            # between the timeout and this line), and an answer waits for a note being sent.
            await self.chat.respond(response_url, note, note=True)
        await task
