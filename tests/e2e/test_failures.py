"""Failures told truthfully: a failing hook rolls back and alerts; Roll back mid-shift; faults in
Slack and AWS lose nothing."""

from __future__ import annotations

from structlog.testing import capture_logs

from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.operations import forget_deployment
from sandbox.runner import Sandbox

from .helpers import advance, buttons, request_and_wait_root, thread_texts, wait_button, wait_text, wait_thread


def running_task_definition(box: Sandbox) -> str:
    svc = box.aws.client("ecs").describe_services(cluster="apps", services=["web1"])["services"][0]
    return str(svc["taskDefinition"])


def alerts(box: Sandbox) -> list[str]:
    return [m.text + str(m.blocks) for m in box.slack.messages("C0ALERTS")]


async def test_failed_hook_rolls_back_and_alerts(sandbox: Sandbox, bot: object) -> None:
    with capture_logs() as logs:
        await failed_hook_rolls_back_and_alerts(sandbox)
    # The log tells the same story as the thread: no line calls this deployment a success.
    (finished,) = [e for e in logs if e["event"] == "deployment_progressed" and e["milestone"] == "finished"]
    assert finished["state"] == "failed"
    assert not [e for e in logs if "succeeded" in (str(e.get("state")), str(e.get("outcome")), str(e.get("status")))]


async def failed_hook_rolls_back_and_alerts(sandbox: Sandbox) -> None:
    box = sandbox
    before = running_task_definition(box)
    root = await request_and_wait_root(box, "web1 v1.2.4-broken")
    await box.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(box, root, "created with")
    advance(3)
    advance(60)
    failed = await wait_thread(box, root, "`AfterAllowTestTraffic` failed")
    assert "ScriptFailed" in failed and "502" in failed  # diagnostics and the log tail
    told = await wait_thread(box, root, "Rolling back")
    assert ":rewind: Rolling back (`d-" in told and "`AfterAllowTestTraffic` failed (above)" in told
    advance(30)
    outcome = await wait_thread(box, root, "*web1 v1.2.4-broken* failed after")
    # The hook's words once before the outcome (the rollback line points at them) and once in it.
    hook = "smoke test returned HTTP 502 from /healthz"
    assert sum(t.count(hook) for t in thread_texts(box, root) if t != outcome) == 1 and outcome.count(hook) == 1
    assert "AfterAllowTestTraffic" in outcome and "Traffic is back on `v1.2.2`" in outcome
    # The green tasks' own words (DescribeTasks on the green task set): why they stopped, exit codes.
    assert "Stopped green tasks:\n• 2 tasks: Essential container in task exited (web1 exited with code 1)" in outcome
    text = await wait_text(box, root, "Failed")
    assert "HOOK_EXECUTION_FAILURE" not in text or "Reason" in text
    assert buttons(box.slack.ws.find(root.channel, root.ts)) == []
    alert = await box.slack.wait_for(lambda: alerts(box), what="alert")
    assert "v1.2.4-broken" in alert[0] and "open the thread" in alert[0]
    assert alert[0].count(hook) == 1  # the outcome says it; no second "Failed at" section repeats it
    assert alert[0].startswith("<!subteam^S0APPROVERS> Deployment of web1")  # the on-call group is paged
    assert "Requested by <@U0ALICE>" in alert[0] and "|CodeDeploy console>" in alert[0]
    assert running_task_definition(box) == before  # ECS tells the truth: blue serves again


async def test_roll_back_mid_shift(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    before = running_task_definition(box)
    root = await request_and_wait_root(box)
    await box.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(box, root, "created with")
    advance(3)
    advance(60)
    root = await wait_button(box, root, "deploy_gate")
    await box.slack.click(root, "deploy_gate", user="U0BOB")
    await wait_thread(box, root, "started shifting traffic")  # ContinueDeployment has been called
    advance(5)
    await wait_thread(box, root, "10% of traffic on green")
    root = await wait_button(box, root, "deploy_rollback")
    await box.slack.click(root, "deploy_rollback", user="U0ALICE")  # the requester may roll back
    await wait_thread(box, root, "asked for a rollback")
    advance(30)
    outcome = await wait_thread(box, root, "was stopped")
    assert "stopped by a user" in outcome
    await wait_text(box, root, "Stopped")
    await box.slack.wait_for(lambda: alerts(box), what="alert")
    assert running_task_definition(box) == before


async def test_slack_errors_on_update_lose_nothing(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    root = await request_and_wait_root(box, "web2 v1.2.3")  # web2: no ready gate, linear shift
    box.slack.faults["chat.update"].extend(["429", "500", "500", "500"])
    await box.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(box, root, "created with")
    advance(3)
    advance(60)
    advance(600)
    await wait_thread(box, root, "Blue stays up")
    advance(300)
    await wait_thread(box, root, "is live")
    await wait_text(box, root, "Deployed")
    failed = [c for c in box.slack.calls("chat.update") if not c.ok]
    assert [c.error for c in failed] == ["ratelimited", "internal_error", "internal_error", "internal_error"]


async def test_aws_throttling_is_retried(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    root = await request_and_wait_root(box, "web2 v1.2.3")
    CONTROL.throttles["BatchGetDeployments"] = 2
    CONTROL.throttles["GetDeploymentTarget"] = 1
    await box.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(box, root, "created with")
    advance(3)
    await wait_thread(box, root, "CodeDeploy started", timeout=20)
    assert CONTROL.throttles["BatchGetDeployments"] == 0
    advance(1000)
    await wait_thread(box, root, "is live", timeout=20)


async def test_a_deployment_codedeploy_forgot_is_reported_unknown_and_frees_the_app(
    sandbox: Sandbox, bot: object
) -> None:
    box = sandbox
    root = await request_and_wait_root(box, "web1 v1.2.3")
    await box.slack.click(root, "deploy_approve", user="U0BOB")
    created = await wait_thread(box, root, "created with")
    deployment_id = created.split("|")[1].split(">")[0]
    advance(3)
    await wait_thread(box, root, "CodeDeploy started")
    assert forget_deployment(deployment_id)  # gone from CodeDeploy (another account, a wiped sandbox)

    outcome = await wait_thread(box, root, "outcome unknown")
    assert deployment_id in outcome and "ECS console" in outcome
    assert "<!" not in outcome
    alert = await box.slack.wait_for(lambda: alerts(box), what="alert")
    assert "outcome unknown" in alert[0]
    await wait_text(box, root, "Failed")
    again = await request_and_wait_root(box, "web1 v1.2.3")  # the app is free again
    assert again.ts != root.ts
