"""A broken config stops start-up with the file and the field named, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.aws.codedeploy.engine import names
from bot.runtime.config import ConfigError, Settings, load_catalog, settings_catalog
from sandbox.runner import CATALOG


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deploybot.yml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apps: [", "not valid YAML at line"),
        ("- a\n- b\n", "expected a mapping"),
        ("apps:\n  web1:\n    cluster: apps\n", "apps.web1.service: Field required"),
        (
            "apps:\n  web1:\n    cluster: a\n    service: s\n    repository: r\n    deploy_channel: C1\n"
            "    version_pattern: '['\n",
            "apps.web1.version_pattern",
        ),
        (
            "apps:\n  web1:\n    cluster: a\n    service: s\n    repository: r\n    deploy_channel: C1\n"
            "    approvers: {users: [bob]}\n",
            "is not a Slack id",
        ),
        (
            "apps:\n  Web_1:\n    cluster: a\n    service: s\n    repository: r\n    deploy_channel: C1\n",
            "lowercase letters",
        ),
        (
            "apps:\n  web1:\n    cluster: a\n    service: s\n    repository: r\n    deploy_channel: C1\n"
            "    colour: red\n",
            "apps.web1.colour: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_catalogs_name_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_catalog(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_catalog(tmp_path / "nope.yml")


def test_defaults_follow_aws_ecs_deploy() -> None:
    web2 = load_catalog(CATALOG).get("web2")
    assert web2 is not None
    assert (web2.codedeploy_application, web2.deployment_group) == (None, None)  # the CodeDeploy engine's default:
    assert names(web2) == ("AppECS-apps-web2", "DgpECS-apps-web2")
    assert web2.container == "web2" and web2.version_pattern == r"^v[0-9a-zA-Z._-]+$"


def test_serve_with_a_broken_file_exits_cleanly(tmp_path: Path) -> None:
    path = write(tmp_path, "apps:\n  web1:\n    cluster: apps\n")
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "DEPLOYBOT_CONFIG": str(path)}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "configuration error" in proc.stderr and "apps.web1.service" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_without_tokens_says_what_is_missing() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DEPLOYBOT_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "SLACK_BOT_TOKEN" in proc.stderr and "Traceback" not in proc.stderr


def test_the_catalog_from_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    # The CloudFormation stack hands the task its catalog as DEPLOYBOT_CATALOG (an SSM parameter).
    text = CATALOG.read_text().replace("  web1:\n", "  web9:\n", 1)
    settings = Settings(
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        DEPLOYBOT_CONFIG=str(tmp_path / "missing.yml"),
        DEPLOYBOT_CATALOG=text,
    )
    catalog = settings_catalog(settings)
    assert catalog.get("web9") is not None and catalog.get("web1") is None
    with pytest.raises(ConfigError, match=r"^DEPLOYBOT_CATALOG: not valid YAML at line 1"):
        settings_catalog(settings.model_copy(update={"catalog_yaml": "apps: ["}))
    with pytest.raises(ConfigError, match=r"missing\.yml: file not found"):
        settings_catalog(settings.model_copy(update={"catalog_yaml": None}))
