"""The main path, in both transports: request, approve, canary behind a Ready gate, termination wait."""

from __future__ import annotations

import json

from sandbox.runner import Sandbox

from .helpers import advance, buttons, request_and_wait_root, wait_button, wait_text, wait_thread


async def test_request_approve_shift_finish(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    root = await request_and_wait_root(box)
    assert buttons(root) == ["deploy_approve", "deploy_cancel"]
    assert "v1.2.2" in str(root.blocks)  # what runs now
    assert "CodeDeployDefault.ECSCanary10Percent5Minutes" in str(root.blocks)

    await box.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(box, root, "created with")
    advance(3)
    await wait_thread(box, root, "CodeDeploy started")
    advance(60)
    await wait_thread(box, root, "Green is up")
    root = await wait_button(box, root, "deploy_gate")
    assert buttons(root) == ["deploy_gate", "deploy_rollback"]

    await box.slack.click(root, "deploy_gate", user="U0BOB")
    await wait_thread(box, root, "started shifting traffic")
    advance(5)
    await wait_thread(box, root, "10% of traffic on green")
    advance(300)
    await wait_thread(box, root, "100% of traffic on green")
    advance(10)
    await wait_thread(box, root, "Blue stays up for 5 min")
    root = await wait_button(box, root, "deploy_finish")

    await box.slack.click(root, "deploy_finish", user="U0BOB")
    await wait_thread(box, root, "is live")
    text = await wait_text(box, root, "Deployed")
    assert "100% of traffic on green" in text
    final = box.slack.ws.find(root.channel, root.ts)
    assert buttons(final) == []

    ecs = box.aws.client("ecs")
    svc = ecs.describe_services(cluster="apps", services=["web1"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    digest = box.aws.client("ecr").describe_images(repositoryName="web1", imageIds=[{"imageTag": "v1.2.3"}])[
        "imageDetails"
    ][0]["imageDigest"]
    assert td["containerDefinitions"][0]["image"].endswith(f"/web1@{digest}")
    assert td["containerDefinitions"][0]["memoryReservation"] == 256
    tags = box.aws.client("ecs").describe_task_definition(taskDefinition=svc["taskDefinition"], include=["TAGS"])
    tagged = {t["key"]: t["value"] for t in tags["tags"]}
    assert tagged["team"] == "web"  # family tags kept
    assert tagged["deploybot:request"] in str(root.blocks) and tagged["deploybot:version"] == "v1.2.3"

    cd = box.aws.client("codedeploy")
    dep_id = cd.list_deployments(applicationName="AppECS-apps-web1", deploymentGroupName="DgpECS-apps-web1")[
        "deployments"
    ][-1]
    info = cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]
    assert info["status"] == "Succeeded" and info["description"].startswith("deploybot r-")
    assert info["description"].split()[1].rstrip(":") in str(root.blocks)  # the request id shown in Slack
    spec = json.loads(
        cd.get_application_revision(applicationName="AppECS-apps-web1", revision=info["revision"])["revision"][
            "appSpecContent"
        ]["content"]
    )
    props = spec["Resources"][0]["TargetService"]["Properties"]
    assert props["TaskDefinition"] == svc["taskDefinition"]
    assert props["LoadBalancerInfo"] == {"ContainerName": "web1", "ContainerPort": 3000}
    assert props["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]  # from the live service
