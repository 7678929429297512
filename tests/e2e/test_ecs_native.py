"""ECS's own blue/green, linear and canary deployments, in both transports: the pause hook before production
traffic is a gate only approvers open, Roll back works at every stage, a broken image fails with ECS's
reason and an alert, and a second account's service is reached through the role the catalog names."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.aws.seed_ecs import OTHER_ACCOUNT, OTHER_REGION
from sandbox.runner import Sandbox

from .helpers import (
    advance,
    buttons,
    request_and_wait_root,
    root_text,
    thread_texts,
    wait_button,
    wait_text,
    wait_thread,
)


def deployments(box: Sandbox, service: str, **where: str) -> list[dict[str, Any]]:
    """The service's deployments as ECS describes them, newest first."""
    ecs = box.aws.client("ecs", **where)
    arns = [
        b["serviceDeploymentArn"]
        for b in ecs.list_service_deployments(cluster="apps", service=service)["serviceDeployments"]
    ]
    found = ecs.describe_service_deployments(serviceDeploymentArns=arns)["serviceDeployments"] if arns else []
    return sorted(found, key=lambda d: d["createdAt"], reverse=True)


def running_image(box: Sandbox, service: str, **where: str) -> str:
    ecs = box.aws.client("ecs", **where)
    svc = ecs.describe_services(cluster="apps", services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


def digest_of(box: Sandbox, repository: str, tag: str, **where: str) -> str:
    ecr = box.aws.client("ecr", **where)
    details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    return str(details[0]["imageDigest"])


def alerts(box: Sandbox) -> list[str]:
    return [m.text + str(m.blocks) for m in box.slack.messages("C0ALERTS")]


async def at_the_pause(box: Sandbox, text: str = "shop v1.2.3") -> Any:
    """A shop deployment approved and waiting at its pause hook before production traffic."""
    root = await request_and_wait_root(box, text)
    assert "blue/green, bake 5 min, 1 pause hook" in root_text(root)  # the strategy ECS itself has
    await box.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(box, root, "created with")
    advance(3)
    await wait_thread(box, root, "ECS started")
    advance(60)
    return await wait_button(box, root, "deploy_gate")


async def test_blue_green_pause_is_a_gate_only_approvers_open(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    root = await at_the_pause(box)
    assert buttons(root) == ["deploy_gate", "deploy_rollback"]
    text = root_text(root)
    assert "press *Shift traffic*" in text and "Stage: `PRODUCTION_TRAFFIC_SHIFT`" in text
    assert "100% of test traffic on green" in text and "0% of traffic on green" in text
    assert "then ECS rolls back to blue" in text  # the hook's own timeout action
    told = await wait_thread(box, root, "Production traffic stays on blue")
    assert "ECS stops waiting and rolls back to blue" in told
    assert any("`POST_TEST_TRAFFIC_SHIFT` succeeded" in t for t in thread_texts(box, root))

    await box.slack.click(root, "deploy_gate", user="U0ALICE")  # the requester is no approver
    await box.slack.wait_for(
        lambda: [
            t for t in box.slack.ephemerals("U0ALICE") if "Only approvers of `shop (production)` can move traffic" in t
        ],
        what=f"refusal, got {box.slack.ephemerals('U0ALICE')}",
    )
    (waiting,) = deployments(box, "shop")[:1]
    assert [h["status"] for h in waiting["lifecycleHookDetails"] if h["targetType"] == "PAUSE"] == ["AWAITING_ACTION"]

    await box.slack.click(root, "deploy_gate", user="U0DAVE")  # an approver through the user group
    await wait_thread(box, root, "<@U0DAVE> started shifting traffic to green")
    advance(10)
    await wait_thread(box, root, "100% of traffic on green")
    await wait_thread(box, root, "Blue stays up for 5 min")
    baking = await wait_text(box, root, "Blue is let go at")
    assert "All traffic on green" in baking
    assert buttons(box.slack.ws.find(root.channel, root.ts)) == ["deploy_rollback"]  # ECS cannot end a bake early
    advance(400)
    live = await wait_thread(box, root, "is live")
    assert "*shop v1.2.3* is live in production" in live
    await wait_text(box, root, "Deployed")
    assert deployments(box, "shop")[0]["status"] == "SUCCESSFUL"
    assert running_image(box, "shop").endswith("/shop@" + digest_of(box, "shop", "v1.2.3"))


@pytest.mark.parametrize("where", ["at the pause", "during the bake"])
async def test_roll_back_at_any_stage(sandbox: Sandbox, bot: object, where: str) -> None:
    box = sandbox
    before = running_image(box, "shop")
    root = await at_the_pause(box)
    if where == "during the bake":
        await box.slack.click(root, "deploy_gate", user="U0BOB")
        await wait_thread(box, root, "started shifting traffic")  # ECS was asked before time moves on
        advance(10)
        await wait_thread(box, root, "Blue stays up")
        await wait_text(box, root, "Blue is let go at")
        root = box.slack.ws.find(root.channel, root.ts)
    await box.slack.click(root, "deploy_rollback", user="U0BOB")
    await wait_thread(box, root, "<@U0BOB> asked for a rollback; ECS is going back to blue")
    advance(30)
    outcome = await wait_thread(box, root, "*shop v1.2.3* in production was stopped after")
    assert "Traffic is back on `v1.2.2`" in outcome
    await wait_text(box, root, "Stopped")
    assert buttons(box.slack.ws.find(root.channel, root.ts)) == []
    assert deployments(box, "shop")[0]["status"] == "ROLLBACK_SUCCESSFUL"
    assert running_image(box, "shop") == before
    assert alerts(box) == []  # a rollback someone asked for is no failure


async def test_a_broken_version_fails_its_smoke_test_and_alerts(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    before = running_image(box, "api")
    root = await request_and_wait_root(box, "api v1.2.4-broken")
    assert "canary, 10% for 5 min, bake 2 min" in root_text(root)
    await box.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(box, root, "created with")
    advance(3)
    advance(60)
    failed = await wait_thread(box, root, "`POST_TEST_TRAFFIC_SHIFT` failed")
    assert "smoke-test" in failed  # which hook, at which stage, in ECS's words
    advance(60)
    outcome = await wait_thread(box, root, "*api v1.2.4-broken* in production failed after")
    assert "Traffic is back on `v1.2.2`" in outcome
    text = await wait_text(box, root, "Failed")
    assert "*Reason*" in text and "POST_TEST_TRAFFIC_SHIFT" in text
    alert = await box.slack.wait_for(lambda: alerts(box), what="alert")
    assert alert[0].startswith("Deployment of api v1.2.4-broken to production failed")  # api names no on-call
    assert "v1.2.4-broken" in alert[0] and "open the thread" in alert[0] and "|ECS console>" in alert[0]
    assert deployments(box, "api")[0]["status"] == "ROLLBACK_SUCCESSFUL"
    assert running_image(box, "api") == before


async def test_canary_walks_its_step_and_bake(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    root = await request_and_wait_root(box, "api v1.2.3")
    await box.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(box, root, "created with")
    advance(3)
    advance(60)
    await wait_thread(box, root, "10% of traffic on green")
    advance(300)
    await wait_thread(box, root, "100% of traffic on green")
    advance(200)
    await wait_thread(box, root, "*api v1.2.3* is live in production")
    assert running_image(box, "api").endswith("/api@" + digest_of(box, "api", "v1.2.3"))


async def test_linear_in_another_account_through_its_role(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    where = {"region": OTHER_REGION, "account": OTHER_ACCOUNT}
    result = await box.slack.slash("api v1.2.3 to staging", user="U0ALICE")  # no approval needed there
    assert result.ok, result.error
    root = (await box.slack.wait_for(lambda: [m for m in box.slack.messages("C0DEPLOYS") if "staging" in m.text]))[0]
    await wait_thread(box, root, "created with")
    assert "linear, 25% every 1 min" in root_text(box.slack.ws.find(root.channel, root.ts))
    advance(3)
    advance(60)
    await wait_thread(box, root, "25% of traffic on green")
    for _ in range(6):
        advance(60)
    await wait_thread(box, root, "*api v1.2.3* is live in staging")
    link = await wait_text(box, root, "eu-west-1.console.aws.amazon.com")
    assert "Deployed" in link
    # The other account's own image, pinned by its digest, on the other account's service.
    assert running_image(box, "api-staging", **where).endswith("/api@" + digest_of(box, "api", "v1.2.3", **where))
    assert f"{OTHER_ACCOUNT}.dkr.ecr.{OTHER_REGION}" in running_image(box, "api-staging", **where)
