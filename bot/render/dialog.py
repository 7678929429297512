"""The deploy dialog (a modal): app and environment selects, and a version select that Slack fills from
deploybot's options (an external select), newest push first.

The version block's id names the app and environment it lists versions for, so a suggestion request
says which repository to read without depending on what else the person has picked meanwhile.
"""

from __future__ import annotations

import json
from typing import Any

from ..domain.models import PushedVersion
from .answers import QUEUE_HINT
from .text import cut, plain

CALLBACK = "deploy_dialog"
APP, ENVIRONMENT, VERSION, QUEUE = "dialog_app", "dialog_environment", "dialog_version", "dialog_queue"
APP_BLOCK, ENVIRONMENT_BLOCK, QUEUE_BLOCK = "app", "environment", "queue"
VERSION_PREFIX = "version@"
MAX_OPTIONS = 100  # Slack's limit for a select's options
Block = dict[str, Any]


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(cut(text, 75)), "value": value}


def version_block_id(app: str, environment: str) -> str:
    return f"{VERSION_PREFIX}{app}@{environment}"


def parse_version_block(block_id: str) -> tuple[str, str] | None:
    """(app, environment) of a version block id, None when it is not one."""
    if not block_id.startswith(VERSION_PREFIX):
        return None
    app, _, environment = block_id[len(VERSION_PREFIX) :].partition("@")
    return (app, environment) if app and environment else None


def dialog_view(
    apps: list[str], environments: list[str], app: str | None, environment: str | None, channel: str
) -> dict[str, Any]:
    """The modal; ``environments`` are the chosen app's (empty until an app is chosen)."""
    app_select: Block = {
        "type": "static_select",
        "action_id": APP,
        "placeholder": plain("Choose an app"),
        "options": [_option(a, a) for a in apps[:MAX_OPTIONS]],
    }
    if app:
        app_select["initial_option"] = _option(app, app)
    blocks: list[Block] = [
        {"type": "input", "block_id": APP_BLOCK, "dispatch_action": True, "label": plain("App"), "element": app_select}
    ]
    if app and environments:
        chosen = environment if environment in environments else environments[0]
        blocks.append(
            {
                "type": "input",
                "block_id": ENVIRONMENT_BLOCK,
                "dispatch_action": True,
                "label": plain("Environment"),
                "element": {
                    "type": "static_select",
                    "action_id": ENVIRONMENT,
                    "options": [_option(e, e) for e in environments[:MAX_OPTIONS]],
                    "initial_option": _option(chosen, chosen),
                },
            }
        )
        blocks.append(
            {
                "type": "input",
                "block_id": version_block_id(app, chosen),
                "label": plain("Version"),
                "hint": plain("Newest pushes first; type to filter."),
                "element": {
                    "type": "external_select",
                    "action_id": VERSION,
                    "placeholder": plain("Choose a version"),
                    "min_query_length": 0,
                },
            }
        )
        blocks.append(_queue_block())
    else:
        hint = {"type": "mrkdwn", "text": "Choose an app to see its versions."}
        blocks.append({"type": "context", "elements": [hint]})
    return {
        "type": "modal",
        "callback_id": CALLBACK,
        "title": plain("Deploy"),
        "submit": plain("Ask to deploy"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps({"channel": channel}),
        "blocks": blocks,
    }


def _queue_block() -> Block:
    """`--queue` in the dialog: unticked, a busy or locked app refuses the request, as the command does."""
    option = {
        "text": plain("Wait in line"),
        "description": plain("Asked for approval once the app is free, instead of refused now"),
        "value": "queue",
    }
    return {
        "type": "input",
        "block_id": QUEUE_BLOCK,
        "optional": True,
        "label": plain("If the app is busy or locked"),
        "element": {"type": "checkboxes", "action_id": QUEUE, "options": [option]},
    }


def version_options(versions: list[PushedVersion], running: str | None, query: str) -> list[dict[str, Any]]:
    """The versions whose tag contains ``query``, newest push first, with the push date and which one runs."""
    typed = query.strip().lower()
    out = []
    for version in versions:
        if typed and typed not in version.tag.lower():
            continue
        pushed = f" · pushed {version.pushed_at:%Y-%m-%d %H:%M}" if version.pushed_at else ""
        now = " · running now" if version.tag == running else ""
        out.append(_option(f"{version.tag}{pushed}{now}", version.tag))
        if len(out) == MAX_OPTIONS:
            break
    return out


def channel_of(private_metadata: str) -> str:
    """The channel the dialog was opened from ("" from the Home tab)."""
    try:
        data = json.loads(private_metadata or "{}")
    except ValueError:
        return ""
    channel = data.get("channel") if isinstance(data, dict) else None
    return channel if isinstance(channel, str) else ""


def selected(values: dict[str, dict[str, Any]], block: str, action: str) -> str | None:
    """The value picked in one select of a view's state (None when nothing is)."""
    state = (values.get(block) or {}).get(action) or {}
    option = state.get("selected_option") if isinstance(state, dict) else None
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) and value else None


def ticked(values: dict[str, dict[str, Any]], block: str, action: str) -> bool:
    """Whether any box of one checkboxes element of a view's state is ticked."""
    state = (values.get(block) or {}).get(action) or {}
    options = state.get("selected_options") if isinstance(state, dict) else None
    return isinstance(options, list) and bool(options)


def in_dialog(message: str) -> str:
    """A refusal as the dialog shows it: its way to wait in line is the box below, not `--queue`."""
    return message.replace(QUEUE_HINT, " Or tick “Wait in line” below to be asked once the app is free.")
