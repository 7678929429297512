"""The approval matrix: who may request, approve, cancel, open a gate, finish, roll back, lock, unlock and
read the audit trail, decided by the real use cases and policy against the local Slack (user groups,
ephemerals) and a real store. Only the engine is a fake of the domain's port. Every case checks the
outcome, that nothing else changed, and the audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import utcnow
from bot.domain.catalog import Catalog
from bot.domain.lifecycle import Action
from bot.domain.models import Deployment, State
from bot.domain.progress import Gate, Phase
from bot.slack.chat import SlackChat
from bot.store.sqlite import SqliteStore
from bot.usecases.services import Services
from sandbox.slack.server import LocalSlack
from tests.conftest import composed
from tests.fakes import FakeEngine

BASE = {"cluster": "apps", "repository": "web1", "deploy_channel": "C0DEPLOYS", "container": "web1"}
CATALOG = Catalog.model_validate(
    {
        "apps": {
            "solo": {**BASE, "service": "solo", "approvers": {"users": ["U0BOB"]}},
            "grouped": {**BASE, "service": "grouped", "approvers": {"usergroups": ["S0APPROVERS"]}},
            "pair": {**BASE, "service": "pair", "approvers": {"users": ["U0BOB", "U0DAVE"]}, "approvals": 2},
            "selfok": {
                **BASE,
                "service": "selfok",
                "approvers": {"users": ["U0ALICE", "U0BOB"]},
                "allow_self_approval": True,
            },
            "selfno": {**BASE, "service": "selfno", "approvers": {"users": ["U0ALICE", "U0BOB"]}},
            "nobody": {**BASE, "service": "nobody"},
            "ghostgroup": {**BASE, "service": "ghostgroup", "approvers": {"usergroups": ["S0MISSING"]}},
            "restricted": {
                **BASE,
                "service": "restricted",
                "approvers": {"users": ["U0BOB"]},
                "requesters": {"users": ["U0ALICE"], "usergroups": ["S0APPROVERS"]},
                "request_channels": ["C0DEPLOYS"],
            },
        }
    }
)
TEAMS = {"U0EVE": "T0PARTNER"}


@dataclass
class Harness:
    slack: LocalSlack
    store: SqliteStore
    engine: FakeEngine
    services: Services

    def hook(self, user: str, channel: str = "C0DEPLOYS") -> str:
        return self.slack.new_hook(channel, user if user != "U0EVE" else "U0ALICE", None, "commands")

    async def request(self, app: str, user: str = "U0ALICE", channel: str = "C0DEPLOYS") -> Deployment | None:
        team = TEAMS.get(user, "T0SANDBOX")
        target = CATALOG.get(app)
        assert target is not None
        return await self.services.requests.request(target, "v1.2.3", user, team, self.hook(user, channel), channel)

    async def click(self, record: Deployment, action: Action, user: str) -> Deployment:
        await self.services.clicks.click(action, record.id, user, TEAMS.get(user, "T0SANDBOX"), "C0DEPLOYS")
        fresh = await self.store.get(record.id)
        assert fresh is not None
        return fresh

    def told(self, user: str) -> list[str]:
        return self.slack.ephemerals(user)

    def answered(self) -> list[str]:
        """What the commands' response_url answers said, oldest first."""
        return [e.text for e in self.slack.ws.ephemerals if e.source == "response_url"]

    async def running(self, app: str, phase: Phase) -> Deployment:
        record = await self.request(app)
        assert record is not None
        record = await self.click(record, Action.APPROVE, "U0BOB")
        assert record.state is State.IN_PROGRESS
        # As the engine would report it: a gate to open, or a wait that can be ended early.
        gate = Gate(id="gate-1", opens=Phase.SHIFTING) if phase is Phase.GATED else None
        at = {"phase": phase, "gate": gate, "can_finish_early": phase is Phase.BAKING}
        return await self.store.save(record.model_copy(update=at))


@pytest.fixture
async def h(slack: LocalSlack, tmp_path: Path) -> AsyncIterator[Harness]:
    store = SqliteStore(str(tmp_path / "matrix.db"))
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    await chat.identify()
    engine = FakeEngine()
    yield Harness(slack, store, engine, composed(CATALOG, store, chat, engine).services)
    store.close()


