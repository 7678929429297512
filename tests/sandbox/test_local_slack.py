"""The local Slack answers the real slack_sdk client the way Slack does, errors and limits included."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from sandbox.slack.delivery import sign
from sandbox.slack.server import LocalSlack
from sandbox.slack.workspace import SlackError, validate_blocks


async def serve_events(slack: LocalSlack, handler: Any) -> Any:
    """A stand-in app on an ephemeral port that the local Slack delivers to in HTTP mode."""
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/slack/events", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    slack.deliverer.events_url = f"http://127.0.0.1:{port}/slack/events"
    return runner


def client(slack: LocalSlack, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token or slack.ws.bot_token, base_url=slack.api_url, retry_handlers=[])


async def error_of(coro: object) -> str:
    with pytest.raises(SlackApiError) as err:
        await coro  # type: ignore[misc]
    return str(err.value.response["error"])


def test_signer_matches_slacks_published_vector() -> None:
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert sign("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body) == expected
    verifier = SignatureVerifier("secret")
    now = str(int(time.time()))
    assert verifier.is_valid(body="a=b", timestamp=now, signature=sign("secret", now, "a=b"))


async def test_auth_and_scopes(slack: LocalSlack) -> None:
    resp = await client(slack).auth_test()
    assert resp["user_id"] == "U0BOT" and "chat:write" in resp.headers["x-oauth-scopes"]
    assert await error_of(client(slack, "xoxb-wrong").auth_test()) == "invalid_auth"
    assert await error_of(client(slack).apps_connections_open(app_token=slack.ws.bot_token)) == "not_allowed_token_type"
    slack.ws.scopes.discard("usergroups:read")
    assert await error_of(client(slack).usergroups_users_list(usergroup="S0APPROVERS")) == "missing_scope"
    assert await error_of(client(slack).api_call("chat.scheduleMessage")) == "unknown_method"


async def test_messages_threads_and_limits(slack: LocalSlack) -> None:
    web = client(slack)
    root = await web.chat_postMessage(channel="C0DEPLOYS", text="root")
    await web.chat_postMessage(channel="C0DEPLOYS", text="reply", thread_ts=root["ts"], reply_broadcast=True)
    parent = slack.ws.find("C0DEPLOYS", root["ts"])
    assert parent.reply_count == 1 and parent.thread_ts == parent.ts
    assert await error_of(web.chat_postMessage(channel="C0NOPE", text="x")) == "channel_not_found"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"{i}"}} for i in range(51)]
    assert await error_of(web.chat_postMessage(channel="C0DEPLOYS", text="x", blocks=blocks)) == "invalid_blocks"
    assert await error_of(web.chat_postMessage(channel="C0DEPLOYS", text="x" * 40_001)) == "msg_too_long"
    header = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    assert await error_of(web.chat_postMessage(channel="C0DEPLOYS", text="x", blocks=header)) == "invalid_blocks"
    await web.chat_update(channel="C0DEPLOYS", ts=root["ts"], text="edited")  # blocks omitted: kept
    assert slack.ws.find("C0DEPLOYS", root["ts"]).text == "edited"
    assert await error_of(web.chat_update(channel="C0DEPLOYS", ts="1.000001", text="x")) == "message_not_found"


async def test_rate_limit_answers_429_with_retry_after(slack: LocalSlack) -> None:
    slack.faults["chat.update"].append("429")
    root = await client(slack).chat_postMessage(channel="C0DEPLOYS", text="root")
    with pytest.raises(SlackApiError) as err:
        await client(slack).chat_update(channel="C0DEPLOYS", ts=root["ts"], text="x")
    assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "1"
    slack.limiter.enabled = True
    web = client(slack)
    codes = []
    for i in range(5):
        try:
            await web.chat_postMessage(channel="C0ALERTS", text=f"{i}")
            codes.append(200)
        except SlackApiError as exc:
            codes.append(exc.response.status_code)
    assert codes == [200, 200, 200, 429, 429]  # about one message per second per channel, small burst


async def test_response_url_replace_and_ephemeral(slack: LocalSlack) -> None:
    root = await client(slack).chat_postMessage(channel="C0DEPLOYS", text="original")
    url = slack.new_hook("C0DEPLOYS", "U0ALICE", root["ts"], "actions")
    hook = AsyncWebhookClient(url)
    assert (await hook.send(text="only alice sees this")).status_code == 200
    assert "only alice sees this" in slack.ephemerals("U0ALICE")
    assert (await hook.send(text="replaced", replace_original=True)).status_code == 200
    assert slack.ws.find("C0DEPLOYS", root["ts"]).text == "replaced"
    for _ in range(3):
        await hook.send(text="again")
    assert (await hook.send(text="sixth use")).status_code == 404  # a response_url works five times


async def test_http_delivery_reports_what_the_user_would_see(slack: LocalSlack) -> None:
    from aiohttp import web

    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.text()
        ok = SignatureVerifier(slack.ws.signing_secret).is_valid_request(body, dict(request.headers))
        seen.append({"ok": str(ok), "body": body})
        return web.Response(text="got it") if ok else web.Response(status=401)

    runner = await serve_events(slack, handler)
    result = await slack.slash("web1 v1.2.3")
    assert result.ok and result.text == "got it" and seen[0]["ok"] == "True"
    assert "command=%2Fdeploy" in seen[0]["body"] and "user_id=U0ALICE" in seen[0]["body"]
    forged = await slack.deliverer.post_signed(urlencode({"command": "/deploy"}), signature="v0=" + "0" * 64)
    assert not forged.ok and forged.error == "http_client_error" and forged.status == 401
    await runner.cleanup()
    slack.deliverer.events_url = "http://127.0.0.1:1/slack/events"
    assert (await slack.slash("web1 v1.2.3")).error == "dispatch_failed"


async def test_socket_mode_without_a_connection_is_dispatch_failed(slack: LocalSlack) -> None:
    result = await slack.slash("web1 v1.2.3")
    assert result.error == "dispatch_failed"
    assert any("dispatch_failed" in t for t in slack.ephemerals("U0ALICE"))


async def test_control_api_rejects_bad_input(slack: LocalSlack) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{slack.base_url}/_sandbox/faults", json={"method": "chat.update", "kind": "x"}) as r:
            assert r.status == 400
        async with session.post(f"{slack.base_url}/_sandbox/command", data="not json") as r:
            assert r.status == 400
        async with session.get(f"{slack.base_url}/_sandbox/state?since=-1") as r:
            state = await r.json()
            assert {c["name"] for c in state["channels"]} == {"deploys", "alerts", "general"}


async def test_a_late_ack_is_an_operation_timeout(slack: LocalSlack) -> None:
    import asyncio

    from aiohttp import web

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.5)
        return web.Response(text="too late")

    runner = await serve_events(slack, slow)
    slack.deliverer.ack_deadline = 0.1  # Slack's 3 s, scaled down so the test does not wait for it
    result = await slack.slash("web1 v1.2.3")
    assert result.error == "operation_timeout"
    assert any("operation_timeout" in t for t in slack.ephemerals("U0ALICE"))
    await runner.cleanup()


def test_modal_checkboxes_are_held_to_block_kits_limits() -> None:
    def box(options: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
        element = {"type": "checkboxes", "action_id": "pick", "options": options, **extra}
        return [{"type": "input", "block_id": "b", "label": {"type": "plain_text", "text": "x"}, "element": element}]

    def option(n: int, kind: str = "plain_text", **extra: Any) -> dict[str, Any]:
        return {"text": {"type": kind, "text": f"option {n}"}, "value": f"v{n}", **extra}

    fine = box([option(1), option(2, "mrkdwn", description={"type": "plain_text", "text": "why"})])
    assert validate_blocks(fine, inputs=True) == fine
    described = {"type": "plain_text", "text": "d" * 76}
    for bad in (
        box([option(n) for n in range(11)]),  # at most ten boxes
        box([]),
        box([option(1, description=described)]),  # a description of at most 75 characters
        box([option(1)], initial_options=[option(2)]),  # the ticked ones are among the options
    ):
        with pytest.raises(SlackError, match="invalid_blocks"):
            validate_blocks(bad, inputs=True)
