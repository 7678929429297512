"""ECS's own deployments grafted onto moto 5.2.5's ECS, which has none.

CreateService keeps the deployment configuration (strategy, bake time, hooks, circuit breaker) and, as real
ECS does, gives a CODE_DEPLOY service its first (PRIMARY) task set and an ECS service its first revision.
UpdateService with a new task definition on an ECS-controlled service starts a service deployment that
``native`` or ``rolling`` move on the sandbox clock. ListServiceDeployments, DescribeServiceDeployments,
StopServiceDeployment, ContinueServiceDeployment and DescribeServiceRevisions answer from those runs (moto's
serializer writes them in the installed model's shapes).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.ecr.models import ecr_backends
from moto.ecs.exceptions import ECSException
from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.events.models import events_backends

from ..control import CONTROL, _now
from ..tasks import keep_running, listed, record_stopped
from . import native, rolling
from .state import Failure, Revision, ServiceDeploymentRun, new_id
from .transitions import stop, supersede

_ORIGINAL_CREATE = EC2ContainerServiceResponse.create_service
_ORIGINAL_UPDATE = EC2ContainerServiceResponse.update_service
MAX_DESCRIBE = 20  # DescribeServiceDeployments and DescribeServiceRevisions take at most 20 ARNs


def runs(backend: EC2ContainerServiceBackend) -> dict[str, ServiceDeploymentRun]:
    found: dict[str, ServiceDeploymentRun] | None = getattr(backend, "_sandbox_service_deployments", None)
    if found is None:
        found = {}
        backend._sandbox_service_deployments = found  # type: ignore[attr-defined]
    return found


def revisions(backend: EC2ContainerServiceBackend) -> dict[str, Revision]:
    found: dict[str, Revision] | None = getattr(backend, "_sandbox_service_revisions", None)
    if found is None:
        found = {}
        backend._sandbox_service_revisions = found  # type: ignore[attr-defined]
    return found


class MotoEcsEffects:
    """What a service deployment does to moto's ECS and EventBridge."""

    def __init__(self, backend: EC2ContainerServiceBackend) -> None:
        self.backend = backend

    def tasks_failed(self, run: ServiceDeploymentRun, count: int) -> None:
        failure = run.failure or Failure()
        record_stopped(
            self.backend,
            run.cluster,
            run.target.task_definition,
            run.service,
            run.short_id,
            count,
            failure.stopped_reason,
            failure.exit_code,
        )

    def service_on(self, run: ServiceDeploymentRun, task_definition: str) -> None:
        service = self.backend.services[f"{run.cluster}:{run.service}"]
        service.task_definition = task_definition
        if run.source is not None and run.source.task_definition == task_definition:
            service._sandbox_revision = run.source.arn  # type: ignore[attr-defined]  # the revision restored

    def emit(self, run: ServiceDeploymentRun, name: str, at: datetime, reason: str | None = None) -> None:
        detail = {
            "eventType": "ERROR" if name == "SERVICE_DEPLOYMENT_FAILED" else "INFO",
            "eventName": name,
            "deploymentId": run.short_id,
            "updatedAt": at.isoformat(),
            "reason": reason or f"ECS deployment {run.short_id} {name.removeprefix('SERVICE_DEPLOYMENT_').lower()}.",
        }
        self._put("ECS Deployment State Change", run, detail)

    def hook_event(self, run: ServiceDeploymentRun, hook_id: str, status: str, at: datetime) -> None:
        detail = {
            "eventType": "INFO",
            "eventName": status,
            "serviceDeploymentArn": run.arn,
            "hookId": hook_id,
            "lifecycleStage": run.stage,
            "updatedAt": at.isoformat(),
        }
        self._put("ECS Hook State Change", run, detail)

    def _put(self, detail_type: str, run: ServiceDeploymentRun, detail: dict[str, Any]) -> None:
        events = events_backends[self.backend.account_id][self.backend.region_name]
        entry = {"Source": "aws.ecs", "DetailType": detail_type, "Detail": json.dumps(detail)}
        CONTROL.events.publish(events, [{**entry, "Resources": [run.service_arn]}], _now())


