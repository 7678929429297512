"""deploy/deploybot.cfn.yml, the stack that installs deploybot: created in the local AWS (moto's
CloudFormation) in both transports, its resources checked, its task role held to docs/iam-policy.json, and
deploybot's own DynamoDB store run against the table it made.

moto's CloudFormation skips AWS::SecretsManager::Secret, AWS::SQS::QueuePolicy and
AWS::CloudFormation::WaitConditionHandle (it warns and creates nothing), the table's SSE and point-in-time
recovery, and the service's launch type and load balancers, so those are checked in the template itself. It
also reads a CommaDelimitedList's default as one string, so the tests pass every list."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from bot.app import utcnow
from bot.aws.dynamo_store import DynamoStore
from bot.domain.models import Hold
from sandbox.aws.server import LocalAws
from tests.project.test_iam_policy import POLICY

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "deploybot.cfn.yml"
# The stack creates the table itself, so `deploybot init-store`'s rights are not the task's; the queue and the
# table are encrypted with the stack's key, which the task needs to read the queue.
NOT_IN_THE_STACK = {"InitStoreOnly"}
ONLY_IN_THE_STACK = {"EventsQueueKey"}


def template() -> dict[str, Any]:
    body, problems = decode(str(TEMPLATE))
    assert not problems and body is not None
    return body


def create(aws: LocalAws, **overrides: str) -> dict[str, Any]:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    params = {
        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/deploybot:1.0.0",
        "SlackBotToken": "xoxb-stack",
        "SlackSigningSecret": "signing",
        "SlackAppToken": "xapp-stack",
        "VpcId": vpc,
        "Subnets": ",".join(subnets),
        "LoadBalancerSubnets": ",".join(subnets),
        "Clusters": "apps,payments",
        "Services": "",
        "Repositories": "web1,shop",
        "CodeDeployApplications": "AppECS-apps-web1",
        "PassRoleNames": "web1-task-role,web1-task-execution-role",
        "DeployerRoleArns": "",
        **overrides,
    }
    cf = aws.client("cloudformation")
    cf.create_stack(
        StackName="deploybot",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack: dict[str, Any] = cf.describe_stacks(StackName="deploybot")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    resources = cf.list_stack_resources(StackName="deploybot")["StackResourceSummaries"]
    stack["resources"] = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"]}
    stack["outputs"] = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return stack


def role_statements(aws: LocalAws, role: str) -> list[dict[str, Any]]:
    iam = aws.client("iam")
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    # moto keeps a policy its CloudFormation made as the Python repr of the parsed template, not as JSON.
    # It also leaves AWS::NoValue in a list as None, where CloudFormation drops the item.
    statements: list[dict[str, Any]] = (ast.literal_eval(doc) if isinstance(doc, str) else doc)["Statement"]
    return [s for s in statements if s is not None]


def test_socket_mode_stack_has_the_table_queue_rules_and_bot(aws: LocalAws) -> None:
    stack = create(aws)
    res = stack["resources"]
    assert "LoadBalancer" not in res and "SlackRequestUrl" not in stack["outputs"]
    assert "no URL needed" in stack["outputs"]["SlackSetup"]

    ddb = aws.client("dynamodb")
    table = ddb.describe_table(TableName=res["Table"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"gsi1", "gsi2"}

    queue_url = stack["outputs"]["EventsQueueUrl"]
    events = aws.client("events")
    for rule, source in (("CodeDeployEvents", "aws.codedeploy"), ("EcsEvents", "aws.ecs")):
        name = res[rule]
        assert json.loads(events.describe_rule(Name=name)["EventPattern"])["source"] == [source]
        (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
        assert target["Arn"].endswith(":" + queue_url.rsplit("/", 1)[-1])

    ecs = aws.client("ecs")
    (service,) = ecs.describe_services(cluster=res["Cluster"], services=[res["Service"]])["services"]
    assert service["desiredCount"] == 2
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    (container,) = task["containerDefinitions"]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["DEPLOYBOT_STORE"] == f"dynamodb://{res['Table']}"
    assert env["DEPLOYBOT_EVENTS_QUEUE_URL"] == queue_url
    assert (env["DEPLOYBOT_TRANSPORT"], env["DEPLOYBOT_REPLICAS"]) == ("socket", "2")
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert set(secrets) == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DEPLOYBOT_CATALOG"}
    assert secrets["DEPLOYBOT_CATALOG"].endswith(":parameter/deploybot/catalog")
    assert container["readonlyRootFilesystem"] is True
    assert "healthz" in " ".join(container["healthCheck"]["command"])
    logs = aws.client("logs").describe_log_groups(logGroupNamePrefix="/deploybot/")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in logs] == [("/deploybot/deploybot", 365)]


async def test_deploybots_store_works_on_the_table_the_stack_made(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = create(aws)["resources"]["Table"]
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    store = DynamoStore(table, "us-east-1", aws.endpoint)
    try:
        hold = Hold(app="web1", environment="production", user="U0ALICE", reason="freeze", since=utcnow())
        assert await store.hold(hold) is None
        assert [h.key for h in await store.holds()] == ["web1:production"]
        assert await store.in_flight() == []
        assert store.create_table() is False  # init-store finds the stack's table complete: nothing to add
    finally:
        store.close()


def test_the_task_role_is_the_iam_policy_scoped_by_the_parameters(aws: LocalAws) -> None:
    stack = create(aws)
    statements = {s["Sid"]: s for s in role_statements(aws, stack["resources"]["TaskRole"])}
    documented = {s["Sid"]: s for s in json.loads(POLICY.read_text())["Statement"]}
    assert set(statements) == (set(documented) - NOT_IN_THE_STACK - {"OtherAccountsOptional"}) | ONLY_IN_THE_STACK
    for sid in set(documented) & set(statements):
        assert statements[sid]["Action"] == documented[sid]["Action"], sid
    assert statements["ReadServices"]["Resource"] == [
        "arn:aws:ecs:*:*:service/apps/*",
        "arn:aws:ecs:*:*:service/payments/*",
    ]
    assert statements["ReadServices"]["Condition"] == {"StringEquals": {"aws:ResourceAccount": "123456789012"}}
    assert statements["ReadImages"]["Resource"] == [
        "arn:aws:ecr:*:*:repository/web1",
        "arn:aws:ecr:*:*:repository/shop",
    ]
    assert statements["PassOnlyTheTaskRoles"]["Resource"] == [
        "arn:aws:iam::*:role/web1-task-role",
        "arn:aws:iam::*:role/web1-task-execution-role",
    ]
    assert statements["PassOnlyTheTaskRoles"]["Condition"] == documented["PassOnlyTheTaskRoles"]["Condition"]
    assert sorted(statements["DeployThroughCodeDeploy"]["Resource"]) == [
        "arn:aws:codedeploy:*:*:application:AppECS-apps-web1",
        "arn:aws:codedeploy:*:*:deploymentconfig:*",
        "arn:aws:codedeploy:*:*:deploymentgroup:AppECS-apps-web1/*",
    ]
    assert statements["SharedStore"]["Resource"][0].endswith(f":table/{stack['resources']['Table']}")
    assert statements["EventsWakeUpOptional"]["Resource"].endswith(stack["outputs"]["EventsQueueUrl"].rsplit("/")[-1])
    unscoped = {a for s in statements.values() if s["Resource"] == "*" for a in s["Action"]}
    assert unscoped == {
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:TagResource",
        "codedeploy:ContinueDeployment",
        "codedeploy:StopDeployment",
    }


def test_services_narrow_the_service_statements_below_their_clusters(aws: LocalAws) -> None:
    stack = create(aws, Services="apps/web1,payments/api")
    statements = {s["Sid"]: s for s in role_statements(aws, stack["resources"]["TaskRole"])}
    services = ["arn:aws:ecs:*:*:service/apps/web1", "arn:aws:ecs:*:*:service/payments/api"]
    assert statements["ReadServices"]["Resource"] == services
    assert statements["DeployThroughEcsItself"]["Resource"] == services
    assert statements["FollowEcsServiceDeployments"]["Resource"] == [
        "arn:aws:ecs:*:*:service-deployment/apps/web1/*",
        "arn:aws:ecs:*:*:service-deployment/payments/api/*",
    ]
    assert statements["ReadEcsServiceRevisions"]["Resource"][1] == "arn:aws:ecs:*:*:service-revision/payments/api/*"
    # Tasks are the cluster's: their ARNs do not name the service.
    assert "arn:aws:ecs:*:*:task/payments/*" in statements["WhyGreenTasksStopped"]["Resource"]


def test_other_accounts_roles_are_assumable_only_when_named(aws: LocalAws) -> None:
    roles = "arn:aws:iam::210987654321:role/deploybot-deployer"
    stack = create(aws, DeployerRoleArns=roles)
    statements = {s["Sid"]: s for s in role_statements(aws, stack["resources"]["TaskRole"])}
    assert statements["OtherAccountsOptional"]["Action"] == ["sts:AssumeRole"]
    assert statements["OtherAccountsOptional"]["Resource"] == [roles]


def test_http_mode_puts_the_bot_behind_an_https_load_balancer(aws: LocalAws) -> None:
    cert = aws.client("acm").request_certificate(DomainName="deploybot.example.com")["CertificateArn"]
    stack = create(aws, Transport="http", SlackAppToken="", CertificateArn=cert)
    res = stack["resources"]
    elb = aws.client("elbv2")
    (lb,) = elb.describe_load_balancers(LoadBalancerArns=[res["LoadBalancer"]])["LoadBalancers"]
    assert lb["Scheme"] == "internet-facing"
    assert stack["outputs"]["SlackRequestUrl"] == f"https://{lb['DNSName']}/slack/events"
    assert stack["outputs"]["HealthUrl"] == f"https://{lb['DNSName']}/healthz"
    (listener,) = elb.describe_listeners(LoadBalancerArn=res["LoadBalancer"])["Listeners"]
    assert (listener["Protocol"], listener["Port"]) == ("HTTPS", 443)
    (group,) = elb.describe_target_groups(TargetGroupArns=[res["TargetGroup"]])["TargetGroups"]
    assert (group["HealthCheckPath"], group["Port"], group["TargetType"]) == ("/healthz", 3000, "ip")
    ecs = aws.client("ecs")
    (service,) = ecs.describe_services(cluster=res["Cluster"], services=[res["Service"]])["services"]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    (container,) = task["containerDefinitions"]
    assert "SLACK_APP_TOKEN" not in {
        s["name"] for s in container["secrets"] if s is not None
    }  # None: see role_statements
    assert {e["name"]: e["value"] for e in container["environment"]}["DEPLOYBOT_TRANSPORT"] == "http"


@pytest.mark.parametrize("what", ["secret", "queue policy", "listener dependency", "table", "service"])
def test_what_moto_does_not_create_is_right_in_the_template(what: str) -> None:
    res = template()["Resources"]
    if what == "secret":
        # The container's secrets name the JSON keys this secret holds.
        secret = res["SlackSecret"]["Properties"]
        keys = json.loads(re.sub(r"\$\{\w+\}", "x", secret["SecretString"]["Fn::Sub"][0]))
        assert set(keys) == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"}
        assert secret["KmsKeyId"] == {"Ref": "Key"}
    elif what == "queue policy":
        (statement,) = res["EventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        rules = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
        assert rules == [{"Fn::GetAtt": ["CodeDeployEvents", "Arn"]}, {"Fn::GetAtt": ["EcsEvents", "Arn"]}]
    elif what == "service":
        service = res["Service"]["Properties"]
        assert service["LaunchType"] == "FARGATE"
        assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        when, (balanced,), absent = service["LoadBalancers"]["Fn::If"]
        assert when == "HttpMode" and absent == {"Ref": "AWS::NoValue"}
        assert balanced == {
            "ContainerName": "deploybot",
            "ContainerPort": 3000,
            "TargetGroupArn": {"Ref": "TargetGroup"},
        }
        assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"] == [
            {"Ref": "TaskSecurityGroup"}
        ]
    elif what == "table":
        sse = res["Table"]["Properties"]["SSESpecification"]
        assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "Key"}}
        pitr = res["Table"]["Properties"]["PointInTimeRecoverySpecification"]
        assert pitr == {"PointInTimeRecoveryEnabled": True}
        assert res["Table"]["DeletionPolicy"] == "Retain"
        assert res["Key"]["Properties"]["EnableKeyRotation"] is True
    else:
        assert res["Service"]["DependsOn"] == ["ListenerReady"]
        listener = res["ListenerReady"]["Metadata"]["Listener"]["Fn::If"]
        assert listener[:2] == ["HttpMode", {"Ref": "HttpsListener"}]
