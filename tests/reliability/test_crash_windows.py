"""Crash windows around CreateDeployment: a replica that died after approval (before, or after,
calling CodeDeploy) leaves a STARTING record; the next one adopts the deployment by the request id in
its description, or says truthfully that nothing was deployed. A timed-out CreateDeployment whose
retry meets our own deployment adopts it instead of reporting a failure that did not happen."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Runtime
from bot.domain.lifecycle import transition
from bot.domain.models import Deployment, State
from bot.keys import marker
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


async def strand(bot: Runtime, record: Deployment) -> None:
    """Record the approval as a replica would that then died before recording anything more."""
    old = bot.deployer.now() - timedelta(minutes=10)
    await bot.store.save(transition(record, State.STARTING, old, approver="U0BOB", approved_at=old))


async def test_died_after_create_deployment_is_adopted(sandbox: Sandbox, bot: Runtime) -> None:
    record, root = await pending_request(sandbox, bot)
    app = bot.catalog.get("web1")
    assert app is not None
    service = await bot.aws.service_state(app.cluster, app.service, app.container)
    td = await bot.aws.register_image(service.task_definition_arn, app.container, record.image.pinned)
    dep = await bot.aws.create_deployment(
        app.codedeploy_application, app.deployment_group, service, td, f"{marker(record.id)} web1 v1.2.3"
    )
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


async def test_timed_out_create_deployment_is_adopted_not_reported_failed(sandbox: Sandbox, bot: Runtime) -> None:
    root = await request_and_wait_root(sandbox)
    original = bot.aws.create_deployment

    async def create_then_time_out(*args: object, **kwargs: object) -> str:
        await original(*args, **kwargs)  # type: ignore[arg-type]
        from bot.domain.errors import UpstreamError

        raise UpstreamError("AWS could not be reached: Read timeout on endpoint URL")

    bot.aws.create_deployment = create_then_time_out  # type: ignore[method-assign]
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    assert [op for _, op in CONTROL.calls if op == "CreateDeployment"] == ["CreateDeployment"]
    advance(3)
    await wait_thread(sandbox, root, "CodeDeploy started")
