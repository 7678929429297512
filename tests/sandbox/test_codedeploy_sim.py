"""The local AWS behaves as AWS documents CodeDeploy ECS blue/green (driven through real boto3)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.seed import ServiceNames
from sandbox.aws.server import LocalAws
from sandbox.aws.simulation import LIFECYCLE


def start(aws: LocalAws, service: str = "web1", tag: str = "v1.2.3", config: str | None = None) -> str:
    ecs, cd, ecr = aws.client("ecs"), aws.client("codedeploy"), aws.client("ecr")
    names = ServiceNames(service)
    svc = ecs.describe_services(cluster="apps", services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    digest = ecr.describe_images(repositoryName=service, imageIds=[{"imageTag": tag}])["imageDetails"][0]["imageDigest"]
    for key in (
        "compatibilities",
        "taskDefinitionArn",
        "requiresAttributes",
        "revision",
        "status",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
        "deleteRequestedAt",
    ):
        td.pop(key, None)
    td["containerDefinitions"][0]["image"] = f"{names.registry}/{service}@{digest}"
    arn = ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"]
    content = json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": arn,
                            "LoadBalancerInfo": {"ContainerName": service, "ContainerPort": 3000},
                        },
                    }
                }
            ],
        }
    )
    kwargs: dict[str, Any] = {}
    if config:
        kwargs["deploymentConfigName"] = config
    return str(
        cd.create_deployment(
            applicationName=names.application,
            deploymentGroupName=names.group,
            description="test",
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()},
            },
            **kwargs,
        )["deploymentId"]
    )


def status(aws: LocalAws, dep: str) -> dict[str, Any]:
    return aws.client("codedeploy").get_deployment(deploymentId=dep)["deploymentInfo"]  # type: ignore[no-any-return]


def target(aws: LocalAws, dep: str, service: str = "web1") -> dict[str, Any]:
    return aws.client("codedeploy").get_deployment_target(deploymentId=dep, targetId=f"apps:{service}")[
        "deploymentTarget"
    ]["ecsTarget"]  # type: ignore[no-any-return]


def green(aws: LocalAws, dep: str, service: str = "web1") -> float:
    sets = target(aws, dep, service)["taskSetsInfo"]
    return float(next(s["trafficWeight"] for s in sets if s["taskSetLabel"] == "Green"))


def test_status_and_lifecycle_order_with_ready_gate_and_termination_wait(aws: LocalAws) -> None:
    cd = aws.client("codedeploy")
    dep = start(aws)
    assert dep.startswith("d-") and len(dep) == 11
    seen = [status(aws, dep)["status"]]
    with pytest.raises(ClientError) as err:
        cd.list_deployment_targets(deploymentId=dep)
    assert err.value.response["Error"]["Code"] == "DeploymentNotStartedException"
    CONTROL.clock.advance(3)
    seen.append(status(aws, dep)["status"])
    CONTROL.clock.advance(60)
    info = status(aws, dep)
    seen.append(info["status"])
    assert info["deploymentOverview"]["Ready"] == 1
    with pytest.raises(ClientError) as err:
        cd.continue_deployment(deploymentId=dep, deploymentWaitType="TERMINATION_WAIT")
    assert err.value.response["Error"]["Code"] == "InvalidDeploymentStatusException"
    cd.continue_deployment(deploymentId=dep, deploymentWaitType="READY_WAIT")
    with pytest.raises(ClientError) as err:
        cd.continue_deployment(deploymentId=dep, deploymentWaitType="READY_WAIT")
    assert err.value.response["Error"]["Code"] == "DeploymentIsNotInReadyStateException"
    CONTROL.clock.advance(4)
    seen.append(status(aws, dep)["status"])
    CONTROL.clock.advance(400)
    assert status(aws, dep)["status"] == "InProgress" and target(aws, dep)["status"] == "Succeeded"
    CONTROL.clock.advance(300)
    seen.append(status(aws, dep)["status"])
    assert seen == ["Created", "InProgress", "Ready", "InProgress", "Succeeded"]
    batch = cd.batch_get_deployment_targets(deploymentId=dep, targetIds=["apps:web1"])["deploymentTargets"]
    assert batch[0]["deploymentTargetType"] == "ECSTarget" and batch[0]["ecsTarget"]["status"] == "Succeeded"
    with pytest.raises(ClientError) as err:
        cd.get_deployment_target(deploymentId=dep, targetId="apps:web9")
    assert err.value.response["Error"]["Code"] == "DeploymentTargetDoesNotExistException"
    events = target(aws, dep)["lifecycleEvents"]
    assert [e["lifecycleEventName"] for e in events] == list(LIFECYCLE)
    assert all(e["status"] == "Succeeded" for e in events)
    starts = [e["startTime"] for e in events]
    assert starts == sorted(starts)
    info = status(aws, dep)
    assert info["completeTime"] >= info["createTime"]
    assert "content" not in info["revision"]["appSpecContent"]  # AWS returns it only via GetApplicationRevision
    revision = cd.get_application_revision(applicationName=ServiceNames("web1").application, revision=info["revision"])
    assert "TaskDefinition" in revision["revision"]["appSpecContent"]["content"]
    svc = aws.client("ecs").describe_services(cluster="apps", services=["web1"])["services"][0]
    assert [s["status"] for s in svc["taskSets"]] == ["PRIMARY"]
    assert svc["taskDefinition"].endswith("web1:2")


@pytest.mark.parametrize(
    ("config", "schedule"),
    [
        ("CodeDeployDefault.ECSAllAtOnce", [(1, 100.0)]),
        ("CodeDeployDefault.ECSCanary10Percent5Minutes", [(1, 10.0), (299, 10.0), (301, 100.0)]),
        ("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", [(1, 10.0), (61, 20.0), (181, 40.0), (541, 100.0)]),
    ],
)
def test_traffic_weights_follow_the_config(aws: LocalAws, config: str, schedule: list[tuple[int, float]]) -> None:
    dep = start(aws, "web2", config=config)  # web2: no ready gate
    CONTROL.clock.advance(2 + 3 + 20 + 3 + 3 + 10 + 3 - 1)  # one second before AllowTraffic begins
    assert green(aws, dep, "web2") == 0.0
    elapsed = -1
    for at, weight in schedule:  # seconds since AllowTraffic began
        CONTROL.clock.advance(at - elapsed)
        elapsed = at
        assert green(aws, dep, "web2") == weight, f"{config} at +{at}s"


def test_custom_config(aws: LocalAws) -> None:
    cd = aws.client("codedeploy")
    cd.create_deployment_config(
        deploymentConfigName="Canary25Percent2Minutes",
        computePlatform="ECS",
        trafficRoutingConfig={
            "type": "TimeBasedCanary",
            "timeBasedCanary": {"canaryPercentage": 25, "canaryInterval": 2},
        },
    )
    with pytest.raises(ClientError) as err:
        cd.create_deployment_config(deploymentConfigName="Canary25Percent2Minutes", computePlatform="ECS")
    assert err.value.response["Error"]["Code"] == "DeploymentConfigAlreadyExistsException"
    got = cd.get_deployment_config(deploymentConfigName="Canary25Percent2Minutes")["deploymentConfigInfo"]
    assert got["trafficRoutingConfig"]["timeBasedCanary"]["canaryPercentage"] == 25
    dep = start(aws, "web2", config="Canary25Percent2Minutes")
    CONTROL.clock.advance(45)
    assert green(aws, dep, "web2") == 25.0
    CONTROL.clock.advance(120)
    assert green(aws, dep, "web2") == 100.0


def test_second_active_deployment_is_refused(aws: LocalAws) -> None:
    start(aws)
    with pytest.raises(ClientError) as err:
        start(aws)
    assert err.value.response["Error"]["Code"] == "DeploymentLimitExceededException"


def test_stop_with_rollback_creates_a_linked_rollback_deployment(aws: LocalAws) -> None:
    cd = aws.client("codedeploy")
    dep = start(aws, "web2")
    CONTROL.clock.advance(50)  # shifting
    cd.stop_deployment(deploymentId=dep, autoRollbackEnabled=True)
    info = status(aws, dep)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "MANUAL_STOP"
    rollback_id = info["rollbackInfo"]["rollbackDeploymentId"]
    rollback = status(aws, rollback_id)
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == dep
    CONTROL.clock.advance(2 + 7 * 1.0 + 0.5)  # into the rollback's AfterAllowTraffic
    statuses = {
        s["taskSetLabel"]: (s["status"], s["trafficWeight"]) for s in target(aws, rollback_id, "web2")["taskSetsInfo"]
    }
    assert statuses == {"Blue": ("DRAINING", 0.0), "Green": ("PRIMARY", 100.0)}
    CONTROL.clock.advance(30)
    assert status(aws, rollback_id)["status"] == "Succeeded"
    svc = aws.client("ecs").describe_services(cluster="apps", services=["web2"])["services"][0]
    assert svc["taskDefinition"].endswith("web2:1") and len(svc["taskSets"]) == 1
    with pytest.raises(ClientError) as err:
        cd.stop_deployment(deploymentId=dep)
    assert err.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"
    listed = cd.list_deployments(
        applicationName=ServiceNames("web2").application,
        deploymentGroupName=ServiceNames("web2").group,
        includeOnlyStatuses=["Stopped"],
    )
    assert listed["deployments"] == [dep]


def test_hook_failure_has_diagnostics_and_rolls_back(aws: LocalAws) -> None:
    CONTROL.fail_next["web2"] = __import__("sandbox.aws.simulation", fromlist=["HookFailure"]).HookFailure(
        event="AfterAllowTestTraffic"
    )
    dep = start(aws, "web2")
    CONTROL.clock.advance(60)
    info = status(aws, dep)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    failed = next(e for e in target(aws, dep, "web2")["lifecycleEvents"] if e["status"] == "Failed")
    assert failed["lifecycleEventName"] == "AfterAllowTestTraffic"
    assert failed["diagnostics"]["errorCode"] == "ScriptFailed" and "502" in failed["diagnostics"]["logTail"]
    assert info["rollbackInfo"]["rollbackDeploymentId"]


def test_ready_wait_expires_to_stopped(aws: LocalAws) -> None:
    dep = start(aws)
    CONTROL.clock.advance(60)
    assert status(aws, dep)["status"] == "Ready"
    CONTROL.clock.advance(60 * 60)
    info = status(aws, dep)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "TIMEOUT"


def test_alarm_stops_the_shift(aws: LocalAws) -> None:
    dep = start(aws, "web2")
    CONTROL.clock.advance(50)
    CONTROL.alarms["web2"] = "web2-5xx"
    CONTROL.clock.advance(1)
    info = status(aws, dep)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert info["rollbackInfo"]["rollbackDeploymentId"]


def test_throttling_fault(aws: LocalAws) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "codedeploy",
        region_name="us-east-1",
        endpoint_url=aws.endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    CONTROL.throttles["ListApplications"] = 2
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            client.list_applications()
        assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert "AppECS-apps-web1" in client.list_applications()["applications"]


def test_batch_get_deployment_groups_and_events_to_sqs(aws: LocalAws) -> None:
    cd, sqs = aws.client("codedeploy"), aws.client("sqs")
    names = ServiceNames("web1")
    groups = cd.batch_get_deployment_groups(applicationName=names.application, deploymentGroupNames=[names.group])
    group = groups["deploymentGroupsInfo"][0]
    assert group["blueGreenDeploymentConfiguration"]["deploymentReadyOption"]["actionOnTimeout"] == "STOP_DEPLOYMENT"
    assert group["alarmConfiguration"]["alarms"] == [{"name": "web1-5xx"}]
    dep = start(aws)
    CONTROL.clock.advance(3)
    url = sqs.get_queue_url(QueueName="deploybot-codedeploy-events")["QueueUrl"]
    body = json.loads(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"][0]["Body"])
    assert body["detail-type"] == "CodeDeploy Deployment State-change Notification"
    assert body["detail"]["deploymentId"] == dep and body["detail"]["state"] == "START"


def test_seed_is_idempotent_and_shaped_like_the_release(aws: LocalAws) -> None:
    aws.seed()
    ecs, ecr = aws.client("ecs"), aws.client("ecr")
    names = {arn.rsplit("/", 1)[-1] for arn in ecs.list_services(cluster="apps")["serviceArns"]}
    assert names == {"web1", "web2", "web2-staging", "shop", "shop-staging", "api"}  # api-staging: elsewhere
    svc = ecs.describe_services(cluster="apps", services=["web1"])["services"][0]
    assert svc["deploymentController"]["type"] == "CODE_DEPLOY"
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    container = td["containerDefinitions"][0]
    assert (container["name"], container["memoryReservation"], td["networkMode"]) == ("web1", 256, "awsvpc")
    assert container["portMappings"][0]["containerPort"] == 3000
    images = ecr.describe_images(repositoryName="web1")["imageDetails"]
    tags = {t: i["imageDigest"] for i in images for t in i.get("imageTags", [])}
    assert {"v1.2.2", "v1.2.3", "latest", "v1.2.4-broken"} <= set(tags)
    assert tags["latest"] == tags["v1.2.3"]
