"""Seed data for the local AWS, shaped like the team's current release workflow.

Applied through the public API (boto3 against the local endpoint) and idempotently: running it twice
leaves one of everything. Two Next.js-style services, ``web1`` and ``web2``, on a CODE_DEPLOY
controller; ECR tags ``v1.2.2`` (running), ``v1.2.3``, ``latest`` and ``v1.2.4-broken`` (its smoke
test fails at AfterAllowTestTraffic).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .moto_ext import CONTROL
from .simulation import HookFailure

CLUSTER = "apps"
ACCOUNT = "123456789012"
REGION = "us-east-1"
SERVICES = ("web1", "web2", "web2-staging")  # web2-staging: web2's staging environment, same repository
RUNNING = "v1.2.2"
TAGS = ("v1.2.2", "v1.2.3", "v1.2.4-broken")
BROKEN = "v1.2.4-broken"
ALERT_QUEUE = "deploybot-codedeploy-events"


@dataclass(frozen=True)
class ServiceNames:
    service: str

    @property
    def application(self) -> str:
        return f"AppECS-{CLUSTER}-{self.service}"

    @property
    def group(self) -> str:
        return f"DgpECS-{CLUSTER}-{self.service}"

    @property
    def repository(self) -> str:
        return self.service.removesuffix("-staging")

    @property
    def registry(self) -> str:
        return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


def manifest_for(repository: str, tag: str, salt: str = "") -> str:
    """A realistic image manifest; its sha256 is the image digest ECR reports."""
    layer = hashlib.sha256(f"{repository}:{tag}:{salt}".encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": f"sha256:{hashlib.sha256(layer.encode()).hexdigest()}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 32654,
                    "digest": f"sha256:{layer}",
                }
            ],
        },
        sort_keys=True,
    )


def push_image(ecr: Any, repository: str, tag: str, salt: str = "") -> str:
    """Push (or re-push) a tag; returns the image digest."""
    manifest = manifest_for(repository, tag, salt)
    try:
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ImageAlreadyExistsException":
            raise
    # Ask ECR rather than hashing ourselves: moto digests the manifest as it stores it.
    detail = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"][0]
    return str(detail["imageDigest"])


def _exists(call: Any, *args: Any, **kwargs: Any) -> bool:
    try:
        call(*args, **kwargs)
    except ClientError:
        return False
    return True


def seed(clients: Any) -> None:
    ec2, elb, ecr, ecs, cd = (clients(s) for s in ("ec2", "elbv2", "ecr", "ecs", "codedeploy"))
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["deploybot-sandbox"]}])["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
        subnets = [
            s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
        ]
        groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web"]}])
        sg_id = groups["SecurityGroups"][0]["GroupId"]
    else:
        vpc_id = ec2.create_vpc(
            CidrBlock="10.20.0.0/16",
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "deploybot-sandbox"}]}],
        )["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
                "SubnetId"
            ]
            for i, az in ((1, "a"), (2, "b"))
        ]
        sg_id = ec2.create_security_group(GroupName="web", Description="web tasks", VpcId=vpc_id)["GroupId"]
    if not ecs.describe_clusters(clusters=[CLUSTER])["clusters"]:
        ecs.create_cluster(clusterName=CLUSTER)
    for service in SERVICES:
        _seed_service(ec2, elb, ecr, ecs, cd, ServiceNames(service), vpc_id, subnets, sg_id)
    _seed_events(clients)


def _target_group(elb: Any, name: str, vpc_id: str) -> str:
    try:
        return str(elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"])
    except ClientError:
        return str(
            elb.create_target_group(Name=name, Protocol="HTTP", Port=3000, VpcId=vpc_id, TargetType="ip")[
                "TargetGroups"
            ][0]["TargetGroupArn"]
        )


def _seed_service(
    ec2: Any, elb: Any, ecr: Any, ecs: Any, cd: Any, names: ServiceNames, vpc_id: str, subnets: list[str], sg_id: str
) -> None:
    svc = names.service
    if not _exists(ecr.describe_repositories, repositoryNames=[names.repository]):
        ecr.create_repository(repositoryName=names.repository)
    digests = {tag: push_image(ecr, names.repository, tag) for tag in TAGS}
    if not _has_tag(ecr, names.repository, "latest"):
        # The release workflow pushes every version as `latest` too.
        ecr.put_image(
            repositoryName=names.repository, imageTag="latest", imageManifest=manifest_for(names.repository, "v1.2.3")
        )
    CONTROL.image_failures[digests[BROKEN]] = HookFailure(event="AfterAllowTestTraffic")
    blue_tg = _target_group(elb, f"{svc}-blue", vpc_id)
    _target_group(elb, f"{svc}-green", vpc_id)
    existing = ecs.describe_services(cluster=CLUSTER, services=[svc])["services"]
    if not existing or existing[0]["status"] != "ACTIVE":
        td = ecs.register_task_definition(**task_definition(names, RUNNING))["taskDefinition"]
        ecs.create_service(
            cluster=CLUSTER,
            serviceName=svc,
            taskDefinition=td["taskDefinitionArn"],
            desiredCount=2,
            deploymentController={"type": "CODE_DEPLOY"},
            launchType="EC2",
            loadBalancers=[{"targetGroupArn": blue_tg, "containerName": names.repository, "containerPort": 3000}],
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg_id], "assignPublicIp": "DISABLED"}
            },
        )
    if names.application not in cd.list_applications()["applications"]:
        cd.create_application(applicationName=names.application, computePlatform="ECS")
    if names.group not in cd.list_deployment_groups(applicationName=names.application)["deploymentGroups"]:
        web1 = svc == "web1"
        config = {
            "web1": "CodeDeployDefault.ECSCanary10Percent5Minutes",
            "web2": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
        }.get(svc, "CodeDeployDefault.ECSAllAtOnce")
        cd.create_deployment_group(
            applicationName=names.application,
            deploymentGroupName=names.group,
            deploymentConfigName=config,
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ecsCodeDeployRole",
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            blueGreenDeploymentConfiguration={
                "deploymentReadyOption": (
                    {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60}
                    if web1
                    else {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0}
                ),
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 5},
            },
            autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]},
            alarmConfiguration={"enabled": True, "alarms": [{"name": f"{svc}-5xx"}]},
            loadBalancerInfo={
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": f"{svc}-blue"}, {"name": f"{svc}-green"}],
                        "prodTrafficRoute": {
                            "listenerArns": [f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/{svc}/1/80"]
                        },
                    }
                ]
            },
            ecsServices=[{"serviceName": svc, "clusterName": CLUSTER}],
        )


def _has_tag(ecr: Any, repository: str, tag: str) -> bool:
    return _exists(ecr.describe_images, repositoryName=repository, imageIds=[{"imageTag": tag}])


def task_definition(names: ServiceNames, tag: str) -> dict[str, Any]:
    """The release workflow's task definition, one per service."""
    svc = names.service
    return {
        "family": svc,
        "containerDefinitions": [
            {
                "name": names.repository,  # the app's container, the same in every environment
                "image": f"{names.registry}/{names.repository}:{tag}",
                "cpu": 0,
                "memoryReservation": 256,
                "portMappings": [{"name": "next-3000-tcp", "containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}],
                "essential": True,
                "environment": [{"name": "NODE_ENV", "value": "production"}],
                "mountPoints": [],
                "volumesFrom": [],
            }
        ],
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
        # moto 5.2.5 wants a memory figure for EC2 tasks even with memoryReservation; AWS accepts both.
        "memory": "512",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["EC2"],
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "tags": [{"key": "team", "value": "web"}],
    }


def _seed_events(clients: Any) -> None:
    sqs, events = clients("sqs"), clients("events")
    queue_url = sqs.create_queue(QueueName=ALERT_QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="deploybot-codedeploy",
        EventPattern=json.dumps(
            {
                "source": ["aws.codedeploy", "aws.ecs"],
                "detail-type": [
                    "CodeDeploy Deployment State-change Notification",
                    "ECS Deployment State Change",
                    "ECS Hook State Change",
                ],
            }
        ),
    )
    events.put_targets(Rule="deploybot-codedeploy", Targets=[{"Id": "deploybot", "Arn": arn}])
