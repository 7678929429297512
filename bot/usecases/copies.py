"""Copies of one message in Slack, and taking the later ones away.

Slack has no idempotent post. A sender paused past its claim, or a post that got no answer and landed after
it was sent again, can leave a message in Slack twice. Each copy carries its request id and numbers
(message metadata), so any replica can see the copies and remove them the same way: latest first, a copy
goes when every number it covers is in another copy still there. The earliest copy of each message stays,
and the thread keeps its order; two replicas doing it at once remove the same ones.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from ..domain.models import Deployment, State
from ..domain.ports import ROOT, Chat, Copy

log = structlog.get_logger(__name__)


async def remove_copies(chat: Chat, record: Deployment, channels: Iterable[str] = ()) -> int:
    """Remove the later copies of ``record``'s messages from its thread and from ``channels`` (an alert
    channel, say; its own channel: a root that is not the one the record knows): how many were removed.
    ChatError when Slack cannot be read or answer."""
    places: list[tuple[str, str | None]] = [(record.channel, record.message_ts)] if record.message_ts else []
    places += [(c, None) for c in dict.fromkeys(channels) if c != record.channel]
    removed = await _remove_roots(chat, record) if record.channel in channels and root_known(record) else 0
    for channel, thread in places:
        kept = await chat.copies(channel, record.id, thread_ts=thread)
        for copy in sorted(kept, key=lambda c: float(c.ts), reverse=True):
            if copy.seqs <= _covered(kept, copy):
                await chat.delete(channel, copy.ts)
                kept = [c for c in kept if c is not copy]
                removed += 1
                log.warning("outbox_copy_removed", request_id=record.id, seqs=sorted(copy.seqs), channel=channel)
    return removed


def root_known(record: Deployment) -> bool:
    """Whether ``record``'s root is settled, so that any other root of it in its channel is a copy: it has
    one, or it never will (cancelled because Slack would not take it). Until then, a root being posted now
    (its ts not yet saved) is not to be taken for a copy."""
    return bool(record.message_ts) or (record.state is State.CANCELLED and not record.expired)


async def _remove_roots(chat: Chat, record: Deployment) -> int:
    """Roots of ``record`` in its channel other than the one it knows (a post that got no answer and landed
    late, or one whose deletion failed)."""
    removed = 0
    for copy in await chat.copies(record.channel, record.id):
        if copy.first == ROOT == copy.last and copy.ts != record.message_ts:
            await chat.delete(record.channel, copy.ts)
            removed += 1
            log.warning("root_copy_removed", request_id=record.id, ts=copy.ts)
    return removed


def _covered(copies: list[Copy], but: Copy) -> set[int]:
    return {n for c in copies if c is not but for n in c.seqs}
