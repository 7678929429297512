"""The system under test: the sandbox (in this process, its clock running) and three `deploybot serve`
replicas in HTTP mode on one DynamoDB table, each a process of its own that a fault may kill, pause or
restart. Slack's deliveries go round the replicas that are up, as a load balancer's would; a paused one
stays in the rotation (a load balancer does not know yet), so what is sent to it waits, times out for the
sender, and is handled when the process resumes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bot.aws.dynamo_store import DynamoStore
from bot.runtime.stores import StoreSettings, init_store
from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.seed import ALERT_QUEUE
from sandbox.runner import CATALOG, Sandbox

ROOT = Path(__file__).resolve().parents[1]
TABLE = "deploybot-soak"
LEASE_SECONDS = 2.0  # the watch leases and claims: short, so a paused or killed replica is taken over soon
AGENT = "deploybot-soak"  # the replicas' User-Agent app id: the only caller AWS's faults are meant for
OWN_AGENT = "soak-campaign"  # the campaign's own clients (the store's reader, the CI job)


@dataclass
class Replica:
    """One `deploybot serve` process; ``generation`` counts its restarts (each has its own log)."""

    name: str
    workdir: Path
    env: dict[str, str]
    generation: int = 0
    proc: asyncio.subprocess.Process | None = None
    port: int = 0
    paused: bool = False
    killed: bool = False
    logs: list[Path] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and not self.killed

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def start(self) -> None:
        self.generation += 1
        log = self.workdir / f"{self.name}-{self.generation}.log"
        self.logs.append(log)
        with log.open("w") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", env=self.env, stdout=out, stderr=out, cwd=ROOT
            )
        self.paused = self.killed = False
        for _ in range(1200):
            port = _started_port(log)
            if port:
                self.port = port
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise RuntimeError(f"replica {self.name} did not start:\n{log.read_text()[-2000:]}")

    def kill(self) -> None:
        """kill -9: no clean-up, no last words."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            self.killed = True

    def pause(self) -> None:
        if self.proc is not None and self.proc.returncode is None and not self.paused:
            os.kill(self.proc.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.proc is not None and self.paused:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.paused = False

    async def stop(self) -> None:
        self.resume()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def _started_port(log: Path) -> int:
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except ValueError:
                continue
            if found.get("event") == "bot_started":
                return int(found["port"])
    return 0


class Cluster:
    """``box``: a sandbox already started (a test's), whose clock is then set running at ``speed``; None:
    one of the cluster's own."""

    def __init__(self, workdir: Path, box: Sandbox | None = None, replicas: int = 3, speed: float = 30.0) -> None:
        self.workdir = workdir
        self.own = box is None
        self.box = box or Sandbox(speed=speed)
        self.speed = speed
        self.count = replicas
        self.replicas: list[Replica] = []
        self.store: DynamoStore | None = None
        self._environ: dict[str, str | None] = {}

    async def start(self) -> Cluster:
        self._set_env({"AWS_SDK_UA_APP_ID": OWN_AGENT})
        if self.own:
            await self.box.start()
            # moto's backends live as long as this process: the seed before this one left its table,
            # records and deployments there. A fresh start of the sandbox's AWS for each seed.
            await asyncio.to_thread(self.box.aws.reset)
        else:
            CONTROL.clock.configure(manual=False, speed=self.speed)
        env = self.box.aws.env()
        self._set_env(env)  # this process's own boto3 clients (the store's reader) reach the sandbox too
        CONTROL.fault_agent = AGENT
        settings = StoreSettings(store_url=f"dynamodb://{TABLE}", aws_endpoint_url=self.box.aws.endpoint)
        await asyncio.to_thread(init_store, settings)
        self.store = DynamoStore(TABLE, env["AWS_REGION"], self.box.aws.endpoint)
        queue = self.box.aws.client("sqs").get_queue_url(QueueName=ALERT_QUEUE)["QueueUrl"]
        for i in range(self.count):
            self.replicas.append(Replica(f"r{i}", self.workdir, self._env(queue)))
        await asyncio.gather(*(r.start() for r in self.replicas))
        self.balance()
        return self

    def _env(self, queue: str) -> dict[str, str]:
        return {
            **os.environ,
            **self.box.env(),
            "PYTHONPATH": str(ROOT),
            "AWS_SDK_UA_APP_ID": AGENT,
            "DEPLOYBOT_TRANSPORT": "http",
            "DEPLOYBOT_CONFIG": str(CATALOG),
            "DEPLOYBOT_STORE": f"dynamodb://{TABLE}",
            "DEPLOYBOT_REPLICAS": str(self.count),
            "DEPLOYBOT_EVENTS_QUEUE_URL": queue,
            "DEPLOYBOT_HTTP_HOST": "127.0.0.1",
            "DEPLOYBOT_HTTP_PORT": "0",
            "DEPLOYBOT_POLL_INTERVAL": "0.2",
            # The sandbox's deployments run thirty times faster than the wall clock the replicas live on:
            # no read budget (it counts wall minutes), as in the other tests that run deployments of seconds.
            "DEPLOYBOT_READS_PER_MINUTE": "0",
            "DEPLOYBOT_READS_PER_DEPLOYMENT": "0",
            "DEPLOYBOT_LEASE_SECONDS": str(LEASE_SECONDS),
            # A start left STARTING by a replica that died is ended after this: longer than any start takes
            # here with its retries, so a live replica (paused a moment, or slow under AWS's faults) is
            # never overtaken, as the default of five minutes guarantees for real AWS.
            "DEPLOYBOT_STARTING_GRACE_SECONDS": "30",
            "DEPLOYBOT_LOG_FORMAT": "json",
            "DEPLOYBOT_PREFLIGHT": "false",
        }

    def balance(self) -> None:
        """The load balancer's targets: every replica whose process is alive."""
        self.box.slack.deliverer.events_urls = [r.url for r in self.replicas if r.up]

    async def restart(self, replica: Replica) -> None:
        replica.kill()
        self.balance()
        if replica.proc is not None:
            await replica.proc.wait()
        await replica.start()
        self.balance()

    async def stop(self) -> None:
        await asyncio.gather(*(r.stop() for r in self.replicas))
        if self.store is not None:
            self.store.close()
        if self.own:
            await self.box.stop()
        else:
            CONTROL.clock.configure(manual=True)
        CONTROL.fault_agent = None
        for name, value in self._environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _set_env(self, values: dict[str, str]) -> None:
        """Set this process's environment, remembering what it was (a test's process goes on after us)."""
        for name, value in values.items():
            self._environ.setdefault(name, os.environ.get(name))
            os.environ[name] = value
