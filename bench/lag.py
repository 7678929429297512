"""Status lag, side by side: the same deployments watched by deploybot and by `aws ecs deploy`.

`aws ecs deploy` (the AWS CLI, pinned, pointed at the sandbox with --endpoint-url) starts each
deployment and waits for it, as the team's release workflow does today. Two deploybots watch the
same deployments as outside deployments: one at its default settings, one with the EventBridge-to-SQS
wake-up. The lag is from the moment the sandbox's CodeDeploy reaches Succeeded or Failed to the
moment each tool says so (the CLI exits; deploybot posts the outcome in the deployment's thread).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sys
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from . import fleet
from .harness import Bot, Stack, free_port
from .report import Figure, median, percentile

SECTION = "2. Status lag"
CONFIGS = ("CodeDeployDefault.ECSAllAtOnce", "Canary10Percent1Minute", "Linear34PercentEvery1Minute")
TERMINATIONS = "0,0,0,1,1,1"  # minutes, cycled: with and without a termination wait (bake time)
FAIL_AT = ("Install", "AfterInstall", "AfterAllowTestTraffic", "AfterAllowTraffic")  # the failing half's steps
NOTES = """
Sixty deployments, thirty that succeed and thirty that fail, each started by `aws ecs deploy` (awscli
1.46.3 from PyPI, `--endpoint-url` at the sandbox) at a random moment within 15 s, over a fleet that
mixes deployment configurations (all at once; a 10 % canary for a minute; linear, a third every minute)
with and without a one-minute termination wait. The failing half fails at Install (the tasks do not
start), AfterInstall, AfterAllowTestTraffic or AfterAllowTraffic, in turn (CodeDeploy rolls each back).
Each Install takes a random 15 to 45 s longer, so neither tool's polling is lined up with the moment
CodeDeploy finishes. The sandbox runs at real speed. `aws ecs deploy` waits with botocore's
`DeploymentSuccessful` waiter: one GetDeployment every 15 s. Two deploybots watch the same deployments
as outside deployments (found by their scan, every 60 s): one at its default settings, one with the
EventBridge-to-SQS wake-up. The lag is from the moment the sandbox's CodeDeploy reaches Succeeded or
Failed to the moment each tool says so (the CLI exits; deploybot posts the outcome, the failed step or
"Rolling back" in the deployment's thread).

deploybot at its defaults reads under a budget: 180 AWS calls a minute for the installation and 4 a
minute per deployment in flight (the waiter's rate), the lower winning, a tenth of it kept for the scan
and for adopting what it finds; three quarters of the rest for statuses, a quarter for the ECS targets
(steps, traffic weights), which the statuses never spend. One BatchGetDeployments describes 25
deployments, and every call is filled with the next ones due, so with many in flight every one is read
every second or two for the calls the waiter spends on one each 15 s. A deployment whose next change
CodeDeploy's own schedule names (a traffic step, the end of the termination wait, the Ready timeout) is
read just after that moment: its target is read as soon as its status moves (each target by its id,
without listing it), which is how the termination wait's end is known. Read calls are every CodeDeploy
and ECS call each tool made during the run, counted by the sandbox by the caller's User-Agent (each
process sets its own app id); for the CLI, only the waiter's GetDeployment calls (its
RegisterTaskDefinition, CreateDeployment and the like are not reads). Adopting a deployment deploybot
did not start costs two of them (its AppSpec revision and its task definition). With the events
wake-up, an event about a deployment nobody follows is described by the id it names (nothing listed),
and the polling, only the safety net for an event lost, spends half the statuses' share.

What the figures do not cover: a deployment alone in flight. Batching gains nothing there, so at the
waiter's rate deploybot reads it about every 22 s between predicted moments (and at them just after),
and the events wake-up is what makes it punctual (the two slowest outcomes at the defaults here are the
last ones in flight). ECS's own engines are in the next section.

