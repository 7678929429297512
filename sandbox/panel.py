"""What the sandbox page shows of the local AWS: every seeded service, the version it runs, and its
deployments under way (CodeDeploy's with green's traffic weight, ECS's own with strategy, stage and the
production and test traffic weights)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .aws.moto_ext import CONTROL
from .aws.seed import CLUSTER, SERVICES, ServiceNames
from .aws.seed_ecs import ECS_SERVICES, EcsService

Clients = Callable[..., Any]  # LocalAws.client(service, region=, account=)
UNFINISHED = ["PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"]


def services(client: Clients) -> list[dict[str, Any]]:
    return [*(_codedeploy(client, name) for name in SERVICES), *(_ecs(client, spec) for spec in ECS_SERVICES)]


def _running(ecs: Any, ecr: Any, service: str, repository: str) -> tuple[dict[str, Any], str]:
    svc = ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    image = td["containerDefinitions"][0]["image"]
    version = image.rsplit(":", 1)[-1] if "@" not in image else _tag_of(ecr, repository, image)
    return svc, version


def _codedeploy(client: Clients, name: str) -> dict[str, Any]:
    names = ServiceNames(name)
    cd = client("codedeploy")
    svc, version = _running(client("ecs"), client("ecr"), name, names.repository)
    active = cd.list_deployments(
        applicationName=names.application,
        deploymentGroupName=names.group,
        includeOnlyStatuses=["Created", "InProgress", "Ready"],
    )["deployments"]
    deployments = []
    for dep_id in active:
        info = cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]
        weight = 0.0
        if info["status"] != "Created":
            target = cd.get_deployment_target(deploymentId=dep_id, targetId=f"{CLUSTER}:{name}")
            for task_set in target["deploymentTarget"]["ecsTarget"].get("taskSetsInfo", []):
                if task_set.get("taskSetLabel") == "Green":
                    weight = task_set["trafficWeight"]
        rollback = info.get("creator") == "codeDeployRollback"
        deployments.append({"id": dep_id, "status": info["status"], "weight": weight, "rollback": rollback})
    return {
        "name": name,
        "engine": "CodeDeploy",
        "strategy": cd.get_deployment_group(applicationName=names.application, deploymentGroupName=names.group)[
            "deploymentGroupInfo"
        ]["deploymentConfigName"],
        "version": version,
        "task_definition": svc["taskDefinition"].rsplit("/", 1)[-1],
        "deployments": deployments,
        "fail_next": name in CONTROL.fail_next,
        "alarm": name in CONTROL.alarms,
        "fail_label": "fail next at AfterAllowTestTraffic",
    }


def _ecs(client: Clients, spec: EcsService) -> dict[str, Any]:
    where = {"region": spec.region, "account": spec.account}
    ecs = client("ecs", **where)
    ecr = client("ecr", **where)
    svc, version = _running(ecs, ecr, spec.name, spec.repository)
    listed = ecs.list_service_deployments(cluster=CLUSTER, service=spec.name, status=UNFINISHED)["serviceDeployments"]
    arns = [b["serviceDeploymentArn"] for b in listed]
    found = ecs.describe_service_deployments(serviceDeploymentArns=arns)["serviceDeployments"] if arns else []
    deployments = []
    for info in found:
        target = info.get("targetServiceRevision", {})
        rolling = spec.config["strategy"] == "ROLLING"
        wanted = int(target.get("requestedTaskCount") or 0)
        share = 100.0 * int(target.get("runningTaskCount") or 0) / wanted if wanted else 0.0
        waiting = [h for h in info.get("lifecycleHookDetails", []) if h.get("status") == "AWAITING_ACTION"]
        deployments.append(
            {
                "id": info["serviceDeploymentArn"].rsplit("/", 1)[-1],
                "status": info["status"],
                "stage": info.get("lifecycleStage") or "",
                "paused": bool(waiting),
                "weight": share if rolling else float(target.get("requestedProductionTrafficWeight") or 0.0),
                "test_weight": None if rolling else target.get("requestedTestTrafficWeight"),
                "rollback": info["status"].startswith("ROLLBACK"),
            }
        )
    sources = [r["arn"] for info in found for r in info.get("sourceServiceRevisions", [])]
    if sources:  # the service already names the new revision; what serves is the one it replaces
        old = ecs.describe_service_revisions(serviceRevisionArns=sources[:1])["serviceRevisions"][0]
        td = ecs.describe_task_definition(taskDefinition=old["taskDefinition"])["taskDefinition"]
        image = td["containerDefinitions"][0]["image"]
        version = image.rsplit(":", 1)[-1] if "@" not in image else _tag_of(ecr, spec.repository, image)
    place = "" if spec.account == ECS_SERVICES[0].account else f" · account {spec.account} ({spec.region})"
    return {
        "name": spec.name,
        "engine": "ECS",
        "strategy": spec.config["strategy"] + place,
        "version": version,
        "task_definition": svc["taskDefinition"].rsplit("/", 1)[-1],
        "deployments": deployments,
        "fail_next": spec.name in CONTROL.fail_next,
        "alarm": None,  # no alarms on ECS's own deployments in the sandbox
        "fail_label": "fail next: its tasks exit" if spec.config["strategy"] == "ROLLING" else "fail next smoke test",
    }


def _tag_of(ecr: Any, repository: str, image: str) -> str:
    digest = image.split("@", 1)[1]
    details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])["imageDetails"]
    tags = [t for d in details for t in d.get("imageTags", []) if t != "latest"]
    return sorted(tags)[-1] if tags else digest[:19]
