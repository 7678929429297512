"""/deploy rollback: the last known-good release from history (not "the previous revision"), through the
same approval path, pinned by digest; a clear answer when nothing is known good."""

from __future__ import annotations

from sandbox.aws.seed import push_image
from sandbox.runner import Sandbox

from .helpers import advance, request_and_wait_root, wait_button, wait_text, wait_thread


async def deploy(box: Sandbox, text: str) -> None:
    root = await request_and_wait_root(box, text)
    await box.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(box, root, "created with")
    advance(3)
    advance(2000)
    await wait_thread(box, root, "is live")


def running_image(box: Sandbox) -> str:
    ecs = box.aws.client("ecs")
    svc = ecs.describe_services(cluster="apps", services=["web2"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


async def test_rollback_redeploys_the_last_known_good_release(sandbox: Sandbox, bot: object) -> None:
    await sandbox.slack.slash("rollback web2")
    nothing = await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0ALICE") if "Nothing known good" in t], what="refusal"
    )
    assert "`web2 (production)`" in nothing[0]

    await deploy(sandbox, "web2 v1.2.3")
    good = running_image(sandbox)
    push_image(sandbox.aws.client("ecr"), "web2", "v1.2.5", salt="new")
    await deploy(sandbox, "web2 v1.2.5")
    newer = running_image(sandbox)
    # A broken release fails and CodeDeploy rolls it back; it never becomes "known good".
    broken = await request_and_wait_root(sandbox, "web2 v1.2.4-broken")
    await sandbox.slack.click(broken, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, broken, "created with")
    advance(3)
    advance(120)
    advance(120)
    await wait_thread(sandbox, broken, "failed after")
    await wait_text(sandbox, broken, "Failed")
    assert running_image(sandbox) == newer  # CodeDeploy put v1.2.5 back
    await sandbox.slack.wait_for(
        lambda: (
            not [t for t in sandbox.slack.ephemerals("U0ALICE") if "already being deployed" in t]
            and "deploy_" not in str(sandbox.slack.ws.find(broken.channel, broken.ts).blocks)
        ),
        what="the app to be free",
    )

    root = await request_and_wait_root(sandbox, "rollback web2")
    assert "Roll back web2 in production to v1.2.3" in str(root.blocks)  # v1.2.5 runs now; v1.2.3 was good
    await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0ALICE") if "rolling `web2 (production)` back to `v1.2.3`" in t],
        what="the requester told what will be deployed",
    )
    root = await wait_button(sandbox, root, "deploy_approve")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    advance(2000)
    await wait_thread(sandbox, root, "is live")
    assert running_image(sandbox) == good  # the very image, by digest
