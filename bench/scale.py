"""Scale: 1,000 deployments in flight at once, tracked by one replica.

The deployments are created straight through the sandbox's CodeDeploy (as a thousand CI jobs would),
then one `deploybot serve` at its default settings adopts them all as outside deployments and follows
each to the end with a live thread. Measured while all are in flight: the bot's AWS read calls per
minute, its CPU and RSS; and for every deployment, the lag from Succeeded to its outcome in Slack.
"""

from __future__ import annotations

import asyncio
import random
import time

import psutil

from . import ecs_fleet, fleet
from .harness import Stack
from .lag import _reported
from .report import Figure, percentile

SECTION = "3. Scale"
NOTES = """
A thousand deployments in flight (CodeDeploy's default limit of concurrent deployments per account), on a
fleet mixing the engines: 800 CodeDeploy services, each with its own deployment group (AllAtOnce,
termination waits of 8 to 10 minutes), and 200 of ECS's own, 100 rolling and 100 native (blue/green,
linear and canary, with and without a bake, half with a smoke-test hook), whose new tasks take 5 to 7.5
minutes to start; the sandbox runs at double speed. The deployments are created first (ECS's through
UpdateService, CodeDeploy's through CreateDeployment); then deploybot starts at its defaults (a read budget
of 180 calls a minute, SQLite store) and adopts them all as outside deployments. The window is two
minutes of the steady state: it starts 30 s after every deployment has its thread and ends before the
first one finishes. Read calls are every CodeDeploy, ECS and ECR call the bot made in that window (the
sandbox counts them by the bot's User-Agent); CPU is the bot process's user+system time over the window;
RSS is the largest sample (one per second). The apps' threads are spread over 50 team channels (a
thousand threads in one channel would take Slack's pace, about one message a second, a quarter of an
hour just to open).

What keeps the reads down: the budget. Of its 180 calls a minute, a tenth is the scan's (one account-wide
CodeDeploy listing; ECS's 200 services described ten a call, at least once a minute, which is a little
more than its tenth affords); the rest is a bucket for reads: three quarters statuses, 25 deployments per
BatchGetDeployments and 20 per DescribeServiceDeployments (32 and 10 calls a pass), the rest CodeDeploy's
ECS targets (lifecycle events, traffic weights). Each deployment's termination wait ends at a moment
CodeDeploy's schedule names, and it is read just after it, so the outcomes are not told at the pace of
the passes. The lag is mostly Slack's pace: a third of the deployments finish in the same minute, and
each channel's outcomes queue for its turns.
"""
READS = ("Get", "Batch", "List", "Describe")
BEFORE = 193.0  # reads a minute at 1,000 in flight before the read schedule (issue 16's baseline)
ENDS = ("Succeeded", "Failed", "SUCCESSFUL", "ROLLBACK_REQUESTED")  # CodeDeploy's and ECS's words


def _create_all(stack: Stack) -> list[str]:
    """Every service's deployment: ECS's own first, through UpdateService (their tasks start late, so they
    outlast the window), then CodeDeploy's through CreateDeployment."""
    cd, ecs = stack.sandbox.client("codedeploy"), stack.sandbox.client("ecs")
    ids = [ecs_fleet.update(ecs, s) for s in stack.sandbox.services if not s.startswith("fleet-")]
    for service in (s for s in stack.sandbox.services if s.startswith("fleet-")):
        ids.append(
            cd.create_deployment(
                applicationName=f"AppECS-apps-{service}",
                deploymentGroupName=f"DgpECS-apps-{service}",
                revision={
                    "revisionType": "AppSpecContent",
                    "appSpecContent": {"content": fleet.appspec(fleet.first_revision(service))},
                },
                description="bench: started outside deploybot",
            )["deploymentId"]
        )
    return ids


