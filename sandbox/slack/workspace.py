"""The state of the local Slack workspace: people, channels, messages, threads, and Slack's rules.

Strict on purpose: whatever a real workspace would refuse (a block over its limit, a missing
scope, an update of someone else's message) is refused here with Slack's own error code, so the
bot's bugs show up in tests instead of in a customer's workspace.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0SANDBOX"
PARTNER_TEAM_ID = "T0PARTNER"
TEAM_DOMAIN = "deploybot-sandbox"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0DEPLOYBOT"
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "users:read",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
)

METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",
    "conversations.info": "channels:read",
    "conversations.history": "channels:history",
    "conversations.replies": "channels:history",
}
PAGE_LIMIT = 1000


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class User:
    id: str
    name: str
    real_name: str
    title: str
    team_id: str = TEAM_ID
    is_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": False,
            "real_name": self.real_name,
            "tz": "Europe/Berlin",
            "is_bot": self.is_bot,
            "is_admin": False,
            "profile": {"display_name": self.name, "real_name": self.real_name, "title": self.title},
        }


@dataclass
class Channel:
    id: str
    name: str
    members: set[str]
    is_private: bool = False

    def to_api(self, viewer: str = BOT_USER) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_private": self.is_private,
            "is_member": viewer in self.members,
            "is_archived": False,
            "num_members": len(self.members),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    bot_id: str | None = None
    reply_broadcast: bool = False
    reply_count: int = 0
    reply_users: list[str] = field(default_factory=list)
    latest_reply: str | None = None
    edited: bool = False
    metadata: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": TEAM_ID,
            "blocks": self.blocks,
        }
        if self.bot_id:
            out.update(bot_id=self.bot_id, app_id=APP_ID)
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.reply_broadcast:
            out["subtype"] = "thread_broadcast"
        if self.reply_count:
            out.update(reply_count=self.reply_count, reply_users=self.reply_users, latest_reply=self.latest_reply)
        if self.edited:
            out["edited"] = {"user": self.user, "ts": self.ts}
        if self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    ts: str
    source: str  # "chat.postEphemeral" | "response_url" | "ack"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    at: float


class Workspace:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # message timestamps: the wall clock, or the sandbox's in the demo
        self.bot_token = "xoxb-sandbox-" + secrets.token_hex(12)
        self.app_token = "xapp-1-" + APP_ID + "-" + secrets.token_hex(12)
        self.signing_secret = secrets.token_hex(16)
        self.scopes: set[str] = set(BOT_SCOPES)
        self.users = {
            u.id: u
            for u in (
                User("U0ALICE", "alice", "Alice Developer", "developer"),
                User("U0BOB", "bob", "Bob Approver", "release approver"),
                User("U0CAROL", "carol", "Carol Outsider", "designer"),
                User("U0DAVE", "dave", "Dave Approver", "second release approver"),
                # Eve is in a shared channel from a partner organization (Slack Connect).
                User("U0EVE", "eve", "Eve Partner", "contractor", team_id=PARTNER_TEAM_ID),
                User(BOT_USER, "deploybot", "deploybot", "bot", is_bot=True),
            )
        }
        everyone = {"U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", BOT_USER}
        self.channels = {
            "C0DEPLOYS": Channel("C0DEPLOYS", "deploys", everyone | {"U0EVE"}),
            "C0ALERTS": Channel("C0ALERTS", "alerts", set(everyone)),
            "C0GENERAL": Channel("C0GENERAL", "general", set(everyone)),
        }
        self.usergroups = {"S0APPROVERS": {"handle": "deploy-approvers", "users": ["U0BOB", "U0DAVE"]}}
        self.messages: dict[str, list[Message]] = {c: [] for c in self.channels}
        self.ephemerals: list[Ephemeral] = []
        self.calls: list[Call] = []
        self.version = 0
        self._ts_counter = itertools.count(1)
        self._last_ts = 0.0

    # -- helpers -----------------------------------------------------------------------------

    def add_channel(self, channel_id: str, name: str) -> Channel:
        """A public channel everyone (and the bot) is in: more teams' channels, for bigger scenarios."""
        members = {u for u, user in self.users.items() if user.team_id != PARTNER_TEAM_ID}
        channel = self.channels.setdefault(channel_id, Channel(channel_id, name, members))
        self.messages.setdefault(channel_id, [])
        return channel

    def touch(self) -> None:
        self.version += 1

    def next_ts(self) -> str:
        # Unique and increasing, like Slack's "<epoch>.<6 digits>".
        now = max(self.clock(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def channel(self, channel_id: str | None) -> Channel:
        if not channel_id:
            raise SlackError("channel_not_found")
        if channel_id.startswith("#"):
            for ch in self.channels.values():
                if ch.name == channel_id[1:]:
                    return ch
        if channel_id not in self.channels:
            raise SlackError("channel_not_found")
        return self.channels[channel_id]

    def find(self, channel: str, ts: str) -> Message:
        for msg in self.messages.get(channel, []):
            if msg.ts == ts:
                return msg
        raise SlackError("message_not_found")

    def thread(self, channel: str, ts: str) -> list[Message]:
        return [m for m in self.messages.get(channel, []) if m.thread_ts == ts and m.ts != ts]

    def check_scope(self, method: str) -> None:
        needed = METHOD_SCOPES.get(method)
        if needed and needed not in self.scopes:
            raise SlackError("missing_scope", needed=needed, provided=",".join(sorted(self.scopes)))

    # -- messages ----------------------------------------------------------------------------

    def post_message(self, args: dict[str, Any], author: str = BOT_USER) -> Message:
        channel = self.channel(args.get("channel"))
        if (
            author == BOT_USER
            and BOT_USER not in channel.members
            and (channel.is_private or "chat:write.public" not in self.scopes)
        ):
            raise SlackError("not_in_channel")
        text, blocks = validate_message(args, require_content=True)
        thread_ts = args.get("thread_ts") or None
        parent = None
        if thread_ts:
            parent = self.find(channel.id, str(thread_ts))
            if parent.thread_ts and parent.thread_ts != parent.ts:
                thread_ts = parent.thread_ts  # replies to a reply land in the parent's thread
                parent = self.find(channel.id, thread_ts)
        msg = Message(
            channel=channel.id,
            ts=self.next_ts(),
            user=author,
            text=text,
            blocks=blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
            bot_id=BOT_ID if author == BOT_USER else None,
            reply_broadcast=bool(args.get("reply_broadcast")) and bool(thread_ts),
            metadata=args.get("metadata") if isinstance(args.get("metadata"), dict) else None,
        )
        if parent is not None:
            parent.thread_ts = parent.ts
            parent.reply_count += 1
            if author not in parent.reply_users:
                parent.reply_users.append(author)
            parent.latest_reply = msg.ts
        self.messages[channel.id].append(msg)
        self.touch()
        return msg

    def delete_message(self, args: dict[str, Any]) -> Message:
        """chat.delete: a bot may delete its own messages; a thread's parent takes its replies' place."""
        channel = self.channel(args.get("channel"))
        msg = self.find(channel.id, str(args.get("ts") or ""))
        if msg.user != BOT_USER:
            raise SlackError("cant_delete_message")
        self.messages[channel.id] = [m for m in self.messages[channel.id] if m is not msg]
        if msg.thread_ts and msg.thread_ts != msg.ts:
            parent = next((m for m in self.messages[channel.id] if m.ts == msg.thread_ts), None)
            if parent is not None:
                parent.reply_count = max(0, parent.reply_count - 1)
        self.touch()
        return msg

    def update_message(self, args: dict[str, Any]) -> Message:
        channel = self.channel(args.get("channel"))
        msg = self.find(channel.id, str(args.get("ts") or ""))
        if msg.user != BOT_USER:
            raise SlackError("cant_update_message")
        text, blocks = validate_message(args, require_content=False)
        if "blocks" in args and args["blocks"] is not None:
            msg.blocks = blocks  # omitted blocks are kept, an empty list removes them
        if args.get("text") is not None:
            msg.text = text
        if not msg.text and not msg.blocks:
            raise SlackError("no_text")
        msg.edited = True
        self.touch()
        return msg

    def post_ephemeral(self, args: dict[str, Any], source: str = "chat.postEphemeral") -> Ephemeral:
        channel = self.channel(args.get("channel"))
        user = str(args.get("user") or "")
        if user not in self.users:
            raise SlackError("user_not_found")
        if user not in channel.members:
            raise SlackError("user_not_in_channel")
        text, blocks = validate_message(args, require_content=True)
        eph = Ephemeral(channel.id, user, text, blocks, self.next_ts(), source)
        self.ephemerals.append(eph)
        self.touch()
        return eph

    def history(self, args: dict[str, Any], *, replies: bool) -> dict[str, Any]:
        """conversations.history (newest first) or conversations.replies (parent, then oldest first)."""
        channel = self.channel(args.get("channel"))
        if BOT_USER not in channel.members:
            raise SlackError("not_in_channel")
        if replies:
            parent = self.find(channel.id, str(args.get("ts") or ""))
            found = [parent, *self.thread(channel.id, parent.ts)]
        else:
            top = [m for m in self.messages[channel.id] if not m.thread_ts or m.thread_ts == m.ts or m.reply_broadcast]
            found = list(reversed(top))
        try:
            limit = max(1, min(int(args.get("limit") or 100), PAGE_LIMIT))
            start = int(str(args.get("cursor") or "0"))
        except ValueError:
            raise SlackError("invalid_cursor") from None
        page = found[start : start + limit]
        with_meta = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        messages = []
        for msg in page:
            out = msg.to_api()
            if not with_meta:
                out.pop("metadata", None)  # Slack returns metadata only when asked for it
            messages.append(out)
        more = start + limit < len(found)
        return {
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def ephemerals_for(self, user: str) -> list[Ephemeral]:
        return [e for e in self.ephemerals if e.user == user]


# ------------------------------------------------------------------------------------------------
# Block Kit validation: the limits slack_sdk does not check for dict-built blocks
# ------------------------------------------------------------------------------------------------

MAX_BLOCKS = 50
MAX_TEXT = 40_000


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def _invalid(reason: str) -> SlackError:
    return SlackError("invalid_blocks", errors=[reason])


def validate_blocks(blocks: Any, *, limit: int = MAX_BLOCKS, inputs: bool = False) -> list[dict[str, Any]]:
    """Blocks as Slack checks them; ``limit`` 100 and ``inputs`` for a view (Home tab or modal)."""
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if len(blocks) > limit:
        raise _invalid(f"no more than {limit} items allowed [json-pointer:/blocks]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or "type" not in block:
            raise _invalid(f"missing required field: type [json-pointer:/blocks/{i}]")
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > 255 or block_id in seen:
                raise _invalid(f"invalid or duplicate block_id [json-pointer:/blocks/{i}/block_id]")
            seen.add(str(block_id))
        if block["type"] == "input":
            if not inputs:
                raise _invalid(f"input blocks are only allowed in modals [json-pointer:/blocks/{i}]")
            _validate_input(i, block)
            continue
        _validate_block(i, block)
    return blocks


def _validate_input(i: int, block: dict[str, Any]) -> None:
    where = f"[json-pointer:/blocks/{i}]"
    label = block.get("label") or {}
    if label.get("type") != "plain_text" or not 0 < _text_len(label) <= 2000:
        raise _invalid(f"input label must be plain_text of 1-2000 characters {where}")
    element = block.get("element")
    if not isinstance(element, dict):
        raise _invalid(f"input needs an element {where}")
    _validate_select(element, where)


def _validate_block(i: int, block: dict[str, Any]) -> None:
    kind = block["type"]
    where = f"[json-pointer:/blocks/{i}]"
    if kind == "header":
        text = block.get("text") or {}
        if text.get("type") != "plain_text" or not 0 < _text_len(text) <= 150:
            raise _invalid(f"header text must be plain_text of 1-150 characters {where}")
    elif kind == "section":
        text, fields = block.get("text"), block.get("fields") or []
        if text is None and not fields:
            raise _invalid(f"section needs text or fields {where}")
        if text is not None and not 0 < _text_len(text) <= 3000:
            raise _invalid(f"section text must be 1-3000 characters {where}")
        if len(fields) > 10 or any(not 0 < _text_len(f) <= 2000 for f in fields):
            raise _invalid(f"section fields: at most 10, each 1-2000 characters {where}")
        if "accessory" in block:
            _validate_element(block["accessory"], where)
    elif kind == "context":
        elements = block.get("elements") or []
        if not 0 < len(elements) <= 10:
            raise _invalid(f"context needs 1-10 elements {where}")
        for element in elements:
            if element.get("type") in ("mrkdwn", "plain_text") and not 0 < _text_len(element) <= 3000:
                raise _invalid(f"context text must be 1-3000 characters {where}")
    elif kind == "actions":
        elements = block.get("elements") or []
        if not 0 < len(elements) <= 25:
            raise _invalid(f"actions needs 1-25 elements {where}")
        action_ids = [e.get("action_id") for e in elements]
        if len(set(action_ids)) != len(action_ids):
            raise _invalid(f"duplicate action_id in one actions block {where}")
        for element in elements:
            _validate_element(element, where)
    elif kind == "divider":
        pass
    else:
        raise _invalid(f"unsupported block type {kind} {where}")


def _validate_checkboxes(element: dict[str, Any], where: str) -> None:
    """Slack's checkboxes: 1-10 options, their text plain_text or mrkdwn, initial ones among them."""
    if not element.get("action_id") or len(str(element["action_id"])) > 255:
        raise _invalid(f"checkboxes need an action_id of up to 255 characters {where}")
    options = element.get("options") or []
    if not 0 < len(options) <= 10:
        raise _invalid(f"checkboxes need 1-10 options {where}")
    for option in options:
        validate_option(option, where, kinds=("plain_text", "mrkdwn"))
    if any(o not in options for o in element.get("initial_options") or []):
        raise _invalid(f"initial_options must be among the options {where}")


def _validate_select(element: dict[str, Any], where: str) -> None:
    kind = element.get("type")
    if kind == "checkboxes":
        _validate_checkboxes(element, where)
        return
    if kind not in ("static_select", "external_select"):
        raise _invalid(f"unsupported input element type {kind} {where}")
    if not element.get("action_id") or len(str(element["action_id"])) > 255:
        raise _invalid(f"select needs an action_id of up to 255 characters {where}")
    if kind == "static_select":
        options = element.get("options") or []
        if not 0 < len(options) <= 100:
            raise _invalid(f"static_select needs 1-100 options {where}")
        for option in options:
            validate_option(option, where)
        initial = element.get("initial_option")
        if initial is not None and initial not in options:
            raise _invalid(f"initial_option must be one of the options {where}")


def validate_option(option: Any, where: str = "", kinds: tuple[str, ...] = ("plain_text",)) -> None:
    text = option.get("text") if isinstance(option, dict) else None
    if not isinstance(text, dict) or text.get("type") not in kinds or not 0 < _text_len(text) <= 75:
        raise _invalid(f"option text must be {' or '.join(kinds)} of 1-75 characters {where}")
    if not 0 < len(str(option.get("value", ""))) <= 150:
        raise _invalid(f"option value must be 1-150 characters {where}")
    description = option.get("description")
    if description is not None and (description.get("type") != "plain_text" or not 0 < _text_len(description) <= 75):
        raise _invalid(f"option description must be plain_text of 1-75 characters {where}")


def _validate_element(element: dict[str, Any], where: str) -> None:
    if element.get("type") != "button":
        raise _invalid(f"unsupported element type {element.get('type')} {where}")
    text = element.get("text") or {}
    if text.get("type") != "plain_text" or not 0 < _text_len(text) <= 75:
        raise _invalid(f"button text must be plain_text of 1-75 characters {where}")
    if len(str(element.get("value", ""))) > 2000 or len(str(element.get("action_id", ""))) > 255:
        raise _invalid(f"button value or action_id too long {where}")
    if element.get("style") not in (None, "primary", "danger"):
        raise _invalid(f"button style must be primary or danger {where}")
    confirm = element.get("confirm")
    if confirm is not None and not all(k in confirm for k in ("title", "text", "confirm", "deny")):
        raise _invalid(f"confirm needs title, text, confirm and deny {where}")


def validate_message(args: dict[str, Any], *, require_content: bool) -> tuple[str, list[dict[str, Any]]]:
    text = args.get("text") or ""
    if not isinstance(text, str):
        text = str(text)
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    raw_blocks = args.get("blocks")
    if isinstance(raw_blocks, str):
        import json

        try:
            raw_blocks = json.loads(raw_blocks)
        except ValueError:
            raise SlackError("invalid_blocks_format") from None
    blocks = validate_blocks(raw_blocks) if raw_blocks is not None else []
    if require_content and not text and not blocks:
        raise SlackError("no_text")
    return text, blocks
