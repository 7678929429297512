"""ECS's deployment and hook state-change events (EventBridge), as the wake-up reads them off the queue."""

from __future__ import annotations

from typing import Any

from ...domain.progress import DeploymentEvent

DETAIL_TYPES = ("ECS Deployment State Change", "ECS Hook State Change")


def parse(event: dict[str, Any]) -> DeploymentEvent | None:
    """The service deployment an event is about (its service ARN is where to search), or None."""
    if event.get("source") != "aws.ecs" or event.get("detail-type") not in DETAIL_TYPES:
        return None
    detail = event.get("detail")
    resources = event.get("resources")
    if not isinstance(detail, dict) or not isinstance(resources, list) or not resources:
        return None
    service = str(resources[0])
    # A hook event names the service deployment; a deployment event names the service's own deployment id.
    deployment = detail.get("serviceDeploymentArn") or detail.get("deploymentId")
    if not deployment:
        return None
    return DeploymentEvent(deployment_id=str(deployment), state=str(detail.get("eventName") or ""), scope=service)
