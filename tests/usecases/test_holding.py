"""A slash command's holding note, through the real Slack client and the sandbox's response_url: a quick
answer comes alone, a slow one after its note, and a note never lands after the answer."""

from __future__ import annotations

import asyncio

from bot.slack.chat import SlackChat
from bot.usecases.holding import Holding
from sandbox.slack.server import LocalSlack


def said(slack: LocalSlack) -> list[str]:
    return [e.text for e in slack.ws.ephemerals_for("U0ALICE")]


async def answer(chat: SlackChat, url: str, started: asyncio.Event | None = None) -> None:
    if started is not None:
        await started.wait()
    await chat.respond(url, "the answer")


async def test_a_quick_answer_comes_alone(slack: LocalSlack) -> None:
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    url = slack.new_hook("C0DEPLOYS", "U0ALICE", None, "command")
    await Holding(chat, after=30).run(url, "Checking…", answer(chat, url))
    assert said(slack) == ["the answer"]


async def test_a_slow_answer_follows_its_note(slack: LocalSlack) -> None:
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    url = slack.new_hook("C0DEPLOYS", "U0ALICE", None, "command")
    slow = asyncio.Event()  # the work answers only once the note is in Slack
    running = asyncio.ensure_future(Holding(chat, after=0).run(url, "Checking…", answer(chat, url, slow)))
    await slack.wait_for(lambda: said(slack), what="the note")
    slow.set()
    await running
    assert said(slack) == ["Checking…", "the answer"]


async def test_a_note_due_after_its_answer_is_dropped(slack: LocalSlack) -> None:
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    url = slack.new_hook("C0DEPLOYS", "U0ALICE", None, "command")
    await chat.respond(url, "the answer")
    await chat.respond(url, "Checking…", note=True)  # the work won the race to the response_url
    assert said(slack) == ["the answer"]
