"""The CI hand-off: a release workflow asks for a deployment over HTTP (or with `deploybot request`) after
pushing its image; the request waits in Slack for an approver like any other, naming the CI actor, the
commit and the run."""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp

from bot.app import Runtime
from sandbox.runner import Sandbox

from .helpers import advance, roots, wait_thread

TOKEN = "ci-token-for-tests"  # the test settings give the bot this token


async def post(bot: Runtime, body: object, token: str | None = TOKEN) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{bot.port}/api/requests", json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_ci_opens_a_request_that_waits_for_approval(sandbox: Sandbox, bot: Runtime) -> None:
    body = {
        "app": "web2",
        "version": "v1.2.3",
        "actor": "octocat",
        "commit_url": "https://github.example/acme/web2/commit/5f3c2a1",
        "run_url": "https://github.example/acme/web2/actions/runs/42",
    }
    assert (await post(bot, body, token=None))[0] == 401
    assert (await post(bot, body, token="wrong"))[0] == 401
    status, answer = await post(bot, {**body, "version": "1.2.3"})
    assert status == 400 and "is not a valid version" in str(answer["message"])
    status, answer = await post(bot, {**body, "commit_url": "javascript:alert(1)"})
    assert status == 400 and "commit_url" in str(answer["message"])
    assert roots(sandbox) == []

    status, answer = await post(bot, body)
    assert status == 201 and str(answer["request_id"]).startswith("r-"), answer
    assert "Asked for approval of `web2 (production)` `v1.2.3`" in str(answer["message"])
    root = roots(sandbox)[0]
    field = next(f["text"] for b in root.blocks for f in b.get("fields", []) if "Requested by CI" in f["text"])
    assert field == (
        "*Requested by CI*\noctocat · <https://github.example/acme/web2/commit/5f3c2a1|commit> · "
        "<https://github.example/acme/web2/actions/runs/42|run>"
    )
    status, answer = await post(bot, body)  # one open request per app, as from Slack
    assert status == 409 and "already has a request waiting" in str(answer["message"])
    status, answer = await post(bot, {**body, "queue": True, "committed_at": "2026-12-07T10:00:00Z"})
    assert status == 201 and "#1 in line after `web2` `v1.2.3` by CI" in str(answer["message"]), answer
    status, answer = await post(bot, {**body, "committed_at": "yesterday"})
    assert status == 400 and "committed_at" in str(answer["message"])

    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    advance(2000)
    await wait_thread(sandbox, root, "is live")


async def test_deploybot_request_command(sandbox: Sandbox, bot: Runtime) -> None:
    env = {**os.environ, "DEPLOYBOT_API_TOKEN": TOKEN, "DEPLOYBOT_URL": f"http://127.0.0.1:{bot.port}"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "request",
        "web2",
        "v1.2.3",
        "--environment",
        "staging",
        "--actor",
        "octocat",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "no approval needed" in out.decode() and "request r-" in out.decode()
    root = roots(sandbox)[0]
    assert "Deploy web2 v1.2.3 to staging" in str(root.blocks)
    await wait_thread(sandbox, root, "created with")

    args = ["-m", "bot", "request", "web2", "v1.2.3", "--environment", "staging", "--actor", "octocat"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        "--queue",
        "--committed-at",
        "2026-12-07T09:00:00+01:00",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "#1 in line after `web2` `v1.2.3` by CI" in out.decode()


async def test_ci_hands_off_to_ecs_itself(sandbox: Sandbox, bot: Runtime) -> None:
    """The same hand-off for services ECS deploys itself: a rolling staging that needs no approval, and a
    canary in another account that waits for one."""
    status, answer = await post(bot, {"app": "shop", "environment": "staging", "version": "v1.2.3", "actor": "ci"})
    assert status == 201 and "no approval needed" in str(answer["message"]), answer
    rolling = roots(sandbox)[0]
    await wait_thread(sandbox, rolling, "created with")
    advance(3)
    advance(60)
    await wait_thread(sandbox, rolling, "*shop v1.2.3* is live in staging")

    status, answer = await post(bot, {"app": "api", "version": "v1.2.3", "actor": "octocat"})
    assert status == 201 and "Asked for approval of `api (production)` `v1.2.3`" in str(answer["message"])
    canary = next(r for r in roots(sandbox) if "Deploy api v1.2.3" in str(r.blocks))
    assert "Requested by CI" in str(canary.blocks)
    await sandbox.slack.click(canary, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, canary, "created with")
    advance(3)
    await wait_thread(sandbox, canary, "ECS started")
