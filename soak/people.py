"""The people (and the CI job) of the campaign: each story is what one person does with one request, through
the sandbox's Slack as a person would, and tries again when Slack says a command or a click did not get
through. What deploybot decided is read from its store; what a person sees, from the workspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field

from bot.aws.dynamo_store import DynamoStore
from bot.domain.models import Deployment, State
from bot.domain.progress import Phase
from sandbox.runner import Sandbox
from sandbox.slack.delivery import DeliveryResult
from sandbox.slack.server import find_button
from sandbox.slack.workspace import Message, SlackError

from . import outside
from .plan import APPROVERS, Lane, Story

TRIES = 6  # a command or a click that did not get through is tried again this often
FOLLOW = 300.0  # seconds a person watches a deployment before moving on to the next story
SEEN = 20.0  # seconds to wait for a request's record (a command to a paused replica is answered late)
# A Roll back pressed at a random moment: in which phase of the deployment, by the story's ``moment``.
MOMENTS = (Phase.PROVISIONING, Phase.SHIFTING, Phase.BAKING)


@dataclass
class Journal:
    """What the people did: counts for the report, and what the invariants need to know."""

    actions: Counter[str] = field(default_factory=Counter)
    undelivered: Counter[str] = field(default_factory=Counter)  # tries Slack could not deliver
    outside: dict[str, str] = field(default_factory=dict)  # deployment id -> lane key (started by CI)
    unlocked: set[str] = field(default_factory=set)  # lane keys whose lock was taken and then removed
    locked: set[str] = field(default_factory=set)  # lane keys left locked (an unlock that never got through)


class People:
    def __init__(self, box: Sandbox, store: DynamoStore, journal: Journal) -> None:
        self.box = box
        self.store = store
        self.journal = journal
        self._replaying = asyncio.Lock()  # a replay resends the last signed post: nothing may come between

    # -- Slack, as a person uses it ----------------------------------------------------------

    async def command(self, text: str, user: str) -> DeliveryResult:
        self.journal.actions["command"] += 1
        result = await self.box.slack.slash(text, user=user)
        for _ in range(TRIES):
            if result.ok:
                break
            self.journal.undelivered["command"] += 1
            await asyncio.sleep(1.5)
            result = await self.box.slack.slash(text, user=user)
        return result

    async def click(self, record: Deployment, action: str, user: str, *, replay: bool = False) -> bool:
        """Press ``action`` on the record's root as ``user`` (False: the button is not there any more)."""
        for _ in range(TRIES):
            root = self.root(record)
            if root is None or find_button(root, action) is None:
                return False
            self.journal.actions[action] += 1
            async with self._replaying:
                try:
                    result = await self.box.slack.click(root, action, user=user)
                except LookupError:
                    return False  # the root changed while we waited our turn: the button is gone
                if replay and result.ok:
                    self.journal.actions["replay"] += 1
                    await self.box.slack.deliverer.replay()
            if result.ok:
                return True
            self.journal.undelivered[action] += 1
            await asyncio.sleep(1.5)
        return False

    def root(self, record: Deployment) -> Message | None:
        if not record.message_ts:
            return None
        with contextlib.suppress(SlackError):
            return self.box.slack.ws.find(record.channel, record.message_ts)
        return None

    # -- deploybot's store, as the truth of what was decided ----------------------------------

    async def fresh(self, record: Deployment) -> Deployment:
        return await self.store.get(record.id) or record

    async def request_of(self, lane: Lane, user: str, since: float) -> Deployment | None:
        """The request ``user`` made for ``lane`` after ``since`` (None: refused, or never seen)."""
        deadline = time.monotonic() + SEEN
        while time.monotonic() < deadline:
            for found in await self.store.history(lane.app, lane.environment, 10):
                if found.requester == user and found.created_at.timestamp() >= since - 1 and found.message_ts:
                    return found
            await asyncio.sleep(0.5)
        return None

    # -- stories -----------------------------------------------------------------------------

    async def run(self, story: Story) -> None:
        await asyncio.sleep(story.pause)
        self.journal.actions[f"story:{story.kind}"] += 1
        if story.kind == "outside":
            await self._outside(story)
        elif story.kind == "lock":
            await self._lock(story)
        elif story.kind == "concurrent":
            await self._concurrent(story)
        elif story.kind == "queue":
            await self._queue(story)
        else:
            record = await self._ask(story, "U0ALICE")
            if record is not None:
                await self._decide(story, record)

    def _text(self, story: Story) -> str:
        return f"{story.lane.app} {story.version} {story.lane.words}".strip()

    async def _ask(self, story: Story, user: str, *, again: bool = True) -> Deployment | None:
        since = time.time()
        result = await self.command(self._text(story), user)
        found = await self.request_of(story.lane, user, since) if result.ok else None
        hold = await self.store.get_hold(story.lane.key) if found is None else None
        if hold is not None and hold.user == "deploybot" and again:
            # Locked by deploybot after a rollback (web1's lock_after_rollback): someone looks, then unlocks it.
            await self.command(f"unlock {story.lane.app} {story.lane.environment}", APPROVERS[0])
            return await self._ask(story, user, again=False)
        return found

    async def _decide(self, story: Story, record: Deployment) -> None:
        lane = story.lane
        if lane.approval:
            if story.kind == "cancel":
                await self.click(record, "deploy_cancel", record.requester)
                return
            if story.kind == "wrong_person":
                await self.click(record, "deploy_approve", "U0CAROL")  # not an approver: refused
                await self.click(record, "deploy_approve", record.requester)  # their own: refused
            if story.kind == "double":
                await asyncio.gather(*(self.click(record, "deploy_approve", u) for u in APPROVERS))
                await self.click(record, "deploy_approve", APPROVERS[0], replay=True)  # explained, not redone
            else:
                await self.click(record, "deploy_approve", APPROVERS[0])
        await self._follow(story, record)

    async def _follow(self, story: Story, record: Deployment) -> None:
        """Watch it to its end, opening its gates; press Roll back or Finish now when the story says."""
        deadline = time.monotonic() + FOLLOW
        wanted = MOMENTS[min(2, int(story.moment * 3))]
        pressed = False
        while time.monotonic() < deadline:
            record = await self.fresh(record)
            if record.state.terminal:
                return
            if record.state is State.PENDING_APPROVAL and story.lane.approval:
                await self.click(record, "deploy_approve", APPROVERS[1])  # the first approval was lost
            elif record.gate is not None:
                await self.click(record, "deploy_gate", APPROVERS[0])
            elif story.kind == "rollback" and not pressed and record.phase is wanted:
                pressed = await self.click(record, "deploy_rollback", APPROVERS[0])
            elif story.kind == "finish" and not pressed and record.can_finish_early:
                pressed = await self.click(record, "deploy_finish", APPROVERS[0])
            await asyncio.sleep(0.5)

    async def _concurrent(self, story: Story) -> None:
        since = time.time()
        await asyncio.gather(self.command(self._text(story), "U0ALICE"), self.command(self._text(story), "U0CAROL"))
        for user in ("U0ALICE", "U0CAROL"):
            record = await self.request_of(story.lane, user, since)
            if record is not None:
                await self._decide(story, record)

    async def _queue(self, story: Story) -> None:
        since = time.time()
        first = await self._ask(story, "U0ALICE")
        await self.command(f"{self._text(story)} --queue", "U0CAROL")
        second = await self.request_of(story.lane, "U0CAROL", since)
        if first is not None:
            await self._decide(story, first)
        if second is None:
            return
        lane = story.lane
        hold = await self.store.get_hold(lane.key)
        if hold is not None and hold.user == "deploybot":  # the first was rolled back and locked the app
            await self.command(f"unlock {lane.app} {lane.environment}", APPROVERS[0])
        await self._follow(story, second)  # its turn comes, then it is approved and followed like any

    async def _lock(self, story: Story) -> None:
        lane = story.lane
        where = f"{lane.app} {lane.environment}"
        await self.command(f"lock {where} soak test", "U0BOB")
        await self._ask(story, "U0ALICE", again=False)  # refused while it is locked (or the lock came too late)
        key = f"{lane.app}:{lane.environment}"
        for _ in range(TRIES):
            await self.command(f"unlock {where}", "U0BOB")
            if await self.store.get_hold(key) is None:
                self.journal.unlocked.add(key)
                return
            await asyncio.sleep(1)
        self.journal.locked.add(key)

    async def _outside(self, story: Story) -> None:
        lane = story.lane
        deployment = await asyncio.to_thread(outside.deploy, self.box, lane, story.version)
        if deployment is None:
            return  # the service was busy with another deployment: CI would fail and be run again later
        self.journal.outside[deployment] = lane.key
        self.journal.actions["outside_deployment"] += 1
        deadline = time.monotonic() + FOLLOW
        # Polling AWS, as the CI job's waiter does.
        while time.monotonic() < deadline and await asyncio.to_thread(outside.running, self.box, lane, deployment):  # noqa: ASYNC110
            await asyncio.sleep(1)
