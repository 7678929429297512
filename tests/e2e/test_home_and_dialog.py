"""The Home tab and the deploy dialog, in both transports, as a person uses them in the local workspace."""

from __future__ import annotations

import json
from typing import Any

from sandbox.runner import Sandbox

from .helpers import advance, request_and_wait_root, wait_thread

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"


def home_text(box: Sandbox, user: str) -> str:
    home = box.slack.surfaces.homes.get(user)
    return json.dumps(home.view["blocks"]) if home else ""


async def wait_home(box: Sandbox, user: str, needle: str, timeout: float = 10.0) -> str:
    def check() -> str | None:
        text = home_text(box, user)
        return text if needle in text else None

    result: str = await box.slack.wait_for(check, timeout=timeout, what=f"{user}'s Home tab to show {needle!r}")
    return result


def approve_values(box: Sandbox, user: str) -> list[str]:
    home = box.slack.surfaces.homes[user]
    return [
        b["accessory"]["value"]
        for b in home.view["blocks"]
        if b.get("accessory", {}).get("action_id") == "deploy_approve"
    ]


async def test_home_shows_what_runs_and_approves_like_the_channel(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    result = await box.slack.surfaces.open_home(BOB)
    assert result.ok, result.error
    text = await wait_home(box, BOB, "What runs where")
    assert "web1" in text and "v1.2.2" in text and "CodeDeploy" in text
    assert "Nothing is being deployed" in text
    assert approve_values(box, BOB) == []

    root = await request_and_wait_root(box)  # alice asks; bob is an approver
    await box.slack.surfaces.open_home(ALICE)
    await box.slack.surfaces.open_home(CAROL)
    text = await wait_home(box, BOB, "Waiting for your approval")
    assert "Deploy web1 v1.2.3" in text
    (record_id,) = approve_values(box, BOB)
    await wait_home(box, ALICE, "Deploy web1 v1.2.3")
    assert approve_values(box, ALICE) == []  # the requester cannot approve her own request
    assert approve_values(box, CAROL) == []  # nor can someone who is no approver

    pressed = await box.slack.surfaces.press(BOB, "deploy_approve", record_id)
    assert pressed.ok, pressed.error
    await wait_thread(box, root, "created with")
    await box.slack.wait_for(lambda: "Waiting for your approval" not in home_text(box, BOB), what="approved")
    advance(3)
    await wait_thread(box, root, "CodeDeploy started")
    advance(60)
    await wait_home(box, BOB, "Green is ready")  # kept current as the deployment moves


async def test_a_refused_home_click_is_explained_in_the_channel(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    await request_and_wait_root(box)
    await box.slack.surfaces.open_home(BOB)
    await wait_home(box, BOB, "Waiting for your approval")
    (record_id,) = approve_values(box, BOB)
    await box.slack.slash("lock web1 maintenance", user=BOB)
    await box.slack.wait_for(lambda: any("Locked" in t for t in box.slack.ephemerals(BOB)), what="lock answer")
    await box.slack.surfaces.press(BOB, "deploy_approve", record_id)
    said = await box.slack.wait_for(
        lambda: [t for t in box.slack.ephemerals(BOB) if "is locked" in t], what="the refusal in the channel"
    )
    assert "unlock" in said[0]
    await wait_home(box, BOB, ":lock: *web1*")


def modal(box: Sandbox, user: str) -> dict[str, Any]:
    found = box.slack.surfaces.modals.get(user)
    assert found is not None, f"{user} has no modal open"
    return found.view


async def wait_modal(box: Sandbox, user: str, needle: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        found = box.slack.surfaces.modals.get(user)
        return found.view if found and needle in json.dumps(found.view) else None

    result: dict[str, Any] = await box.slack.wait_for(check, what=f"{user}'s modal to show {needle!r}")
    return result


async def test_deploy_dialog_picks_a_version_and_requests_it(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    result = await box.slack.slash("web2", user=ALICE)
    assert result.ok, result.error
    view = await wait_modal(box, ALICE, "version@web2@")
    assert "dialog_environment" in json.dumps(view)
    options = await box.slack.surfaces.suggest(ALICE, "dialog_version")
    labels = [o["text"]["text"] for o in options]
    assert labels and labels[0].startswith("v1.2.")  # newest push first
    assert any("running now" in label for label in labels)
    assert not any(label.startswith("latest") for label in labels)
    typed = await box.slack.surfaces.suggest(ALICE, "dialog_version", "1.2.3")
    assert [o["value"] for o in typed] == ["v1.2.3"]

    await box.slack.surfaces.pick(ALICE, "dialog_environment", "staging")
    await wait_modal(box, ALICE, "version@web2@staging")
    await box.slack.surfaces.suggest(ALICE, "dialog_version", "v1.2.3")
    await box.slack.surfaces.pick(ALICE, "dialog_version", "v1.2.3")
    submitted = await box.slack.surfaces.submit(ALICE)
    assert submitted.ok, submitted.error
    assert ALICE not in box.slack.surfaces.modals  # closed
    await box.slack.wait_for(
        lambda: any("Deploying" in t or "deploying" in t for t in box.slack.ephemerals(ALICE)), what="the answer"
    )


async def test_deploy_dialog_shows_the_request_paths_errors_in_place(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    await box.slack.slash("lock web1 maintenance", user=BOB)
    await box.slack.wait_for(lambda: any("Locked" in t for t in box.slack.ephemerals(BOB)), what="lock answer")
    await box.slack.slash("web1", user=ALICE)
    await wait_modal(box, ALICE, "version@web1@")
    submitted = await box.slack.surfaces.submit(ALICE)  # nothing picked
    assert submitted.ok
    errors = box.slack.surfaces.modals[ALICE].errors
    assert list(errors.values()) == ["Choose a version."]
    await box.slack.surfaces.suggest(ALICE, "dialog_version", "v1.2.3")
    await box.slack.surfaces.pick(ALICE, "dialog_version", "v1.2.3")
    await box.slack.surfaces.submit(ALICE)
    errors = box.slack.surfaces.modals[ALICE].errors
    (message,) = errors.values()
    assert "locked" in message and "`" not in message
    assert not [m for m in box.slack.messages() if "Deploy web1" in m.text]  # nothing was asked


async def test_the_home_tabs_deploy_button_opens_the_dialog(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    await box.slack.surfaces.open_home(ALICE)
    await wait_home(box, ALICE, "home_deploy")
    pressed = await box.slack.surfaces.press(ALICE, "home_deploy")
    assert pressed.ok, pressed.error
    view = await wait_modal(box, ALICE, "dialog_app")
    assert "version@" not in json.dumps(view)  # no app yet: versions once one is picked
    await box.slack.surfaces.pick(ALICE, "dialog_app", "shop")
    await wait_modal(box, ALICE, "version@shop@")


async def test_the_dialog_joins_the_line_when_wait_in_line_is_ticked(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    await request_and_wait_root(box, "web1 v1.2.3")  # alice's request: web1 is busy
    dave = "U0DAVE"
    await box.slack.slash("web1", user=dave)
    view = await wait_modal(box, dave, "dialog_queue")
    assert "Wait in line" in json.dumps(view)
    await box.slack.surfaces.suggest(dave, "dialog_version", "v1.2.3")
    await box.slack.surfaces.pick(dave, "dialog_version", "v1.2.3")
    await box.slack.surfaces.submit(dave)  # not ticked: refused in place, with the way to wait
    (refusal,) = box.slack.surfaces.modals[dave].errors.values()
    assert "already has a request waiting for approval" in refusal and "tick “Wait in line”" in refusal
    assert "--queue" not in refusal
    assert "asked by @alice" in refusal and "<@" not in refusal  # plain text: the person by name
    await box.slack.surfaces.pick(dave, "dialog_queue", "queue")
    submitted = await box.slack.surfaces.submit(dave)
    assert submitted.ok, submitted.error
    assert dave not in box.slack.surfaces.modals  # closed
    await box.slack.wait_for(
        lambda: any("#1 in line after" in t for t in box.slack.ephemerals(dave)), what="dave's place in line"
    )
    await box.slack.wait_for(lambda: any("In line" in m.text for m in box.slack.messages()), what="the line's root")
