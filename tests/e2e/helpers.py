"""Scenario helpers: find the deployment's root message and its thread in the local workspace."""

from __future__ import annotations

from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import Sandbox
from sandbox.slack.server import find_button
from sandbox.slack.workspace import Message

DEPLOYS = "C0DEPLOYS"


def roots(box: Sandbox) -> list[Message]:
    return [
        m
        for m in box.slack.messages(DEPLOYS)
        if (m.user == "U0BOT" and not m.thread_ts) or (m.user == "U0BOT" and m.thread_ts == m.ts)
    ]


def root_text(msg: Message) -> str:
    parts = [msg.text]
    for block in msg.blocks:
        for key in ("text",):
            if isinstance(block.get(key), dict):
                parts.append(block[key].get("text", ""))
        for field in block.get("fields", []) or []:
            parts.append(field.get("text", ""))
        for element in block.get("elements", []) or []:
            if isinstance(element.get("text"), dict):
                parts.append(element["text"].get("text", ""))
            elif isinstance(element.get("text"), str):
                parts.append(element["text"])
    return "\n".join(parts)


def buttons(msg: Message) -> list[str]:
    return [e["action_id"] for b in msg.blocks if b.get("type") == "actions" for e in b.get("elements", [])]


def thread_texts(box: Sandbox, msg: Message) -> list[str]:
    return [m.text for m in box.slack.thread(msg)]


async def request_and_wait_root(box: Sandbox, text: str = "web1 v1.2.3", user: str = "U0ALICE") -> Message:
    before = len(roots(box))
    result = await box.slack.slash(text, user=user)
    assert result.ok, result.error
    found: list[Message] = await box.slack.wait_for(lambda: roots(box)[before:], what="request message")
    return found[0]


async def wait_text(box: Sandbox, msg: Message, needle: str, timeout: float = 10.0) -> str:
    def check() -> str | None:
        fresh = box.slack.ws.find(msg.channel, msg.ts)
        text = root_text(fresh)
        return text if needle in text else None

    result: str = await box.slack.wait_for(check, timeout=timeout, what=f"root to show {needle!r}")
    return result


async def wait_thread(box: Sandbox, msg: Message, needle: str, timeout: float = 10.0) -> str:
    def check() -> str | None:
        return next((t for t in thread_texts(box, msg) if needle in t), None)

    result: str = await box.slack.wait_for(check, timeout=timeout, what=f"thread reply with {needle!r}")
    return result


async def wait_button(box: Sandbox, msg: Message, action_id: str) -> Message:
    def check() -> Message | None:
        fresh = box.slack.ws.find(msg.channel, msg.ts)
        return fresh if find_button(fresh, action_id) else None

    result: Message = await box.slack.wait_for(check, what=f"button {action_id}")
    return result


def advance(seconds: float) -> None:
    CONTROL.clock.advance(seconds)
