"""HTTP mode at the edge: forged requests are refused; a command whose text says "payload" still works."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import pytest

from bot.app import Runtime
from bot.slack.verify import refusal
from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import Sandbox
from sandbox.slack.delivery import sign

from .helpers import advance, request_and_wait_root, wait_thread

# What the watcher calls on its own (the outside-deployment scan), whatever requests arrive.
BACKGROUND = {"ListDeployments", "ListServiceDeployments", "DescribeServices", "AssumeRole"}


@pytest.mark.parametrize("transport", ["http"])
async def test_forged_and_stale_requests_get_401(sandbox: Sandbox, bot: object) -> None:
    body = urlencode({"command": "/deploy", "text": "web1 v1.2.3", "user_id": "U0ALICE", "team_id": "T0SANDBOX"})
    deliver = sandbox.slack.deliverer
    forged = await deliver.post_signed(body, signature="v0=" + "0" * 64)
    stale = await deliver.post_signed(body, timestamp=str(int(time.time()) - 301))
    assert (forged.status, stale.status) == (401, 401)
    assert [op for _, op in CONTROL.calls if op not in BACKGROUND] == []
    assert sandbox.slack.calls("chat.postMessage") == []


@pytest.mark.parametrize("transport", ["http"])
async def test_payload_in_command_text_is_parsed_as_a_command(sandbox: Sandbox, bot: object) -> None:
    result = await sandbox.slack.slash("payload-api v1.2.3")
    assert result.ok and "I don't know an app called `payload-api`" in result.text


async def raw_post(port: int, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """POST with exactly these header bytes (aiohttp's client would refuse some of them)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [b"POST /slack/events HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [b"Content-Type: application/x-www-form-urlencoded", b"Content-Length: " + str(len(body)).encode()]
    lines += [name + b": " + value for name, value in headers]
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


def signed(secret: str, body: bytes, timestamp: str) -> bytes:
    return sign(secret, timestamp, body.decode()).encode()


@pytest.mark.parametrize("transport", ["http"])
async def test_forged_stale_and_malformed_requests_all_get_401_and_do_nothing(sandbox: Sandbox, bot: Runtime) -> None:
    secret = sandbox.slack.ws.signing_secret
    body = urlencode(
        {
            "command": "/deploy",
            "text": "web1 v1.2.3",
            "user_id": "U0ALICE",
            "team_id": "T0SANDBOX",
            "channel_id": "C0DEPLOYS",
            "response_url": f"{sandbox.slack.base_url}/hooks/none",
        }
    ).encode()
    now = str(int(time.time()))
    good = signed(secret, body, now)
    ts, sig = b"X-Slack-Request-Timestamp", b"X-Slack-Signature"
    cases = {
        "forged": [(ts, now.encode()), (sig, b"v0=" + b"0" * 64)],
        "other secret": [(ts, now.encode()), (sig, signed("not-the-secret", body, now))],
        "stale 301 s": [(ts, str(int(now) - 301).encode()), (sig, signed(secret, body, str(int(now) - 301)))],
        # 330, not 301: the cases are made before they are sent, and a slow machine must not bring this
        # one back within five minutes by the time it arrives (a stale one only gets staler).
        "future 330 s": [(ts, str(int(now) + 330).encode()), (sig, signed(secret, body, str(int(now) + 330)))],
        "no signature": [(ts, now.encode())],
        "no timestamp": [(sig, good)],
        "non-numeric timestamp": [(ts, b"yesterday"), (sig, good)],
        "huge timestamp": [(ts, b"9" * 40), (sig, good)],
        "negative timestamp": [(ts, b"-" + now.encode()), (sig, good)],
        "fractional timestamp": [(ts, now.encode() + b".5"), (sig, good)],
        "non-ASCII digits": [(ts, ("\u0661\u0667" + "\u0660" * 8).encode()), (sig, good)],  # Arabic-Indic
        "non-ASCII signature": [(ts, now.encode()), (sig, ("v0=" + "é" * 64).encode())],
        "v1 signature": [(ts, now.encode()), (sig, b"v1=" + good[3:])],
        "upper-case hex": [(ts, now.encode()), (sig, b"v0=" + good[3:].upper())],
        "empty signature": [(ts, now.encode()), (sig, b"")],
        "tampered body": [(ts, now.encode()), (sig, signed(secret, body.replace(b"v1.2.3", b"v1.2.2"), now))],
    }
    slack_calls, aws_calls = len(sandbox.slack.ws.calls), [c for c in CONTROL.calls if c[1] not in BACKGROUND]
    statuses = {name: await raw_post(bot.port, headers, body) for name, headers in cases.items()}
    assert statuses == dict.fromkeys(cases, 401)
    assert len(sandbox.slack.ws.calls) == slack_calls  # nothing reached Slack ...
    assert [c for c in CONTROL.calls if c[1] not in BACKGROUND] == aws_calls  # ... or AWS
    too_big = await raw_post(bot.port, [(ts, now.encode()), (sig, good)], body + b"&x=" + b"a" * 70_000)
    assert too_big == 413

    # Read the clock again: the cases above can take a second or more on a loaded machine, and a
    # timestamp taken then would age past the window; a ten-second margin keeps this one inside it.
    almost_stale = str(int(time.time()) - 290)
    accepted = await raw_post(bot.port, [(ts, almost_stale.encode()), (sig, signed(secret, body, almost_stale))], body)
    assert accepted == 200


def test_slacks_published_signature_vector_is_accepted() -> None:
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    assert refusal(headers, body, secret, now=1531420618 + 299) is None
    assert refusal(headers, body, secret, now=1531420618 + 301) == "timestamp too old or in the future"
    assert refusal(headers, body + b"x", secret, now=1531420618) == "signature does not match"


@pytest.mark.parametrize("transport", ["http"])
async def test_a_replayed_approve_after_the_deployment_explains_its_state(sandbox: Sandbox, bot: Runtime) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    advance(2000)
    await wait_thread(sandbox, root, "is live")
    replayed = await sandbox.slack.deliverer.replay()  # the same signed body, well within five minutes
    assert replayed.ok, replayed
    told = await sandbox.slack.wait_for(
        lambda: next((t for t in sandbox.slack.ephemerals("U0BOB") if "no longer applies" in t), None),
        what="the replayed click answered",
    )
    assert "already finished successfully (deployed, approved by <@U0BOB>)" in told
    assert not any("more approval" in t for t in sandbox.slack.ephemerals("U0BOB"))
    assert len([c for c in CONTROL.calls if c[1] == "CreateDeployment"]) == 1  # nothing deployed twice
