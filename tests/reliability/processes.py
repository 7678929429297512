"""`deploybot serve` as a real process against the sandbox, for the reliability tests."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from sandbox.runner import CATALOG, Sandbox

ROOT = Path(__file__).resolve().parents[2]


class Bot:
    def __init__(
        self,
        sandbox: Sandbox,
        tmp_path: Path,
        crash_at: str | None = None,
        *,
        transport: str = "socket",
        store: str | None = None,
        name: str | None = None,
        lease_seconds: float = 1.0,
    ) -> None:
        self.env = {
            **os.environ,
            **sandbox.env(),
            "DEPLOYBOT_CONFIG": str(CATALOG),
            "DEPLOYBOT_STORE": store or f"sqlite:///{tmp_path / 'deploybot.db'}",
            "DEPLOYBOT_HTTP_HOST": "127.0.0.1",
            "DEPLOYBOT_HTTP_PORT": "0",
            "DEPLOYBOT_POLL_INTERVAL": "0.1",
            "DEPLOYBOT_READS_PER_MINUTE": "0",  # as in tests/conftest.py: deployments of seconds, not minutes
            "DEPLOYBOT_READS_PER_DEPLOYMENT": "0",
            # As in-process tests: pacing has its own tests, and would only slow these scenarios down.
            "DEPLOYBOT_SLACK_POSTS_PER_MINUTE": "0",
            "DEPLOYBOT_SLACK_UPDATES_PER_MINUTE": "0",
            "DEPLOYBOT_LEASE_SECONDS": str(lease_seconds),
            "DEPLOYBOT_STARTING_GRACE_SECONDS": "1",
            "DEPLOYBOT_LOG_FORMAT": "json",
            "DEPLOYBOT_PREFLIGHT": "false",  # as in tests/conftest.py: its reads would skew the call counts
            "DEPLOYBOT_TRANSPORT": transport,
        }
        if store and store.startswith("dynamodb://"):
            self.env["DEPLOYBOT_REPLICAS"] = "3"
        self.command = ["-m", "tests.reliability.crashing_bot", crash_at] if crash_at else ["-m", "bot", "serve"]
        self.env["PYTHONPATH"] = str(ROOT)  # the crashing launcher lives in the tests package
        self.transport = transport
        self.log = tmp_path / f"bot-{name or crash_at or 'after'}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self, sandbox: Sandbox) -> None:
        with self.log.open("w") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, *self.command, env=self.env, stdout=out, stderr=out, cwd=ROOT
            )
        if self.transport == "socket":
            await sandbox.slack.wait_for(
                lambda: [c for c in sandbox.slack.deliverer.connections if not c.retiring],
                timeout=30,
                what="the bot's Socket Mode connection",
            )
        for _ in range(600):
            self.port = self._started_port()
            if self.port:
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)  # waiting for another process to boot
        raise AssertionError(f"deploybot serve did not start:\n{self.log.read_text()[-2000:]}")

    def _started_port(self) -> int:
        for line in self.log.read_text().splitlines():
            if line.startswith("{") and json.loads(line).get("event") == "bot_started":
                return int(json.loads(line)["port"])
        return 0

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
