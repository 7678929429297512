"""A model of ecspresso's deploy of an ECS-native (blue/green, linear, canary) service, run as a process
of its own: `python -m bench.ecspresso_model --cluster apps --service S --image IMAGE`.

ecspresso is a Go binary no package registry here serves, so this does what it is documented to do
(kayac/ecspresso: register the task definition with the new image, UpdateService, then poll the service
deployment every 10 s until it leaves IN_PROGRESS), no more, and exits 0 on SUCCESSFUL, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import boto3

POLL = 10.0  # seconds: ecspresso's wait for a service deployment
RUNNING = ("PENDING", "IN_PROGRESS")


def deploy(ecs: Any, cluster: str, service: str, image: str) -> str:
    current = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=current["taskDefinition"])["taskDefinition"]
    containers = [{**c, "image": image} for c in td["containerDefinitions"]]
    keep = ("family", "executionRoleArn", "networkMode", "requiresCompatibilities", "memory", "cpu")
    new = ecs.register_task_definition(containerDefinitions=containers, **{k: td[k] for k in keep if k in td})[
        "taskDefinition"
    ]["taskDefinitionArn"]
    ecs.update_service(cluster=cluster, service=service, taskDefinition=new)
    return str(new)


def wait(ecs: Any, cluster: str, service: str) -> str:
    arn = None
    while True:
        time.sleep(POLL)
        if arn is None:
            listed = ecs.list_service_deployments(cluster=cluster, service=service)["serviceDeployments"]
            arn = max(listed, key=lambda d: d["createdAt"])["serviceDeploymentArn"] if listed else None
            if arn is None:
                continue
        status = str(ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]["status"])
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} service deployment {arn}: {status}\n")
        if status not in RUNNING:
            return status


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--image", required=True)
    args = parser.parse_args()
    ecs = boto3.client("ecs")
    deploy(ecs, args.cluster, args.service, args.image)
    status = wait(ecs, args.cluster, args.service)
    sys.stdout.write("Service is stable now. Completed!\n" if status == "SUCCESSFUL" else f"deploy failed: {status}\n")
    return 0 if status == "SUCCESSFUL" else 1


if __name__ == "__main__":
    sys.exit(main())
