"""The DeploymentEngine port on CodeDeploy ECS blue/green: a service whose deployment controller is
CODE_DEPLOY, one deployment group per service, a Ready gate (ContinueDeployment READY_WAIT), a
termination wait that can be ended early (TERMINATION_WAIT), and rollbacks that run as deployments of
their own."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from ...domain.catalog import AppConfig, Catalog
from ...domain.errors import AlreadyDeploying, Conflict, DeployError, UpstreamError
from ...domain.models import Deployment
from ...domain.progress import DeploymentEvent, Found, Gate, Live, PastDeployment, Plan, Progress, Revision, Started
from ..accounts import Accounts
from ..calls import call, call_as
from ..taskdefs import LiveService, TaskDefinitions, claim
from . import appspec, marker
from .events import scope
from .reading import BATCH, READY_WAIT, TARGET_CALLS, TERMINATION_WAIT, ProgressReader, target_id

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_codedeploy.literals import DeploymentStatusType, DeploymentWaitTypeType
    from mypy_boto3_codedeploy.type_defs import DeploymentInfoTypeDef

log = structlog.get_logger(__name__)
KEY = "codedeploy"
NAME = "CodeDeploy"
ROLLBACK_CREATOR = "codeDeployRollback"  # CodeDeploy's own rollbacks: told in their deployment's thread
UNFINISHED: list[DeploymentStatusType] = ["Created", "Queued", "InProgress", "Ready", "Baking"]


def _codes(code: str, message: str) -> DeployError | None:
    """CodeDeploy's errors that mean something to deploybot."""
    if code == "DeploymentLimitExceededException":
        return AlreadyDeploying(f"CodeDeploy already has an active deployment for this service: {message}")
    if code in (
        "DeploymentIsNotInReadyStateException",
        "DeploymentAlreadyCompletedException",
        "InvalidDeploymentStatusException",
    ):
        return Conflict(f"CodeDeploy says that is too late: {message}")
    return None


def names(app: AppConfig) -> tuple[str, str]:
    """(application, deployment group) of the app's service: the catalog's, else what `aws ecs deploy` uses
    (AppECS-<cluster>-<service> and DgpECS-<cluster>-<service>, as its filehelpers.get_app_name does)."""
    cluster, service = app.cluster[:46], app.service[:46]
    application = app.codedeploy_application or f"AppECS-{cluster}-{service}"
    return application, app.deployment_group or f"DgpECS-{cluster}-{service}"


