"""Processes for a benchmark: the sandbox (with a fleet) in one, `deploybot serve` in another.

The bench process only talks to them as outsiders do: the sandbox's control API over HTTP, boto3 or
the AWS CLI against the sandbox's endpoint, and the bot's /healthz.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import boto3
from botocore.config import Config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sandbox:
    """`python -m bench.sandbox_proc` and its control API."""

    def __init__(
        self,
        workdir: Path,
        *,
        fleet: int,
        speed: float,
        termination: str,
        events_url: str | None,
        channels: int = 0,
        configs: str = "CodeDeployDefault.ECSAllAtOnce",
        ecs: tuple[int, int] = (0, 0),
    ) -> None:
        self.workdir = workdir
        self.catalog = workdir / "catalog.yml"
        self.args = ["--fleet", str(fleet), "--speed", str(speed), "--termination", termination, "--configs", configs]
        self.args += ["--channels", str(channels)]
        self.args += ["--ecs-rolling", str(ecs[0]), "--ecs-native", str(ecs[1])]  # (rolling, native) services
        self.args += ["--catalog", str(self.catalog)] + (["--events-url", events_url] if events_url else [])
        self.proc: asyncio.subprocess.Process | None = None
        self.env: dict[str, str] = {}
        self.url = ""
        self.services: list[str] = []
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> Sandbox:
        log = (self.workdir / "sandbox.log").open("w")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.sandbox_proc", *self.args, stdout=asyncio.subprocess.PIPE, stderr=log
        )
        stdout = self.proc.stdout
        if stdout is None:
            raise RuntimeError("the sandbox's stdout is not a pipe")
        line = await asyncio.wait_for(stdout.readline(), timeout=900)
        if not line:
            raise RuntimeError(f"the sandbox did not start:\n{(self.workdir / 'sandbox.log').read_text()[-3000:]}")
        ready = json.loads(line)
        self.env, self.url, self.services = ready["env"], ready["slack"], ready["services"]
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self

    async def stop(self) -> None:
        if self.http:
            await self.http.close()
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()

    @property
    def _http(self) -> aiohttp.ClientSession:
        if self.http is None:
            raise RuntimeError("the sandbox is not started")
        return self.http

    async def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        async with self._http.post(f"{self.url}{path}", json=dict(body)) as resp:
            if resp.status != 200:
                raise RuntimeError(f"{path}: {resp.status} {await resp.text()}")
            return dict(await resp.json())

    async def _get(self, path: str) -> dict[str, Any]:
        async with self._http.get(f"{self.url}{path}") as resp:
            return dict(await resp.json())

    async def command(self, text: str, user: str = "U0ALICE", channel: str = "C0DEPLOYS") -> dict[str, Any]:
        return await self._post("/_sandbox/command", {"text": text, "user": user, "channel": channel})

    async def click(self, channel: str, ts: str, action_id: str, user: str = "U0BOB") -> dict[str, Any]:
        return await self._post("/_sandbox/click", {"channel": channel, "ts": ts, "action_id": action_id, "user": user})

    async def aws(self, **action: Any) -> dict[str, Any]:
        return await self._post("/_sandbox/aws", action)

    async def faults(self, **body: Any) -> dict[str, Any]:
        return await self._post("/_sandbox/faults", body)

    async def messages(self, channel: str = "C0DEPLOYS") -> list[dict[str, Any]]:
        state = await self._get("/_sandbox/state?user=U0ALICE")
        return next(c["messages"] for c in state["channels"] if c["id"] == channel)

    async def stats(self) -> dict[str, Any]:
        return await self._get("/_sandbox/stats")

    def client(self, service: str) -> Any:
        # Any service a test or benchmark names: the typed overloads only take literal names.
        session: Any = boto3.session.Session()
        return session.client(
            service,
            region_name=self.env["AWS_REGION"],
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
        )


class Bot:
    """`deploybot serve` in HTTP mode on ``port``, started against a running sandbox."""

    def __init__(self, sandbox: Sandbox, port: int, settings: Mapping[str, str] | None = None) -> None:
        self.port = port
        self.log = sandbox.workdir / f"bot-{port}.log"
        self.env = {
            **os.environ,
            **sandbox.env,
            "DEPLOYBOT_CONFIG": str(sandbox.catalog),
            "DEPLOYBOT_STORE": f"sqlite:///{sandbox.workdir / f'bot-{port}.db'}",
            "DEPLOYBOT_HTTP_HOST": "127.0.0.1",
            "DEPLOYBOT_HTTP_PORT": str(port),
            "DEPLOYBOT_TRANSPORT": "http",
            "DEPLOYBOT_LOG_FORMAT": "json",
            # The benchmarks measure deployments, not the one-off start-up reads of the preflight.
            "DEPLOYBOT_PREFLIGHT": "false",
            **(settings or {}),
        }
        self.env.pop("SLACK_APP_TOKEN", None)
        self.proc: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.ready_after: float | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the bot is not started")
        return self.proc.pid

    async def start(self, timeout: float = 60) -> Bot:
        with self.log.open("w") as out:
            self.started = time.perf_counter()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", env=self.env, stdout=out, stderr=out
            )
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.perf_counter() - self.started < timeout:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                        if resp.status == 200:
                            self.ready_after = time.perf_counter() - self.started
                            return self
                if self.proc.returncode is not None:
                    break
                await asyncio.sleep(0.01)  # polling another process's readiness: nothing to await instead
        raise RuntimeError(f"deploybot serve was not ready:\n{self.log.read_text()[-3000:]}")

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


class Stack:
    """A sandbox and one bot wired to it; ``async with Stack(...) as stack``."""

    def __init__(
        self,
        *,
        fleet: int,
        speed: float = 1.0,
        termination: str = "1",
        channels: int = 0,
        settings: Mapping[str, str] | None = None,
        configs: str = "CodeDeployDefault.ECSAllAtOnce",
        ecs: tuple[int, int] = (0, 0),
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="deploybot-bench-")
        self.workdir = Path(self._tmp.name)
        self.port = free_port()
        self.sandbox = Sandbox(
            self.workdir,
            fleet=fleet,
            speed=speed,
            termination=termination,
            events_url=f"http://127.0.0.1:{self.port}/slack/events",
            channels=channels,
            configs=configs,
            ecs=ecs,
        )
        self.settings = dict(settings or {})
        self.bot: Bot | None = None

    async def __aenter__(self) -> Stack:
        await self.sandbox.start()
        return self

    async def start_bot(self) -> Bot:
        self.bot = await Bot(self.sandbox, self.port, self.settings).start()
        return self.bot

    async def __aexit__(self, *exc: object) -> None:
        if self.bot:
            await self.bot.stop()
        await self.sandbox.stop()
        self._tmp.cleanup()
