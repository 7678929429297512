"""Crash windows around ECS's own start (RegisterTaskDefinition, then UpdateService): a replica that died
between the two, or after both, leaves a STARTING record; the next one finds the service deployment by
its target revision's task definition and adopts it, or says truthfully that nothing was deployed. An
UpdateService whose answer was lost after it took effect is adopted, and makes one service deployment."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Runtime
from bot.domain.changes import Approved, Registered
from bot.domain.models import Deployment, State
from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import Sandbox
from sandbox.slack.workspace import Message
from tests.e2e.helpers import advance, request_and_wait_root, wait_text, wait_thread


async def pending(sandbox: Sandbox, bot: Runtime) -> tuple[Deployment, Message]:
    root = await request_and_wait_root(sandbox, "shop v1.2.3")
    await bot.tasks.drain()
    request_id = root.blocks[-1]["elements"][0]["text"].split("`")[1]
    record = await bot.store.get(request_id)
    assert record is not None
    return record, root


async def registered(bot: Runtime, record: Deployment) -> Deployment:
    """The revision registered and recorded, as a replica does just before UpdateService."""
    app = bot.catalog.get("shop")
    assert app is not None
    revision = await bot.engine.register(app, record)
    change = Registered(task_definition_arn=revision.task_definition, previous_task_definition=revision.previous)
    return await bot.store.save(change.apply(record, record.updated_at))


async def strand(bot: Runtime, record: Deployment) -> Deployment:
    """Record the approval as a replica would that then died before recording anything more."""
    old = bot.clock() - timedelta(minutes=10)
    return await bot.store.save(Approved(approver="U0BOB", approvals=["U0BOB"], approved_at=old).apply(record, old))


def service_deployments(sandbox: Sandbox) -> list[str]:
    listed = sandbox.aws.client("ecs").list_service_deployments(cluster="apps", service="shop")
    return [str(b["serviceDeploymentArn"]) for b in listed["serviceDeployments"]]


async def test_died_after_update_service_is_adopted(sandbox: Sandbox, bot: Runtime) -> None:
    record, root = await pending(sandbox, bot)
    record = await registered(bot, record)
    app = bot.catalog.get("shop")
    assert app is not None
    arn = (await bot.engine.start(app, record)).deployment_id
    await strand(bot, record)  # the service deployment exists before any watcher can look for it
    await bot.watcher.tick()
    await wait_thread(sandbox, root, arn.rsplit("/", 1)[-1])
    fresh = await bot.store.get(record.id)
    assert fresh is not None and fresh.state is State.IN_PROGRESS and fresh.deployment_id == arn
    assert service_deployments(sandbox) == [arn]  # adopted, not started again
    advance(3)
    await wait_thread(sandbox, root, "ECS started")


async def test_died_between_register_and_update_service_says_nothing_was_deployed(
    sandbox: Sandbox, bot: Runtime
) -> None:
    record, root = await pending(sandbox, bot)
    record = await registered(bot, record)  # a revision exists, but ECS was never asked to run it
    await strand(bot, record)
    await bot.watcher.tick()
    reply = await wait_thread(sandbox, root, "could not be started")
    assert "nothing was deployed" in reply
    await wait_text(sandbox, root, "Could not start")
    assert service_deployments(sandbox) == []
    assert [op for _, op in CONTROL.calls if op == "UpdateService"] == []
    again = await request_and_wait_root(sandbox, "shop v1.2.3")  # the app's lock was released
    assert again.ts != root.ts


async def test_an_update_service_whose_answer_was_lost_is_adopted_once(sandbox: Sandbox, bot: Runtime) -> None:
    root = await request_and_wait_root(sandbox, "shop v1.2.3")
    CONTROL.lost_answers["UpdateService"] = 1  # ECS takes the update, but its answer never arrives
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    created = await wait_thread(sandbox, root, "created with")
    assert len([op for _, op in CONTROL.calls if op == "UpdateService"]) >= 2  # botocore asked again
    made = service_deployments(sandbox)
    assert len(made) == 1 and made[0].rsplit("/", 1)[-1] in created  # one deployment, and the thread follows it
    advance(3)
    await wait_thread(sandbox, root, "ECS started")
    advance(60)
    await wait_thread(sandbox, root, "Production traffic stays on blue")  # it goes on to its pause as usual
