"""Seed data for ECS's own deployments, through the public API as a platform team would create them:

- ``shop``: BLUE_GREEN with test traffic, a smoke-test Lambda hook after it and a pause hook before
  production traffic (60 minutes, then a rollback), a 5-minute bake; its staging ``shop-staging`` a
  rolling update with the circuit breaker and rollback;
- ``api``: CANARY, 10% for 5 minutes, the same smoke test, a 2-minute bake; its staging ``api-staging``
  LINEAR (25% a minute) in another account and region, reached through a role deploybot assumes there.

Every image tag ending in ``-broken`` fails: its smoke test does (blue/green, linear, canary), and its tasks
exit with code 1 (rolling).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .moto_ext import CONTROL
from .seed import ACCOUNT, BROKEN, CLUSTER, REGION, RUNNING, TAGS, _exists, _has_tag, manifest_for, push_image
from .simulation import HookFailure

OTHER_ACCOUNT = "210987654321"
OTHER_REGION = "eu-west-1"


def role_in(account: str) -> str:
    """The role deploybot assumes in a second account (the sandbox accepts any)."""
    return f"arn:aws:iam::{account}:role/deploybot-deployer"


def smoke(account: str, region: str) -> dict[str, Any]:
    return {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": f"arn:aws:lambda:{region}:{account}:function:smoke-test",
        "roleArn": f"arn:aws:iam::{account}:role/ecsLifecycleHooks",
        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
    }


PAUSE = {
    "targetType": "PAUSE",
    "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
    "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"},
}


@dataclass(frozen=True)
class EcsService:
    name: str
    repository: str
    config: dict[str, Any]
    account: str = ACCOUNT
    region: str = REGION
    blue_green: bool = field(default=True)

    @property
    def registry(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"


ECS_SERVICES = (
    EcsService(
        "shop",
        "shop",
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5, "lifecycleHooks": [smoke(ACCOUNT, REGION), PAUSE]},
    ),
    EcsService(
        "shop-staging",
        "shop",
        {
            "strategy": "ROLLING",
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
        blue_green=False,
    ),
    EcsService(
        "api",
        "api",
        {
            "strategy": "CANARY",
            "canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 5},
            "bakeTimeInMinutes": 2,
            "lifecycleHooks": [smoke(ACCOUNT, REGION)],
        },
    ),
    EcsService(
        "api-staging",
        "api",
        {
            "strategy": "LINEAR",
            "linearConfiguration": {"stepPercent": 25, "stepBakeTimeInMinutes": 1},
            "bakeTimeInMinutes": 1,
            "lifecycleHooks": [smoke(OTHER_ACCOUNT, OTHER_REGION)],
        },
        account=OTHER_ACCOUNT,
        region=OTHER_REGION,
    ),
)

Clients = Callable[[str, str, str], Any]  # (service, region, account) -> a boto3 client


def seed_ecs(clients: Clients) -> None:
    for service in ECS_SERVICES:
        seed_service(clients, service)


def seed_service(clients: Clients, service: EcsService) -> None:
    """One service as a platform team creates it (its repository, images and cluster too, if missing)."""
    ecr, ecs = clients("ecr", service.region, service.account), clients("ecs", service.region, service.account)
    if not _exists(ecr.describe_repositories, repositoryNames=[service.repository]):
        ecr.create_repository(repositoryName=service.repository)
    digests = {tag: push_image(ecr, service.repository, tag) for tag in TAGS}
    if not _has_tag(ecr, service.repository, "latest"):
        latest = manifest_for(service.repository, "v1.2.3")
        ecr.put_image(repositoryName=service.repository, imageTag="latest", imageManifest=latest)
    CONTROL.image_failures[digests[BROKEN]] = HookFailure(event="AfterAllowTestTraffic")
    if not ecs.describe_clusters(clusters=[CLUSTER])["clusters"]:
        ecs.create_cluster(clusterName=CLUSTER)
    existing = ecs.describe_services(cluster=CLUSTER, services=[service.name])["services"]
    if existing and existing[0]["status"] == "ACTIVE":
        return
    td = ecs.register_task_definition(**_task_definition(service))["taskDefinition"]
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=service.name,
        taskDefinition=td["taskDefinitionArn"],
        desiredCount=2,
        deploymentController={"type": "ECS"},
        deploymentConfiguration=service.config,
        launchType="EC2",
        loadBalancers=[_load_balancer(service)],
    )


def _load_balancer(service: EcsService) -> dict[str, Any]:
    elb = f"arn:aws:elasticloadbalancing:{service.region}:{service.account}"
    lb: dict[str, Any] = {
        "targetGroupArn": f"{elb}:targetgroup/{service.name}-blue/0123456789abcdef",
        "containerName": service.repository,
        "containerPort": 3000,
    }
    if service.blue_green:
        lb["advancedConfiguration"] = {
            "alternateTargetGroupArn": f"{elb}:targetgroup/{service.name}-green/fedcba9876543210",
            "productionListenerRule": f"{elb}:listener-rule/app/{service.name}/1/80/1",
            "testListenerRule": f"{elb}:listener-rule/app/{service.name}/1/8080/1",
            "roleArn": f"arn:aws:iam::{service.account}:role/ecsInfrastructureRoleForLoadBalancers",
        }
    return lb


def _task_definition(service: EcsService) -> dict[str, Any]:
    return {
        "family": service.name,
        "containerDefinitions": [
            {
                "name": service.repository,
                "image": f"{service.registry}/{service.repository}:{RUNNING}",
                "cpu": 0,
                "memoryReservation": 256,
                "portMappings": [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}],
                "essential": True,
            }
        ],
        "executionRoleArn": f"arn:aws:iam::{service.account}:role/ecsTaskExecutionRole",
        "memory": "512",
        "networkMode": "bridge",
        "requiresCompatibilities": ["EC2"],
        "tags": [{"key": "team", "value": service.repository}],
    }
