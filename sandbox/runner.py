"""Both halves of the sandbox together, plus the AWS panel and switches the web page shows."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from . import panel
from .aws.moto_ext import CONTROL
from .aws.seed import CLUSTER, SERVICES, ServiceNames, push_image
from .aws.seed_ecs import ECS_SERVICES
from .aws.server import LocalAws
from .aws.simulation import LIFECYCLE, HookFailure
from .slack.server import LocalSlack

CATALOG = Path(__file__).resolve().parent / "catalog.yml"
ECS = {spec.name: spec for spec in ECS_SERVICES}


class Sandbox:
    def __init__(
        self, *, slack_port: int = 0, aws_port: int = 0, speed: float | None = None, one_clock: bool = False
    ) -> None:
        self.aws = LocalAws(port=aws_port)
        # one_clock (the demo): Slack's message times come from the simulated clock too, as the bot's do.
        stamp = (lambda: CONTROL.clock.now().timestamp()) if one_clock else time.time
        self.slack = LocalSlack(port=slack_port, clock=stamp)
        self.speed = speed

    async def start(self) -> Sandbox:
        await asyncio.to_thread(self.aws.start)
        if self.speed is None:
            CONTROL.clock.configure(manual=True)
        else:
            CONTROL.clock.configure(manual=False, speed=self.speed)
        await asyncio.to_thread(self.aws.seed)
        await self.slack.start()
        self.slack.aws_panel = self.panel
        self.slack.aws_control = self.control
        self.slack.aws_stats = self.aws.stats
        return self

    def now(self) -> datetime:
        """The sandbox's clock: what the local AWS (and, with one_clock, Slack) reads."""
        return CONTROL.clock.now()

    async def stop(self) -> None:
        await self.slack.stop()
        await asyncio.to_thread(self.aws.stop)

    def env(self) -> dict[str, str]:
        return {**self.slack.env(), **self.aws.env()}

    # -- the AWS panel -----------------------------------------------------------------------

    async def panel(self) -> dict[str, Any]:
        return await asyncio.to_thread(self._panel)

    def _panel(self) -> dict[str, Any]:
        return {
            "services": panel.services(self.aws.client),
            "clock": CONTROL.clock.now().isoformat(timespec="seconds"),
            "speed": CONTROL.clock.speed,
            "manual": CONTROL.clock.manual,
            "latency": CONTROL.latency_seconds,
            "throttles": dict(CONTROL.throttles),
        }

    # -- switches ----------------------------------------------------------------------------

    def _exists(self, service: str) -> bool:
        """Services seeded besides the standard ones (a benchmark's fleet) take switches too."""
        found = self.aws.client("ecs").describe_services(cluster=CLUSTER, services=[service])["services"]
        return bool(found) and found[0].get("status") == "ACTIVE"

    async def control(self, body: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(self._control, body)

    def _control(self, body: dict[str, Any]) -> dict[str, Any]:
        action = body.get("action")
        service = str(body.get("service", ""))
        per_service = ("fail_next", "alarm", "push", "slow_install")
        known = (*SERVICES, *ECS)
        if action in per_service and service not in known and not self._exists(service):
            raise ValueError(f"unknown service {service!r}; the sandbox has {', '.join(known)}")
        if action == "fail_next":
            event = str(body.get("event", "AfterAllowTestTraffic"))
            if event not in LIFECYCLE:
                raise ValueError(f"unknown lifecycle event {event!r}")
            if body.get("on", True):
                CONTROL.fail_next[service] = HookFailure(event=event)
            else:
                CONTROL.fail_next.pop(service, None)
        elif action == "slow_install":
            CONTROL.slow_install[service] = max(0.0, float(body.get("seconds", 0)))
        elif action == "alarm":
            if body.get("on", True):
                CONTROL.alarms[service] = f"{service}-5xx"
            else:
                CONTROL.alarms.pop(service, None)
        elif action == "throttle":
            CONTROL.throttles[str(body["operation"])] = int(body.get("count", 1))
        elif action == "latency":
            seconds = max(0.0, float(body.get("seconds", 0)))
            if body.get("operation"):
                CONTROL.latency_by_operation[str(body["operation"])] = seconds
            else:
                CONTROL.latency_seconds = seconds
        elif action == "advance":
            CONTROL.clock.advance(float(body.get("seconds", 60)))
        elif action == "speed":
            CONTROL.clock.configure(manual=False, speed=float(body.get("value", 1)))
        elif action == "push":
            spec = ECS.get(service)
            ecr = self.aws.client("ecr", region=spec.region, account=spec.account) if spec else self.aws.client("ecr")
            repository = spec.repository if spec else ServiceNames(service).repository
            digest = push_image(ecr, repository, str(body.get("tag", "")), salt=str(body.get("salt", "")))
            return {"ok": True, "digest": digest}
        else:
            raise ValueError(f"unknown action {action!r}")
        return {"ok": True}