def advance_ecs() -> None:
    """Bring every service deployment in every account and region up to the clock."""
    now = _now()
    for regions in list(ecs_backends.values()):
        for backend in list(regions.values()):
            fx = MotoEcsEffects(backend)
            for run in list(runs(backend).values()):
                if not run.active:
                    continue
                before = run.status
                (rolling.advance if run.strategy == "ROLLING" else native.advance)(run, now, fx)
                if run.status != before:
                    CONTROL.transitions.append((run.arn, run.status, time.time()))
                _sync_service(backend, run)


def _sync_service(backend: EC2ContainerServiceBackend, run: ServiceDeploymentRun) -> None:
    """The service's own `deployments` (DescribeServices), as a rolling update shows its progress."""
    service = backend.services.get(f"{run.cluster}:{run.service}")
    if service is None:
        return
    keep_running(backend, run.cluster, run.service, _running(run), run.short_id)
    # moto's Service has neither; its serializer writes them by the model's names (currentService…)
    service.current_service_deployment = run.arn  # type: ignore[attr-defined]
    service.current_service_revisions = run.current_revisions()  # type: ignore[attr-defined]
    state = {"SUCCESSFUL": "COMPLETED", "ROLLBACK_SUCCESSFUL": "FAILED", "STOPPED": "FAILED"}.get(run.status)
    primary = {
        "id": run.short_id,
        "status": "PRIMARY",
        "taskDefinition": run.target.task_definition,
        "desiredCount": run.desired,
        "runningCount": run.running,
        "pendingCount": max(0, run.desired - run.running) if run.active else 0,
        "failedTasks": run.failed,
        "createdAt": run.created,
        "updatedAt": run.updated_at or run.created,
        "launchType": run.target.launch_type,
        "rolloutState": state or "IN_PROGRESS",
        "rolloutStateReason": run.status_reason or f"ECS deployment {run.short_id} {run.status.lower()}.",
    }
    if run.status == "ROLLBACK_SUCCESSFUL" and run.source is not None:
        back = {**primary, "taskDefinition": run.source.task_definition, "rolloutState": "COMPLETED"}
        service.deployments = [{**back, "runningCount": run.desired, "failedTasks": 0}]
        return
    old = [dict(d, status="ACTIVE") for d in service.deployments if d.get("id") != run.short_id]
    service.deployments = [primary] + ([] if run.status == "SUCCESSFUL" else old[:1])


def _running(run: ServiceDeploymentRun) -> dict[str, int]:
    """How many tasks of each task definition the service runs at this point of its deployment."""
    source = run.source.task_definition if run.source else None
    if run.status == "SUCCESSFUL" or source is None:
        return {run.target.task_definition: run.desired if run.status == "SUCCESSFUL" else run.running}
    if run.status in ("ROLLBACK_SUCCESSFUL", "STOPPED"):
        return {source: run.desired}
    return {source: run.desired, run.target.task_definition: run.running}


# -- requests ------------------------------------------------------------------------------------


def _arn(backend: EC2ContainerServiceBackend, kind: str, cluster: str, service: str) -> str:
    return f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:{kind}/{cluster}/{service}/{new_id()}"


def _revision(backend: EC2ContainerServiceBackend, service: Any, task_definition: str, at: datetime) -> Revision:
    definition = backend.describe_task_definition(task_definition)
    images = []
    for container in definition.container_definitions:
        image = str(container.get("image", ""))
        digest = image.split("@")[1] if "@" in image else _digest_of_tag(backend, image)
        if digest:  # ECS resolves a tag to the digest it runs, as a service revision records
            images.append({"containerName": str(container["name"]), "image": image, "imageDigest": digest})
    revision = Revision(
        arn=_arn(backend, "service-revision", service.cluster_name, service.name),
        service_arn=service.arn,
        cluster_arn=service.cluster_arn,
        task_definition=definition.arn,
        created=at,
        launch_type=service.launch_type,
        load_balancers=list(service.load_balancers or []),
        network_configuration=service.network_configuration or None,
        images=images,
    )
    revisions(backend)[revision.arn] = revision
    service._sandbox_revision = revision.arn
    return revision