async def actions_audited(h: Harness, record: Deployment) -> list[str]:
    return [e.action for e in await h.store.audit_log(record.id)]


# -- requests ---------------------------------------------------------------------------------------

REQUESTS = [
    ("solo", "U0ALICE", "C0DEPLOYS", True, ""),
    ("solo", "U0EVE", "C0DEPLOYS", False, "only takes requests from its own workspace"),
    ("restricted", "U0CAROL", "C0DEPLOYS", False, "not on the list of people who may request"),
    ("restricted", "U0ALICE", "C0GENERAL", False, "can only be requested in <#C0DEPLOYS>"),
    ("restricted", "U0ALICE", "C0DEPLOYS", True, ""),
    ("restricted", "U0DAVE", "C0DEPLOYS", True, ""),  # through the user group
    ("nobody", "U0ALICE", "C0DEPLOYS", True, ""),  # may be asked for, can never be approved
]


@pytest.mark.parametrize(("app", "user", "channel", "allowed", "reason"), REQUESTS)
async def test_who_may_request(h: Harness, app: str, user: str, channel: str, allowed: bool, reason: str) -> None:
    record = await h.request(app, user, channel)
    assert (record is not None) is allowed
    hooks = [e for e in h.slack.ws.ephemerals if e.source == "response_url"]
    if allowed:
        assert record is not None and record.state is State.PENDING_APPROVAL and record.requester == user
    else:
        assert reason in hooks[-1].text
        assert [e.action for e in await h.store.audit_log("-")] == ["refused:request"]
        assert h.slack.messages("C0DEPLOYS") == []  # no request message, no lock left behind
        assert await h.store.acquire_lock(f"app:{app}:production", "probe", utcnow()) is None


# -- approvals --------------------------------------------------------------------------------------

APPROVALS = [
    ("solo", ["U0BOB"], State.STARTING, ""),
    ("solo", ["U0ALICE"], State.PENDING_APPROVAL, "Only approvers of `solo`"),
    ("selfno", ["U0ALICE"], State.PENDING_APPROVAL, "someone else has to approve"),  # an approver, but asked
    ("selfno", ["U0BOB"], State.STARTING, ""),
    ("solo", ["U0CAROL"], State.PENDING_APPROVAL, "Only approvers of `solo`"),
    ("solo", ["U0EVE"], State.PENDING_APPROVAL, "Only members of the workspace"),
    ("solo", ["U0DAVE"], State.PENDING_APPROVAL, "Only approvers of `solo`"),
    ("nobody", ["U0BOB"], State.PENDING_APPROVAL, "no approvers configured"),
    ("grouped", ["U0DAVE"], State.STARTING, ""),
    ("grouped", ["U0CAROL"], State.PENDING_APPROVAL, "Only approvers of `grouped`"),
    ("ghostgroup", ["U0BOB"], State.PENDING_APPROVAL, "Only approvers of `ghostgroup`"),  # lookup fails: closed
    ("selfok", ["U0ALICE"], State.STARTING, ""),
    ("pair", ["U0BOB"], State.PENDING_APPROVAL, ""),
    ("pair", ["U0BOB", "U0BOB"], State.PENDING_APPROVAL, "You already approved"),
    ("pair", ["U0BOB", "U0DAVE"], State.STARTING, ""),
    ("pair", ["U0BOB", "U0ALICE"], State.PENDING_APPROVAL, "Only approvers of `pair`"),
    ("pair", ["U0BOB", "U0CAROL"], State.PENDING_APPROVAL, "Only approvers of `pair`"),
]


