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
from .report import Figure, median

SECTION = "2. Status lag"
NOTES = """
Each deployment is started by `aws ecs deploy` (awscli 1.46.3 from PyPI, `--endpoint-url` at the
sandbox), at a random moment within 15 s, and its Install step takes a random 0 to 30 s longer, so
neither tool's polling phase is lined up with the moment CodeDeploy finishes. Half of them
fail at AfterAllowTestTraffic (and CodeDeploy rolls them back). The sandbox runs at half speed, so a
deployment lasts long enough for deploybot's default 60 s scan to find deployments it did not start.
`aws ecs deploy` waits with botocore's `DeploymentSuccessful` waiter: one GetDeployment every 15 s, so
its lag is spread evenly over 0 to 15 s. deploybot at its defaults reads every in-flight deployment in
one BatchGetDeployments every 10 s (±10 % jitter); with `DEPLOYBOT_EVENTS_QUEUE_URL` set it also
long-polls the queue that an EventBridge rule fills with CodeDeploy's state-change events, and re-reads
at once when one arrives (polling stays on as the safety net).

Why the defaults do not reach 10x: a 10 s poll is late by 5 s on average, against the waiter's 7.5 s.
Ten times better than the waiter would mean reading every in-flight deployment about once a second, and
AWS Support has attributed CodeDeploy throttling to far less (about 41 GetDeployment calls a minute,
awslabs/aws-codedeploy-plugin#95), in an account whose CI jobs poll too. The default stays polite; the
events wake-up is how deploybot gets under a second, and the figures below show it does.
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
    env = {**stack.sandbox.env}
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


async def run(quick: bool) -> list[Figure]:
    count = 2 if quick else 12
    speed = 8.0 if quick else 0.5
    quick_settings = {"DEPLOYBOT_SCAN_SECONDS": "1", "DEPLOYBOT_POLL_INTERVAL": "1"} if quick else {}
    async with Stack(fleet=count, speed=speed, termination="0", channels=2 * count, settings=quick_settings) as stack:
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
            {**quick_settings, "DEPLOYBOT_CONFIG": str(events_catalog), "DEPLOYBOT_EVENTS_QUEUE_URL": queue},
        ).start()
        try:
            rng = random.Random(7)  # noqa: S311 - spreading start times and durations, not crypto
            for service in box.services:
                # Deployments differ in length (image pulls, say): each tool's polling phase then falls
                # anywhere against the moment CodeDeploy finishes.
                await box.aws(action="slow_install", service=service, seconds=rng.uniform(0, 30))
            failing = set(box.services[1::2])
            for service in failing:
                await box.aws(action="fail_next", service=service, event="AfterAllowTestTraffic")
            runs = await asyncio.gather(
                *(_aws_ecs_deploy(stack, s, rng.uniform(0, 2 if quick else 15)) for s in box.services)
            )
            await asyncio.sleep(3 if quick else 15)  # deploybot's slowest report is within one poll interval
            stats = await box.stats()
        finally:
            await eventful.stop()
    finished = {t["deployment_id"]: t for t in stats["transitions"] if t["status"] in ("Succeeded", "Failed")}
    first, second = {f"C0TEAM{i:03d}" for i in range(count)}, {f"C0TEAM{i:03d}" for i in range(count, 2 * count)}
    default, events = _reported(stats["slack_calls"], first), _reported(stats["slack_calls"], second)
    lags: dict[tuple[str, str], list[float]] = {}
    missing = []
    for r in runs:
        end = finished.get(r["deployment_id"] or "")
        if end is None:
            missing.append(f"{r['service']}: {r['output']!r}")
            continue
        outcome = end["status"]
        lags.setdefault(("aws ecs deploy", outcome), []).append(r["ended"] - end["at"])
        for tool, seen in (("deploybot (defaults)", default), ("deploybot + events", events)):
            if r["deployment_id"] in seen:
                lags.setdefault((tool, outcome), []).append(seen[r["deployment_id"]] - end["at"])
            else:
                missing.append(f"{tool} never reported {r['deployment_id']}")
    figures = []
    for outcome in ("Succeeded", "Failed"):
        cli = median(lags.get(("aws ecs deploy", outcome), []))
        plain = median(lags.get(("deploybot (defaults)", outcome), []))
        woken = median(lags.get(("deploybot + events", outcome), []))
        n = len(lags.get(("aws ecs deploy", outcome), []))
        figures.append(
            Figure(
                SECTION,
                f"{outcome}: median lag, defaults",
                plain,
                "s",
                "10x lower than aws ecs deploy",
                met=None if plain is None or cli is None else plain * 10 <= cli,
                peer=cli,
                note=f"{n} deployments",
            )
        )
        figures.append(
            Figure(
                SECTION,
                f"{outcome}: median lag, events wake-up",
                woken,
                "s",
                "< 1 s",
                met=None if woken is None else woken < 1.0,
                peer=cli,
            )
        )
    if missing:
        figures[0].note += "; not measured: " + "; ".join(missing[:5])
    return figures
