"""A tiny run of every benchmark, so `make bench` cannot rot: each measures what it says, at toy sizes.

The goals are not asserted here (a toy run proves nothing about speed); that every figure was measured
from a real run is: every deployment was seen through to the end by every tool, every ack arrived.
"""

from __future__ import annotations

import pytest

from bench import ack, economy, footprint, lag, lag_ecs, scale
from bench.report import Figure, markdown, percentile, table


def by_name(figures: list[Figure]) -> dict[str, Figure]:
    return {f.name: f for f in figures}


async def test_ack_latency_is_measured_for_every_request() -> None:
    figures = by_name(await ack.run(quick=True))
    for what in ("/deploy", "Approve"):
        p50, p99 = figures[f"{what} ack p50"], figures[f"{what} ack p99"]
        assert p50.note == "5 of 5 acked"
        assert p50.value is not None and p99.value is not None
        assert 0 < p50.value <= p99.value < 3000  # every one was acked inside Slack's limit


async def test_status_lag_is_measured_for_both_tools_and_both_outcomes() -> None:
    figures = await lag.run(quick=True)
    assert "not measured" not in figures[0].note, figures[0].note
    for figure in figures:
        assert figure.value is not None and figure.peer is not None, figure
        assert 0 <= figure.value < 30 and 0 <= figure.peer < 30


async def test_ecs_status_lag_is_measured_for_every_peer_and_both_bots() -> None:
    figures = await lag_ecs.run(quick=True)
    assert "not measured" not in figures[0].note, figures[0].note
    lags = [f for f in figures if "median lag" in f.name]
    assert len(lags) == 12  # three peers, two outcomes, two bots
    for figure in lags:
        assert figure.value is not None and figure.peer is not None, figure
        assert 0 <= figure.value < 30 and 0 <= figure.peer < 60
    reads = [f for f in figures if f.name.startswith("AWS reads per deployment")]
    assert all(f.value and f.peer for f in reads), reads


async def test_scale_counts_reads_cpu_memory_and_lag() -> None:
    figures = by_name(await scale.run(quick=True))
    reads = next(f for f in figures.values() if f.name.startswith("AWS reads per minute"))
    assert reads.value is not None and reads.value > 0
    assert "BatchGetDeployments" in reads.note
    assert figures["bot RSS (max)"].value is not None and figures["bot RSS (max)"].value > 20
    lag = figures["p95 status lag (Succeeded to Slack)"]
    assert lag.note == "10 of 10 outcomes measured", lag.note


async def test_slack_economy_delivers_every_final_message_under_rate_limits() -> None:
    figures = by_name(await economy.run(quick=True))
    assert figures["final messages delivered"].value == 5
    assert figures["Slack calls per deployment"].value is not None
    assert "chat.postMessage" in figures["Slack calls per deployment"].note


async def test_footprint_measures_cold_start_and_idle_memory() -> None:
    figures = by_name(await footprint.run(quick=True))
    assert figures["cold start to ready"].value is not None and figures["cold start to ready"].value > 0
    assert figures["idle RSS"].value is not None and figures["idle RSS"].value > 20


def test_report_formats_goals_peers_and_ratios() -> None:
    figures = [
        Figure("2. Status lag", "median lag", 0.5, "s", "10x lower", met=True, peer=7.5),
        Figure("5. Footprint", "idle RSS", 130.0, "MB", "< 120 MB", met=False),
    ]
    text = table(figures)
    assert "15.0x" in text and "MISSED" in text and "met" in text
    doc = markdown(figures, "make bench", {"5. Footprint": "How it is measured."}, 12.0)
    assert "| 5. Footprint | idle RSS | 130 MB | < 120 MB |  |  | MISSED |" in doc
    assert "How it is measured." in doc and "`make bench`" in doc


@pytest.mark.parametrize(("values", "p", "expected"), [([3.0, 1.0, 2.0], 50, 2.0), ([1.0] * 99 + [50.0], 99, 1.0)])
def test_percentile_is_nearest_rank(values: list[float], p: float, expected: float) -> None:
    assert percentile(values, p) == expected
