"""ECS deployments across a restart and from outside deploybot, in both transports: a restarted bot picks
a deployment up at its pause hook, and a deployment some other tool started gets its own live thread."""

from __future__ import annotations

from pathlib import Path

from bot.app import Runtime
from sandbox.runner import Sandbox
from tests.reliability.test_restart import restart

from .helpers import advance, roots, thread_texts, wait_button, wait_text, wait_thread
from .test_ecs_native import at_the_pause, deployments, running_image


async def test_a_restarted_bot_opens_the_pause_it_was_waiting_at(
    sandbox: Sandbox, bot: Runtime, tmp_path: Path, transport: str
) -> None:
    box = sandbox
    root = await at_the_pause(box)
    await bot.stop()  # the process goes away while the deployment waits for a person
    advance(120)
    second = await restart(box, tmp_path, transport)
    try:
        root = await wait_button(box, root, "deploy_gate")
        await box.slack.click(root, "deploy_gate", user="U0BOB")
        await wait_thread(box, root, "started shifting traffic")
        advance(10)
        advance(400)
        await wait_thread(box, root, "*shop v1.2.3* is live in production")
        await wait_text(box, root, "Deployed")
        assert sum("is live" in t for t in thread_texts(box, root)) == 1
        assert sum("Production traffic stays on blue" in t for t in thread_texts(box, root)) == 1  # told once
        assert deployments(box, "shop")[0]["status"] == "SUCCESSFUL"
    finally:
        await second.tasks.drain()
        await second.stop()


def update_service_elsewhere(box: Sandbox, service: str, tag: str) -> str:
    """What a CI job does without deploybot: a revision with the new tag, then UpdateService."""
    ecs = box.aws.client("ecs")
    svc = ecs.describe_services(cluster="apps", services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    container = td["containerDefinitions"][0]
    container["image"] = container["image"].split("@")[0].rsplit(":", 1)[0] + f":{tag}"
    keep = ("family", "containerDefinitions", "executionRoleArn", "networkMode", "memory", "requiresCompatibilities")
    new = ecs.register_task_definition(**{k: td[k] for k in keep if k in td})["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="apps", service=service, taskDefinition=new)
    return str(new)


async def test_an_update_service_elsewhere_gets_a_live_thread(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    revision = update_service_elsewhere(box, "api", "v1.2.3")
    found = await box.slack.wait_for(lambda: roots(box), what="a thread for the outside deployment")
    root = found[0]
    note = await wait_thread(box, root, "was started outside deploybot")
    assert f"task definition {revision.rsplit('/', 1)[-1]}" in note and "UpdateService" in note
    assert "Started outside deploybot" in str(root.blocks) and "Deploy api v1.2.3 to production" in str(root.blocks)
    advance(3)
    advance(60)
    await wait_thread(box, root, "10% of traffic on green")
    advance(300)
    advance(200)
    await wait_thread(box, root, "*api v1.2.3* is live in production")
    assert running_image(box, "api").endswith(":v1.2.3")  # what the other tool deployed, by tag