def _digest_of_tag(backend: EC2ContainerServiceBackend, image: str) -> str | None:
    """The digest an ECR image reference by tag (`…amazonaws.com/repo:tag`) names in the backend's account."""
    host, _, rest = image.partition("/")
    name, _, tag = rest.rpartition(":")
    if not name or ".dkr.ecr." not in host:
        return None
    repository = ecr_backends[backend.account_id][backend.region_name].repositories.get(name)
    found = next((i for i in repository.images if tag in i.image_tags), None) if repository else None
    return found.get_image_digest() if found else None


def _failure_for(service: Any, revision: Revision) -> Failure | None:
    """A broken image's failure (its digest is one of the sandbox's failing ones), or the page's switch."""
    hook = CONTROL.fail_next.pop(service.name, None)
    for image in revision.images:
        hook = hook or CONTROL.image_failures.get(image["imageDigest"])
    return None if hook is None else Failure(reason=hook.message.removeprefix("The hook reported Failed: "))


def _service_of(result: ActionResult) -> Any:
    answer: Any = result.result
    return answer["service"]


def create_service(self: EC2ContainerServiceResponse) -> ActionResult:
    result = _ORIGINAL_CREATE(self)
    service = _service_of(result)
    service.deployment_configuration = self._get_param("deploymentConfiguration") or {}
    backend = self.ecs_backend
    if service.deployment_controller.get("type", "ECS") == "ECS":
        # The service's first tasks run at once (moto leaves its first deployment IN_PROGRESS for ever).
        keep_running(backend, service.cluster_name, service.name, {service.task_definition: service.desired_count}, "")
        service.running_count, service.pending_count = service.desired_count, 0
        for first in service.deployments:
            first.update(runningCount=service.desired_count, pendingCount=0, rolloutState="COMPLETED")
            first["rolloutStateReason"] = f"ECS deployment {first['id']} completed."
    if service.deployment_controller.get("type") == "CODE_DEPLOY":
        # Real ECS gives a CODE_DEPLOY service its first (PRIMARY) task set; moto does not.
        task_set = backend.create_task_set(
            service=service.name,
            cluster_str=service.cluster_name,
            task_definition=service.task_definition,
            load_balancers=service.load_balancers,
            network_configuration=service.network_configuration,
            launch_type=service.launch_type or "EC2",
        )
        backend.update_service_primary_task_set(service.cluster_name, service.name, task_set.task_set_arn)
    elif service.deployment_controller.get("type") == "ECS" and service.task_definition:
        _revision(backend, service, service.task_definition, _now())
    return result


def update_service(self: EC2ContainerServiceResponse) -> ActionResult:
    backend = self.ecs_backend
    cluster = str(self._get_param("cluster", "default")).split("/")[-1]
    name = str(self._get_param("service")).split("/")[-1]
    before = backend._get_service(cluster, name)
    old_definition = before.task_definition
    config = self._get_param("deploymentConfiguration")
    result = _ORIGINAL_UPDATE(self)
    service = _service_of(result)
    if config:
        service.deployment_configuration = {**(getattr(service, "deployment_configuration", None) or {}), **config}
    changed = service.task_definition != old_definition or bool(self._get_param("forceNewDeployment"))
    if service.deployment_controller.get("type") == "ECS" and changed:
        _start(backend, service, old_definition)
    return result


def _start(backend: EC2ContainerServiceBackend, service: Any, old_definition: str | None) -> ServiceDeploymentRun:
    now = _now()
    fx = MotoEcsEffects(backend)
    for earlier in runs(backend).values():
        if earlier.active and earlier.service == service.name and earlier.cluster == service.cluster_name:
            supersede(earlier, now, fx)
    source_arn = getattr(service, "_sandbox_revision", None)
    source = revisions(backend).get(source_arn) if source_arn else None
    if source is None and old_definition:
        source = _revision(backend, service, old_definition, now)
    target = _revision(backend, service, service.task_definition, now)
    config = dict(getattr(service, "deployment_configuration", None) or {})
    run = ServiceDeploymentRun(
        arn=_arn(backend, "service-deployment", service.cluster_name, service.name),
        short_id=f"ecs-svc/{int(time.time() * 1000) % 10**19}",
        cluster=service.cluster_name,
        service=service.name,
        cluster_arn=service.cluster_arn,
        service_arn=service.arn,
        strategy=str(config.get("strategy") or "ROLLING"),
        config=config,
        desired=int(service.desired_count or 1),
        source=source,
        target=target,
        created=now,
        failure=_failure_for(service, target),
        slow_start=CONTROL.slow_install.get(service.name, 0.0),
    )
    runs(backend)[run.arn] = run
    # As ECS answers DescribeServices from the moment UpdateService returns: the deployment it started.
    service.current_service_deployment = run.arn
    service.current_service_revisions = run.current_revisions()
    CONTROL.transitions.append((run.arn, run.status, time.time()))
    return run


