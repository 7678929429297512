"""ECS as every engine needs it: the live service, its running task definition, and a new revision of
that task definition with only one container's image changed."""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..domain.errors import UpstreamError
from ..domain.models import Deployment
from ..domain.progress import Claim
from .calls import call

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import (
        DescribeTaskDefinitionResponseTypeDef,
        ServiceTypeDef,
        TaskDefinitionTypeDef,
    )


REVISION = re.compile(r":task-definition/[^:/]+:\d+$")  # a full revision ARN, not a family or "latest"
KEPT = 512  # revisions remembered: one never changes, and finding then adopting one reads it twice
TAG_PREFIX = "deploybot:"  # the tags that name the request a revision was registered for


def claim(record: Deployment) -> dict[str, str]:
    """The tags of a revision registered for ``record``: who asked for which version (read back as a Claim)."""
    return {
        f"{TAG_PREFIX}request": record.id,
        f"{TAG_PREFIX}version": record.tag[:256],
        f"{TAG_PREFIX}requester": record.requester or "-",
        f"{TAG_PREFIX}approvals": ",".join(record.approvals)[:256] or "-",
    }


def claim_of(tags: list[dict[str, str]] | list[Any]) -> Claim | None:
    """The request a revision's tags name, if deploybot registered it."""
    found = {str(t.get("key")): str(t.get("value")) for t in tags}
    request = found.get(f"{TAG_PREFIX}request")
    if request is None:
        return None
    approvals = found.get(f"{TAG_PREFIX}approvals", "-")
    return Claim(
        request_id=request,
        tag=found.get(f"{TAG_PREFIX}version", "unknown"),
        requester="" if found.get(f"{TAG_PREFIX}requester") == "-" else found.get(f"{TAG_PREFIX}requester", ""),
        approvals=[] if approvals == "-" else approvals.split(","),
    )


@dataclass(frozen=True)
class LiveService:
    """The service as ECS describes it, and the task definition it runs now."""

    service: ServiceTypeDef
    task_definition: TaskDefinitionTypeDef
    task_definition_arn: str
    image: str  # the app container's image
    controller: str  # ECS, CODE_DEPLOY or EXTERNAL


def _strip_list(ecs: ECSClient) -> set[str]:
    """TaskDefinition members RegisterTaskDefinition does not accept, computed from the installed model."""
    model = ecs.meta.service_model
    described = set(model.shape_for("TaskDefinition").members)  # type: ignore[attr-defined]  # a StructureShape
    accepted = set(model.operation_model("RegisterTaskDefinition").input_shape.members)  # type: ignore[union-attr]
    return described - accepted


