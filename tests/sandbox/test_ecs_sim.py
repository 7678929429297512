"""The local AWS behaves as AWS documents ECS's own deployments (driven through real boto3): stages in
ECS's order, linear and canary weights on the clock, pause hooks with their timeout action, rollbacks, the
circuit breaker of a rolling update, and the events. Every answer is held to the botocore model."""

from __future__ import annotations

import itertools
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bot.aws.ecs.reading import native
from sandbox.aws.ecs.state import STAGES
from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.seed_ecs import ECS_SERVICES, OTHER_ACCOUNT, OTHER_REGION
from sandbox.aws.server import LocalAws

from .wire_shapes import Recorder, problems

SERVICES = {s.name: s for s in ECS_SERVICES}


def deploy(aws: LocalAws, service: str, tag: str = "v1.2.3") -> str:
    """A new revision with the tag's image, then UpdateService: the service deployment's ARN."""
    spec = SERVICES[service]
    where = {"region": spec.region, "account": spec.account}
    ecs = aws.client("ecs", **where)
    svc = ecs.describe_services(cluster="apps", services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    container = td["containerDefinitions"][0]
    container["image"] = f"{spec.registry}/{spec.repository}:{tag}"
    keep = ("family", "containerDefinitions", "executionRoleArn", "networkMode", "memory", "requiresCompatibilities")
    arn = ecs.register_task_definition(**{k: td[k] for k in keep if k in td})["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="apps", service=service, taskDefinition=arn)
    listed = ecs.list_service_deployments(cluster="apps", service=service)["serviceDeployments"]
    return str(max(listed, key=lambda b: b["createdAt"])["serviceDeploymentArn"])


def describe(aws: LocalAws, arn: str) -> dict[str, Any]:
    region, account = arn.split(":")[3:5]
    found = aws.client("ecs", region=region, account=account).describe_service_deployments(serviceDeploymentArns=[arn])
    return found["serviceDeployments"][0]  # type: ignore[no-any-return]


def walk(aws: LocalAws, arn: str, seconds: float, step: float = 1.0) -> list[tuple[str, str | None, float]]:
    """(status, stage, production weight) at every change while the clock moves ``seconds``."""
    seen: list[tuple[str, str | None, float]] = []
    for _ in range(int(seconds / step)):
        CONTROL.clock.advance(step)
        info = describe(aws, arn)
        weight = float(info.get("targetServiceRevision", {}).get("requestedProductionTrafficWeight", 0.0))
        now = (info["status"], info.get("lifecycleStage"), weight)
        if not seen or seen[-1] != now:
            seen.append(now)
    return seen


def pause_of(info: dict[str, Any]) -> dict[str, Any]:
    return next(h for h in info.get("lifecycleHookDetails", []) if h["targetType"] == "PAUSE")


def test_blue_green_walks_the_stages_and_waits_at_its_pause(aws: LocalAws, wire: Recorder) -> None:
    arn = deploy(aws, "shop")
    stages = [stage for _, stage, _ in walk(aws, arn, 60) if stage]
    # In ECS's order; a stage with no work of its own may pass between two reads.
    assert stages == sorted(stages, key=STAGES.index)
    assert {"RECONCILE_SERVICE", "SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"} <= set(stages)
    info = describe(aws, arn)
    assert info["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT" and info["status"] == "IN_PROGRESS"
    hook = pause_of(info)
    assert (hook["status"], hook["timeoutAction"]) == ("AWAITING_ACTION", "ROLLBACK")
    assert info["targetServiceRevision"]["requestedTestTrafficWeight"] == 100.0
    assert info["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0
    assert walk(aws, arn, 120, 10)[-1][0] == "IN_PROGRESS"  # nobody answered: still waiting
    aws.client("ecs").continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE")
    after = walk(aws, arn, 30) + walk(aws, arn, 600, 5)
    later = list(dict.fromkeys(s for _, s, _ in after if s))
    assert later == sorted(later, key=STAGES.index) and later[-2:] == ["BAKE_TIME", "CLEAN_UP"]
    assert "PRODUCTION_TRAFFIC_SHIFT" in later
    assert after[-1][0] == "SUCCESSFUL"
    done = describe(aws, arn)
    assert (
        done["finishedAt"] >= done["startedAt"]
        and done["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    )
    ecs = aws.client("ecs")
    revision = ecs.describe_service_revisions(serviceRevisionArns=[done["targetServiceRevision"]["arn"]])
    (target,) = revision["serviceRevisions"]
    running = ecs.describe_services(cluster="apps", services=["shop"])["services"][0]["taskDefinition"]
    assert target["taskDefinition"] == running and target["containerImages"][0]["imageDigest"].startswith("sha256:")
    checked = {"DescribeServiceDeployments", "ListServiceDeployments", "ContinueServiceDeployment"}
    assert checked | {"DescribeServiceRevisions", "UpdateService"} <= set(wire.bodies)


def test_describe_services_names_the_current_deployment_and_the_revisions_it_runs(
    aws: LocalAws, wire: Recorder
) -> None:
    ecs = aws.client("ecs")
    arn = deploy(aws, "shop-staging")  # rolling
    service = ecs.describe_services(cluster="apps", services=["shop-staging"])["services"][0]
    assert service["currentServiceDeployment"] == arn  # from the moment UpdateService returned
    target = describe(aws, arn)["targetServiceRevision"]["arn"]
    during = {r["arn"]: r for r in service["currentServiceRevisions"]}
    assert target in during and len(during) == 2  # the new revision beside the one it replaces
    walk(aws, arn, 600, 5)
    service = ecs.describe_services(cluster="apps", services=["shop-staging"])["services"][0]
    assert service["currentServiceDeployment"] == arn
    [after] = service["currentServiceRevisions"]
    assert (after["arn"], after["runningTaskCount"], after["pendingTaskCount"]) == (target, 2, 0)
    assert "DescribeServices" in wire.bodies  # held to the installed model like every other answer


def test_a_pause_nobody_answers_takes_its_timeout_action(aws: LocalAws) -> None:
    arn = deploy(aws, "shop")
    walk(aws, arn, 60)
    walk(aws, arn, 61 * 60, 60)
    info = describe(aws, arn)
    assert info["status"] == "ROLLBACK_SUCCESSFUL"
    assert pause_of(info)["status"] == "TIMED_OUT"


@pytest.mark.parametrize(
    ("service", "weights"),
    [("api-staging", [25.0, 50.0, 75.0, 100.0]), ("api", [10.0, 100.0])],
)
def test_linear_and_canary_move_production_traffic_on_the_clock(
    aws: LocalAws, service: str, weights: list[float]
) -> None:
    arn = deploy(aws, service)
    seen = walk(aws, arn, 900, 5)
    shifting = [w for _, _, w in seen if w]
    assert sorted(set(shifting)) == weights
    assert seen[-1][0] == "SUCCESSFUL"


@pytest.mark.parametrize("service", ["api-staging", "api"])
def test_each_traffic_step_updates_the_deployment_when_deploybot_predicts_it(aws: LocalAws, service: str) -> None:
    """The deployment is last updated when each production step is taken, so the moment deploybot's reading
    names for the next step (bot.aws.ecs.reading) is when the next one shows."""
    arn = deploy(aws, service)
    steps: dict[float, tuple[Any, Any]] = {}  # weight -> (updatedAt, the next step deploybot predicts)
    for _ in range(900):
        CONTROL.clock.advance(1)
        info = describe(aws, arn)
        weight = float(info["targetServiceRevision"].get("requestedProductionTrafficWeight", 0.0))
        if info.get("lifecycleStage") == "PRODUCTION_TRAFFIC_SHIFT" and weight not in steps:
            steps[weight] = (info["updatedAt"], native(info, []).next_change_at)
    weights = sorted(steps)
    assert len(weights) >= 2
    for before, after in itertools.pairwise(weights):
        assert steps[before][1] == steps[after][0]


def test_a_broken_image_fails_its_smoke_test_and_rolls_back(aws: LocalAws) -> None:
    arn = deploy(aws, "shop", "v1.2.4-broken")
    walk(aws, arn, 120)
    info = describe(aws, arn)
    assert info["status"] == "ROLLBACK_SUCCESSFUL" and info["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    failed = [h for h in info["lifecycleHookDetails"] if h["status"] == "FAILED"]
    assert [h["targetType"] for h in failed] == ["AWS_LAMBDA"] and "smoke-test" in failed[0]["targetArn"]
    assert "POST_TEST_TRAFFIC_SHIFT" in info["rollback"]["reason"]


def test_stop_during_the_bake_goes_back_to_the_old_revision(aws: LocalAws) -> None:
    ecs = aws.client("ecs")
    before = ecs.describe_services(cluster="apps", services=["shop"])["services"][0]["taskDefinition"]
    arn = deploy(aws, "shop")
    walk(aws, arn, 60)
    hook = pause_of(describe(aws, arn))
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE")
    walk(aws, arn, 30)
    assert describe(aws, arn)["lifecycleStage"] == "BAKE_TIME"
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert describe(aws, arn)["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
    walk(aws, arn, 60)
    info = describe(aws, arn)
    assert info["status"] == "ROLLBACK_SUCCESSFUL" and "StopServiceDeployment" in info["rollback"]["reason"]
    assert ecs.describe_services(cluster="apps", services=["shop"])["services"][0]["taskDefinition"] == before
    with pytest.raises(ClientError) as err:  # too late now
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert err.value.response["Error"]["Code"] == "ConflictException"


def test_a_wrong_hook_id_is_refused(aws: LocalAws) -> None:
    arn = deploy(aws, "shop")
    walk(aws, arn, 60)
    with pytest.raises(ClientError) as err:
        aws.client("ecs").continue_service_deployment(serviceDeploymentArn=arn, hookId="nope", action="CONTINUE")
    assert err.value.response["Error"]["Code"] in ("InvalidParameterException", "ServiceDeploymentNotFoundException")
    assert pause_of(describe(aws, arn))["status"] == "AWAITING_ACTION"


def test_rolling_update_and_its_circuit_breaker(aws: LocalAws) -> None:
    good = deploy(aws, "shop-staging")
    assert walk(aws, good, 120, 5)[-1][0] == "SUCCESSFUL"
    bad = deploy(aws, "shop-staging", "v1.2.4-broken")
    walk(aws, bad, 180, 5)
    info = describe(aws, bad)
    assert info["status"] == "ROLLBACK_SUCCESSFUL"
    breaker = info["deploymentCircuitBreaker"]
    assert breaker["status"] == "TRIGGERED" and breaker["failureCount"] >= breaker["threshold"] == 3
    tasks = aws.client("ecs").list_tasks(cluster="apps", serviceName="shop-staging", desiredStatus="STOPPED")
    stopped = aws.client("ecs").describe_tasks(cluster="apps", tasks=tasks["taskArns"])["tasks"]
    broken = [t for t in stopped if t["containers"][0]["image"].endswith("-broken")]
    assert broken and all(t["containers"][0]["exitCode"] == 1 for t in broken)
    scaled = [t for t in stopped if t not in broken]  # the first good deployment replaced the seeded tasks
    assert scaled and all(t["containers"][0]["exitCode"] == 0 for t in scaled)
    assert all(t["stoppedReason"].startswith("Scaling activity initiated by (deployment ") for t in scaled)


def running(aws: LocalAws, service: str) -> list[str]:
    """The task definitions of the service's RUNNING tasks, as ListTasks and DescribeTasks tell them."""
    ecs = aws.client("ecs")
    arns = ecs.list_tasks(cluster="apps", serviceName=service)["taskArns"]  # RUNNING, ECS's default filter
    tasks = ecs.describe_tasks(cluster="apps", tasks=arns)["tasks"] if arns else []
    assert all(t["lastStatus"] == "RUNNING" and t["group"] == f"service:{service}" for t in tasks)
    return sorted(t["taskDefinitionArn"].rsplit("/", 1)[-1] for t in tasks)


def test_a_service_runs_its_tasks_and_a_deployment_replaces_them(aws: LocalAws) -> None:
    before = running(aws, "shop-staging")
    assert len(before) == 2 and len(set(before)) == 1 and running(aws, "shop") != before  # each its own
    good = deploy(aws, "shop-staging")
    walk(aws, good, 120, 5)
    after = running(aws, "shop-staging")
    assert len(after) == 2 and not set(after) & set(before)
    assert running(aws, "shop-staging") == after  # describing them does not move them on
    bad = deploy(aws, "shop-staging", "v1.2.4-broken")
    CONTROL.clock.advance(20)
    assert running(aws, "shop-staging") == after  # the new tasks fail to start; the old ones serve on
    walk(aws, bad, 180, 5)
    assert describe(aws, bad)["status"] == "ROLLBACK_SUCCESSFUL" and running(aws, "shop-staging") == after


def test_the_other_account_is_reached_through_the_role(aws: LocalAws) -> None:
    arn = deploy(aws, "api-staging")
    assert arn.startswith(f"arn:aws:ecs:{OTHER_REGION}:{OTHER_ACCOUNT}:service-deployment/apps/api-staging/")
    assert walk(aws, arn, 600, 10)[-1][0] == "SUCCESSFUL"


def test_events_reach_the_queue(aws: LocalAws) -> None:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName="deploybot-codedeploy-events")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    arn = deploy(aws, "shop")
    walk(aws, arn, 60)
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    kinds = {(b["detail-type"], b["detail"]["eventName"]) for b in bodies}
    assert ("ECS Deployment State Change", "SERVICE_DEPLOYMENT_IN_PROGRESS") in kinds
    assert ("ECS Hook State Change", "HOOK_AWAITING_ACTION") in kinds
    assert all(b["source"] == "aws.ecs" and b["resources"][0].endswith(":service/apps/shop") for b in bodies)


def test_the_check_itself_catches_what_the_model_does_not_define() -> None:
    model = boto3.session.Session().client("ecs", region_name="us-east-1").meta.service_model
    shape = model.operation_model("DescribeServiceDeployments").output_shape
    assert shape is not None
    good = {"serviceDeployments": [{"status": "SUCCESSFUL", "lifecycleStage": "BAKE_TIME", "createdAt": 1.5}]}
    assert list(problems(shape, good)) == []
    bad = {
        "serviceDeployments": [{"status": "DONE", "stage": "BAKE_TIME", "createdAt": True, "alarms": []}],
        "failures": "none",
    }
    found = list(problems(shape, bad))
    assert any("'DONE' is not one of" in p for p in found)
    assert any("stage: not a member of ServiceDeployment" in p for p in found)
    assert any("createdAt: True is not a timestamp" in p for p in found)
    assert any("alarms: list, not a" in p for p in found)
    assert any("failures: str, not a list" in p for p in found)