@pytest.mark.parametrize(("app", "clickers", "state", "refusal"), APPROVALS)
async def test_who_may_approve(h: Harness, app: str, clickers: list[str], state: State, refusal: str) -> None:
    record = await h.request(app)
    assert record is not None
    for user in clickers:
        record = await h.click(record, Action.APPROVE, user)
    started = state is State.STARTING
    assert record.state is (State.IN_PROGRESS if started else State.PENDING_APPROVAL)
    assert len(h.engine.started) == (1 if started else 0)
    audited = await actions_audited(h, record)
    if refusal:
        assert refusal in h.told(clickers[-1])[-1]
        assert audited[-1] == f"refused:{Action.APPROVE.value}"
    else:
        assert audited.count("approved") == len(clickers)
    if app == "pair" and not started:  # the request message counts the approvals so far
        root = h.slack.ws.find("C0DEPLOYS", record.message_ts or "")
        fields = [f["text"] for b in root.blocks for f in b.get("fields", [])]
        assert "*Approvals*\n1 of 2: <@U0BOB>" in fields
    if started:
        assert record.approvals == clickers and record.approver == clickers[-1]
        assert h.engine.started[0].approvals == clickers  # the engine is told who approved


@pytest.mark.parametrize(
    ("state", "told"),
    [
        (State.IN_PROGRESS, "already approved by <@U0BOB>"),
        (State.SUCCEEDED, "already finished successfully (deployed, approved by <@U0BOB>)."),
    ],
)
async def test_an_approve_pressed_again_later_explains_the_state_first(h: Harness, state: State, told: str) -> None:
    # A replayed click (same body, within Slack's five minutes) from the approver himself, after it moved on.
    record = await h.request("solo")
    assert record is not None
    record = await h.click(record, Action.APPROVE, "U0BOB")
    await h.store.save(record.model_copy(update={"state": state}))
    again = await h.click(record, Action.APPROVE, "U0BOB")
    assert again.state is state and len(h.engine.started) == 1
    assert told in h.told("U0BOB")[-1] and "more approval" not in h.told("U0BOB")[-1]


# -- cancel, open the gate, finish, roll back -----------------------------------------------------------

ACTS = [
    (Action.CANCEL, Phase.WAITING, "U0ALICE", True),  # the requester
    (Action.CANCEL, Phase.WAITING, "U0BOB", True),  # an approver
    (Action.CANCEL, Phase.WAITING, "U0CAROL", False),
    (Action.CANCEL, Phase.WAITING, "U0EVE", False),
    (Action.OPEN_GATE, Phase.GATED, "U0BOB", True),
    (Action.OPEN_GATE, Phase.GATED, "U0ALICE", False),  # requesters do not move traffic
    (Action.OPEN_GATE, Phase.GATED, "U0CAROL", False),
    (Action.OPEN_GATE, Phase.SHIFTING, "U0BOB", False),  # not in this phase
    (Action.FINISH, Phase.BAKING, "U0BOB", True),
    (Action.FINISH, Phase.BAKING, "U0CAROL", False),
    (Action.ROLLBACK, Phase.SHIFTING, "U0ALICE", True),  # the requester may pull back
    (Action.ROLLBACK, Phase.SHIFTING, "U0BOB", True),
    (Action.ROLLBACK, Phase.SHIFTING, "U0CAROL", False),
    (Action.ROLLBACK, Phase.SHIFTING, "U0EVE", False),
]


@pytest.mark.parametrize(("action", "phase", "user", "allowed"), ACTS)
async def test_who_may_act(h: Harness, action: Action, phase: Phase, user: str, allowed: bool) -> None:
    if action is Action.CANCEL:
        record = await h.request("solo")
        assert record is not None
    else:
        record = await h.running("solo", phase)
    after = await h.click(record, action, user)
    audited = await actions_audited(h, record)
    changed = h.engine.moved or after.state is State.CANCELLED
    assert changed is allowed
    if allowed:
        assert audited[-1] == ("cancelled" if action is Action.CANCEL else action.value)
    else:
        assert h.told(user)  # told why
        assert after.version == record.version  # nothing saved
        assert audited[-1] in (f"refused:{action.value}", f"conflict:{action.value}")


