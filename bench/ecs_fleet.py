"""A fleet of ECS services deployed by ECS itself (rolling updates, and native blue/green, linear and
canary), seeded in the sandbox through the public API the way ``sandbox.aws.seed_ecs`` seeds its own.

Rolling services run two tasks with the circuit breaker and its rollback; native ones mix the strategies
with and without a bake time, half of them with a smoke-test Lambda hook after test traffic, so a broken
image fails there, and the other half fail when the new tasks do not start (SCALE_UP).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sandbox.aws.seed import ACCOUNT, CLUSTER, REGION, TAGS
from sandbox.aws.seed_ecs import EcsService, seed_service, smoke

from .ecspresso_model import deploy

REPOSITORY = "efleet"
NEXT = TAGS[1]  # the version every benchmark deployment moves to (the services run TAGS[0])
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}:{NEXT}"
ROLLING = {
    "strategy": "ROLLING",
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
}
# Native strategies, cycled: (strategy, its own settings, bake minutes). A minute per step keeps thirty of
# each short enough to run.
NATIVE: tuple[tuple[str, dict[str, Any], int], ...] = (
    ("BLUE_GREEN", {}, 0),
    ("LINEAR", {"linearConfiguration": {"stepPercent": 50, "stepBakeTimeInMinutes": 1}}, 1),
    ("CANARY", {"canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 1}}, 0),
    ("BLUE_GREEN", {}, 1),
    ("LINEAR", {"linearConfiguration": {"stepPercent": 50, "stepBakeTimeInMinutes": 1}}, 0),
    ("CANARY", {"canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 1}}, 1),
)


def rolling_name(i: int) -> str:
    return f"roll-{i:04d}"


def native_name(i: int) -> str:
    return f"native-{i:04d}"


def native_config(i: int) -> dict[str, Any]:
    strategy, settings, bake = NATIVE[i % len(NATIVE)]
    # Every other service of a kind has the smoke test: (i // len) alternates within each strategy.
    hooks = [smoke(ACCOUNT, REGION)] if (i // len(NATIVE)) % 2 == 0 else []
    return {"strategy": strategy, **settings, "bakeTimeInMinutes": bake, "lifecycleHooks": hooks}


def seed_ecs_fleet(clients: Any, rolling: int, native: int) -> list[str]:
    """``rolling`` rolling services, then ``native`` native ones; their names."""

    def client(service: str, region: str = REGION, account: str = ACCOUNT) -> Any:
        return clients(service, region, account)

    specs = [EcsService(rolling_name(i), REPOSITORY, ROLLING, blue_green=False) for i in range(rolling)]
    specs += [EcsService(native_name(i), REPOSITORY, native_config(i)) for i in range(native)]
    for spec in specs:
        seed_service(client, spec)
    return [s.name for s in specs]


def update(ecs: Any, service: str) -> str:
    """A new revision of a service's task definition on ``IMAGE``, then UpdateService (as a CI job
    would, and as ecspresso does): the service deployment's ARN."""
    deploy(ecs, CLUSTER, service, IMAGE)
    listed = ecs.list_service_deployments(cluster=CLUSTER, service=service)["serviceDeployments"]
    return str(max(listed, key=lambda b: b["createdAt"])["serviceDeploymentArn"])


def catalog_apps(services: Sequence[str], channels: Sequence[str]) -> dict[str, Any]:
    """One app per service (the engine comes from the service's own configuration); their threads go
    to ``channels`` in turn."""
    return {
        svc: {
            "cluster": CLUSTER,
            "service": svc,
            "repository": REPOSITORY,
            "container": REPOSITORY,
            "deploy_channel": channels[i % len(channels)],
            "alert_channel": "C0ALERTS",
            "approvers": {"users": ["U0BOB"]},
        }
        for i, svc in enumerate(services)
    }