def _run(backend: EC2ContainerServiceBackend, arn: str) -> ServiceDeploymentRun:
    run = runs(backend).get(arn)
    if run is None:
        raise ECSException("ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist.")
    return run


def list_service_deployments(self: EC2ContainerServiceResponse) -> ActionResult:
    cluster = str(self._get_param("cluster", "default")).split("/")[-1]
    name = str(self._get_param("service")).split("/")[-1]
    self.ecs_backend._get_service(cluster, name)  # ServiceNotFoundException for an unknown one
    wanted = set(self._get_param("status") or [])
    found = [
        r
        for r in runs(self.ecs_backend).values()
        if r.cluster == cluster and r.service == name and (not wanted or r.status in wanted)
    ]
    found.sort(key=lambda r: r.created, reverse=True)  # newest first
    return ActionResult({"serviceDeployments": [r.brief() for r in found[: int(self._get_param("maxResults") or 20)]]})


def describe_service_deployments(self: EC2ContainerServiceResponse) -> ActionResult:
    arns = list(self._get_param("serviceDeploymentArns") or [])
    if len(arns) > MAX_DESCRIBE:
        raise ECSException("InvalidParameterException", f"At most {MAX_DESCRIBE} service deployment ARNs.")
    known = runs(self.ecs_backend)
    found = [known[a].to_api() for a in arns if a in known]
    failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in known]
    return ActionResult({"serviceDeployments": found, "failures": failures})


def describe_service_revisions(self: EC2ContainerServiceResponse) -> ActionResult:
    arns = list(self._get_param("serviceRevisionArns") or [])
    known = revisions(self.ecs_backend)
    found = [known[a].to_api() for a in arns if a in known]
    failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in known]
    return ActionResult({"serviceRevisions": found, "failures": failures})


def stop_service_deployment(self: EC2ContainerServiceResponse) -> ActionResult:
    arn = str(self._get_param("serviceDeploymentArn"))
    run = _run(self.ecs_backend, arn)
    if self._get_param("stopType") not in (None, "ROLLBACK"):
        raise ECSException("InvalidParameterException", "The only stop type supported is ROLLBACK.")
    if not run.active:
        raise ECSException("ConflictException", f"The service deployment is {run.status} and cannot be stopped.")
    stop(run, _now(), MotoEcsEffects(self.ecs_backend))
    return ActionResult({"serviceDeploymentArn": arn})


def continue_service_deployment(self: EC2ContainerServiceResponse) -> ActionResult:
    arn = str(self._get_param("serviceDeploymentArn"))
    run = _run(self.ecs_backend, arn)
    action = str(self._get_param("action") or "CONTINUE")
    try:
        native.answer(run, str(self._get_param("hookId")), action, _now(), MotoEcsEffects(self.ecs_backend))
    except ValueError as exc:
        raise ECSException("InvalidParameterException", str(exc)) from None
    return ActionResult({"serviceDeploymentArn": arn})


def list_tasks(self: EC2ContainerServiceResponse) -> ActionResult:
    cluster = str(self._get_param("cluster", "default"))
    started_by, desired = self._get_param("startedBy"), self._get_param("desiredStatus")
    service = self._get_param("serviceName")
    return ActionResult({"taskArns": listed(self.ecs_backend, cluster, service, started_by, desired)})


HANDLERS = {
    "list_tasks": list_tasks,
    "create_service": create_service,
    "update_service": update_service,
    "list_service_deployments": list_service_deployments,
    "describe_service_deployments": describe_service_deployments,
    "describe_service_revisions": describe_service_revisions,
    "stop_service_deployment": stop_service_deployment,
    "continue_service_deployment": continue_service_deployment,
}


def install() -> None:
    for name, fn in HANDLERS.items():
        setattr(EC2ContainerServiceResponse, name, fn)