async def test_finished_and_cancelled_requests_cannot_be_approved(h: Harness) -> None:
    cancelled = await h.request("solo")
    assert cancelled is not None
    cancelled = await h.click(cancelled, Action.CANCEL, "U0ALICE")
    after = await h.click(cancelled, Action.APPROVE, "U0BOB")
    assert after.state is State.CANCELLED and h.engine.started == []
    assert "cancelled" in h.told("U0BOB")[-1]
    done = await h.running("grouped", Phase.DONE)
    done = await h.store.save(done.model_copy(update={"state": State.SUCCEEDED}))
    again = await h.click(done, Action.APPROVE, "U0DAVE")
    assert again.version == done.version and len(h.engine.started) == 1
    assert "finished" in h.told("U0DAVE")[-1] and "approved by <@U0BOB>" in h.told("U0DAVE")[-1]


@pytest.mark.parametrize("action", [Action.OPEN_GATE, Action.FINISH, Action.ROLLBACK, Action.APPROVE])
async def test_a_click_on_a_deployment_the_bot_does_not_track_calls_no_aws(h: Harness, action: Action) -> None:
    await h.services.clicks.click(action, "r-0000000000", "U0BOB", "T0SANDBOX", "C0DEPLOYS")  # a forged value
    assert "no record of that deployment" in h.told("U0BOB")[-1]
    assert h.engine.started == [] and not h.engine.moved


# -- lock, unlock, audit trail ------------------------------------------------------------------------

# With no `requesters` list everyone in the workspace is a requester: locking and the audit trail are
# for approvers and requesters, never for another workspace.
ASKS = [
    ("solo", "U0ALICE", True),
    ("solo", "U0CAROL", True),
    ("solo", "U0EVE", False),
    ("restricted", "U0ALICE", True),  # a requester
    ("restricted", "U0DAVE", True),  # a requester through the user group
    ("restricted", "U0BOB", True),  # an approver
    ("restricted", "U0CAROL", False),
]


@pytest.mark.parametrize(("app", "user", "allowed"), ASKS)
async def test_who_may_lock(h: Harness, app: str, user: str, allowed: bool) -> None:
    target = CATALOG.get(app)
    assert target is not None
    await h.services.holds.lock(target, user, TEAMS.get(user, "T0SANDBOX"), "db migration", h.hook(user))
    hold = await h.store.get_hold(target.key)
    assert (hold is not None) is allowed
    audited = [e.action for e in await h.store.audit_for_app(app, 5)]
    if allowed:
        assert hold is not None and hold.user == user and hold.reason == "db migration"
        assert audited == ["locked"] and h.answered()[-1].startswith(f"Locked `{app}`")
    else:
        assert audited == [] and f"Only approvers and requesters of `{app}` can lock it" in h.answered()[-1]


@pytest.mark.parametrize(("app", "user", "allowed"), ASKS)
async def test_who_may_read_the_audit_trail(h: Harness, app: str, user: str, allowed: bool) -> None:
    target = CATALOG.get(app)
    assert target is not None
    await h.request(app)  # something to read: the request's entry
    await h.services.reports.audit(target, user, TEAMS.get(user, "T0SANDBOX"), h.hook(user))
    answer = h.answered()[-1]
    if allowed:
        assert f"Audit trail of `{app}`" in answer and "*requested*" in answer
    else:
        assert f"Only approvers and requesters of `{app}` can read its audit trail" in answer
        assert "requested" not in answer


UNLOCKS = [
    ("U0ALICE", True),  # who locked it
    ("U0BOB", True),  # an approver
    ("U0DAVE", False),  # a requester, not an approver
    ("U0CAROL", False),
    ("U0EVE", False),
]


@pytest.mark.parametrize(("user", "allowed"), UNLOCKS)
async def test_who_may_unlock(h: Harness, user: str, allowed: bool) -> None:
    target = CATALOG.get("restricted")
    assert target is not None
    await h.services.holds.lock(target, "U0ALICE", "T0SANDBOX", "", h.hook("U0ALICE"))
    await h.services.holds.unlock(target, user, TEAMS.get(user, "T0SANDBOX"), h.hook(user))
    hold = await h.store.get_hold(target.key)
    audited = [e.action for e in await h.store.audit_for_app("restricted", 5)]
    if allowed:
        assert hold is None and audited == ["unlocked", "locked"]
    else:
        assert hold is not None and audited == ["locked"]
        assert "Only the person who locked `restricted` or one of its approvers can unlock it" in h.answered()[-1]
