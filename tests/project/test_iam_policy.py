"""docs/iam-policy.json lists exactly the AWS actions deploybot uses: it is compared with every operation
the bot's own clients called during the whole test run (the sandbox records them by User-Agent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.aws.moto_ext import CONTROL
from tests.conftest import WHOLE_SUITE

POLICY = Path(__file__).resolve().parents[2] / "docs" / "iam-policy.json"
# Authorized by AWS inside another call, so never seen as an operation of their own.
IMPLIED = {
    "iam:PassRole": "RegisterTaskDefinition with the task and execution roles of the current revision",
    "ecs:TagResource": "RegisterTaskDefinition copying the current revision's tags",
    "codedeploy:GetDeploymentConfig": "CreateDeployment reads the group's deployment config",
    "codedeploy:RegisterApplicationRevision": "CreateDeployment registers the AppSpec revision it is given",
}


# Operations IAM authorizes under another action's name.
AUTHORIZED_AS = {"sqs:DeleteMessageBatch": "sqs:DeleteMessage"}


def policy_actions() -> dict[str, dict[str, object]]:
    doc = json.loads(POLICY.read_text())
    return {action: statement for statement in doc["Statement"] for action in statement["Action"]}


def test_pass_role_is_scoped_to_task_roles_passed_to_ecs_tasks() -> None:
    statement = policy_actions()["iam:PassRole"]
    assert statement["Resource"] != "*" and all(":role/" in r for r in statement["Resource"])  # type: ignore[union-attr]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    unscoped = {a for a, s in policy_actions().items() if s["Resource"] == "*"}
    # Only actions IAM cannot scope to a resource (Service Authorization Reference) use "*".
    assert unscoped == {
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:TagResource",
        "codedeploy:ContinueDeployment",
        "codedeploy:StopDeployment",
    }


@pytest.mark.after_all
def test_policy_matches_what_the_bot_called(request: pytest.FixtureRequest) -> None:
    if not request.config.stash.get(WHOLE_SUITE, False):
        pytest.skip("compares with the whole suite's AWS calls; run all of tests/ (make test does)")
    called = {AUTHORIZED_AS.get(f"{s}:{o}", f"{s}:{o}") for s, o in CONTROL.bot_calls}
    listed = set(policy_actions())
    assert called - listed == set(), "called but missing from docs/iam-policy.json"
    assert listed - called - set(IMPLIED) == set(), "listed but never called by the test suite"
