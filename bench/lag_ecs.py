"""Status lag on ECS's own engines, side by side: the same deployments watched by deploybot and by the
peers that start and wait for them (fabfuel's `ecs deploy`, `aws ecs wait services-stable`, and a model
of ecspresso), each a real process of its own against the sandbox. `python -m bench --only lag_ecs` runs it alone.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from . import ecs_fleet
from .harness import Bot, Stack, free_port
from .lag import _reported
from .report import Figure, median, percentile

SECTION = "2b. Status lag, ECS's own engines"
PEERS = ("ecs deploy (fabfuel)", "aws ecs wait services-stable", "ecspresso (modelled)")
BOTS = ("deploybot (defaults)", "deploybot + events")
AGENTS = {
    PEERS[0]: "fabfuel-ecs-deploy",
    PEERS[1]: "aws-ecs-wait",
    PEERS[2]: "ecspresso-model",
    BOTS[0]: "bot-defaults",
    BOTS[1]: "bot-events",
}
# The calls each peer's wait makes (the bots: every CodeDeploy and ECS call).
WAITS = {
    PEERS[0]: {"DescribeServices", "ListTasks", "DescribeTasks"},
    PEERS[1]: {"DescribeServices"},
    PEERS[2]: {"ListServiceDeployments", "DescribeServiceDeployments"},
}
NOTES = """
ECS's own engines, 180 deployments, each started and waited for by a peer as a real process: fabfuel's
`ecs deploy` (`ecs-deploy` 1.17.0 from PyPI; it polls DescribeServices every second) and `aws ecs wait
services-stable` (awscli 1.46.3, after the benchmark's own UpdateService; DescribeServices every 15 s),
sixty each, over rolling services with the circuit breaker and its rollback (two tasks, maximumPercent
200); and a model of ecspresso (a Go binary no registry here serves, so `bench/ecspresso_model.py` does
what it documents: RegisterTaskDefinition, UpdateService, then the service deployment read every 10 s
until it leaves IN_PROGRESS), sixty over native services cycling blue/green, linear (50 % a minute) and
canary (10 % for a minute), with and without a one-minute bake, half with a smoke-test Lambda hook. Each
peer has lanes (six, six and twelve services) and deploys each lane's service again and again, the next
run once the last has settled and after a random 0 to 15 s, so the polls are not lined up with the
outcomes and this machine's two cores are not shared by a hundred pollers. Every other run fails: a
rolling one's tasks exit 1 until the circuit breaker rolls back; a native one fails its smoke test after
test traffic or, without the hook, its tasks never start (SCALE_UP). Each new-task start takes a random 0
to 20 s longer. The outcome moment is the sandbox's SUCCESSFUL or ROLLBACK_REQUESTED; a peer's lag is
when its process exits, and a peer that exits 0 on a rolled-back deployment is counted as telling a
failure as success. The two deploybots (defaults; events wake-up) watch the same deployments as outside
deployments, found by their scan (the catalog's 24 services described ten a call, every 10 s) or by
the event. Reads per deployment: a peer's wait calls (listed per peer); a bot's every ECS call, what it
costs to adopt a deployment it did not start included (the scan's DescribeServices names each busy
service's current deployment, so nothing is listed; deployments found together are described together,
then their revisions; each new task definition is read once, for its tags and image), listed by call.
Half of every peer's deployments fail: in a native lane (five runs) every other lane begins with the
failing run.

The misses, honestly: fabfuel polls every second, so its Succeeded lag is already about two thirds of
a second, and 10x lower would mean reading every few hundredths of a second, some forty times the
waiter's reads; deploybot at its defaults is about level with it (and tells its rolled-back deployments
as failures, which fabfuel and `aws ecs wait` both report as success), and with the events wake-up 18x
ahead. Against ecspresso's 10 s poll the defaults are 5 to 6x ahead on successes, not 10x: with all the
deployments in flight read by one call, an outcome no schedule names is told within one call's gap, and
at the waiter's rate (four calls a minute per deployment, the dozen or so in flight here sharing each
call) that gap is about a second. ECS's statuses now have the whole rate (no quarter kept for details ECS
does not need), and its linear and canary steps and the bake's end are moments read just after they
come, but a bake-less success and a failure are not predictable. Reads per deployment are far fewer than
fabfuel's and ecspresso's and just above `aws ecs wait`'s (4.6 against 4.0; 7.3 before adopting got
cheaper): by call (below), the statuses are under two a deployment; the rest is what the waiter never
does: the failure's diagnosis (ListTasks and DescribeTasks, why the new tasks stopped, once per failed
deployment: about one a deployment here, half of them failing) and adopting a deployment deploybot did
not start (its task definition's tags say whose request it is), which a deployment started by /deploy
does not need. Without the diagnosis deploybot reads fewer than the waiter; it stays, because a failure
told without its reason is what deploybot exists to replace.
"""


def _env(stack: Stack, tool: str) -> dict[str, str]:
    return {
        **stack.sandbox.env,
        "AWS_SDK_UA_APP_ID": AGENTS[tool],
        "AWS_DEFAULT_REGION": stack.sandbox.env["AWS_REGION"],
    }


async def _process(stack: Stack, tool: str, service: str, delay: float, args: list[str]) -> dict[str, Any]:
    await asyncio.sleep(delay)
    proc = await asyncio.create_subprocess_exec(
        *args, env=_env(stack, tool), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    said_success = proc.returncode == 0 and ("successful" in text.lower() or "completed" in text.lower() or not text)
    return {
        "tool": tool,
        "service": service,
        "ended": time.time(),
        "exit": proc.returncode,
        "success": said_success,
        "output": text[-300:],
    }


async def _fabfuel(stack: Stack, service: str, delay: float) -> dict[str, Any]:
    ecs = str(Path(sys.executable).parent / "ecs")
    args = [ecs, "deploy", "apps", service, "--image", ecs_fleet.REPOSITORY, ecs_fleet.IMAGE, "--timeout", "900"]
    return await _process(stack, PEERS[0], service, delay, [*args, "--no-deregister"])


async def _aws_wait(stack: Stack, service: str, delay: float) -> dict[str, Any]:
    await asyncio.sleep(delay)
    await asyncio.to_thread(ecs_fleet.update, stack.sandbox.client("ecs"), service)
    url = stack.sandbox.env["AWS_ENDPOINT_URL"]
    args = [sys.executable, "-m", "awscli", "ecs", "wait", "services-stable", "--cluster", "apps"]
    return await _process(stack, PEERS[1], service, 0, [*args, "--services", service, "--endpoint-url", url])


async def _ecspresso(stack: Stack, service: str, delay: float) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.ecspresso_model", "--cluster", "apps", "--service", service]
    return await _process(stack, PEERS[2], service, delay, [*args, "--image", ecs_fleet.IMAGE])


# Lanes per peer and runs per lane: each lane is one service deployed again and again (the next run once
# the last has settled), so the catalog stays small enough for the bots' scan and this machine's two
# cores are not shared by a hundred pollers at once. Native deployments are longer: more lanes, fewer runs.
LANES = {PEERS[0]: 6, PEERS[1]: 6, PEERS[2]: 12}
RUNS = {PEERS[0]: 10, PEERS[1]: 10, PEERS[2]: 5}
RUNNERS = {PEERS[0]: _fabfuel, PEERS[1]: _aws_wait, PEERS[2]: _ecspresso}
SETTLING = ("PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")


async def _settled(stack: Stack, service: str) -> None:
    ecs = stack.sandbox.client("ecs")
    for _ in range(600):
        listed = await asyncio.to_thread(ecs.list_service_deployments, cluster="apps", service=service)
        if not any(d["status"] in SETTLING for d in listed["serviceDeployments"]):
            return
        await asyncio.sleep(1)


async def _lane(
    stack: Stack, peer: str, service: str, runs: int, rng: random.Random, *, quick: bool, odd: bool
) -> list[Any]:
    """``runs`` deployments of ``service`` by ``peer``, one after another; every other one fails (``odd``:
    the first one), so that half of an odd number of runs a lane fail over an even number of lanes."""
    out = []
    for k in range(runs):
        await _settled(stack, service)
        # Sandbox seconds; quick, 2 to 5 s at 8x, so both bots find every deployment before it ends.
        extra = rng.uniform(16, 40) if quick else rng.uniform(0, 20)
        await stack.sandbox.aws(action="slow_install", service=service, seconds=extra)
        if (k + odd) % 2:
            await stack.sandbox.aws(action="fail_next", service=service)
        began = time.time()
        run = await RUNNERS[peer](stack, service, rng.uniform(0, 2 if quick else 15))
        out.append({**run, "began": began})
    return out


async def _deploy_all(stack: Stack, quick: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    box = stack.sandbox
    rng = random.Random(11)  # noqa: S311 - spreading start times and durations, not crypto
    lanes, runs = _sizes(quick)
    rolling = iter(box.services[: lanes[PEERS[0]] + lanes[PEERS[1]]])
    native = iter(box.services[lanes[PEERS[0]] + lanes[PEERS[1]] :])
    work = []
    for peer in PEERS:
        services = native if peer == PEERS[2] else rolling
        for i in range(lanes[peer]):
            lane_rng = random.Random(rng.random())  # noqa: S311 - as above
            work.append(_lane(stack, peer, next(services), runs[peer], lane_rng, quick=quick, odd=bool(i % 2)))
    done = [run for lane in await asyncio.gather(*work) for run in lane]
    await asyncio.sleep(3 if quick else 20)
    return done, await box.stats()


def _sizes(quick: bool) -> tuple[dict[str, int], dict[str, int]]:
    if quick:
        return dict.fromkeys(PEERS, 2), dict.fromkeys(PEERS, 2)
    return LANES, RUNS


def _outcomes(stats: dict[str, Any]) -> dict[str, list[tuple[float, str, float, str]]]:
    """Service name -> its service deployments (first seen, outcome, when, ARN), from the transitions."""
    first: dict[str, float] = {}
    ends: dict[str, tuple[str, float]] = {}
    for t in stats["transitions"]:
        arn = str(t["deployment_id"])
        if ":service-deployment/" not in arn:
            continue
        first.setdefault(arn, float(t["at"]))
        outcome = {"SUCCESSFUL": "Succeeded", "ROLLBACK_REQUESTED": "Failed"}.get(t["status"])
        if outcome and arn not in ends:
            ends[arn] = (outcome, float(t["at"]))
    out: dict[str, list[tuple[float, str, float, str]]] = {}
    for arn, (outcome, at) in ends.items():
        out.setdefault(arn.split("/")[-2], []).append((first[arn], outcome, at, arn))
    return out


def _ended(ends: dict[str, list[tuple[float, str, float, str]]], run: dict[str, Any]) -> tuple[str, float, str] | None:
    """The outcome of the deployment ``run`` made: its service's that began while the run ran."""
    for began, outcome, at, arn in ends.get(run["service"], []):
        if run["began"] <= began <= run["ended"]:
            return outcome, at, arn
    return None


def _lags(
    runs: list[dict[str, Any]], stats: dict[str, Any], count: int
) -> tuple[dict[tuple[str, str], list[float]], list[str], dict[str, int]]:
    ends = _outcomes(stats)
    channels = [{f"C0TEAM{i:03d}" for i in range(count)}, {f"C0TEAM{i:03d}" for i in range(count, 2 * count)}]
    seen = {bot: _reported(stats["slack_calls"], chans) for bot, chans in zip(BOTS, channels, strict=True)}
    lags: dict[tuple[str, str], list[float]] = {}
    missing: list[str] = []
    wrong: dict[str, int] = {}
    for r in runs:
        end = _ended(ends, r)
        if end is None:
            missing.append(f"{r['service']}: {r['output']!r}")
            continue
        outcome, at, arn = end
        lags.setdefault((r["tool"], outcome), []).append(r["ended"] - at)
        if outcome == "Failed" and r["success"]:
            wrong[r["tool"]] = wrong.get(r["tool"], 0) + 1
        for bot, told in seen.items():
            if arn in told:
                lags.setdefault((f"{bot} | {r['tool']}", outcome), []).append(told[arn] - at)
            else:
                missing.append(f"{bot} never reported {arn.rsplit('/', 2)[-2]}")
    return lags, missing, wrong


def _reads(stats: dict[str, Any], tool: str) -> int:
    rows = [r for r in stats["agent_calls"] if r["agent"] == AGENTS[tool] and r["service"] in ("codedeploy", "ecs")]
    if tool in WAITS:
        rows = [r for r in rows if r["op"] in WAITS[tool]]
    return sum(int(r["calls"]) for r in rows)


def _by_call(stats: dict[str, Any], tool: str, runs: int) -> str:
    """A bot's ECS calls per deployment, by operation, most first."""
    rows = [r for r in stats["agent_calls"] if r["agent"] == AGENTS[tool] and r["service"] in ("codedeploy", "ecs")]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["op"]] = counts.get(r["op"], 0) + int(r["calls"])
    return ", ".join(f"{op} {n / max(1, runs):.2f}" for op, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _figures(lags: dict[tuple[str, str], list[float]], reads: dict[str, float], wrong: dict[str, int]) -> list[Figure]:
    figures = []
    for peer in PEERS:
        for outcome, factor in (("Succeeded", 10), ("Failed", 5)):
            theirs = lags.get((peer, outcome), [])
            peer_median = median(theirs)
            for bot, goal in ((BOTS[0], f"{factor}x lower than the peer"), (BOTS[1], "< 1 s")):
                mine = lags.get((f"{bot} | {peer}", outcome), [])
                value = median(mine)
                if value is None or peer_median is None:
                    met = None
                else:
                    met = value * factor <= peer_median if bot == BOTS[0] else value < 1.0
                p90, peer_p90 = percentile(mine, 90), percentile(theirs, 90)
                note = f"{len(mine)} of {len(theirs)} deployments"
                if p90 is not None and peer_p90 is not None:
                    note += f"; p90 {p90:.2f} s against {peer_p90:.1f} s"
                if outcome == "Failed" and wrong.get(peer):
                    note += f"; the peer said success for {wrong[peer]} rolled-back deployments"
                label = "defaults" if bot == BOTS[0] else "events wake-up"
                name = f"{peer}, {outcome}: median lag, {label}"
                figures.append(Figure(SECTION, name, value, "s", goal, met, peer_median, note))
    cheapest = min(reads[p] for p in PEERS)
    listed = ", ".join(f"{p} {reads[p]:.1f}" for p in PEERS)
    for bot in BOTS:
        label = "defaults" if bot == BOTS[0] else "events wake-up"
        figures.append(
            Figure(
                SECTION,
                f"AWS reads per deployment, {label}",
                reads[bot],
                "",
                "<= the cheapest peer's",
                met=None if not cheapest else reads[bot] <= cheapest,
                peer=cheapest,
                note=f"the peers' waits: {listed}",
            )
        )
    return figures


async def run(quick: bool) -> list[Figure]:
    lanes, _ = _sizes(quick)
    speed = 8.0 if quick else 1.0
    settings = {"DEPLOYBOT_SCAN_SECONDS": "1"} if quick else {}
    if quick:  # the sandbox runs 8x faster: so do the budget's minutes
        settings |= {"DEPLOYBOT_READS_PER_MINUTE": "1440", "DEPLOYBOT_READS_PER_DEPLOYMENT": "32"}
    total = sum(lanes.values())  # services, one per lane
    stack = Stack(
        fleet=0,
        speed=speed,
        channels=2 * total,
        settings={**settings, "AWS_SDK_UA_APP_ID": AGENTS[BOTS[0]]},
        ecs=(lanes[PEERS[0]] + lanes[PEERS[1]], lanes[PEERS[2]]),
    )
    async with stack:
        box = stack.sandbox
        queue = box.client("sqs").get_queue_url(QueueName="deploybot-codedeploy-events")["QueueUrl"]
        catalog = yaml.safe_load(box.catalog.read_text())
        for i, app in enumerate(catalog["apps"].values()):
            app["deploy_channel"] = f"C0TEAM{total + i:03d}"
        events_catalog = stack.workdir / "catalog-events.yml"
        events_catalog.write_text(yaml.safe_dump(catalog))
        await stack.start_bot()
        eventful = await Bot(
            box,
            free_port(),
            {
                **settings,
                "DEPLOYBOT_CONFIG": str(events_catalog),
                "DEPLOYBOT_EVENTS_QUEUE_URL": queue,
                "AWS_SDK_UA_APP_ID": AGENTS[BOTS[1]],
            },
        ).start()
        try:
            runs, stats = await _deploy_all(stack, quick)
        finally:
            await eventful.stop()
    lags, missing, wrong = _lags(runs, stats, total)
    reads = {p: _reads(stats, p) / max(1, sum(1 for r in runs if r["tool"] == p)) for p in PEERS}
    reads |= {b: _reads(stats, b) / max(1, len(runs)) for b in BOTS}
    figures = _figures(lags, reads, wrong)
    for figure, bot in zip(figures[-2:], BOTS, strict=True):
        figure.note += f"; deploybot's, by call: {_by_call(stats, bot, len(runs))}"
    if missing:
        figures[0].note += f"; not measured ({len(missing)}): " + "; ".join(missing[:4])
    return figures
