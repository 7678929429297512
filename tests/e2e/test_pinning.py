"""What was approved is what ships, and the transport survives Slack's connection refreshes."""

from __future__ import annotations

import pytest

from sandbox.runner import Sandbox

from .helpers import advance, request_and_wait_root, wait_thread


async def test_repushed_tag_cannot_change_what_deploys(sandbox: Sandbox, bot: object) -> None:
    ecr = sandbox.aws.client("ecr")
    approved = ecr.describe_images(repositoryName="web1", imageIds=[{"imageTag": "v1.2.3"}])["imageDetails"][0][
        "imageDigest"
    ]
    root = await request_and_wait_root(sandbox)
    repushed = await sandbox.control({"action": "push", "service": "web1", "tag": "v1.2.3", "salt": "rebuilt"})
    assert repushed["digest"] != approved
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    await wait_thread(sandbox, root, "CodeDeploy started")
    td_arns = sandbox.aws.client("ecs").list_task_definitions(familyPrefix="web1")["taskDefinitionArns"]
    td = sandbox.aws.client("ecs").describe_task_definition(taskDefinition=td_arns[-1])["taskDefinition"]
    assert td["containerDefinitions"][0]["image"].endswith(f"@{approved}")


@pytest.mark.parametrize("transport", ["socket"])
async def test_socket_mode_reconnects_after_refresh_requested(sandbox: Sandbox, bot: object) -> None:
    opens_before = len(sandbox.slack.calls("apps.connections.open"))
    await sandbox.slack.deliverer.disconnect_all("refresh_requested")
    await sandbox.slack.wait_for(
        lambda: len(sandbox.slack.calls("apps.connections.open")) > opens_before, what="a new apps.connections.open"
    )
    await sandbox.slack.wait_for(
        lambda: [c for c in sandbox.slack.deliverer.connections if not c.retiring], what="a fresh connection"
    )
    result = await sandbox.slack.slash("help")
    assert result.ok and "/deploy &lt;app&gt; &lt;version&gt;" in str(result.body)
