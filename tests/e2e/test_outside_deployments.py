"""Deployments deploybot did not start (a CI job running `aws ecs deploy`, as the current release
workflow does) get the same live thread, and an alert when they fail."""

from __future__ import annotations

import json

from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.simulation import HookFailure
from sandbox.runner import Sandbox

from .helpers import advance, roots, wait_thread


def ci_deploy(box: Sandbox, tag: str, description: str) -> str:
    """What `aws ecs deploy` does: a new revision with the new image tag, then CreateDeployment."""
    ecs, cd = box.aws.client("ecs"), box.aws.client("codedeploy")
    svc = ecs.describe_services(cluster="apps", services=["web2"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    container = td["containerDefinitions"][0]
    container["image"] = container["image"].split("@")[0].rsplit(":", 1)[0] + f":{tag}"
    keep = ("family", "containerDefinitions", "taskRoleArn", "executionRoleArn", "networkMode", "memory")
    new = ecs.register_task_definition(**{k: td[k] for k in keep if k in td}, requiresCompatibilities=["EC2"])[
        "taskDefinition"
    ]["taskDefinitionArn"]
    appspec = {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": new,
                        "LoadBalancerInfo": {"ContainerName": "web2", "ContainerPort": 3000},
                    },
                }
            }
        ],
    }
    return str(
        cd.create_deployment(
            applicationName="AppECS-apps-web2",
            deploymentGroupName="DgpECS-apps-web2",
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": json.dumps(appspec)}},
            description=description,
        )["deploymentId"]
    )


async def test_an_outside_deployment_gets_a_live_thread(sandbox: Sandbox, bot: object) -> None:
    deployment = ci_deploy(sandbox, "v1.2.3", "release workflow run 7 <!here>")
    found = await sandbox.slack.wait_for(lambda: roots(sandbox), what="a thread for the outside deployment")
    root = found[0]
    note = await wait_thread(sandbox, root, "was started outside deploybot")
    assert deployment in note and "release workflow run 7 &lt;!here&gt;" in note and "<!here>" not in note
    assert "Started outside deploybot" in str(root.blocks) and "Deploy web2 v1.2.3 to production" in str(root.blocks)
    advance(3)
    advance(2000)
    live = await wait_thread(sandbox, root, "is live")
    assert "*web2 v1.2.3* is live in production" in live
    assert len(roots(sandbox)) == 1  # found once, not once per scan


async def test_a_failing_outside_deployment_is_alerted(sandbox: Sandbox, bot: object) -> None:
    CONTROL.fail_next["web2"] = HookFailure(event="AfterInstall", message="container exited with code 1")
    ci_deploy(sandbox, "v1.2.3", "release workflow run 8")
    found = await sandbox.slack.wait_for(lambda: roots(sandbox), what="a thread for the outside deployment")
    advance(3)
    advance(300)
    await wait_thread(sandbox, found[0], "failed after")
    alert = await sandbox.slack.wait_for(lambda: sandbox.slack.messages("C0ALERTS"), what="alert")
    text = alert[0].text + str(alert[0].blocks)
    assert "web2" in text and "Started outside deploybot" in text and "open the thread" in text