How these figures moved: until the run of 2026-12-06 every deployment's thread showed "provisioning" until
its outcome at sixty in flight, because the reads brought forward spent the targets' share and sixty
targets never read (two calls each) came before the moves of those shown; so the termination wait's end
was never known, and an outcome it names was told at the pace, not just after it. Medians of thirty
still move by a few tenths of a second between runs: Succeeded at the defaults is 0.73 s in this run (9.1x,
a miss by a hair), and was 0.84 s, 0.57 s and 0.49 s in the runs before with the same reads; what is not
predicted (an all-at-once success with no termination wait) is told within one call's gap, about a second
and a half with sixty in flight at the installation's rate.
"""
DEPLOYMENT_ID = re.compile(r"d-[A-Z0-9]{9}")


def _files(workdir: Path, service: str) -> tuple[Path, Path]:
    td, spec = workdir / f"{service}-td.json", workdir / f"{service}-appspec.json"
    td.write_text(json.dumps(fleet.task_definition(service, fleet.NEXT)))
    spec.write_text(fleet.appspec("placeholder"))  # the CLI puts the task definition it registers there
    return td, spec


async def _aws_ecs_deploy(stack: Stack, service: str, delay: float) -> dict[str, Any]:
    await asyncio.sleep(delay)  # spreads the starts over the CLI's polling period
    td, spec = _files(stack.workdir, service)
    env = {**stack.sandbox.env, "AWS_SDK_UA_APP_ID": "aws-ecs-deploy"}
    args = [
        "ecs",
        "deploy",
        "--cluster",
        "apps",
        "--service",
        service,
        "--task-definition",
        str(td),
        "--codedeploy-appspec",
        str(spec),
        "--codedeploy-application",
        f"AppECS-apps-{service}",
        "--codedeploy-deployment-group",
        f"DgpECS-apps-{service}",
        "--endpoint-url",
        env["AWS_ENDPOINT_URL"],
        "--region",
        env["AWS_REGION"],
    ]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "awscli", *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    ended = time.time()
    found = DEPLOYMENT_ID.search(out.decode() + err.decode())
    return {
        "service": service,
        "deployment_id": found.group(0) if found else None,
        "exit": proc.returncode,
        "ended": ended,
        "output": (out + err).decode()[-500:],
    }


def _reported(calls: list[dict[str, Any]], channels: Collection[str] | None) -> dict[str, float]:
    """When each outside deployment's outcome was first told in its thread: the outcome itself
    (broadcast to the channel) or, for a failure, the failed lifecycle event or the "Rolling back" reply."""
    out: dict[str, float] = {}
    for call in calls:
        if call["method"] != "chat.postMessage" or not call["ok"]:
            continue
        if channels is not None and call.get("channel") not in channels:
            continue
        request = call.get("request_id") or ""
        text = str(call.get("text", ""))
        told = call.get("broadcast") or ":rewind: Rolling back" in text or (":x: `" in text and "` failed" in text)
        if told and request.startswith("x-"):
            out.setdefault(request[2:], call["at"])
    return out


TOOLS = ("aws ecs deploy", "deploybot (defaults)", "deploybot + events")
AGENTS = {
    "aws ecs deploy": "aws-ecs-deploy",
    "deploybot (defaults)": "bot-defaults",
    "deploybot + events": "bot-events",
}


def _reads(stats: dict[str, Any], tool: str) -> int:
    """Read calls ``tool`` made (the CLI: its waiter's GetDeployment; a bot: every CodeDeploy and ECS call)."""
    rows = [r for r in stats["agent_calls"] if r["agent"] == AGENTS[tool] and r["service"] in ("codedeploy", "ecs")]
    if tool == "aws ecs deploy":
        rows = [r for r in rows if r["op"] == "GetDeployment"]
    return sum(int(r["calls"]) for r in rows)


async def _deploy_all(stack: Stack, quick: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    box = stack.sandbox
    rng = random.Random(7)  # noqa: S311 - spreading start times and durations, not crypto
    for service in box.services:
        # Deployments differ in length (image pulls, say): each tool's polling phase then falls
        # anywhere against the moment CodeDeploy finishes.
        await box.aws(
            action="slow_install", service=service, seconds=rng.uniform(0, 5) if quick else rng.uniform(15, 45)
        )
    for i, service in enumerate(box.services[1::2]):
        await box.aws(action="fail_next", service=service, event=FAIL_AT[i % len(FAIL_AT)])
    runs = await asyncio.gather(*(_aws_ecs_deploy(stack, s, rng.uniform(0, 2 if quick else 15)) for s in box.services))
    await asyncio.sleep(3 if quick else 20)  # deploybot's slowest report is well within this
    return list(runs), await box.stats()


def _lags(
    runs: list[dict[str, Any]], stats: dict[str, Any], count: int
) -> tuple[dict[tuple[str, str], list[float]], list[str]]:
    finished = {t["deployment_id"]: t for t in stats["transitions"] if t["status"] in ("Succeeded", "Failed")}
    first, second = {f"C0TEAM{i:03d}" for i in range(count)}, {f"C0TEAM{i:03d}" for i in range(count, 2 * count)}
    seen = {TOOLS[1]: _reported(stats["slack_calls"], first), TOOLS[2]: _reported(stats["slack_calls"], second)}
    lags: dict[tuple[str, str], list[float]] = {}
    missing = []
    for r in runs:
        end = finished.get(r["deployment_id"] or "")
        if end is None:
            missing.append(f"{r['service']}: {r['output']!r}")
            continue
        lags.setdefault((TOOLS[0], end["status"]), []).append(r["ended"] - end["at"])
        for tool, told in seen.items():
            if r["deployment_id"] in told:
                lags.setdefault((tool, end["status"]), []).append(told[r["deployment_id"]] - end["at"])
            else:
                missing.append(f"{tool} never reported {r['deployment_id']}")
    return lags, missing


def _figures(lags: dict[tuple[str, str], list[float]], reads: dict[str, float]) -> list[Figure]:
    figures = []
    for outcome, factor in (("Succeeded", 10), ("Failed", 5)):
        cli = lags.get((TOOLS[0], outcome), [])
        cli_median = median(cli)
        for tool, goal in ((TOOLS[1], f"{factor}x lower than aws ecs deploy"), (TOOLS[2], "< 1 s")):
            mine = lags.get((tool, outcome), [])
            value = median(mine)
            if value is None or cli_median is None:
                met = None
            else:
                met = value * factor <= cli_median if tool == TOOLS[1] else value < 1.0
            p90, peer_p90 = percentile(mine, 90), percentile(cli, 90)
            label = "defaults" if tool == TOOLS[1] else "events wake-up"
            note = f"{len(mine)} deployments; p90 {p90:.2f} s against {peer_p90:.1f} s" if p90 and peer_p90 else ""
            figures.append(Figure(SECTION, f"{outcome}: median lag, {label}", value, "s", goal, met, cli_median, note))
    waiter = reads[TOOLS[0]]
    for tool in TOOLS[1:]:
        label = "defaults" if tool == TOOLS[1] else "events wake-up"
        figures.append(
            Figure(
                SECTION,
                f"AWS reads per deployment, {label}",
                reads[tool],
                "",
                "<= the waiter's",
                met=None if not waiter else reads[tool] <= waiter,
                peer=waiter,
                note=f"the waiter: {waiter:.1f} GetDeployment per deployment",
            )
        )
    return figures


async def run(quick: bool) -> list[Figure]:
    count = 4 if quick else 60
    speed = 8.0 if quick else 1.0
    quick_settings = {"DEPLOYBOT_SCAN_SECONDS": "1"} if quick else {}
    if quick:  # the sandbox runs 8x faster: so do the budget's minutes
        quick_settings |= {"DEPLOYBOT_READS_PER_MINUTE": "1440", "DEPLOYBOT_READS_PER_DEPLOYMENT": "32"}
    stack = Stack(
        fleet=count,
        speed=speed,
        termination=TERMINATIONS,
        channels=2 * count,
        settings={**quick_settings, "AWS_SDK_UA_APP_ID": AGENTS[TOOLS[1]]},
        configs=",".join(CONFIGS),
    )
    async with stack:
        box = stack.sandbox
        queue = box.client("sqs").get_queue_url(QueueName="deploybot-codedeploy-events")["QueueUrl"]
        # Each app has its own channel (as teams do), one set per bot, so the two bots' messages are told
        # apart by channel and neither waits for Slack's per-channel pace behind another app's thread.
        catalog = yaml.safe_load(box.catalog.read_text())
        for i, app in enumerate(catalog["apps"].values()):
            app["deploy_channel"] = f"C0TEAM{count + i:03d}"
        events_catalog = stack.workdir / "catalog-events.yml"
        events_catalog.write_text(yaml.safe_dump(catalog))
        await stack.start_bot()
        eventful = await Bot(
            box,
            free_port(),
            {
                **quick_settings,
                "DEPLOYBOT_CONFIG": str(events_catalog),
                "DEPLOYBOT_EVENTS_QUEUE_URL": queue,
                "AWS_SDK_UA_APP_ID": AGENTS[TOOLS[2]],
            },
        ).start()
        try:
            runs, stats = await _deploy_all(stack, quick)
        finally:
            await eventful.stop()
    lags, missing = _lags(runs, stats, count)
    figures = _figures(lags, {tool: _reads(stats, tool) / max(1, len(runs)) for tool in TOOLS})
    if missing:
        figures[0].note += "; not measured: " + "; ".join(missing[:5])
    return figures
