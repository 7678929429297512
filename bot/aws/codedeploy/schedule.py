"""CodeDeploy's own schedule for an ECS deployment: when its next change is due, read from the deployment.

A canary or linear configuration moves traffic at fixed offsets from the start of AllowTraffic; the
termination wait lets the old task set go a fixed time after AfterAllowTraffic ends; the Ready wait
stops the deployment a fixed time after AfterAllowTestTraffic ends (when its action on timeout is to
stop). The predefined configurations are known by name (their traffic routing is documented and fixed);
a custom one is read once with GetDeploymentConfig by the reader.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ...domain.progress import Phase, Progress, Step

CANARY = re.compile(r"^CodeDeployDefault\.ECSCanary(\d+)Percent(\d+)Minutes?$")
LINEAR = re.compile(r"^CodeDeployDefault\.ECSLinear(\d+)PercentEvery(\d+)Minutes?$")


@dataclass(frozen=True)
class Moments:
    next_change: datetime | None = None
    bake_ends: datetime | None = None
    gate_ends: datetime | None = None


def predefined(name: str) -> dict[str, Any] | None:
    """The traffic routing of one of CodeDeploy's predefined ECS configurations (None: not one)."""
    if name == "CodeDeployDefault.ECSAllAtOnce":
        return {"type": "AllAtOnce"}
    if found := CANARY.match(name):
        pct, minutes = (int(g) for g in found.groups())
        return {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": pct, "canaryInterval": minutes}}
    if found := LINEAR.match(name):
        pct, minutes = (int(g) for g in found.groups())
        return {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": pct, "linearInterval": minutes}}
    return None


def traffic_steps(routing: dict[str, Any]) -> list[tuple[float, float]]:
    """(seconds after AllowTraffic begins, percent of traffic on the new version from then)."""
    kind = routing.get("type")
    if kind == "TimeBasedCanary":
        body = routing.get("timeBasedCanary") or {}
        pct, minutes = float(body.get("canaryPercentage", 0)), float(body.get("canaryInterval", 0))
        return [(0.0, pct), (minutes * 60, 100.0)]
    if kind == "TimeBasedLinear":
        body = routing.get("timeBasedLinear") or {}
        pct, minutes = float(body.get("linearPercentage", 0)), float(body.get("linearInterval", 0))
        if pct <= 0:
            return [(0.0, 100.0)]
        return [(k * minutes * 60, min(100.0, (k + 1) * pct)) for k in range(math.ceil(100 / pct))]
    return [(0.0, 100.0)]


def _step(reading: Progress, name: str) -> Step | None:
    return next((s for s in reading.steps if s.name == name), None)


def moments(info: dict[str, Any], reading: Progress, routing: dict[str, Any] | None) -> Moments:
    """The moments CodeDeploy's schedule names for a deployment in ``reading``'s phase."""
    bg = info.get("blueGreenDeploymentConfiguration") or {}
    if reading.phase is Phase.SHIFTING and routing is not None:
        shifting = _step(reading, "AllowTraffic")
        if shifting is None or shifting.start is None or reading.traffic is None:
            return Moments()
        steps = traffic_steps(routing)
        ahead = [at for at, weight in steps if weight > reading.traffic + 1e-6]
        # All traffic moved: the last step's moment, passed, says the end is near (read it closely).
        return Moments(next_change=shifting.start + timedelta(seconds=ahead[0] if ahead else steps[-1][0]))
    if reading.phase is Phase.BAKING:
        term = bg.get("terminateBlueInstancesOnDeploymentSuccess") or {}
        shifted = _step(reading, "AfterAllowTraffic")
        if shifted is not None and shifted.start is not None and shifted.end is None:
            return Moments(next_change=shifted.start)  # its last hook runs: the end, or the wait, is near
        if term.get("action", "TERMINATE") != "TERMINATE" or shifted is None or shifted.end is None:
            return Moments()
        ends = shifted.end + timedelta(minutes=float(term.get("terminationWaitTimeInMinutes") or 0))
        return Moments(next_change=ends, bake_ends=ends)
    if reading.phase is Phase.GATED:
        ready = bg.get("deploymentReadyOption") or {}
        tested = _step(reading, "AfterAllowTestTraffic")
        if ready.get("actionOnTimeout") != "STOP_DEPLOYMENT" or tested is None or tested.end is None:
            return Moments()
        ends = tested.end + timedelta(minutes=float(ready.get("waitTimeInMinutes") or 0))
        return Moments(next_change=ends, gate_ends=ends)
    return Moments()
