"""Slack outages lose nothing: posts that fail are kept and delivered in order once Slack answers,
and nothing is sent to Slack before its Retry-After."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.errors import ChatError
from bot.slack.chat import SlackChat
from sandbox.runner import Sandbox
from sandbox.slack.server import LocalSlack
from sandbox.slack.workspace import TEAM_ID
from tests.e2e.helpers import advance, request_and_wait_root, thread_texts, wait_thread


async def test_messages_queued_during_an_outage_arrive_in_order(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    sandbox.slack.faults["chat.postMessage"].extend(["500"] * 12)  # down for a while: beyond every retry
    for _ in range(6):
        advance(10)  # milestones happen while Slack is down
        await bot.watcher.tick()  # type: ignore[attr-defined]
    assert not sandbox.slack.faults["chat.postMessage"]  # the outage is over
    advance(2000)
    await wait_thread(sandbox, root, "is live", timeout=30)
    texts = thread_texts(sandbox, root)
    order = [
        "CodeDeploy started",
        "`BeforeInstall` succeeded",
        "`Install` succeeded",
        "`AfterInstall` succeeded",
        "`AllowTestTraffic` succeeded",
        "`AfterAllowTestTraffic` succeeded",
        "`BeforeAllowTraffic` succeeded",
        "`AllowTraffic` succeeded",
        "`AfterAllowTraffic` succeeded",
        "is live",
    ]
    missing = [needle for needle in order if not any(needle in t for t in texts)]
    assert missing == [], texts
    positions = [next(i for i, t in enumerate(texts) if needle in t) for needle in order]
    assert positions == sorted(positions)  # every milestone, in the order it happened
    assert all(sum(needle in t for t in texts) == 1 for needle in order)


async def test_nothing_is_sent_before_retry_after(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    sandbox.slack.faults["chat.postMessage"].append("429")  # Retry-After: 1
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    posts = [c for c in sandbox.slack.calls("chat.postMessage") if c.args.get("thread_ts") == root.ts]
    limited = next(i for i, c in enumerate(posts) if c.error == "ratelimited")
    assert posts[limited + 1].at - posts[limited].at >= 1.0


async def test_429_on_every_second_call_loses_nothing(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    sandbox.slack.faults["chat.postMessage"].extend(["429", "ok"] * 4)
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    advance(2000)
    await wait_thread(sandbox, root, "is live", timeout=30)
    posts = [c for c in sandbox.slack.calls("chat.postMessage") if c.args.get("thread_ts") == root.ts]
    limited = [i for i, c in enumerate(posts) if c.error == "ratelimited"]
    # Replies that waited go out joined, so fewer posts may use up fewer of the faults.
    assert len(limited) == 4 - list(sandbox.slack.faults["chat.postMessage"]).count("429") >= 2
    assert all(posts[i + 1].at - posts[i].at >= 1.0 for i in limited)  # each waited its Retry-After
    lines = [line for t in thread_texts(sandbox, root) for line in t.split("\n")]
    assert len(lines) == len(set(lines))  # nothing twice
    assert sum("succeeded" in t for t in lines) == 8 and sum("is live" in t for t in lines) == 1


async def test_an_outage_answering_503_with_a_page_of_text_is_a_chat_error_of_unknown_effect(
    slack: LocalSlack,
) -> None:
    """Found by the fault campaign: a 5xx whose body is not JSON broke the error's reading (AttributeError)
    and with it the watcher's pass."""
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    root = await chat.post("C0DEPLOYS", "Deploy web1 v1.2.3")
    slack.outage = True
    with pytest.raises(ChatError) as raised:
        await chat.update("C0DEPLOYS", root, "Deploy web1 v1.2.3: In progress", [], paced=False)
    assert raised.value.code == "http_503" and raised.value.answered is False  # it may have been done
    slack.outage = False
    with pytest.raises(ChatError) as refused:
        await chat.update("C0DEPLOYS", "1.0", "nothing there", [], paced=False)
    assert refused.value.code == "message_not_found" and refused.value.answered is True


async def test_a_request_whose_message_slack_will_not_take_is_cancelled_audited_and_explained(
    sandbox: Sandbox, bot: object
) -> None:
    """Found by the fault campaign: the request was cancelled without an audit entry, and the requester was
    told only that something went wrong."""
    sandbox.slack.faults["chat.postMessage"].extend(["500"] * 3)  # the post and both of slack_sdk's retries
    result = await sandbox.slack.slash("web2 v1.2.3", user="U0ALICE")
    assert result.ok and result.hook is not None
    hook = sandbox.slack.hooks[result.hook]
    said = await sandbox.slack.wait_for(lambda: [t for t in hook.said if "did not take" in t], what="the answer")
    assert "it is cancelled, and nothing was deployed" in said[0] and "`http_500`" in said[0]
    store = bot.store  # type: ignore[attr-defined]
    [record] = await store.history("web2", "production", 5)
    assert record.state.value == "cancelled" and record.cancelled_by == "deploybot"
    assert [e.action for e in await store.audit_log(record.id)] == ["requested", "cancelled"]
    assert await sandbox.slack.slash("web2 v1.2.3", user="U0ALICE")  # the app is free again
    await sandbox.slack.wait_for(lambda: len(sandbox.slack.messages("C0DEPLOYS")) == 1, what="the next request")


async def test_a_replica_started_during_an_outage_waits_for_slack_and_a_bad_token_is_refused(
    slack: LocalSlack,
) -> None:
    """Found by the fault campaign: a replica restarted while Slack answered 503 died at auth.test."""
    from bot.app import identify

    slack.outage = True
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    waiting = asyncio.create_task(identify(chat, first_wait=0.05, longest_wait=0.1))
    await slack.wait_for(lambda: len(slack.calls("auth.test")) >= 6, what="auth.test tried again and again")
    assert not waiting.done()
    slack.outage = False
    await asyncio.wait_for(waiting, timeout=5)
    assert chat.home_team == TEAM_ID
    with pytest.raises(ChatError, match="invalid_auth"):
        await identify(SlackChat("xoxb-not-a-token", slack.api_url), first_wait=0.05)
