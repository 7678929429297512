"""Fixtures: one local AWS per test session (reset and re-seeded per test), a fresh local Slack and
bot per test. Everything binds to 127.0.0.1 on ephemeral ports; the sandbox clock is manual, so
tests move time with ``advance`` and never sleep on the wall clock."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from bot.app import Parts, Ports, Tuning, compose, utcnow
from bot.domain.catalog import Catalog
from bot.domain.ports import Chat, Clock, Store
from bot.runtime.config import Settings, load_catalog
from bot.runtime.logging import configure
from bot.runtime.tasks import TaskSupervisor
from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.server import LocalAws
from sandbox.runner import CATALOG, Sandbox
from sandbox.slack.server import LocalSlack
from tests.fakes import FakeEngine

# Property tests: a quick pass in `make test`, 10,000 examples each with HYPOTHESIS_PROFILE=long (`make fuzz`).
settings.register_profile("fast", max_examples=300, deadline=None)
settings.register_profile("long", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

for _proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
    os.environ.pop(_proxy, None)  # slack_sdk ignores NO_PROXY; Bolt flips to OAuth with client ids

configure("console")


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    aws = LocalAws().start()
    yield aws
    aws.stop()


@pytest.fixture
def aws(local_aws: LocalAws) -> LocalAws:
    CONTROL.clock.configure(manual=True)
    local_aws.reset()
    CONTROL.calls.clear()
    return local_aws


@pytest.fixture
async def slack() -> AsyncIterator[LocalSlack]:
    server = await LocalSlack().start()
    yield server
    await server.stop()


@pytest.fixture
async def sandbox(aws: LocalAws, slack: LocalSlack) -> Sandbox:
    box = Sandbox()
    box.aws, box.slack = aws, slack
    slack.aws_panel, slack.aws_control = box.panel, box.control
    return box


def bot_settings(slack: LocalSlack, aws: LocalAws, tmp_path: Path, transport: str) -> Settings:
    return Settings(
        slack_bot_token=slack.ws.bot_token,
        slack_signing_secret=slack.ws.signing_secret,
        slack_app_token=slack.ws.app_token if transport == "socket" else None,
        slack_api_url=slack.api_url,
        aws_region="us-east-1",
        aws_endpoint_url=aws.endpoint,
        config_path=CATALOG,
        store_url=f"sqlite:///{tmp_path / 'deploybot.db'}",
        http_host="127.0.0.1",
        http_port=0,
        log_format="console",
        poll_interval=0.05,
        # The read budget has its own tests (tests/watch/); here the sandbox's deployments last seconds,
        # and a budget of real minutes would only leave them unread.
        reads_per_minute=0,
        reads_per_deployment=0,
        scan_seconds=0.2,
        api_token="ci-token-for-tests",
        transport=transport,
        # Pacing is tested on its own (tests/slack/test_pacing.py, the economy benchmark's smoke run);
        # here it would only make every scenario wait for Slack turns nobody is short of.
        slack_posts_per_minute=0,
        slack_updates_per_minute=0,
        # The start-up preflight has its own tests (tests/usecases/test_preflight.py); in every other scenario
        # its reads would only add calls that tests counting Slack or AWS calls would have to step around.
        preflight=False,
    )


def composed(
    catalog: Catalog, store: Store, chat: Chat, engine: FakeEngine, clock: Clock = utcnow, **tuning: Any
) -> Parts:
    """The bot's use cases and watcher as ``bot.app`` wires them, on a fake engine (and registry)."""
    return compose(catalog, Ports(store, chat, engine, engine, clock), Tuning(**tuning), TaskSupervisor())


@pytest.fixture(params=["socket", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.asynccontextmanager
async def running_bot(
    sandbox: Sandbox,
    tmp_path: Path,
    transport: str,
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock = utcnow,
    catalog: Path = CATALOG,
    **overrides: Any,
) -> AsyncIterator[Any]:
    """A bot on the sandbox with the test settings, ``overrides`` replacing some of them, on ``clock``,
    with the app ``catalog`` given (the sandbox's by default)."""
    from bot.app import Runtime

    for name, value in sandbox.aws.env().items():
        monkeypatch.setenv(name, value)
    config = bot_settings(sandbox.slack, sandbox.aws, tmp_path, transport).model_copy(
        update={"config_path": catalog, **overrides}
    )
    runtime = Runtime(config, load_catalog(catalog), clock=clock)
    await runtime.start()
    if transport == "http":
        sandbox.slack.deliverer.events_url = f"http://127.0.0.1:{runtime.port}/slack/events"
    try:
        yield runtime
        await runtime.tasks.drain()
    finally:
        await runtime.stop()


@pytest.fixture
async def bot(
    sandbox: Sandbox, tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[object]:
    async with running_bot(sandbox, tmp_path, transport, monkeypatch) as runtime:
        yield runtime


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked after_all run last; they learn whether they saw the whole suite."""
    last = [i for i in items if i.get_closest_marker("after_all")]
    rest = [i for i in items if not i.get_closest_marker("after_all")]
    items[:] = rest + last
    config.stash[WHOLE_SUITE] = (
        not config.getoption("keyword")
        and not config.getoption("markexpr")
        and all(Path(str(a).split("::")[0]).resolve() == TESTS for a in config.args)
    )


WHOLE_SUITE = pytest.StashKey[bool]()
TESTS = Path(__file__).resolve().parent
