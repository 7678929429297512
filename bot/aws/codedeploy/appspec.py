"""The AppSpec of an ECS blue/green deployment, built from the live service as ecspresso builds it (no
AppSpec file to keep in sync): the new task definition, the load balancer's container and port, and the
service's network and capacity settings."""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_ecs.type_defs import LoadBalancerTypeDef, ServiceTypeDef, TaskDefinitionTypeDef


def container_port(service: ServiceTypeDef, task_definition: TaskDefinitionTypeDef | None, container: str) -> int:
    """The port the load balancer sends to: the service's, else the container's first mapping, else 80."""
    lb = _load_balancer(service, container)
    if lb is not None and lb.get("containerPort"):
        return int(lb.get("containerPort", 80))
    for definition in (task_definition or {}).get("containerDefinitions", []):
        if definition.get("name") == container and definition.get("portMappings"):
            return int(definition["portMappings"][0].get("containerPort", 80))
    return 80


def _load_balancer(service: ServiceTypeDef, container: str) -> LoadBalancerTypeDef | None:
    lbs = service.get("loadBalancers") or []
    return next((x for x in lbs if x.get("containerName") == container), lbs[0] if lbs else None)


def build(service: ServiceTypeDef, task_definition_arn: str, container: str, port: int) -> dict[str, Any]:
    lb = _load_balancer(service, container)
    name = (lb.get("containerName") if lb else None) or container
    props: dict[str, Any] = {
        "TaskDefinition": task_definition_arn,
        "LoadBalancerInfo": {"ContainerName": name, "ContainerPort": port},
    }
    if service.get("platformVersion"):
        props["PlatformVersion"] = service.get("platformVersion")
    awsvpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    if awsvpc:
        net: dict[str, Any] = {"Subnets": awsvpc.get("subnets", []), "SecurityGroups": awsvpc.get("securityGroups", [])}
        if awsvpc.get("assignPublicIp"):
            net["AssignPublicIp"] = awsvpc.get("assignPublicIp")
        props["NetworkConfiguration"] = {"AwsvpcConfiguration": net}
    strategy = service.get("capacityProviderStrategy") or []
    if strategy:
        props["CapacityProviderStrategy"] = [
            {"Base": s.get("base", 0), "CapacityProvider": s.get("capacityProvider"), "Weight": s.get("weight", 1)}
            for s in strategy
        ]
    return {"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": props}}]}


def revision(spec: dict[str, Any]) -> tuple[str, str]:
    """(content, sha256) of the AppSpec as CreateDeployment takes it."""
    content = json.dumps(spec, sort_keys=True)
    return content, hashlib.sha256(content.encode()).hexdigest()


def task_definition_of(content: str) -> str | None:
    """The task definition an AppSpec (JSON or YAML) deploys."""
    found = re.search(r"""["']?TaskDefinition["']?\s*:\s*["']?([^"',\s}]+)""", content)
    return found.group(1) if found else None
