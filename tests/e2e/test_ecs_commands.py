"""The commands on ECS's own deployments, in both transports: status and history (merging
ListServiceDeployments), rollback to the last known-good release, and locks."""

from __future__ import annotations

from bot.app import Runtime
from sandbox.aws.seed import push_image
from sandbox.runner import Sandbox

from .helpers import DEPLOYS, advance, wait_thread
from .test_ecs_lifecycle import update_service_elsewhere
from .test_ecs_native import digest_of, running_image
from .test_ecs_rolling import staging_root
from .test_status_history import ask


async def deployed_to_staging(box: Sandbox, tag: str) -> None:
    root = await staging_root(box, tag)
    await wait_thread(box, root, "created with")
    advance(3)
    advance(60)
    await wait_thread(box, root, f"*shop {tag}* is live in staging")
    await box.slack.wait_for(lambda: "deploy_" not in str(box.slack.ws.find(root.channel, root.ts).blocks))


async def test_status_history_and_rollback_on_a_rolling_service(sandbox: Sandbox, bot: Runtime) -> None:
    box = sandbox
    await deployed_to_staging(box, "v1.2.3")
    good = running_image(box, "shop-staging")
    push_image(box.aws.client("ecr"), "shop", "v1.2.5", salt="new")
    await deployed_to_staging(box, "v1.2.5")

    status = await ask(box, "status shop staging", "What runs where")
    assert "• *shop (staging)*: `v1.2.5`" in status and "task definition `shop-staging:" in status

    update_service_elsewhere(box, "shop-staging", "v1.2.5")  # a CI job redeploys the same version
    outside = await box.slack.wait_for(
        lambda: [m for m in box.slack.messages(DEPLOYS) if "outside deploybot" in str(m.blocks)], what="thread"
    )
    advance(60)
    await wait_thread(box, outside[0], "is live in staging")
    history = await ask(box, "history shop staging", "History of `shop (staging)`")
    lines = history.splitlines()[1:]
    assert "outside deploybot (UpdateService: task definition shop-staging:" in lines[0]
    assert "|v1.2.5>" in lines[1] and "|v1.2.3>" in lines[2] and "Deployed" in lines[2]

    outside_record = next(r for r in await bot.store.history("shop", "staging", 5) if r.outside)
    assert running_image(box, "shop-staging").endswith("/shop:v1.2.5")  # deployed by tag, ...
    assert outside_record.image.digest == digest_of(box, "shop", "v1.2.5")  # ... recorded by the digest ECS ran

    await box.slack.slash("rollback shop staging", user="U0ALICE")
    root = (
        await box.slack.wait_for(
            lambda: [m for m in box.slack.messages(DEPLOYS) if "Roll back shop in staging to v1.2.3" in m.text],
            what="the rollback request",
        )
    )[0]
    await wait_thread(box, root, "created with")
    advance(3)
    advance(60)
    await wait_thread(box, root, "*shop v1.2.3* is live in staging")
    assert running_image(box, "shop-staging").split("@")[1] == good.split("@")[1]  # the same digest again


async def test_a_lock_holds_an_ecs_app(sandbox: Sandbox, bot: object) -> None:
    box = sandbox
    await box.slack.slash("lock shop staging load test", user="U0BOB")
    await box.slack.wait_for(
        lambda: [m for m in box.slack.messages(DEPLOYS) if "locked `shop (staging)`" in m.text], what="lock notice"
    )
    await box.slack.slash("shop v1.2.3 to staging", user="U0ALICE")
    refused = await box.slack.wait_for(
        lambda: [t for t in box.slack.ephemerals("U0ALICE") if "is locked by <@U0BOB>" in t], what="refusal"
    )
    assert "load test" in refused[0]
    assert [
        b
        for b in box.aws.client("ecs").list_service_deployments(cluster="apps", service="shop-staging")[
            "serviceDeployments"
        ]
    ] == []  # nothing reached ECS
