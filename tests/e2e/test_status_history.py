"""/deploy status and /deploy history: what runs where, and what happened, including deployments made
outside deploybot (a CI job calling CodeDeploy, as the current release workflow does)."""

from __future__ import annotations

from sandbox.runner import Sandbox

from .helpers import advance, request_and_wait_root, roots, wait_thread


async def ask(box: Sandbox, text: str, needle: str) -> str:
    await box.slack.slash(text, user="U0CAROL")
    found: list[str] = await box.slack.wait_for(
        lambda: [t for t in box.slack.ephemerals("U0CAROL") if needle in t], what=needle
    )
    return found[-1]


async def test_status_and_history(sandbox: Sandbox, bot: object) -> None:
    root = await request_and_wait_root(sandbox, "web2 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    created = await wait_thread(sandbox, root, "created with")
    ours = created.split("|")[1].split(">")[0]
    advance(3)
    advance(2000)
    await wait_thread(sandbox, root, "is live")

    # A CI job redeploys the same revision with CodeDeploy directly.
    cd = sandbox.aws.client("codedeploy")
    summary = cd.get_deployment(deploymentId=ours)["deploymentInfo"]["revision"]
    revision = cd.get_application_revision(applicationName="AppECS-apps-web2", revision=summary)["revision"]
    cd.create_deployment(
        applicationName="AppECS-apps-web2",
        deploymentGroupName="DgpECS-apps-web2",
        revision=revision,
        description="release workflow run 42",
    )["deploymentId"]
    # deploybot notices it and gives it a thread of its own, then follows it to its end.
    seen = await sandbox.slack.wait_for(
        lambda: [m for m in roots(sandbox) if "outside deploybot" in str(m.blocks)], what="outside thread"
    )
    advance(2000)
    await wait_thread(sandbox, seen[0], "is live")

    pending = await request_and_wait_root(sandbox, "web1 v1.2.3")  # in flight: waiting for approval

    status = await ask(sandbox, "status", "What runs where")
    web2 = next(line for line in status.splitlines() if line.startswith("• *web2 (production)*"))
    assert "`v1.2.3`" in web2 and "started outside deploybot (user: release workflow run 42)" in web2
    staging = next(line for line in status.splitlines() if line.startswith("• *web2 (staging)*"))
    assert "`v1.2.2`" in staging  # untouched
    assert "(`v1.2.2`)" not in staging  # running by tag: no digest to show, and the tag is not said twice
    assert "(`sha256:" in web2  # pinned by deploybot's digest
    web1 = status.split("• *web1*")[1]
    assert "`v1.2.2`" in web1.splitlines()[0] and "Waiting for approval" in web1
    assert web1.count("Waiting for approval") == 1  # the pending request, listed once
    assert pending.ts.replace(".", "") in web1  # a link to the request's thread

    history = await ask(sandbox, "history web2", "History of `web2 (production)`")
    lines = history.splitlines()[1:]
    assert "started outside deploybot (user: release workflow run 42)" in lines[0] and "Deployed" in lines[0]
    assert "|v1.2.3>" in lines[1] and "approved by <@U0BOB>" in lines[1] and "Deployed" in lines[1]
    assert len(lines) == 2

    empty = await ask(sandbox, "history web2 staging", "No deployments")
    assert "web2 (staging)" in empty
