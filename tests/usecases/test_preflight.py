"""The preflight against the sandbox's AWS and Slack: the sandbox's own catalog is all usable, and a catalog
with each kind of mistake gets one line per app and environment saying what is wrong and how to fix it
(`deploybot check --aws` as a process, and the start-up warnings of `deploybot serve`)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from bot.aws.accounts import Accounts
from bot.aws.preflight import AwsInspector
from bot.domain.preflight import Check
from bot.runtime.config import load_catalog, parse_catalog
from bot.slack.chat import SlackChat
from bot.usecases.preflight import Preflight
from sandbox.aws.server import LocalAws
from sandbox.runner import CATALOG, Sandbox
from sandbox.slack.server import LocalSlack
from sandbox.slack.workspace import Channel
from tests.conftest import running_bot

BASE = {"cluster": "apps", "deploy_channel": "C0DEPLOYS", "alert_channel": "C0ALERTS", "require_approval": False}
MISTAKES: dict[str, dict[str, object]] = {
    "ghost": {"service": "ghost", "repository": "web1"},
    "lost": {"service": "web1", "cluster": "elsewhere", "repository": "web1"},
    "nogroup": {"service": "web1", "repository": "web1", "deployment_group": "DgpECS-apps-nothing"},
    "othergroup": {
        "service": "web1",
        "repository": "web1",
        "codedeploy_application": "AppECS-apps-web2",
        "deployment_group": "DgpECS-apps-web2",
    },
    "nocontainer": {"service": "shop", "repository": "shop", "container": "nginx"},
    "norepo": {"service": "shop-staging", "container": "shop", "repository": "nope"},
    "notags": {
        "service": "shop-staging",
        "container": "shop",
        "repository": "shop",
        "version_pattern": r"^release-\d+$",
    },
    "nochannel": {"service": "web1", "repository": "web1", "deploy_channel": "C0NOPE"},
    "private": {"service": "web1", "repository": "web1", "alert_channel": "C0PRIVATE"},
    "nogroupread": {
        "service": "web1",
        "repository": "web1",
        "require_approval": True,
        "approvers": {"usergroups": ["S0NOBODY"]},
    },
    "nobreaker": {"service": "plain", "repository": "shop", "container": "shop"},
}


def mistakes_catalog(tmp_path: Path) -> Path:
    apps = {name: {**BASE, "container": fields.get("repository"), **fields} for name, fields in MISTAKES.items()}
    apps["web1"] = load_catalog(CATALOG).apps["web1"].model_dump(exclude_none=True, exclude_defaults=True)
    path = tmp_path / "mistakes.yml"
    path.write_text(yaml.safe_dump({"apps": apps}))
    return path


def prepare(aws: LocalAws, slack: LocalSlack) -> None:
    """A private channel deploybot is not in, and a rolling service created without the circuit breaker."""
    slack.ws.channels["C0PRIVATE"] = Channel("C0PRIVATE", "release-managers", {"U0ALICE"}, is_private=True)
    ecs = aws.client("ecs")
    live = ecs.describe_services(cluster="apps", services=["shop-staging"])["services"][0]
    ecs.create_service(
        cluster="apps",
        serviceName="plain",
        taskDefinition=live["taskDefinition"],
        desiredCount=1,
        deploymentController={"type": "ECS"},
        deploymentConfiguration={"strategy": "ROLLING", "maximumPercent": 200, "minimumHealthyPercent": 100},
    )


@pytest.fixture(autouse=True)
def credentials(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)


def preflight(aws: LocalAws, slack: LocalSlack, path: Path) -> Preflight:
    chat = SlackChat(slack.ws.bot_token, slack.api_url)
    return Preflight(load_catalog(path), AwsInspector(Accounts("us-east-1", aws.endpoint)), chat)


async def test_the_sandbox_catalog_is_all_usable_with_its_engines(aws: LocalAws, slack: LocalSlack) -> None:
    checks = {(c.app, c.environment): c for c in await preflight(aws, slack, CATALOG).run()}
    assert all(c.usable for c in checks.values()), [c for c in checks.values() if not c.usable]
    assert checks[("web1", "production")].engine == "CodeDeploy blue/green (ECSCanary10Percent5Minutes)"
    assert checks[("shop", "production")].engine.startswith("ECS blue/green, bake 5 min, 1 pause hook")
    assert checks[("shop", "staging")].engine.startswith("ECS rolling update, circuit breaker with rollback")
    assert checks[("api", "production")].engine.startswith("ECS canary, 10% for 5 min")
    assert checks[("api", "staging")].engine.startswith("ECS linear, 25% every 1 min")  # another account and region
    assert all(not c.warnings for c in checks.values()), {k: c.warnings for k, c in checks.items() if c.warnings}


async def test_each_kind_of_mistake_says_what_is_wrong_and_what_to_do(
    aws: LocalAws, slack: LocalSlack, tmp_path: Path
) -> None:
    prepare(aws, slack)
    checks: dict[str, Check] = {c.app: c for c in await preflight(aws, slack, mistakes_catalog(tmp_path)).run()}
    said = {app: " ".join([*c.problems, *c.warnings]) for app, c in checks.items()}
    assert checks["web1"].usable and not checks["web1"].warnings
    expected = {
        "ghost": "the ECS service apps/ghost in us-east-1 was not found (MISSING): check `cluster:` and `service:`",
        "lost": "the ECS cluster `elsewhere` was not found in us-east-1: check `cluster:`",
        "nogroup": "AppECS-apps-web1/DgpECS-apps-nothing does not exist: set `codedeploy_application:`",
        "othergroup": "deploys apps/web2, not apps/web1: set `deployment_group:`",
        "nocontainer": "has no container `nginx` (it has shop): set `container:`",
        "norepo": "the ECR repository `nope` was not found in us-east-1: set `repository:`",
        "notags": r"no image in `shop` has a tag that version_pattern ^release-\d+$ takes",
        "nochannel": "deploy_channel: channel C0NOPE was not found",
        "private": "alert_channel: channel C0PRIVATE was not found: check the id (a private channel shows only "
        "once deploybot is in it: /invite @deploybot there)",
        "nogroupread": "approvers: user group S0NOBODY cannot be read (no_such_subteam)",
        "nobreaker": "the deployment circuit breaker is off",
    }
    for app, words in expected.items():
        assert words in said[app], (app, said[app])
    warned_only = {"notags", "nobreaker"}
    assert {app for app, c in checks.items() if not c.usable} == set(expected) - warned_only
    assert all(checks[app].usable and checks[app].warnings for app in warned_only)


async def test_deploybot_check_aws_prints_a_line_each_and_exits_2(
    aws: LocalAws, slack: LocalSlack, tmp_path: Path
) -> None:
    prepare(aws, slack)
    env = {
        **os.environ,
        **aws.env(),
        "SLACK_BOT_TOKEN": slack.ws.bot_token,
        "DEPLOYBOT_SLACK_API_URL": slack.api_url,
    }

    async def check(path: Path) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "check", "--aws", str(path), env=env, stdout=-1, stderr=-1
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        return proc.returncode or 0, out.decode(), err.decode()

    code, out, err = await check(mistakes_catalog(tmp_path))
    lines = out.splitlines()
    assert code == 2 and "Traceback" not in err, err
    assert any(line.startswith("FAIL  ghost (production): the ECS service apps/ghost") for line in lines), out
    assert any(line.startswith("warn  nobreaker (production): ECS rolling update; the deployment") for line in lines)
    assert any(line.startswith("ok    web1 (production): CodeDeploy blue/green") for line in lines), out
    assert lines[-1] == f"3 of {len(MISTAKES) + 1} app environment(s) can be deployed"  # web1 and the two warned

    code, out, err = await check(CATALOG)
    assert code == 0, out + err
    count = len(load_catalog(CATALOG).all())
    assert out.splitlines()[-1] == f"{count} of {count} app environment(s) can be deployed"


def test_a_catalog_can_come_as_text_for_the_preflight(tmp_path: Path) -> None:
    # The preflight checks whatever catalog serve would use, DEPLOYBOT_CATALOG's included.
    catalog = parse_catalog(mistakes_catalog(tmp_path).read_text(), "DEPLOYBOT_CATALOG")
    assert {a.name for a in catalog.all()} == set(MISTAKES) | {"web1"}


async def test_serve_warns_at_start_up_and_starts_anyway(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.aws.client("ecr").delete_repository(repositoryName="shop", force=True)
    with capture_logs() as logs:
        async with running_bot(sandbox, tmp_path, "socket", monkeypatch, preflight=True) as runtime:
            await runtime.tasks.drain(timeout=60)
            assert runtime.ready
    problems = [e for e in logs if e["event"] == "preflight_problem_found"]
    assert {(e["app"], e["environment"]) for e in problems} == {("shop", "production"), ("shop", "staging")}
    assert all("the ECR repository `shop` was not found" in e["problem"] for e in problems)
    (done,) = [e for e in logs if e["event"] == "preflight_finished"]
    assert done["checked"] == len(load_catalog(CATALOG).all()) and done["usable"] == done["checked"] - 2
