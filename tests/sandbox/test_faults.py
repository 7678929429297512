"""The sandbox's fault switches, driven from outside through real boto3 and HTTP: AWS answering 500 or
closing the connection before or after the change, faults meant for one caller only, events lost,
duplicated, late or out of order on their way to the queue, and a Slack outage."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from sandbox.aws.event_faults import DELAY
from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.server import LocalAws
from sandbox.slack.server import LocalSlack

from .test_ecs_sim import deploy, describe

ONCE = Config(retries={"mode": "standard", "total_max_attempts": 1})


def _ecs(aws: LocalAws, app_id: str | None = None) -> Any:
    """A client that tries once (no retries hide the fault), calling itself ``app_id`` in its User-Agent."""
    config = ONCE.merge(Config(user_agent_appid=app_id)) if app_id else ONCE
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client("ecs", region_name="us-east-1", endpoint_url=aws.endpoint, config=config, **keys)


def _tags(aws: LocalAws) -> int:
    return len(aws.client("ecs").list_task_definitions(familyPrefix="shop")["taskDefinitionArns"])


def _register(ecs: Any) -> None:
    td = ecs.describe_task_definition(taskDefinition="shop")["taskDefinition"]
    keep = ("family", "containerDefinitions", "networkMode", "memory", "requiresCompatibilities")
    ecs.register_task_definition(**{k: td[k] for k in keep if k in td})


@pytest.mark.parametrize(
    ("switch", "made", "error"),
    [
        ("errors", False, ClientError),  # a 500 before the call did anything
        ("dropped_before", False, ConnectionClosedError),  # the request never arrived
        ("dropped_after", True, ConnectionClosedError),  # it did, and the answer never came back
        ("lost_answers", True, ClientError),  # it did, and the answer was a 500
    ],
)
def test_aws_fails_a_call_before_or_after_the_change(
    aws: LocalAws, switch: str, made: bool, error: type[Exception]
) -> None:
    ecs = _ecs(aws)
    before = _tags(aws)
    getattr(CONTROL, switch)["RegisterTaskDefinition"] = 1
    with pytest.raises(error):
        _register(ecs)
    assert _tags(aws) == before + made
    _register(ecs)  # the fault was for one call only
    assert _tags(aws) == before + made + 1


def test_faults_meant_for_one_caller_spare_the_others(aws: LocalAws) -> None:
    CONTROL.fault_agent = "deploybot-soak"
    CONTROL.errors["ListClusters"] = 1
    assert _ecs(aws, "a-test").list_clusters()["clusterArns"]  # not the caller the fault is for
    with pytest.raises(ClientError):
        _ecs(aws, "deploybot-soak").list_clusters()


def _queued(aws: LocalAws) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName="deploybot-codedeploy-events")["QueueUrl"]
    out = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"])["detail"] for m in batch]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return out


def _names(events: list[dict[str, Any]]) -> list[str]:
    return [e.get("eventName", "") for e in events]


def test_events_are_lost_duplicated_late_or_out_of_order_as_planned(aws: LocalAws) -> None:
    _queued(aws)
    CONTROL.events.plan.extend(["drop", "dup"])
    arn = deploy(aws, "shop-staging")  # rolling: IN_PROGRESS, then SUCCESSFUL
    CONTROL.clock.advance(5)
    assert _names(_queued(aws)) == []  # the first event (IN_PROGRESS) was lost
    CONTROL.clock.advance(300)
    assert describe(aws, arn)["status"] == "SUCCESSFUL"
    assert _names(_queued(aws)).count("SERVICE_DEPLOYMENT_COMPLETED") == 2  # the last one came twice
    CONTROL.events.plan.extend(["reorder"])
    deploy(aws, "shop-staging", "v1.2.2")
    CONTROL.clock.advance(300)
    assert _names(_queued(aws)) == ["SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_IN_PROGRESS"]
    CONTROL.events.plan.extend(["delay"])
    deploy(aws, "shop-staging", "v1.2.3")
    CONTROL.clock.advance(5)
    assert _names(_queued(aws)) == []  # late: not there yet
    CONTROL.clock.advance(DELAY.total_seconds())
    assert "SERVICE_DEPLOYMENT_IN_PROGRESS" in _names(_queued(aws))
    assert CONTROL.events.applied == {"drop": 1, "dup": 1, "reorder": 1, "delay": 1}


async def test_a_slack_outage_answers_503_to_every_call_until_it_ends(slack: LocalSlack) -> None:
    slack.outage = True
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {slack.ws.bot_token}"}
        async with http.post(f"{slack.api_url}auth.test", headers=headers) as resp:
            assert resp.status == 503
        slack.outage = False
        async with http.post(f"{slack.api_url}auth.test", headers=headers) as resp:
            assert resp.status == 200 and (await resp.json())["ok"]
    assert [c.error for c in slack.calls("auth.test")] == ["service_unavailable", None]
