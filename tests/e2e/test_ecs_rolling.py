"""ECS rolling updates with the circuit breaker, in both transports: the share of new tasks as progress,
a broken version tripping the breaker told as a failure with the stopped tasks' reasons, and Roll back
pressed while tasks are being replaced."""

from __future__ import annotations

from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import Sandbox
from sandbox.slack.workspace import Message

from .helpers import DEPLOYS, advance, buttons, root_text, wait_text, wait_thread
from .test_ecs_native import alerts, deployments, digest_of, running_image


async def staging_root(box: Sandbox, tag: str) -> Message:
    result = await box.slack.slash(f"shop {tag} to staging", user="U0ALICE")
    assert result.ok, result.error
    found = await box.slack.wait_for(
        lambda: [m for m in box.slack.messages(DEPLOYS) if m.user == "U0BOT" and f"shop {tag}" in m.text],
        what="the staging deployment's root",
    )
    first: Message = found[0]
    return first


async def test_rolling_update_succeeds(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    root = await staging_root(box, "v1.2.3")
    await wait_thread(box, root, "created with `rolling update, circuit breaker with rollback`")
    advance(3)
    await wait_thread(box, root, "ECS started")
    advance(60)
    await wait_thread(box, root, "*shop v1.2.3* is live in staging")
    text = await wait_text(box, root, "Deployed")
    assert "100% of the tasks run the new version" in text and "green" not in text
    assert running_image(box, "shop-staging").endswith("/shop@" + digest_of(box, "shop", "v1.2.3"))
    assert deployments(box, "shop-staging")[0]["status"] == "SUCCESSFUL"


async def test_the_circuit_breaker_rolls_a_broken_version_back(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    before = running_image(box, "shop-staging")
    root = await staging_root(box, "v1.2.4-broken")
    await wait_thread(box, root, "created with")
    for _ in range(6):  # tasks are started in batches and keep exiting until the breaker trips
        advance(10)
    outcome = await wait_thread(box, root, "*shop v1.2.4-broken* in staging failed after")
    assert "ECS deployment circuit breaker: tasks failed to start." in outcome
    assert "tasks failed; the threshold is 3" in outcome and "Traffic is back on `v1.2.2`" in outcome
    assert "Stopped new tasks:\n• " in outcome and "(shop exited with code 1)" in outcome
    alert = await box.slack.wait_for(lambda: alerts(box), what="alert")
    assert alert[0].startswith("Deployment of shop v1.2.4-broken to staging failed")
    (latest,) = deployments(box, "shop-staging")[:1]
    assert latest["status"] == "ROLLBACK_SUCCESSFUL" and latest["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert running_image(box, "shop-staging") == before


async def test_roll_back_while_tasks_are_replaced(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    before = running_image(box, "shop-staging")
    CONTROL.slow_install["shop-staging"] = 600.0  # the new tasks take ten minutes to become healthy
    root = await staging_root(box, "v1.2.3")
    await wait_thread(box, root, "created with")
    advance(3)
    await wait_thread(box, root, "ECS started")
    fresh = box.slack.ws.find(root.channel, root.ts)
    assert buttons(fresh) == ["deploy_rollback"] and "Starting the new version's tasks" in root_text(fresh)
    await box.slack.click(fresh, "deploy_rollback", user="U0ALICE")  # the requester may roll back
    await wait_thread(box, root, "asked for a rollback; ECS is going back to the old version")
    advance(30)
    outcome = await wait_thread(box, root, "*shop v1.2.3* in staging was stopped after")
    assert "StopServiceDeployment" in outcome
    assert deployments(box, "shop-staging")[0]["status"] == "ROLLBACK_SUCCESSFUL"
    assert running_image(box, "shop-staging") == before
    assert alerts(box) == []
