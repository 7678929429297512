"""manifest.yml is a valid Slack manifest and declares everything the code registers."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from jsonschema import Draft7Validator
from slack_bolt.async_app import AsyncApp

from bot.domain.lifecycle import Action
from bot.runtime.config import load_catalog
from handlers import actions, commands, home
from sandbox.runner import CATALOG
from sandbox.slack.workspace import METHOD_SCOPES

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "slack-app-manifest.schema.1.0.0.json").read_text())


def manifest() -> dict[str, object]:
    data = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_manifest_matches_slacks_schema() -> None:
    errors = sorted(str(e.message) for e in Draft7Validator(SCHEMA).iter_errors(manifest()))
    assert errors == []


def test_schema_catches_a_broken_manifest() -> None:
    broken = manifest()
    broken["features"]["slash_commands"][0]["command"] = "deploy"  # type: ignore[index]
    broken["settings"]["interactivity"]["is_enabled"] = "yes"  # type: ignore[index]
    assert len(list(Draft7Validator(SCHEMA).iter_errors(broken))) == 2


def test_every_registered_command_and_action_is_declared() -> None:
    from bot.app import Runtime
    from bot.runtime.config import Settings

    settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret="secret", store_url="sqlite://:memory:")
    runtime = Runtime(settings, load_catalog(CATALOG))
    app: AsyncApp = runtime.bolt
    runtime.store.close()
    # the command; the buttons; the Home tab's event and Deploy button; the dialog's options, picks, submission
    # (the app and environment picks are two listeners)
    assert len(app._async_listeners) == 8
    declared = {c["command"] for c in manifest()["features"]["slash_commands"]}  # type: ignore[index]
    assert {commands.COMMAND} == declared
    assert set(home.EVENTS) <= set(manifest()["settings"]["event_subscriptions"]["bot_events"])  # type: ignore[index]
    assert manifest()["features"]["app_home"]["home_tab_enabled"] is True  # type: ignore[index]
    assert all(actions.ACTION_PATTERN.match(a.value) for a in Action)
    assert manifest()["settings"]["interactivity"]["is_enabled"] is True  # type: ignore[index]


def test_declared_scopes_cover_every_method_the_bot_calls() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])  # type: ignore[index]
    used = {"chat.postMessage", "chat.update", "chat.postEphemeral", "usergroups.users.list"}
    assert {METHOD_SCOPES[m] for m in used} <= scopes
    assert "commands" in scopes


def test_example_catalog_is_the_sandbox_catalog() -> None:
    assert (ROOT / "examples" / "deploybot.yml").read_text() == CATALOG.read_text()
    assert set(load_catalog(CATALOG).apps) == {"web1", "web2", "shop", "api"}


def test_vendored_schema_keeps_its_license() -> None:
    assert "MIT" in (ROOT / "schemas" / "slack-app-manifest.LICENSE").read_text()