async def run(quick: bool) -> list[Figure]:
    count = 10 if quick else 1000
    speed = 20.0 if quick else 2.0
    # The quick run's sandbox is 20x faster: so are the budget's minutes.
    settings = (
        {"DEPLOYBOT_SCAN_SECONDS": "1", "DEPLOYBOT_READS_PER_MINUTE": "3600", "DEPLOYBOT_READS_PER_DEPLOYMENT": "80"}
        if quick
        else {}
    )
    termination = "3" if quick else "8,9,10"
    ecs = count // 10  # of each of ECS's own kinds (rolling; native blue/green, linear, canary)
    async with Stack(
        fleet=count - 2 * ecs,
        speed=speed,
        termination=termination,
        channels=5 if quick else 50,
        settings=settings,
        ecs=(ecs, ecs),
    ) as stack:
        box = stack.sandbox
        rng = random.Random(5)  # noqa: S311 - spreading durations, not crypto
        for service in box.services[count - 2 * ecs :]:
            # Sandbox seconds the new tasks take to start: ECS's deployments outlast the window too.
            seconds = rng.uniform(200, 300) if quick else rng.uniform(600, 900)
            await box.aws(action="slow_install", service=service, seconds=seconds)
        ids = await asyncio.to_thread(_create_all, stack)
        bot = await stack.start_bot()
        proc = psutil.Process(bot.pid)
        rss: list[float] = []
        adopted_after = None
        start = time.time()
        while time.time() - start < 900:
            rss.append(proc.memory_info().rss / 2**20)
            calls = (await box.stats())["slack_calls"]
            threads = sum(1 for c in calls if c["method"] == "chat.postMessage" and c["ok"] and not c["thread_ts"])
            if threads >= count:
                adopted_after = time.time() - start
                break
            await asyncio.sleep(2)
        # The steady state: after the adoption's own reads, over two minutes (the bucket may start the
        # window with ten seconds' worth saved up; over two minutes that is a twelfth of the figure).
        await asyncio.sleep(0 if quick else 30)
        window_start, cpu_start = time.time(), proc.cpu_times()
        window = 3.0 if quick else 120.0
        while time.time() - window_start < window:
            rss.append(proc.memory_info().rss / 2**20)
            await asyncio.sleep(1)
        window_end, cpu_end = time.time(), proc.cpu_times()
        stats = await box.stats()
        finished = [t for t in stats["transitions"] if t["status"] in (*ENDS, "Stopped")]
        in_window = [t for t in finished if t["at"] < window_end]
        # Then every deployment runs to its end, and each outcome's lag is measured.
        for _ in range(900):
            stats = await box.stats()
            done = {t["deployment_id"]: t for t in stats["transitions"] if t["status"] in ENDS}
            told = _reported(stats["slack_calls"], None)
            if len([i for i in ids if i in told]) >= count:
                break
            await asyncio.sleep(1)
        rss.append(proc.memory_info().rss / 2**20)
    reads = [c for c in stats["aws_calls"] if window_start <= c["at"] < window_end and c["op"].startswith(READS)]
    minutes = (window_end - window_start) / 60
    per_minute = len(reads) / minutes
    budget = 30.0 if quick else BEFORE  # no more than before the read schedule
    cpu = (cpu_end.user + cpu_end.system - cpu_start.user - cpu_start.system) / (window_end - window_start)
    lags = [told[i] - done[i]["at"] for i in ids if i in told and i in done]
    p95 = percentile(lags, 95)
    by_op: dict[str, int] = {}
    for c in reads:
        by_op[c["op"]] = by_op.get(c["op"], 0) + 1
    mix = ", ".join(f"{op} {n / minutes:.0f}/min" for op, n in sorted(by_op.items(), key=lambda kv: -kv[1]))
    unfinished = f"; {len(in_window)} finished inside the window" if in_window else ""
    adopted = f"all {count} adopted {adopted_after:.0f} s after start-up" if adopted_after else "not all adopted"
    return [
        Figure(
            SECTION,
            f"AWS reads per minute, {count} in flight",
            per_minute,
            "/min",
            f"<= {budget:,.0f}/min",
            met=per_minute <= budget,
            note=f"{mix}; {adopted}{unfinished}",
        ),
        Figure(SECTION, "bot CPU", cpu, "cores", "< 0.5", met=cpu < 0.5),
        Figure(SECTION, "bot RSS (max)", max(rss), "MB", "< 300 MB", met=max(rss) < 300),
        Figure(
            SECTION,
            "p95 status lag (Succeeded to Slack)",
            p95,
            "s",
            "< 20 s",
            met=p95 is not None and p95 < 20 and len(lags) == count,
            note=f"{len(lags)} of {count} outcomes measured",
        ),
    ]
