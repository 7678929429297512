"""Deployment configurations for ECS: how CodeDeploy moves traffic to green over time."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PREDEFINED: dict[str, dict[str, Any]] = {
    "CodeDeployDefault.ECSAllAtOnce": {"type": "AllAtOnce"},
    "CodeDeployDefault.ECSCanary10Percent5Minutes": {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5},
    },
    "CodeDeployDefault.ECSCanary10Percent15Minutes": {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 15},
    },
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 1},
    },
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 3},
    },
}


@dataclass(frozen=True)
class TrafficSchedule:
    """Green's traffic weight as a step function of the seconds since AllowTraffic began."""

    steps: tuple[tuple[float, float], ...]

    @classmethod
    def from_routing(cls, routing: dict[str, Any]) -> TrafficSchedule:
        kind = routing.get("type", "AllAtOnce")
        if kind == "TimeBasedCanary":
            canary = routing["timeBasedCanary"]
            pct, minutes = float(canary["canaryPercentage"]), float(canary["canaryInterval"])
            return cls(((0.0, pct), (minutes * 60, 100.0)))
        if kind == "TimeBasedLinear":
            linear = routing["timeBasedLinear"]
            pct, minutes = float(linear["linearPercentage"]), float(linear["linearInterval"])
            count = math.ceil(100.0 / pct)
            return cls(tuple((k * minutes * 60, min(100.0, (k + 1) * pct)) for k in range(count)))
        return cls(((0.0, 100.0),))

    @property
    def duration(self) -> float:
        return self.steps[-1][0]

    def weight_at(self, offset: float) -> float:
        weight = 0.0
        for at, value in self.steps:
            if offset >= at:
                weight = value
        return weight


def validate_routing(routing: dict[str, Any]) -> str | None:
    """Return why a custom trafficRoutingConfig is invalid, or None."""
    kind = routing.get("type")
    if kind == "AllAtOnce":
        return None
    if kind == "TimeBasedCanary":
        body = routing.get("timeBasedCanary") or {}
        pct, minutes = body.get("canaryPercentage"), body.get("canaryInterval")
    elif kind == "TimeBasedLinear":
        body = routing.get("timeBasedLinear") or {}
        pct, minutes = body.get("linearPercentage"), body.get("linearInterval")
    else:
        return f"Unknown traffic routing type: {kind}"
    if not isinstance(pct, int) or not 1 <= pct <= 99:
        return "The percentage must be an integer between 1 and 99."
    if not isinstance(minutes, int) or minutes < 1:
        return "The interval must be a positive number of minutes."
    return None
