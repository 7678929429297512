"""The words that depend on how an engine deploys: blue/green keeps the old version beside the new one
(green and blue), a rolling update replaces tasks (the new and the old version); and short names for the
engine's long identifiers."""

from __future__ import annotations

from ..domain.models import Deployment
from ..domain.progress import OnTimeout
from .text import progress_bar


def new(record: Deployment) -> str:
    return "green" if record.blue_green else "the new version"


def old(record: Deployment) -> str:
    return "blue" if record.blue_green else "the old version"


def share(record: Deployment, weight: float) -> str:
    """The traffic bar: production traffic on green, or the share of the new version's tasks running."""
    what = "of traffic on green" if record.blue_green else "of the tasks run the new version"
    return f"`{progress_bar(weight)}` {weight:.0f}% {what}"


def short(identifier: str) -> str:
    """An ARN's last part (`arn:aws:ecs:…:service-deployment/apps/shop/AbC` is `AbC`); other ids as they are."""
    return identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier


def on_timeout(record: Deployment) -> str:
    """What the engine does when nobody opens the gate in time."""
    gate = record.gate
    if gate is None or gate.on_timeout is OnTimeout.STOP:
        return "stops the deployment"
    if gate.on_timeout is OnTimeout.GO_ON:
        return "goes on by itself"
    return f"rolls back to {old(record)}"
