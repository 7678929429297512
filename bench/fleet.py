"""A fleet of small services on the sandbox's AWS, and the catalog that names them.

Runs inside the sandbox process (through boto3 against its local endpoint). Every fleet service
shares one ECR repository, `fleet`, and one pair of target groups, so seeding a thousand of them
takes seconds; each still has its own task definition family, CodeDeploy application and group,
shaped as `aws ecs deploy` expects (AppECS-/DgpECS- names, ready and termination waits set).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sandbox.aws.seed import ACCOUNT, CLUSTER, REGION, push_image

REPOSITORY = "fleet"
RUNNING, NEXT = "v1.0.0", "v1.0.1"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


def name(i: int) -> str:
    return f"fleet-{i:04d}"


def task_definition(service: str, tag: str) -> dict[str, Any]:
    return {
        "family": service,
        "containerDefinitions": [
            {
                "name": REPOSITORY,
                "image": f"{REGISTRY}/{REPOSITORY}:{tag}",
                "memoryReservation": 128,
                "portMappings": [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}],
                "essential": True,
            }
        ],
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
        "memory": "256",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["EC2"],
    }


def appspec(task_definition: str) -> str:
    """The AppSpec `aws ecs deploy` sends for a fleet service (it fills in the task definition itself)."""
    return json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": task_definition,
                            "LoadBalancerInfo": {"ContainerName": REPOSITORY, "ContainerPort": 3000},
                        },
                    }
                }
            ],
        }
    )


def first_revision(service: str) -> str:
    """The task definition a fleet service was seeded with."""
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{service}:1"


# Custom deployment configurations the benchmarks use beside the predefined ones: the predefined canary and
# linear configurations take 5 to 27 minutes to move all traffic, too long to run thirty of each.
CUSTOM_CONFIGS: dict[str, dict[str, Any]] = {
    "Canary10Percent1Minute": {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 1},
    },
    "Linear34PercentEvery1Minute": {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": 34, "linearInterval": 1},
    },
}


def seed_fleet(
    clients: Any,
    count: int,
    termination_minutes: Sequence[int],
    configs: Sequence[str] = ("CodeDeployDefault.ECSAllAtOnce",),
    ready_minutes: Sequence[int | None] = (None,),
) -> list[str]:
    """``count`` services; service i waits ``termination_minutes[i % len]`` before blue is terminated,
    shifts traffic by ``configs[i % len]``, and (``ready_minutes[i % len]`` not None) waits at Ready that
    many minutes before its deployment is stopped."""
    ec2, elb, ecr, ecs, cd = (clients(s) for s in ("ec2", "elbv2", "ecr", "ecs", "codedeploy"))
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["deploybot-sandbox"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web"]}])["SecurityGroups"]
    network = {"subnets": subnets, "securityGroups": [groups[0]["GroupId"]], "assignPublicIp": "DISABLED"}
    ecr.create_repository(repositoryName=REPOSITORY)
    for tag in (RUNNING, NEXT):
        push_image(ecr, REPOSITORY, tag)
    blue = elb.create_target_group(Name="fleet-blue", Protocol="HTTP", Port=3000, VpcId=vpc, TargetType="ip")
    elb.create_target_group(Name="fleet-green", Protocol="HTTP", Port=3000, VpcId=vpc, TargetType="ip")
    blue_arn = blue["TargetGroups"][0]["TargetGroupArn"]
    for config in dict.fromkeys(c for c in configs if c in CUSTOM_CONFIGS):
        cd.create_deployment_config(
            deploymentConfigName=config, computePlatform="ECS", trafficRoutingConfig=CUSTOM_CONFIGS[config]
        )
    lb = [{"targetGroupArn": blue_arn, "containerName": REPOSITORY, "containerPort": 3000}]
    services = []
    for i in range(count):
        svc = name(i)
        td = ecs.register_task_definition(**task_definition(svc, RUNNING))["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster=CLUSTER,
            serviceName=svc,
            taskDefinition=td,
            desiredCount=1,
            deploymentController={"type": "CODE_DEPLOY"},
            launchType="EC2",
            loadBalancers=lb,
            networkConfiguration={"awsvpcConfiguration": network},
        )  # the sandbox, as ECS does, gives a CODE_DEPLOY service its PRIMARY task set
        app, group = f"AppECS-{CLUSTER}-{svc}", f"DgpECS-{CLUSTER}-{svc}"
        cd.create_application(applicationName=app, computePlatform="ECS")
        ready = ready_minutes[i % len(ready_minutes)]
        ready_option = (
            {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0}
            if ready is None
            else {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": ready}
        )
        cd.create_deployment_group(
            applicationName=app,
            deploymentGroupName=group,
            deploymentConfigName=configs[i % len(configs)],
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ecsCodeDeployRole",
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            blueGreenDeploymentConfiguration={
                "deploymentReadyOption": ready_option,
                "terminateBlueInstancesOnDeploymentSuccess": {
                    "action": "TERMINATE",
                    "terminationWaitTimeInMinutes": termination_minutes[i % len(termination_minutes)],
                },
            },
            autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
            loadBalancerInfo={
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": "fleet-blue"}, {"name": "fleet-green"}],
                        "prodTrafficRoute": {
                            "listenerArns": [f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/fleet/1/80"]
                        },
                    }
                ]
            },
            ecsServices=[{"serviceName": svc, "clusterName": CLUSTER}],
        )
        services.append(svc)
    return services


def catalog_apps(services: Sequence[str], channels: Sequence[str] = ("C0DEPLOYS",)) -> dict[str, Any]:
    """One app per service; their threads go to ``channels`` in turn (as teams have their own)."""
    return {
        svc: {
            "cluster": CLUSTER,
            "service": svc,
            "container": REPOSITORY,
            "repository": REPOSITORY,
            "codedeploy_application": f"AppECS-{CLUSTER}-{svc}",
            "deployment_group": f"DgpECS-{CLUSTER}-{svc}",
            "deploy_channel": channels[i % len(channels)],
            "alert_channel": "C0ALERTS",
            "approvers": {"users": ["U0BOB"]},
        }
        for i, svc in enumerate(services)
    }


def write_catalog(path: Path, apps: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump({"apps": apps}, sort_keys=False))
