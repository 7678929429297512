"""Tells Slack about a deployment: its root message, rendered whole from the record and updated only
when what it shows changes, and the delivery of the replies and alerts the record owes (``Outbox``)."""

from __future__ import annotations

import hashlib
import json

import structlog

from .. import metrics
from ..domain.catalog import AppConfig
from ..domain.changes import Posted
from ..domain.errors import ChatError
from ..domain.lifecycle import Milestone, MilestoneKind
from ..domain.models import Deployment, Outgoing, State
from ..domain.ports import ROOT, Blocks, Chat, Clock, Mark, Store
from ..render import replies, root
from ..render.emergency import review_request
from .outbox import RECHECK, Outbox
from .saving import save_decided

log = structlog.get_logger(__name__)


def reply(text: str, *, broadcast: bool = False) -> Outgoing:
    """A reply in the deployment's thread (also shown in the channel when ``broadcast``)."""
    return Outgoing(text=text, broadcast=broadcast)


def _digest(text: str, blocks: Blocks) -> str:
    return hashlib.sha256((json.dumps(blocks, sort_keys=True) + text).encode()).hexdigest()


RERENDERS = 3  # a root that kept changing while it was being sent is sent again, at most this often


class Teller:
    def __init__(self, store: Store, chat: Chat, outbox: Outbox, clock: Clock) -> None:
        self.store = store
        self.chat = chat
        self.outbox = outbox
        self.now = clock
        self._rendered: dict[str, str] = {}

    async def post_root(self, record: Deployment) -> str:
        """Post the root message; ChatError when Slack did not take it. One that got no answer may still land,
        a root no record knows: Slack is read again a while later and such a copy removed (``copies``)."""
        text, blocks = root.root_text(record), root.root_blocks(record, self.now())
        try:
            ts = await self.chat.post(record.channel, text, blocks, mark=Mark(record.id, ROOT, ROOT))
        except ChatError as exc:
            if not exc.answered:
                await self.outbox.recheck_later(record.id, self.now() + RECHECK, [record.channel])
            raise
        self._rendered[record.id] = _digest(text, blocks)
        return ts

    async def drop_root(self, record: Deployment, ts: str) -> None:
        """Delete a root posted while another was saved first; if Slack does not take the deletion now, the
        recheck removes it later."""
        try:
            await self.chat.delete(record.channel, ts)
        except ChatError as exc:
            log.warning("root_copy_not_deleted", error=exc.code, deployment=record.id)
            await self.outbox.recheck_later(record.id, self.now() + RECHECK, [record.channel])

    async def sync_root(self, record: Deployment, *, force: bool = False, background: bool = False) -> bool:
        """chat.update the root from state when it differs from what Slack shows; False if it failed
        or (``background``: the watcher's re-renders) no update turn was free: the next tick renders
        whatever the state is then, so skipped intermediate states cost nothing.

        An update can take a while (a turn in Slack's pace, retries), and another replica may save and
        render a newer state meanwhile, whose update then lands first: so once sent, the record is read
        again, and a newer one is rendered and sent too. Whoever sends last has read last, and the root
        ends showing the latest state."""
        for _ in range(RERENDERS):
            sent = await self._sync_once(record, force=force, background=background)
            if sent is not True:
                return sent is None  # None: Slack shows it already; False: not sent
            fresh = await self.store.get(record.id)
            if fresh is None or fresh.version == record.version:
                return True
            record, force = fresh, False
        return True

    async def _sync_once(self, record: Deployment, *, force: bool, background: bool) -> bool | None:
        """True: sent; None: nothing to send (Slack shows it already); False: not sent."""
        if not record.message_ts:
            # A request whose root Slack would not take was cancelled then; any other record (a deployment
            # adopted while Slack was down, a request left unposted by a replica that stopped) gets its
            # root now, and what it owes goes in its thread.
            # An expired one gets its root too: the thread says why it never started.
            missing = record.state is State.CANCELLED and not record.expired
            return None if missing else await self._post_missing(record)
        if background and not self.chat.update_free():
            return self._wait_turn(record)  # not even worth rendering: no turn to send it in
        text, blocks = root.root_text(record), root.root_blocks(record, self.now())
        digest = _digest(text, blocks)
        if not force and self._rendered.get(record.id) == digest:
            return None
        if background and not self.chat.can_update():
            return self._wait_turn(record)
        try:
            await self.chat.update(record.channel, record.message_ts, text, blocks, paced=not background)
        except ChatError as exc:
            log.warning("root_update_failed", error=exc.code, deployment=record.id)
            self._rendered.pop(record.id, None)
            # Rendered again later, whoever watches it then: it may be a finished record nobody else would
            # render again, and an update that got no answer may still land, over a newer one.
            await self.outbox.recheck_later(record.id, self.now() + RECHECK)
            return False
        self._rendered[record.id] = digest
        metrics.STATUS_LAG.observe(max((self.now() - record.updated_at).total_seconds(), 0.0))
        return True

    async def _post_missing(self, record: Deployment) -> bool | None:
        try:
            ts = await self.post_root(record)
        except ChatError as exc:
            log.warning("root_not_posted", error=exc.code, deployment=record.id)
            return False

        async def posted(current: Deployment) -> Deployment | None:
            return None if current.message_ts else Posted(message_ts=ts).apply(current, current.updated_at)

        _, wrote = await save_decided(self.store, record.id, posted)
        if not wrote:  # another replica posted it first: ours goes
            await self.drop_root(record, ts)
            return None
        return True

    def _wait_turn(self, record: Deployment) -> bool:
        """A re-render that found no free turn: a finished deployment's comes back within a second (its
        last state must show); one in progress waits for the next tick, which renders it afresh anyway."""
        if record.state.terminal:
            self.outbox.paced.add(record.id)
        return False

    async def tell(self, record: Deployment, *, background: bool = False) -> bool:
        """Bring Slack up to date with the record: its root, then what it owes. True when both are done. A
        recheck due renders the root again whatever this replica last sent (``Outbox.recheck_later``)."""
        due = record.recheck_at is not None and self.now() >= record.recheck_at
        rendered = await self.sync_root(record, force=due, background=background and not due)
        flushed = await self.outbox.flush(record.id)
        return rendered and flushed

    async def flush(self, record_id: str) -> bool:
        return await self.outbox.flush(record_id)

    def take_paced(self) -> set[str]:
        """The records with something that waited for Slack's pace (each given once)."""
        paced = set(self.outbox.paced)
        self.outbox.paced.clear()
        return paced

    def forget(self, record_id: str) -> None:
        self._rendered.pop(record_id, None)

    def milestones(self, record: Deployment, milestones: list[Milestone]) -> list[Outgoing]:
        out = []
        for milestone in milestones:
            text = replies.milestone_text(record, milestone)
            if text:
                # Only the outcome is also shown in the channel; the steps stay in the thread.
                out.append(reply(text, broadcast=milestone.kind is MilestoneKind.FINISHED))
        return out

    def alert(self, record: Deployment, app: AppConfig | None) -> list[Outgoing]:
        """The failure alert a finished record owes its app's alert channel (none for a success), and the
        review note an emergency deploy asks of its requester in the thread."""
        review = [reply(review_request(record))] if record.emergency is not None and record.state.terminal else []
        if app is None or not app.alert_channel or record.state not in (State.FAILED, State.STOPPED):
            return review
        link = self.chat.permalink(record.channel, record.message_ts or "")
        text, blocks = replies.alert(record, link, app.oncall)
        return [Outgoing(text=text, channel=app.alert_channel, blocks=blocks), *review]