def console_url(region: str, deployment_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/codesuite/codedeploy/deployments/{deployment_id}?region={region}"


@dataclass
class _Place:
    """One account and region's CodeDeploy: its clients, and the rationed reader's memory of its targets."""

    region: str
    cd: CodeDeployClient
    taskdefs: TaskDefinitions
    reader: ProgressReader


class CodeDeployEngine:
    def __init__(self, accounts: Accounts, catalog: Catalog, target_calls: int = TARGET_CALLS) -> None:
        self.accounts = accounts
        self.catalog = catalog
        self.target_calls = target_calls
        self._places: dict[int, _Place] = {}
        self._ignored: set[str] = set()  # deployment ids a scan need not describe again

    def place(self, app: AppConfig | None) -> _Place:
        """Where ``app``'s service is (deploybot's own account for an app no longer in the catalog)."""
        clients = self.accounts.clients(app) if app is not None else self.accounts.home
        found = self._places.get(id(clients))
        if found is None:
            taskdefs = TaskDefinitions(clients.ecs)
            reader = ProgressReader(clients.codedeploy, taskdefs, self.target_calls)
            found = self._places[id(clients)] = _Place(clients.region, clients.codedeploy, taskdefs, reader)
        return found

    def _of(self, record: Deployment) -> _Place:
        return self.place(self._app(record))

    def _app(self, record: Deployment) -> AppConfig | None:
        return self.catalog.get(record.app, record.environment)

    def _started(self, region: str, deployment_id: str) -> Started:
        return Started(deployment_id=deployment_id, link=console_url(region, deployment_id))

    async def _service(self, app: AppConfig) -> LiveService:
        live = await self.place(app).taskdefs.live(app.cluster, app.service, app.container)
        if live.controller != "CODE_DEPLOY":
            raise UpstreamError(
                f"The ECS service `{app.service}` is not deployed by CodeDeploy (its deployment "
                "controller is not CODE_DEPLOY)."
            )
        return live

    async def live(self, app: AppConfig) -> Live:
        service = await self._service(app)
        return Live(task_definition=service.task_definition_arn, image=service.image)

    async def plan(self, app: AppConfig) -> Plan:
        application, group = names(app)
        cd = self.place(app).cd
        info = (await call(cd.get_deployment_group, applicationName=application, deploymentGroupName=group))[
            "deploymentGroupInfo"
        ]
        return plan_of(dict(info))

    async def register(self, app: AppConfig, record: Deployment) -> Revision:
        service = await self._service(app)
        place = self.place(app)
        new = await place.taskdefs.with_image(
            service.task_definition_arn, app.container, record.image.pinned, claim(record)
        )
        return Revision(task_definition=new, previous=service.task_definition_arn)

    async def start(self, app: AppConfig, record: Deployment) -> Started:
        if not record.task_definition_arn:
            raise DeployError("There is no task definition registered for this request yet.")
        service = await self._service(app)
        port = appspec.container_port(service.service, service.task_definition, app.container)
        content, sha = appspec.revision(appspec.build(service.service, record.task_definition_arn, app.container, port))
        application, group = names(app)
        place = self.place(app)
        try:
            resp = await call_as(
                _codes,
                place.cd.create_deployment,
                applicationName=application,
                deploymentGroupName=group,
                revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content, "sha256": sha}},
                description=marker.describe(record),
            )
        except (AlreadyDeploying, UpstreamError):
            # CreateDeployment has no idempotency token: a call that timed out may have succeeded, and
            # its retry then meets our own deployment. Adopt it when it carries our request id.
            found = await self.find(app, record)
            if found is None:
                raise
            log.info("deployment_adopted", found=found.deployment_id)
            return found
        return self._started(place.region, str(resp["deploymentId"]))

    async def find(self, app: AppConfig, record: Deployment) -> Started | None:
        application, group = names(app)
        place = self.place(app)
        ids = (await call(place.cd.list_deployments, applicationName=application, deploymentGroupName=group))[
            "deployments"
        ]
        recent = list(reversed(ids))[:100]  # the first page is enough: a restart looks minutes back
        for info in await self._describe(place, recent):
            if str(info.get("description") or "").startswith(marker.marker(record.id)):
                return self._started(place.region, str(info.get("deploymentId")))
        return None

    async def read(self, records: Sequence[Deployment], detail: int | None = None) -> dict[str, Progress]:
        by_place: dict[int, tuple[_Place, list[Deployment]]] = {}
        for record in records:
            place = self._of(record)
            by_place.setdefault(id(place), (place, []))[1].append(record)
        out: dict[str, Progress] = {}
        for place, mine in by_place.values():
            tracked = {r.id: r.tracked_deployment for r in mine if r.tracked_deployment}
            rollbacks = {r.rollback_deployment_id for r in mine if r.rollback_deployment_id}
            targets = {d: target_id(app) for r in mine if (d := r.tracked_deployment) and (app := self._app(r))}
            readings = await place.reader.read(list(dict.fromkeys(tracked.values())), rollbacks, detail, targets)
            out |= {record_id: readings[dep] for record_id, dep in tracked.items() if dep in readings}
        return out

    def batch(self, record: Deployment) -> tuple[str, int]:
        return str(id(self._of(record))), BATCH  # BatchGetDeployments, per account and region

    def detailed(self, record: Deployment) -> bool:
        return True  # the ECS target (steps, traffic weights) is a call of its own

    async def open_gate(self, record: Deployment, gate: Gate) -> None:
        if gate.id != READY_WAIT:  # CodeDeploy's only gate; anything else is not this engine's
            raise Conflict(f"CodeDeploy has no gate called {gate.id!r}.")
        await self._continue(record, READY_WAIT)

    async def finish_early(self, record: Deployment) -> None:
        await self._continue(record, TERMINATION_WAIT)

    async def _continue(self, record: Deployment, wait_type: DeploymentWaitTypeType) -> None:
        if not record.deployment_id:
            raise Conflict("This request has no deployment yet.")
        cd = self._of(record).cd
        await call_as(_codes, cd.continue_deployment, deploymentId=record.deployment_id, deploymentWaitType=wait_type)

    async def roll_back(self, record: Deployment) -> None:
        deployment = record.tracked_deployment
        if not deployment:
            raise Conflict("This request has no deployment yet.")
        cd = self._of(record).cd
        await call_as(_codes, cd.stop_deployment, deploymentId=deployment, autoRollbackEnabled=True)

    async def unfollowed(
        self, apps: Sequence[AppConfig], following: Collection[str], near: Sequence[DeploymentEvent] | None = None
    ) -> list[Found]:
        by_place: dict[int, tuple[_Place, list[AppConfig]]] = {}
        for app in apps:
            place = self.place(app)
            by_place.setdefault(id(place), (place, []))[1].append(app)
        out: list[Found] = []
        for place, mine in by_place.values():
            out += await self._unfollowed(place, mine, following, near)
        return out

    async def _unfollowed(
        self, place: _Place, apps: list[AppConfig], following: Collection[str], near: Sequence[DeploymentEvent] | None
    ) -> list[Found]:
        groups = {names(a): a for a in apps}
        if near is None:
            infos = await self._active_in_account(place, {*following, *self._ignored})
        else:
            # An event names its deployment: described at once (one call for 25), with no listing first.
            ours = {scope(application, group) for application, group in groups}
            skip = {*following, *self._ignored}
            ids = dict.fromkeys(
                e.deployment_id for e in near if e.deployment_id and e.scope in ours and e.deployment_id not in skip
            )
            infos = [i for i in await self._describe(place, list(ids)) if i.get("status") in UNFINISHED]
        out = []
        for info in infos:
            dep_id = str(info.get("deploymentId"))
            app = groups.get((str(info.get("applicationName")), str(info.get("deploymentGroupName"))))
            if app is None or info.get("creator") == ROLLBACK_CREATOR:
                # Another team's group, or a rollback CodeDeploy started (told in its deployment's thread):
                # never adopted, so not described again on the next scan.
                self._ignored.add(dep_id)
                continue
            found = self._found(place, app, info)
            if dep_id not in following and found is not None:
                out.append(found)
        return out

    def _found(self, place: _Place, app: AppConfig, info: DeploymentInfoTypeDef) -> Found | None:
        description = str(info.get("description") or "")
        claimed = marker.read(description)
        if claimed is None and marker.ours(description):
            return None  # ours, written in a form this version does not read: leave it alone
        if claimed is not None and claimed[1] not in (app.key, app.name):
            return None  # another catalog entry's
        dep_id = str(info.get("deploymentId"))
        return Found(
            app=app.key,
            deployment_id=dep_id,
            link=console_url(place.region, dep_id),
            began=info.get("status") not in ("Created", "Queued"),
            strategy=info.get("deploymentConfigName"),
            creator=str(info.get("creator") or ""),
            description=description,
            claim=claimed[0] if claimed else None,
            handle=((info.get("revision") or {}).get("appSpecContent") or {}).get("sha256"),
            # A deployment carries its group's blue/green settings as they were when it was made.
            plan=plan_of(dict(info)),
        )

    async def _active_in_account(self, place: _Place, skip: Collection[str]) -> list[DeploymentInfoTypeDef]:
        """Every unfinished deployment in the account: one listing, then details only for ids not skipped."""
        ids: list[str] = []
        token: str | None = None
        while True:
            page = (
                await call(place.cd.list_deployments, includeOnlyStatuses=UNFINISHED, nextToken=token)
                if token
                else await call(place.cd.list_deployments, includeOnlyStatuses=UNFINISHED)
            )
            ids += [i for i in page["deployments"] if i not in skip]
            token = page.get("nextToken")
            if not token:
                break
        return await self._describe(place, ids)

    async def _describe(self, place: _Place, ids: Sequence[str]) -> list[DeploymentInfoTypeDef]:
        out: list[DeploymentInfoTypeDef] = []
        for start in range(0, len(ids), BATCH):
            chunk = list(ids[start : start + BATCH])
            out += (await call(place.cd.batch_get_deployments, deploymentIds=chunk)).get("deploymentsInfo", [])
        return out

    async def deployed(self, app: AppConfig, found: Found) -> tuple[str, str] | None:
        if not found.handle:
            return None
        # BatchGetDeployments leaves the AppSpec's content out; GetApplicationRevision has it.
        place = self.place(app)
        resp = await call(
            place.cd.get_application_revision,
            applicationName=names(app)[0],
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"sha256": found.handle}},
        )
        content = str(((resp.get("revision") or {}).get("appSpecContent") or {}).get("content") or "")
        arn = appspec.task_definition_of(content)
        if arn is None:
            return None
        return arn, await place.taskdefs.image_of(arn, app.container)

    async def recent(self, app: AppConfig, limit: int) -> list[PastDeployment]:
        application, group = names(app)
        place = self.place(app)
        ids = (await call(place.cd.list_deployments, applicationName=application, deploymentGroupName=group))[
            "deployments"
        ]
        recent = list(reversed(ids))[: limit * 2]  # the newest page is enough for a history
        out = [_past(info) for info in await self._describe(place, recent)]
        out.sort(key=lambda d: d.create_time or datetime.min.replace(tzinfo=UTC), reverse=True)
        return out[:limit]


