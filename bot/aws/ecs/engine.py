"""The DeploymentEngine port on ECS's own deployments: a service whose deployment controller is ECS, deployed
by UpdateService with a task definition revision, followed as a service deployment.

The strategy comes from the service's deployment configuration (never from the catalog). Pause hooks are
gates (ContinueServiceDeployment CONTINUE); a rollback is StopServiceDeployment ROLLBACK, or the pause
answered ROLLBACK when the deployment waits at one. deploybot's own revisions carry its request in their
task definition's tags, which is how a deployment is found again after a crash or a lost store.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from ...domain.catalog import AppConfig, Catalog
from ...domain.errors import Conflict, DeployError, UpstreamError
from ...domain.models import Deployment
from ...domain.progress import (
    DeploymentEvent,
    Found,
    Gate,
    Live,
    PastDeployment,
    Plan,
    Progress,
    Result,
    Revision,
    Started,
)
from ..accounts import Accounts
from ..calls import call, call_as
from ..taskdefs import LiveService, TaskDefinitions, claim
from . import reading
from .busy import BusyServices

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.literals import ServiceDeploymentStatusType

log = structlog.get_logger(__name__)
KEY = "ecs"
NAME = "ECS"
BATCH = 20  # DescribeServiceDeployments and DescribeServiceRevisions take at most 20 ARNs
UNFINISHED: list[ServiceDeploymentStatusType] = [
    "PENDING",
    "IN_PROGRESS",
    "STOP_REQUESTED",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
]
FIND_TRIES = 5  # right after UpdateService, the new service deployment may take a moment to be listed


def _codes(code: str, message: str) -> DeployError | None:
    if code in ("ConflictException", "ServiceDeploymentNotFoundException"):
        return Conflict(f"ECS says that is too late: {message}")
    return None


def console_url(region: str, cluster: str, service: str) -> str:
    return f"https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/services/{service}/deployments?region={region}"


def _names(arn: str) -> tuple[str, str]:
    """(cluster, service) from a service ARN or a service deployment ARN."""
    parts = arn.split(":", 5)[-1].split("/")
    return (parts[1], parts[2]) if len(parts) >= 3 else ("default", parts[-1])


@dataclass
class _Place:
    """One account and region's ECS, and what is known there for good (revisions' task definitions)."""

    region: str
    ecs: ECSClient
    taskdefs: TaskDefinitions
    revisions: dict[str, str] = field(default_factory=dict)  # service revision ARN -> task definition ARN
    # service revision ARN -> container name -> the digest ECS resolved its image to (a tag runs as one)
    digests: dict[str, dict[str, str]] = field(default_factory=dict)
    diagnosed: dict[str, list[str]] = field(default_factory=dict)  # deployment ARN -> stopped tasks


class EcsEngine:
    def __init__(self, accounts: Accounts, catalog: Catalog) -> None:
        self.accounts = accounts
        self.catalog = catalog
        self._places: dict[int, _Place] = {}
        self._ignored: set[str] = set()
        self.busy = BusyServices()

    def place(self, app: AppConfig | None) -> _Place:
        clients = self.accounts.clients(app) if app is not None else self.accounts.home
        found = self._places.get(id(clients))
        if found is None:
            found = self._places[id(clients)] = _Place(clients.region, clients.ecs, TaskDefinitions(clients.ecs))
        return found

    def _of(self, record: Deployment) -> _Place:
        return self.place(self.catalog.get(record.app, record.environment))

    async def _service(self, app: AppConfig) -> LiveService:
        live = await self.place(app).taskdefs.live(app.cluster, app.service, app.container)
        if live.controller != "ECS":
            raise UpstreamError(f"The ECS service `{app.service}` is not deployed by ECS itself.")
        return live

    async def live(self, app: AppConfig) -> Live:
        service = await self._service(app)
        return Live(task_definition=service.task_definition_arn, image=service.image)

    async def plan(self, app: AppConfig) -> Plan:
        config: dict[str, Any] = dict((await self._service(app)).service.get("deploymentConfiguration") or {})
        return plan_of(config)

    async def register(self, app: AppConfig, record: Deployment) -> Revision:
        service = await self._service(app)
        new = await self.place(app).taskdefs.with_image(
            service.task_definition_arn, app.container, record.image.pinned, claim(record)
        )
        return Revision(task_definition=new, previous=service.task_definition_arn)

    async def start(self, app: AppConfig, record: Deployment) -> Started:
        if not record.task_definition_arn:
            raise DeployError("There is no task definition registered for this request yet.")
        place = self.place(app)
        try:
            await call(
                place.ecs.update_service,
                cluster=app.cluster,
                service=app.service,
                taskDefinition=record.task_definition_arn,
            )
        except UpstreamError:
            # The answer may have been lost after ECS took the update: adopt the deployment it started.
            found = await self.find(app, record)
            if found is None:
                raise
            log.info("deployment_adopted", found=found.deployment_id)
            return found
        for _ in range(FIND_TRIES):
            found = await self.find(app, record)
            if found is not None:
                return found
            await asyncio.sleep(0.2)
        raise UpstreamError(f"ECS took the update of `{app.service}` but shows no service deployment for it.")

    async def find(self, app: AppConfig, record: Deployment) -> Started | None:
        """The service deployment whose target revision runs the record's task definition."""
        place = self.place(app)
        listed = await call(place.ecs.list_service_deployments, cluster=app.cluster, service=app.service)
        for brief in listed.get("serviceDeployments", []):
            revision = brief.get("targetServiceRevisionArn")
            if revision and await self._task_definition(place, revision) == record.task_definition_arn:
                link = console_url(place.region, app.cluster, app.service)
                return Started(deployment_id=str(brief.get("serviceDeploymentArn")), link=link)
        return None

    async def _task_definition(self, place: _Place, revision: str) -> str:
        await self._revisions(place, [revision])
        return place.revisions.get(revision, "")

    async def _revisions(self, place: _Place, arns: Sequence[str]) -> None:
        """Read the service revisions not known yet (their task definition and resolved digests), 20 a call."""
        unknown = list(dict.fromkeys(a for a in arns if a and a not in place.revisions))
        for start in range(0, len(unknown), BATCH):
            found = await call(place.ecs.describe_service_revisions, serviceRevisionArns=unknown[start : start + BATCH])
            for rev in found.get("serviceRevisions", []):
                arn = str(rev.get("serviceRevisionArn"))
                place.revisions[arn] = str(rev.get("taskDefinition"))
                place.digests[arn] = {
                    str(c.get("containerName")): str(c.get("imageDigest"))
                    for c in rev.get("containerImages", [])
                    if c.get("imageDigest")
                }

    async def read(self, records: Sequence[Deployment], detail: int | None = None) -> dict[str, Progress]:
        # One DescribeServiceDeployments says everything deploybot shows: no details to ration.
        by_place: dict[int, tuple[_Place, list[Deployment]]] = {}
        for record in records:
            if record.deployment_id:
                place = self._of(record)
                by_place.setdefault(id(place), (place, []))[1].append(record)
        out: dict[str, Progress] = {}
        for place, mine in by_place.values():
            infos = await self._describe(place, [r.deployment_id for r in mine if r.deployment_id])
            for record in mine:
                info = infos.get(record.deployment_id or "")
                if info is not None:
                    out[record.id] = await self._progress(place, info)
        return out

    async def _describe(self, place: _Place, arns: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(arns), BATCH):
            chunk = list(dict.fromkeys(arns[start : start + BATCH]))
            resp = await call(place.ecs.describe_service_deployments, serviceDeploymentArns=chunk)
            out |= {str(d.get("serviceDeploymentArn")): dict(d) for d in resp.get("serviceDeployments", [])}
        return out

    async def _progress(self, place: _Place, info: dict[str, Any]) -> Progress:
        strategy = (info.get("deploymentConfiguration") or {}).get("strategy") or "ROLLING"
        read = reading.rolling if strategy == "ROLLING" else reading.native
        progress = read(info, [])
        if progress.result is Result.FAILED and progress.phase.value in ("rolling_back", "done"):
            stopped = await self._diagnose(place, info)
            if stopped:
                progress = read(info, stopped)
        return progress

    async def _diagnose(self, place: _Place, info: dict[str, Any]) -> list[str]:
        """Why the new revision's tasks stopped (once per deployment)."""
        arn = str(info.get("serviceDeploymentArn"))
        if arn not in place.diagnosed:
            cluster, service = _names(str(info.get("serviceArn") or arn))
            revision = (info.get("targetServiceRevision") or {}).get("arn")
            try:
                definition = await self._task_definition(place, revision) if revision else ""
                place.diagnosed[arn] = await place.taskdefs.stopped_tasks(
                    cluster, service=service, task_definition=definition
                )
            except DeployError as exc:
                log.warning("stopped_tasks_unreadable", reason=exc.message)
                return []
        return place.diagnosed[arn]

    def batch(self, record: Deployment) -> tuple[str, int]:
        return str(id(self._of(record))), BATCH  # DescribeServiceDeployments, per account and region

    def detailed(self, record: Deployment) -> bool:
        return False  # one DescribeServiceDeployments says everything: stages, hooks, traffic weights

    async def open_gate(self, record: Deployment, gate: Gate) -> None:
        await self._answer(record, gate.id, "CONTINUE")

    async def finish_early(self, record: Deployment) -> None:
        raise Conflict("ECS cannot end a bake time early; Roll back still sends traffic back at once.")

    async def roll_back(self, record: Deployment) -> None:
        if not record.deployment_id:
            raise Conflict("This request has no deployment yet.")
        if record.gate is not None:  # waiting at a pause: answering it ROLLBACK is how ECS goes back from there
            await self._answer(record, record.gate.id, "ROLLBACK")
            return
        ecs = self._of(record).ecs
        await call_as(
            _codes, ecs.stop_service_deployment, serviceDeploymentArn=record.deployment_id, stopType="ROLLBACK"
        )

    async def _answer(self, record: Deployment, hook: str, action: str) -> None:
        if not record.deployment_id:
            raise Conflict("This request has no deployment yet.")
        ecs = self._of(record).ecs
        await call_as(
            _codes,
            ecs.continue_service_deployment,
            serviceDeploymentArn=record.deployment_id,
            hookId=hook,
            action="ROLLBACK" if action == "ROLLBACK" else "CONTINUE",
        )

    async def unfollowed(
        self, apps: Sequence[AppConfig], following: Collection[str], near: Sequence[DeploymentEvent] | None = None
    ) -> list[Found]:
        if near is None:
            listed = await self._busy(apps)
        else:
            scopes = {e.scope for e in near}
            listed = [a for a in apps if any(s.endswith(f"/{a.cluster}/{a.service}") for s in scopes)]
        # What every service's scan found is described together, 20 a call, per account and region.
        wanted: dict[int, tuple[_Place, list[tuple[AppConfig, str]]]] = {}
        for app in listed:
            place = self.place(app)
            current = self.busy.current(place.ecs, app) if near is None else None  # an event: maybe newer
            arns = await self._unfinished(place, app, following, current)
            wanted.setdefault(id(place), (place, []))[1].extend((app, arn) for arn in arns)
        out: list[Found] = []
        for place, pairs in wanted.values():
            out += await self._found(place, pairs)
        for app in listed:
            self.busy.settle(self.place(app).ecs, app)
        return out

    async def _busy(self, apps: Sequence[AppConfig]) -> list[AppConfig]:
        by_place: dict[int, tuple[_Place, list[AppConfig]]] = {}
        for app in apps:
            place = self.place(app)
            by_place.setdefault(id(place), (place, []))[1].append(app)
        out: list[AppConfig] = []
        for place, mine in by_place.values():
            out += await self.busy.among(place.ecs, mine)
        return out

    async def _unfinished(
        self, place: _Place, app: AppConfig, following: Collection[str], current: str | None
    ) -> list[str]:
        """The service deployments of ``app`` in progress that nobody follows: ``current``, the one the scan
        just saw ECS name as current, or (ECS did not say, or an event asked) those it lists."""
        if current is not None:
            arns = [current]
        else:
            listed = await call(
                place.ecs.list_service_deployments, cluster=app.cluster, service=app.service, status=UNFINISHED
            )
            arns = [str(b.get("serviceDeploymentArn")) for b in listed.get("serviceDeployments", [])]
        return [a for a in arns if a not in following and a not in self._ignored]

    async def _found(self, place: _Place, pairs: Sequence[tuple[AppConfig, str]]) -> list[Found]:
        infos = await self._describe(place, [arn for _, arn in pairs])
        targets = [str((i.get("targetServiceRevision") or {}).get("arn") or "") for i in infos.values()]
        await self._revisions(place, targets)
        out = []
        for app, arn in pairs:
            info = infos.get(arn)
            if info is None or info.get("status") not in UNFINISHED:
                continue  # it ended between the scan and now: nothing to follow
            revision = str((info.get("targetServiceRevision") or {}).get("arn") or "")
            definition = place.revisions.get(revision, "")
            claim = await place.taskdefs.claim_of(definition) if definition else None
            plan = plan_of(dict(info.get("deploymentConfiguration") or {}))
            out.append(
                Found(
                    app=app.key,
                    deployment_id=arn,
                    link=console_url(place.region, app.cluster, app.service),
                    began=info.get("status") != "PENDING",
                    strategy=plan.strategy,
                    creator="UpdateService",
                    description=f"task definition {definition.rsplit('/', 1)[-1]}" if definition else "",
                    claim=claim,
                    handle=revision or None,
                    plan=plan,
                )
            )
        return out

    async def deployed(self, app: AppConfig, found: Found) -> tuple[str, str] | None:
        """The task definition of the found deployment's target revision, and the app's image in it; an
        image named by tag is pinned to the digest ECS resolved it to when the revision was made."""
        if not found.handle:
            return None
        place = self.place(app)
        definition = await self._task_definition(place, found.handle)
        if not definition:
            return None
        image = await place.taskdefs.image_of(definition, app.container)
        digest = place.digests.get(found.handle, {}).get(app.container)
        if image and "@" not in image and digest:
            image = f"{image.rsplit(':', 1)[0] if ':' in image.rsplit('/', 1)[-1] else image}@{digest}"
        return definition, image

    async def recent(self, app: AppConfig, limit: int) -> list[PastDeployment]:
        place = self.place(app)
        listed = await call(
            place.ecs.list_service_deployments, cluster=app.cluster, service=app.service, maxResults=min(100, limit * 2)
        )
        out = []
        for brief in listed.get("serviceDeployments", []):
            revision = str(brief.get("targetServiceRevisionArn") or "")
            definition = await self._task_definition(place, revision) if revision else ""
            claim = await place.taskdefs.claim_of(definition) if definition else None
            out.append(
                PastDeployment(
                    deployment_id=str(brief.get("serviceDeploymentArn")),
                    status=str(brief.get("status")),
                    succeeded=brief.get("status") == "SUCCESSFUL",
                    ours=claim is not None,
                    description=f"task definition {definition.rsplit('/', 1)[-1]}" if definition else "",
                    creator="UpdateService",
                    create_time=brief.get("createdAt"),
                    complete_time=brief.get("finishedAt"),
                    error_code=None if brief.get("status") == "SUCCESSFUL" else brief.get("statusReason"),
                )
            )
        out.sort(key=lambda d: d.create_time or datetime.min.replace(tzinfo=UTC), reverse=True)
        return out[:limit]


