"""Views in the local workspace: each person's Home tab and open modal, as Slack keeps them.

``Surfaces`` answers ``views.publish``, ``views.open`` and ``views.update`` with Slack's checks and errors
(trigger ids live 3 seconds and are used once; an update with a stale hash is a ``hash_conflict``), and
plays the person's side: opening the Home tab (``app_home_opened``), pressing a button there, picking in a
select (``block_actions`` from a view), typing in an external select (``block_suggestion``) and submitting
(``view_submission``, whose ``errors`` answer keeps the modal open with the messages beside the blocks).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .delivery import Deliverer, DeliveryResult
from .workspace import APP_ID, BOT_ID, BOT_USER, TEAM_DOMAIN, TEAM_ID, SlackError, Workspace, validate_blocks
from .workspace import validate_option as _validate_option

TRIGGER_LIFE = 3.0  # seconds, as Slack's
MAX_VIEW_BLOCKS = 100


@dataclass
class View:
    id: str
    user: str
    view: dict[str, Any]
    hash: str
    values: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        v = self.view
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "type": v.get("type"),
            "blocks": v.get("blocks", []),
            "private_metadata": v.get("private_metadata", ""),
            "callback_id": v.get("callback_id", ""),
            "state": {"values": self.values},
            "hash": self.hash,
            "title": v.get("title"),
            "close": v.get("close"),
            "submit": v.get("submit"),
            "clear_on_close": False,
            "notify_on_close": False,
            "root_view_id": self.id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "external_id": "",
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }


def _new_hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"


def _initial_values(view: dict[str, Any], before: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Slack keeps what was picked in an input whose block and action ids stay across an update."""
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element, block_id = block["element"], block.get("block_id", "")
        action = element["action_id"]
        kept = (before.get(block_id) or {}).get(action)
        if element["type"] == "checkboxes":
            ticked = kept["selected_options"] if kept is not None else element.get("initial_options", [])
            values[block_id] = {action: {"type": "checkboxes", "selected_options": ticked}}
        elif kept is not None and kept.get("selected_option") is not None:
            values[block_id] = {action: kept}
        else:
            values[block_id] = {action: {"type": element["type"], "selected_option": element.get("initial_option")}}
    return values


def _parse_view(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SlackError("invalid_arguments") from None
    if not isinstance(raw, dict):
        raise SlackError("invalid_arguments")
    return raw


def validate_view(view: dict[str, Any], kind: str) -> dict[str, Any]:
    if view.get("type") != kind:
        raise SlackError("invalid_arguments", response_metadata={"messages": [f"view type must be {kind}"]})
    validate_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS, inputs=kind == "modal")
    if len(str(view.get("private_metadata", ""))) > 3000 or len(str(view.get("callback_id", ""))) > 255:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["private_metadata or callback_id"]})
    if kind == "modal":
        for key in ("title", "submit", "close"):
            text = view.get(key)
            if text is None and key == "title":
                raise SlackError("invalid_arguments", response_metadata={"messages": ["a modal needs a title"]})
            if text is not None and (text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 24):
                raise SlackError("invalid_arguments", response_metadata={"messages": [f"{key}: 1-24 characters"]})
        if any(b.get("type") == "input" for b in view.get("blocks", [])) and view.get("submit") is None:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["input blocks need a submit"]})
    return view