def _past(info: DeploymentInfoTypeDef | dict[str, Any]) -> PastDeployment:
    description = str(info.get("description") or "")
    return PastDeployment(
        deployment_id=str(info.get("deploymentId")),
        status=str(info.get("status")),
        succeeded=info.get("status") == "Succeeded",
        ours=marker.ours(description),
        description=description,
        creator=str(info.get("creator") or ""),
        create_time=info.get("createTime"),
        complete_time=info.get("completeTime"),
        error_code=(info.get("errorInformation") or {}).get("code"),
    )


def plan_of(info: dict[str, Any]) -> Plan:
    """How a deployment group (or one of its deployments: both carry the same fields) deploys."""
    bg = info.get("blueGreenDeploymentConfiguration") or {}
    ready = bg.get("deploymentReadyOption") or {}
    # CONTINUE_DEPLOYMENT shifts on its own: only STOP_DEPLOYMENT makes the Ready wait a gate with a limit.
    wait = float(ready.get("waitTimeInMinutes", 0)) if ready.get("actionOnTimeout") == "STOP_DEPLOYMENT" else None
    term = float((bg.get("terminateBlueInstancesOnDeploymentSuccess") or {}).get("terminationWaitTimeInMinutes", 0))
    strategy = str(info.get("deploymentConfigName") or "CodeDeployDefault.ECSAllAtOnce")
    return Plan(engine=KEY, engine_name=NAME, strategy=strategy, gate_minutes=wait, bake_minutes=term)
