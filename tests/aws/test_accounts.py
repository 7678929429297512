"""Calls in other accounts and regions (bot.aws.accounts): the catalog's role is assumed through STS
(with its external id) on first use, the calls land in that account and region, and the role is
assumed again before its credentials expire, against the sandbox's STS."""

from __future__ import annotations

import pytest
from moto.sts.models import sts_backends

from bot.aws.accounts import SESSION_NAME, Accounts
from bot.domain.catalog import AppConfig
from bot.runtime.config import load_catalog
from sandbox.aws.server import LocalAws
from sandbox.runner import CATALOG

OTHER = "210987654321"


def assumed(external_id: str | None = None) -> list[object]:
    """Every deploybot session the sandbox's STS handed out for the other account's role."""
    return [
        r
        for r in sts_backends[OTHER]["aws"].assumed_roles
        if r.session_name == SESSION_NAME and (external_id is None or r.external_id == external_id)
    ]


@pytest.fixture
def staging(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> AppConfig:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    app = load_catalog(CATALOG).get("api", "staging")
    assert app is not None and app.aws_role_arn == f"arn:aws:iam::{OTHER}:role/deploybot-deployer"
    aws.client("ecr", region="eu-west-1", account=OTHER).create_repository(repositoryName="only-there")
    return app.model_copy(update={"aws_external_id": "tenant-7"})


def repositories(accounts: Accounts, app: AppConfig) -> set[str]:
    """The repositories of the app's place that answer (DescribeImages: a call the bot's policy allows)."""
    ecr, out = accounts.clients(app).ecr, set()
    for name in ("only-there", "api"):
        try:
            ecr.describe_images(repositoryName=name)
        except ecr.exceptions.RepositoryNotFoundException:
            continue
        out.add(name)
    return out


def test_a_role_is_assumed_once_and_its_calls_land_in_that_account(aws: LocalAws, staging: AppConfig) -> None:
    before = len(assumed())
    accounts = Accounts("us-east-1", aws.endpoint)
    assert len(assumed()) == before  # nothing is assumed until a call needs it
    assert "only-there" in repositories(accounts, staging)  # eu-west-1 of the other account
    assert "only-there" in repositories(accounts, staging)
    assert len(assumed()) == before + 1 and len(assumed("tenant-7")) >= 1  # once, with the external id
    with pytest.raises(accounts.home.ecr.exceptions.RepositoryNotFoundException):
        accounts.home.ecr.describe_images(repositoryName="only-there")  # deploybot's own account is apart
    assert accounts.clients(staging) is accounts.clients(staging)  # one set of clients per place


def test_the_role_is_assumed_again_before_it_expires(aws: LocalAws, staging: AppConfig) -> None:
    # A 15-minute session is inside botocore's 15-minute advisory window from the start, so every
    # use finds it about to expire and assumes the role again instead of calling with old keys.
    before = len(assumed())
    accounts = Accounts("us-east-1", aws.endpoint, session_seconds=900)
    for _ in range(3):
        assert "only-there" in repositories(accounts, staging)
    assert len(assumed()) - before >= 3
