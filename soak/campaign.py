"""One run of the fault campaign: the cluster started, the plan's stories played lane by lane while its
faults are injected, every fault then taken back and the system left to settle, and the invariants checked
over everything that happened. ``python -m soak`` runs many; `make test` runs one short seed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.models import State
from sandbox.runner import Sandbox

from .cluster import Cluster
from .faults import Injector
from .invariants import Check, aws_deployments, check, read_world
from .people import Journal, People
from .plan import APPROVERS, Plan, Story, draw

SETTLE = 300.0  # seconds the system has, once the faults are over, to bring every deployment to its end
SECONDS_PER_STORY = 12.0  # how long the plan's faults are spread over, per story and lane
# Seconds without a message posted, updated or deleted before the world is read: a replica resumed at the end
# may still land an update it rendered before its pause, and then, reading the record again, correct it.
QUIET = 3.0
WRITES = {"chat.postMessage", "chat.update", "chat.delete"}


@dataclass
class Outcome:
    seed: int
    requests: int
    checks: list[Check]
    faults: dict[str, int]
    journal: Journal
    records: Counter[str] = field(default_factory=Counter)  # final state -> how many
    deployments: int = 0  # AWS deployments made during the run (deploybot's and CI's)
    seconds: float = 0.0
    workdir: Path | None = None

    @property
    def violations(self) -> int:
        return sum(len(c.violations) for c in self.checks)

    def report(self) -> str:
        lines = [f"seed {self.seed}: {self.requests} stories, {self.seconds:.0f} s, {self.violations} violations"]
        lines.append("  faults: " + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())))
        lines.append("  people: " + ", ".join(f"{k} {v}" for k, v in sorted(self.journal.actions.items())))
        if self.journal.undelivered:
            lines.append(
                "  not delivered (tried again): " + ", ".join(f"{k} {v}" for k, v in self.journal.undelivered.items())
            )
        lines.append(
            f"  records: {sum(self.records.values())} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.records.items()))
            + f"); AWS deployments made: {self.deployments}"
        )
        for c in self.checks:
            verdict = "ok" if not c.violations else "VIOLATED"
            lines.append(f"  [{verdict}] {c.name}: {c.counted} checked, {len(c.violations)} violations")
            lines += [f"      {v}" for v in c.violations[:12]]
        return "\n".join(lines)


async def run(seed: int, requests: int, workdir: Path, box: Sandbox | None = None, speed: float = 30.0) -> Outcome:
    """One seed on a fresh cluster (``box``: on a sandbox already running, a test's; ``speed``: how much
    faster than the wall clock the sandbox's deployments run)."""
    began = time.monotonic()
    plan = draw(seed, requests, seconds=SECONDS_PER_STORY * requests)
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    cluster = await Cluster(workdir, box, speed=speed).start()
    try:
        box, store = cluster.box, cluster.store
        assert store is not None  # noqa: S101 - started
        before = {d.id for d in await asyncio.to_thread(aws_deployments, box)}
        journal = Journal()
        people = People(box, store, journal)
        injector = Injector(cluster, plan)
        stop = asyncio.Event()
        faults = asyncio.create_task(injector.run(stop))
        await asyncio.gather(*(_lane(people, stories) for stories in plan.by_lane().values()))
        stop.set()
        await faults
        await injector.settle()
        await _settle(cluster, people)
        logs = [log for r in cluster.replicas for log in r.logs]
        world = await read_world(box, store, before, logs, journal)
        await asyncio.to_thread(_keep, workdir, box, injector)
        outcome = Outcome(seed, requests, check(world), injector.applied(), journal, workdir=workdir)
        outcome.records = Counter(r.state.value for r in world.records)
        outcome.deployments = sum(1 for d in world.deployments if d.id not in before)
    finally:
        await cluster.stop()
    outcome.seconds = time.monotonic() - began
    return outcome


async def _lane(people: People, stories: list[Story]) -> None:
    for story in stories:
        await people.run(story)


async def _settle(cluster: Cluster, people: People) -> None:
    """Let every deployment reach its end, as people would at the end of the day: a request nobody approved
    is cancelled by its requester, a gate still waiting is opened; and then Slack is left quiet a while."""
    store = cluster.store
    assert store is not None  # noqa: S101 - started
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        flying = await store.in_flight()
        if not flying and time.time() - _last_write(cluster.box) >= QUIET:
            return
        for record in flying:
            if record.state is State.PENDING_APPROVAL:
                await people.click(record, "deploy_cancel", record.requester)
            elif record.gate is not None:
                await people.click(record, "deploy_gate", APPROVERS[0])
        await asyncio.sleep(1)


def _last_write(box: Sandbox) -> float:
    """When (wall clock) Slack last took a message, an update or a deletion."""
    return max((c.at for c in box.slack.ws.calls if c.method in WRITES), default=0.0)


def plan_of(seed: int, requests: int) -> Plan:
    return draw(seed, requests, seconds=SECONDS_PER_STORY * requests)


def _keep(workdir: Path, box: Sandbox, injector: Injector) -> None:
    """What a failing seed is read from, beside the replicas' logs: the faults as injected and every Slack
    Web API call (its message's request id and number, when deploybot marked it)."""
    with (workdir / "faults.jsonl").open("w") as out:
        out.writelines(json.dumps(f) + "\n" for f in injector.log)
    with (workdir / "slack-calls.jsonl").open("w") as out:
        for call in box.slack.ws.calls:
            args = {k: v for k, v in call.args.items() if k in ("channel", "ts", "thread_ts", "text", "metadata")}
            args["text"] = str(args.get("text", ""))[:120]
            line = {"at": call.at, "method": call.method, "ok": call.ok, "error": call.error, **args}
            out.write(json.dumps(line, default=str) + "\n")
