"""Slack outages lose nothing: posts that fail are kept and delivered in order once Slack answers,
and nothing is sent to Slack before its Retry-After."""

from __future__ import annotations

import pytest

from bot.domain.errors import ChatError
from bot.slack.chat import SlackChat
from sandbox.runner import Sandbox
from sandbox.slack.server import LocalSlack
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
