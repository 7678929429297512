"""A CI job deploying outside deploybot, as `aws ecs deploy` does (a new revision, then CodeDeploy's
CreateDeployment) or as ecspresso does (a new revision, then UpdateService)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from sandbox.aws.seed import ACCOUNT, CLUSTER, REGION
from sandbox.runner import Sandbox

from .plan import Lane

KEEP = ("family", "containerDefinitions", "taskRoleArn", "executionRoleArn", "networkMode", "memory")
ACTIVE = ("Created", "Queued", "InProgress", "Baking", "Ready", "Stopping")


def _revision(ecs: Any, service: str, tag: str) -> str:
    svc = ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    container = td["containerDefinitions"][0]
    repository = container["image"].split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
    container["image"] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}:{tag}"
    kept = {k: td[k] for k in KEEP if k in td}
    registered = ecs.register_task_definition(
        **kept, requiresCompatibilities=td.get("requiresCompatibilities", ["EC2"])
    )
    return str(registered["taskDefinition"]["taskDefinitionArn"])


def deploy(box: Sandbox, lane: Lane, tag: str) -> str | None:
    """Deploy ``tag`` to the lane's service outside deploybot: the deployment's id (None: the service is busy)."""
    ecs = box.aws.client("ecs")
    try:
        if lane.engine == "ecs":
            svc = ecs.describe_services(cluster=CLUSTER, services=[lane.service])["services"][0]
            if any(d.get("rolloutState") == "IN_PROGRESS" for d in svc.get("deployments", [])):
                return None
            ecs.update_service(cluster=CLUSTER, service=lane.service, taskDefinition=_revision(ecs, lane.service, tag))
            found = ecs.describe_services(cluster=CLUSTER, services=[lane.service])["services"][0]
            return str(found["currentServiceDeployment"])
        appspec = {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": _revision(ecs, lane.service, tag),
                            "LoadBalancerInfo": {"ContainerName": lane.app, "ContainerPort": 3000},
                        },
                    }
                }
            ],
        }
        made = box.aws.client("codedeploy").create_deployment(
            applicationName=f"AppECS-{CLUSTER}-{lane.service}",
            deploymentGroupName=f"DgpECS-{CLUSTER}-{lane.service}",
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": json.dumps(appspec)}},
            description=f"release workflow: {lane.key} {tag}",
        )
        return str(made["deploymentId"])
    except ClientError:
        return None  # a deployment already in progress there (or a fault injected on the way): CI fails


def running(box: Sandbox, lane: Lane, deployment: str) -> bool:
    try:
        if lane.engine == "ecs":
            found = box.aws.client("ecs").describe_service_deployments(serviceDeploymentArns=[deployment])
            return any(
                d["status"] in ("PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
                for d in found["serviceDeployments"]
            )
        info = box.aws.client("codedeploy").get_deployment(deploymentId=deployment)["deploymentInfo"]
        return info["status"] in ACTIVE
    except ClientError:
        return True  # a fault on the way: ask again