class TaskDefinitions:
    def __init__(self, ecs: ECSClient) -> None:
        self.ecs = ecs
        self._strip = _strip_list(ecs)
        self._known: dict[str, DescribeTaskDefinitionResponseTypeDef] = {}  # revision ARN -> described, with tags

    async def _described(self, task_definition: str) -> DescribeTaskDefinitionResponseTypeDef:
        """DescribeTaskDefinition with its tags; a revision named by its full ARN is read once."""
        known = self._known.get(task_definition)
        if known is not None:
            return known
        found = await call(self.ecs.describe_task_definition, taskDefinition=task_definition, include=["TAGS"])
        if REVISION.search(task_definition):
            if len(self._known) >= KEPT:
                del self._known[next(iter(self._known))]
            self._known[task_definition] = found
        return found

    async def live(self, cluster: str, service: str, container: str) -> LiveService:
        """The service's running task definition: its PRIMARY task set's when it has task sets."""
        resp = await call(self.ecs.describe_services, cluster=cluster, services=[service])
        services = [s for s in resp.get("services", []) if s.get("status") == "ACTIVE"]
        if not services:
            raise UpstreamError(f"The ECS service `{service}` was not found in cluster `{cluster}`.")
        svc = services[0]
        td_arn = str(svc.get("taskDefinition", ""))
        primary = next((ts for ts in svc.get("taskSets", []) if ts.get("status") == "PRIMARY"), None)
        if primary:
            td_arn = str(primary.get("taskDefinition", td_arn))
        td = (await self._described(td_arn))["taskDefinition"]
        image = next((c.get("image") for c in td.get("containerDefinitions", []) if c.get("name") == container), None)
        if image is None:
            raise UpstreamError(f"The task definition {td_arn} has no container named `{container}`.")
        controller = svc.get("deploymentController")
        kind = (controller.get("type") if controller else None) or "ECS"
        return LiveService(svc, td, td_arn, str(image), kind)

    async def controllers(self, cluster: str, services: Sequence[str]) -> dict[str, str]:
        """The deployment controller (ECS, CODE_DEPLOY, EXTERNAL) of each of these services (at most ten)."""
        resp = await call(self.ecs.describe_services, cluster=cluster, services=list(services))
        out: dict[str, str] = {}
        for svc in resp.get("services", []):
            if svc.get("status") == "ACTIVE":
                controller = svc.get("deploymentController")
                out[str(svc.get("serviceName"))] = (controller.get("type") if controller else None) or "ECS"
        return out

    async def with_image(
        self, task_definition_arn: str, container: str, image: str, tags: dict[str, str] | None = None
    ) -> str:
        """Register a copy of the task definition with ``container`` on ``image`` (its own tags, less any
        deploybot tags of an earlier request, plus ``tags``); the new revision's ARN."""
        resp = await self._described(task_definition_arn)
        described = copy.deepcopy(resp["taskDefinition"])  # the remembered one stays as ECS said it
        kwargs: dict[str, Any] = {k: v for k, v in described.items() if k not in self._strip}
        for definition in kwargs["containerDefinitions"]:
            if definition["name"] == container:
                definition["image"] = image
        kept = [t for t in resp.get("tags", []) if not str(t.get("key", "")).startswith(TAG_PREFIX)]
        added = [{"key": k, "value": v} for k, v in (tags or {}).items()]
        if kept or added:
            kwargs["tags"] = kept + added
        new = await call(self.ecs.register_task_definition, **kwargs)
        return str(new["taskDefinition"].get("taskDefinitionArn", ""))

    async def claim_of(self, task_definition_arn: str) -> Claim | None:
        """The request a task definition was registered for, from its tags (None: not deploybot's)."""
        resp = await self._described(task_definition_arn)
        return claim_of(resp.get("tags", []))

    async def image_of(self, task_definition_arn: str, container: str) -> str:
        td = (await self._described(task_definition_arn))["taskDefinition"]
        return next((str(c.get("image")) for c in td.get("containerDefinitions", []) if c.get("name") == container), "")

    async def stopped_tasks(
        self, cluster: str, *, started_by: str | None = None, service: str | None = None, task_definition: str = ""
    ) -> list[str]:
        """Why a deployment's tasks stopped (reason, container exit codes), counted: the tasks it started
        (``started_by``), or the service's stopped tasks of ``task_definition``."""
        if started_by is not None:
            listed = await call(self.ecs.list_tasks, cluster=cluster, startedBy=started_by, desiredStatus="STOPPED")
        else:
            listed = await call(
                self.ecs.list_tasks, cluster=cluster, serviceName=service or "", desiredStatus="STOPPED"
            )
        task_arns = listed["taskArns"][:50]
        if not task_arns:
            return []
        tasks = (await call(self.ecs.describe_tasks, cluster=cluster, tasks=task_arns))["tasks"]
        seen: dict[str, int] = {}
        for task in tasks:
            if task_definition and task.get("taskDefinitionArn") != task_definition:
                continue
            exits = ", ".join(
                f"{c.get('name')} exited with code {c['exitCode']}"
                for c in task.get("containers", [])
                if "exitCode" in c
            )
            line = f"{task.get('stoppedReason') or 'stopped'}" + (f" ({exits})" if exits else "")
            seen[line] = seen.get(line, 0) + 1
        return [f"{count} task{'s' if count > 1 else ''}: {line}" for line, count in seen.items()]