def plan_of(config: dict[str, Any]) -> Plan:
    """How ECS will deploy a service with this deployment configuration."""
    strategy = str(config.get("strategy") or "ROLLING")
    bake = float(config.get("bakeTimeInMinutes") or 0)
    pauses = [h for h in config.get("lifecycleHooks") or [] if h.get("targetType") == "PAUSE"]
    gate = max(
        (float((h.get("timeoutConfiguration") or {}).get("timeoutInMinutes", 1440)) for h in pauses), default=None
    )
    if strategy == "ROLLING":
        breaker = config.get("deploymentCircuitBreaker") or {}
        words = "rolling update" + (", circuit breaker" if breaker.get("enable") else "")
        words += " with rollback" if breaker.get("enable") and breaker.get("rollback") else ""
        return Plan(engine=KEY, engine_name=NAME, strategy=words, blue_green=False)
    shifting = 0.0
    if strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        step, every = float(linear.get("stepPercent", 10)), float(linear.get("stepBakeTimeInMinutes", 6))
        shifting = (math.ceil(100 / step) - 1) * every
        words = f"linear, {step:g}% every {every:g} min"
    elif strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        percent, wait = float(canary.get("canaryPercent", 5)), float(canary.get("canaryBakeTimeInMinutes", 10))
        shifting = wait
        words = f"canary, {percent:g}% for {wait:g} min"
    else:
        words = "blue/green"
    words += f", bake {bake:g} min" if bake else ""
    words += f", {len(pauses)} pause hook{'s' if len(pauses) > 1 else ''}" if pauses else ""
    return Plan(engine=KEY, engine_name=NAME, strategy=words, gate_minutes=gate, bake_minutes=bake + shifting)