class Surfaces:
    def __init__(self, ws: Workspace, deliverer: Deliverer, changed: Callable[[], Awaitable[None]]) -> None:
        self.ws, self.deliverer, self.changed = ws, deliverer, changed
        self.homes: dict[str, View] = {}
        self.modals: dict[str, View] = {}  # by user: the modal open on their screen
        self.triggers: dict[str, tuple[str, float]] = {}
        self.options: dict[str, list[dict[str, Any]]] = {}  # by user: what their external select last offered

    # -- the Web API -------------------------------------------------------------------------

    def new_trigger(self, user: str) -> str:
        trigger = f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"
        self.triggers[trigger] = (user, time.monotonic())
        return trigger

    def dispatch(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "views.publish":
            user = str(args.get("user_id", ""))
            if user not in self.ws.users:
                raise SlackError("user_not_found")
            view = validate_view(_parse_view(args.get("view")), "home")
            old = self.homes.get(user)
            self.homes[user] = View(old.id if old else "V" + secrets.token_hex(5).upper(), user, view, _new_hash())
            return {"view": self.homes[user].to_api()}
        if method == "views.open":
            found = self.triggers.pop(str(args.get("trigger_id", "")), None)
            if found is None:
                raise SlackError("invalid_trigger_id")
            user, issued = found
            if time.monotonic() - issued > TRIGGER_LIFE:
                raise SlackError("expired_trigger_id")
            view = validate_view(_parse_view(args.get("view")), "modal")
            modal = View("V" + secrets.token_hex(5).upper(), user, view, _new_hash())
            modal.values = _initial_values(view, {})
            self.modals[user] = modal
            return {"view": modal.to_api()}
        if method == "views.update":
            found_modal = next((m for m in self.modals.values() if m.id == args.get("view_id")), None)
            if found_modal is None:
                raise SlackError("not_found")
            modal = found_modal
            if args.get("hash") and args["hash"] != modal.hash:
                raise SlackError("hash_conflict")
            view = validate_view(_parse_view(args.get("view")), "modal")
            modal.view, modal.hash = view, _new_hash()
            modal.values = _initial_values(view, modal.values)
            return {"view": modal.to_api()}
        raise SlackError("unknown_method")

    # -- the person's side -------------------------------------------------------------------

    def _user(self, user: str) -> dict[str, Any]:
        person = self.ws.users[user]
        return {"id": person.id, "username": person.name, "name": person.name, "team_id": person.team_id}

    def _base(self, kind: str, user: str, view: View) -> dict[str, Any]:
        return {
            "type": kind,
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "sandbox-verification-token",
            "container": {"type": "view", "view_id": view.id},
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": view.to_api(),
        }

    async def open_home(self, user: str) -> DeliveryResult:
        """The person opens deploybot's Home tab: Slack sends ``app_home_opened``."""
        home = self.homes.get(user)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0" + user[2:],
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        if home is not None:
            event["view"] = home.to_api()
        payload = {
            "token": "sandbox-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER, "is_bot": True}],
        }
        return await self.deliverer.event(payload)

    async def press(self, user: str, action_id: str, value: str | None = None) -> DeliveryResult:
        """A button on the person's Home tab (Approve on a request, Deploy…); ``value`` picks among many."""
        home = self.homes.get(user)
        found = _find_element(home.view if home else {}, action_id, value)
        if home is None or found is None:
            raise LookupError(f"no button {action_id!r} on {user}'s Home tab")
        element, block_id = found
        payload = self._base("block_actions", user, home)
        payload["trigger_id"] = self.new_trigger(user)
        payload["actions"] = [
            {
                "type": "button",
                "action_id": element["action_id"],
                "block_id": block_id,
                "text": element["text"],
                "value": element.get("value", ""),
                "action_ts": f"{time.time():.6f}",
            }
        ]
        return await self.deliverer.interactive(payload)

    def _modal(self, user: str) -> View:
        modal = self.modals.get(user)
        if modal is None:
            raise LookupError(f"{user} has no modal open")
        return modal

    async def pick(self, user: str, action_id: str, value: str) -> DeliveryResult | None:
        """Pick ``value`` in a select of the open modal, or tick (untick) a checkbox; an input with
        ``dispatch_action`` tells the app."""
        modal = self._modal(user)
        found = _find_input(modal.view, action_id)
        if found is None:
            raise LookupError(f"no select {action_id!r} in the modal")
        block, element = found
        if element["type"] == "checkboxes":
            return await self._tick(modal, block, element, value)
        option = next((o for o in element.get("options", []) if o["value"] == value), None)
        if option is None:
            option = next((o for o in self.options.get(user, []) if o["value"] == value), None)
        if option is None:
            raise LookupError(f"{value!r} is not offered by {action_id!r}")
        block_id = block.get("block_id", "")
        modal.values[block_id] = {action_id: {"type": element["type"], "selected_option": option}}
        modal.errors.pop(block_id, None)
        await self.changed()
        if not block.get("dispatch_action"):
            return None
        payload = self._base("block_actions", user, modal)
        payload["trigger_id"] = self.new_trigger(user)
        payload["actions"] = [
            {
                "type": element["type"],
                "action_id": action_id,
                "block_id": block_id,
                "selected_option": option,
                "action_ts": f"{time.time():.6f}",
            }
        ]
        return await self.deliverer.interactive(payload)

    async def _tick(
        self, modal: View, block: dict[str, Any], element: dict[str, Any], value: str
    ) -> DeliveryResult | None:
        option = next((o for o in element.get("options", []) if o["value"] == value), None)
        if option is None:
            raise LookupError(f"{value!r} is not a box of {element['action_id']!r}")
        block_id, action_id = block.get("block_id", ""), element["action_id"]
        ticked = list((modal.values.get(block_id) or {}).get(action_id, {}).get("selected_options") or [])
        ticked = [o for o in ticked if o["value"] != value] if option in ticked else [*ticked, option]
        modal.values[block_id] = {action_id: {"type": "checkboxes", "selected_options": ticked}}
        await self.changed()
        return None  # an input block's checkboxes tell the app only on submit (no dispatch_action here)

    async def suggest(self, user: str, action_id: str, typed: str = "") -> list[dict[str, Any]]:
        """The person types in an external select: Slack asks the app for options (``block_suggestion``)."""
        modal = self._modal(user)
        found = _find_input(modal.view, action_id)
        if found is None or found[1].get("type") != "external_select":
            raise LookupError(f"no external select {action_id!r} in the modal")
        block, _ = found
        payload = self._base("block_suggestion", user, modal)
        payload.update(action_id=action_id, block_id=block.get("block_id", ""), value=typed)
        result = await self.deliverer.with_response(payload)
        body = result.body if result.ok and isinstance(result.body, dict) else {}
        options = body.get("options")
        if not isinstance(options, list) or len(options) > 100:
            options = []  # Slack shows "no results" for a missing, late or malformed answer
        for option in options:
            _validate_option(option, "[options]")
        self.options[user] = options
        await self.changed()
        return options

    async def submit(self, user: str) -> DeliveryResult:
        """The person presses the modal's submit button."""
        modal = self._modal(user)
        payload = self._base("view_submission", user, modal)
        payload.update(trigger_id=self.new_trigger(user), response_urls=[])
        result = await self.deliverer.with_response(payload)
        body = result.body if isinstance(result.body, dict) else {}
        if not result.ok:
            modal.errors = {"": f"We had some trouble connecting ({result.error}). Try again?"}
        elif body.get("response_action") == "errors":
            errors = body.get("errors") or {}
            known = {b.get("block_id") for b in modal.view.get("blocks", [])}
            modal.errors = {str(k): str(v) for k, v in errors.items() if k in known}
        else:
            self.modals.pop(user, None)
        await self.changed()
        return result

    def close(self, user: str) -> None:
        self.modals.pop(user, None)

    def snapshot(self, user: str) -> dict[str, Any]:
        home, modal = self.homes.get(user), self.modals.get(user)
        return {
            "home": home.view if home else None,
            "modal": {"view": modal.view, "values": modal.values, "errors": modal.errors} if modal else None,
            "options": self.options.get(user, []),
        }


def _find_element(view: dict[str, Any], action_id: str, value: str | None) -> tuple[dict[str, Any], str] | None:
    for block in view.get("blocks", []):
        elements = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory") or {}]
        for element in elements:
            if element.get("action_id") == action_id and value in (None, element.get("value")):
                return element, block.get("block_id", "")
    return None


def _find_input(view: dict[str, Any], action_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    for block in view.get("blocks", []):
        if block.get("type") == "input" and block["element"].get("action_id") == action_id:
            return block, block["element"]
    return None
