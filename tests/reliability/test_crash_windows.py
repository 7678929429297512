"""Crash windows around the engine's start: a replica that died after approval (before, or after, asking
CodeDeploy) leaves a STARTING record; the next one adopts the deployment by the request id CodeDeploy
keeps for it, or says truthfully that nothing was deployed. A CreateDeployment whose answer was lost
after it took effect, and whose retry meets our own deployment, is adopted instead of reported failed."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Runtime
from bot.domain.changes import Approved, Registered
from bot.domain.models import Deployment, State
from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import Sandbox
from sandbox.slack.workspace import Message
from tests.e2e.helpers import advance, request_and_wait_root, wait_text, wait_thread


async def pending_request(sandbox: Sandbox, bot: Runtime) -> tuple[Deployment, Message]:
    root = await request_and_wait_root(sandbox)
    await bot.tasks.drain()  # the request's task has saved the message timestamp
    request_id = root.blocks[-1]["elements"][0]["text"].split("`")[1]  # "request `r-…` · image …"
    record = await bot.store.get(request_id)
    assert record is not None
    return record, root


async def strand(bot: Runtime, record: Deployment) -> Deployment:
    """Record the approval as a replica would that then died before recording anything more."""
    old = bot.clock() - timedelta(minutes=10)
    return await bot.store.save(Approved(approver="U0BOB", approvals=["U0BOB"], approved_at=old).apply(record, old))


async def test_died_after_create_deployment_is_adopted(sandbox: Sandbox, bot: Runtime) -> None:
    record, root = await pending_request(sandbox, bot)
    app = bot.catalog.get("web1")
    assert app is not None
    revision = await bot.engine.register(app, record)
    registered = Registered(task_definition_arn=revision.task_definition, previous_task_definition=revision.previous)
    record = await bot.store.save(registered.apply(record, record.updated_at))
    dep = (await bot.engine.start(app, record)).deployment_id
    await strand(bot, record)  # the deployment exists before any watcher can look for it
    await bot.watcher.tick()
    await wait_thread(sandbox, root, dep)
    fresh = await bot.store.get(record.id)
    assert fresh is not None and fresh.state is State.IN_PROGRESS and fresh.deployment_id == dep
    advance(3)
    await wait_thread(sandbox, root, "CodeDeploy started")


async def test_died_before_create_deployment_says_nothing_was_deployed(sandbox: Sandbox, bot: Runtime) -> None:
    record, root = await pending_request(sandbox, bot)
    await strand(bot, record)
    await bot.watcher.tick()
    reply = await wait_thread(sandbox, root, "could not be started")
    assert "nothing was deployed" in reply
    await wait_text(sandbox, root, "Could not start")
    assert [op for _, op in CONTROL.calls if op == "CreateDeployment"] == []
    again = await request_and_wait_root(sandbox)  # the app's lock was released
    assert again.ts != root.ts


async def test_a_create_deployment_whose_answer_was_lost_is_adopted_not_reported_failed(
    sandbox: Sandbox, bot: Runtime
) -> None:
    root = await request_and_wait_root(sandbox)
    CONTROL.lost_answers["CreateDeployment"] = 1  # it deploys, but the answer never arrives; the retry is refused
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    created = await wait_thread(sandbox, root, "created with")
    calls = [op for _, op in CONTROL.calls if op == "CreateDeployment"]
    assert len(calls) >= 2  # botocore retried, and the retry met our own deployment
    cd = sandbox.aws.client("codedeploy")
    ids = cd.list_deployments(applicationName="AppECS-apps-web1", deploymentGroupName="DgpECS-apps-web1")["deployments"]
    assert len(ids) == 1 and ids[0] in created  # the one that was made is the one the thread follows
    advance(3)
    await wait_thread(sandbox, root, "CodeDeploy started")
