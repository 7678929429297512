"""Environments: web2 has production (approval needed, the default) and staging (no approval, its own
ECS service and CodeDeploy group). Locks are per app and environment."""

from __future__ import annotations

from sandbox.runner import Sandbox

from .helpers import advance, request_and_wait_root, roots, wait_text, wait_thread


async def test_staging_deploys_without_approval_while_production_waits(sandbox: Sandbox, bot: object) -> None:
    staging = await request_and_wait_root(sandbox, "web2 v1.2.3 to staging")
    assert "Deploy web2 v1.2.3 to staging" in str(staging.blocks)
    created = await wait_thread(sandbox, staging, "created with")
    assert "CodeDeployDefault.ECSAllAtOnce" in created  # staging's own deployment group
    await wait_text(sandbox, staging, "not needed in staging")
    told = await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0ALICE") if "no approval needed" in t], what="ack"
    )
    assert "web2 (staging)" in told[0]
    cd = sandbox.aws.client("codedeploy")
    assert cd.list_deployments(
        applicationName="AppECS-apps-web2-staging", deploymentGroupName="DgpECS-apps-web2-staging"
    )["deployments"]
    assert not cd.list_deployments(applicationName="AppECS-apps-web2", deploymentGroupName="DgpECS-apps-web2")[
        "deployments"
    ]

    # Staging is busy, production is not: a production request waits for its approval as usual.
    production = await request_and_wait_root(sandbox, "web2 v1.2.3")
    assert "Deploy web2 v1.2.3 to production" in str(production.blocks)
    assert "deploy_approve" in str(production.blocks)
    await sandbox.slack.slash("web2 v1.2.3 to staging")
    await sandbox.slack.wait_for(
        lambda: [t for t in sandbox.slack.ephemerals("U0ALICE") if "`web2 (staging)` is already being deployed" in t],
        what="busy",
    )
    advance(3)
    advance(600)
    live = await wait_thread(sandbox, staging, "is live in staging")
    assert "*web2 v1.2.3* is live in staging" in live
    staging_svc = sandbox.aws.client("ecs").describe_services(cluster="apps", services=["web2-staging"])["services"][0]
    prod_svc = sandbox.aws.client("ecs").describe_services(cluster="apps", services=["web2"])["services"][0]
    assert staging_svc["taskDefinition"] != prod_svc["taskDefinition"]  # only staging changed


async def test_environment_mistakes_are_explained(sandbox: Sandbox, bot: object) -> None:
    cases = {
        "web2 v1.2.3 to qa": "`web2` has no environment `qa`. Its environments: `production`, `staging`.",
        "web1 v1.2.3 to staging": "`web1` has no environment `staging`. Its environments: `production`.",
        "web2 v1.2.3 to": "at most one environment",
        "web2 v1.2.3 to staging now": "at most one environment",
        "hepl": "Did you mean `help`?",
        "audti web1": "Did you mean `audit`?",
    }
    for text, expected in cases.items():
        result = await sandbox.slack.slash(text)
        assert result.ok and expected in result.text, (text, result.text)
    assert roots(sandbox) == []
    result = await sandbox.slack.slash("help")
    assert "`web2` (production, staging; default production)" in str(result.body)
