"""`GET /metrics` in Prometheus's text format, read as Prometheus would (its own parser), in both transports:
a rolling deployment moves the lifecycle counters, the duration histogram and the in-flight gauge; AWS
throttles and Slack 429s are counted apart from the calls; the outbox gauges show messages Slack has not
taken yet; labels never carry a request id or a version."""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import Sandbox

from .helpers import advance, request_and_wait_root, wait_text, wait_thread
from .test_ecs_rolling import staging_root

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
SHOP = {"app": "shop", "environment": "staging", "engine": "ecs"}


async def scrape(bot: Any) -> tuple[Samples, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{bot.port}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = await resp.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, lbl), v in samples.items() if n == name and wanted <= set(lbl))


async def test_a_deployment_moves_the_counters_and_the_gauges(sandbox: Sandbox, bot: Any) -> None:
    box = sandbox
    before, _ = await scrape(bot)
    root = await staging_root(box, "v1.2.3")
    await wait_thread(box, root, "created with")
    advance(3)
    await wait_thread(box, root, "ECS started")
    during, _ = await scrape(bot)
    assert value(during, "deploybot_deployments_in_flight", **SHOP) == 1
    advance(60)
    await wait_thread(box, root, "is live in staging")
    await wait_text(box, root, "Deployed")
    (record,) = await bot.store.history("shop", "staging", 1)
    # The last message is in Slack; its flush may still be saving that it was sent: wait for that flush.
    assert await bot.parts.outbox.flush(record.id)
    after, text = await scrape(bot)

    for name in ("deploybot_deployments_requested_total", "deploybot_deployments_started_total"):
        assert value(after, name, **SHOP) - value(before, name, **SHOP) == 1, name
    finished = {**SHOP, "outcome": "succeeded"}
    assert (
        value(after, "deploybot_deployments_finished_total", **finished)
        - value(before, "deploybot_deployments_finished_total", **finished)
        == 1
    )
    took = value(after, "deploybot_deployment_duration_seconds_sum", **finished) - value(
        before, "deploybot_deployment_duration_seconds_sum", **finished
    )
    assert 0 < took <= 63  # within the simulated minute and three seconds it was given, by the engine's clock
    assert value(after, "deploybot_deployments_in_flight", **SHOP) == 0
    assert value(after, "deploybot_outbox_messages") == 0 and value(after, "deploybot_outbox_oldest_seconds") == 0
    assert total(after, "deploybot_aws_calls_total", service="ecs", operation="UpdateService") >= 1
    assert total(after, "deploybot_slack_calls_total", method="chat.postMessage", outcome="ok") >= 2
    assert total(after, "deploybot_status_lag_seconds_count") > total(before, "deploybot_status_lag_seconds_count")
    assert total(after, "deploybot_watcher_tick_seconds_count") > total(before, "deploybot_watcher_tick_seconds_count")
    assert value(after, "deploybot_watcher_last_tick_timestamp_seconds") > 0
    # Bounded labels: no request id, no version, no user in any series.
    labels = {v for (_, pairs) in after for _, v in pairs}
    assert labels and not [v for v in labels if v.startswith(("r-", "v1.", "U0"))]
    assert "v1.2.3" not in text


async def test_aws_throttles_and_slack_429s_are_counted_apart(sandbox: Sandbox, bot: Any) -> None:
    box = sandbox
    before, _ = await scrape(bot)
    CONTROL.throttles["DescribeServices"] = 2  # answered ThrottlingException twice, then served
    box.slack.faults["chat.postMessage"].append("429")  # one 429 (with Retry-After), then served
    root = await staging_root(box, "v1.2.3")
    await wait_thread(box, root, "created with")
    after, _ = await scrape(bot)
    throttled = {"service": "ecs", "operation": "DescribeServices"}
    assert (
        value(after, "deploybot_aws_throttles_total", **throttled)
        - value(before, "deploybot_aws_throttles_total", **throttled)
        == 2
    )
    # Retried until served: the call counts once and is no error.
    assert total(after, "deploybot_aws_errors_total", **throttled) == total(
        before, "deploybot_aws_errors_total", **throttled
    )
    limited = {"method": "chat.postMessage"}
    assert (
        value(after, "deploybot_slack_rate_limited_total", **limited)
        - value(before, "deploybot_slack_rate_limited_total", **limited)
        == 1
    )
    assert value(after, "deploybot_slack_calls_total", method="chat.postMessage", outcome="ratelimited") >= 1


async def test_owed_messages_show_in_the_outbox_gauges(sandbox: Sandbox, bot: Any) -> None:
    box = sandbox
    root = await staging_root(box, "v1.2.3")
    await wait_thread(box, root, "created with")
    box.slack.faults["chat.postMessage"].extend(["500"] * 1000)  # Slack is down for replies
    advance(3)
    refused = await box.slack.wait_for(
        lambda: len([c for c in box.slack.calls("chat.postMessage") if c.error == "internal_error"]) >= 3,
        what="a reply refused three times (the first try and slack_sdk's two retries)",
    )
    assert refused
    samples, _ = await scrape(bot)
    assert value(samples, "deploybot_outbox_messages") >= 1
    assert value(samples, "deploybot_outbox_oldest_seconds") >= 0
    assert total(samples, "deploybot_slack_calls_total", method="chat.postMessage", outcome="http_500") >= 1
    box.slack.faults["chat.postMessage"].clear()
    await wait_thread(box, root, "ECS started", timeout=30)


async def test_an_approval_records_how_long_it_waited(sandbox: Sandbox, bot: Any) -> None:
    box = sandbox
    web1 = {"app": "web1", "environment": "production"}
    before, _ = await scrape(bot)
    root = await request_and_wait_root(box)
    await box.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(box, root, "created with")
    after, _ = await scrape(bot)
    waits = value(after, "deploybot_approval_wait_seconds_count", **web1)
    assert waits - value(before, "deploybot_approval_wait_seconds_count", **web1) == 1
    assert value(after, "deploybot_approval_wait_seconds_bucket", **web1, le="+Inf") == waits
    assert value(after, "deploybot_deployments_in_flight", **web1, engine="codedeploy") == 1
