"""CodeDeploy's state-change events (EventBridge), as the wake-up reads them off the events queue."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...domain.progress import DeploymentEvent

DETAIL_TYPE = "CodeDeploy Deployment State-change Notification"


class StateChange(BaseModel):
    """The part of the event deploybot reads (`account` is optional: moto's SQS delivery omits it)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    deployment_id: str = Field(alias="deploymentId")
    state: str = ""
    application: str = ""
    deployment_group: str = Field(default="", alias="deploymentGroup")


def scope(application: str, group: str) -> str:
    """Where a deployment happens, as the engine's searches and its events name it."""
    return f"{application}/{group}"


def parse(event: dict[str, Any]) -> DeploymentEvent | None:
    """The deployment an EventBridge event is about, or None when it is not a CodeDeploy state change."""
    if event.get("detail-type") != DETAIL_TYPE:
        return None
    try:
        change = StateChange.model_validate(event.get("detail") or {})
    except ValidationError:
        return None
    where = scope(change.application, change.deployment_group) if change.application else ""
    return DeploymentEvent(deployment_id=change.deployment_id, state=change.state, scope=where)
