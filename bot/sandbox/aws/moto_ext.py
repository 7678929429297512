"""Extends moto 5.2.5 so that CodeDeploy ECS blue/green deployments really progress.

moto dispatches ``X-Amz-Target`` actions by looking up methods on its response class at call time,
so methods grafted onto ``CodeDeployResponse`` become routable in server mode without subclassing.
Simulation state lives on the backend objects and disappears with ``/moto-api/reset``; only
configuration (clock, faults) lives in the module-level ``CONTROL``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from moto.codedeploy import responses as cd_responses
from moto.codedeploy.exceptions import CodeDeployException
from moto.codedeploy.models import CodeDeployBackend, DeploymentInfo, codedeploy_backends
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.ecs.models import ecs_backends
from moto.events.models import events_backends

from ..clock import SimClock
from .simulation import DeploymentRun, HookFailure
from .traffic import PREDEFINED, TrafficSchedule, validate_routing

_ORIGINAL_CALL_ACTION = BaseResponse.call_action
_ORIGINAL_DEPLOYMENT_INFO = cd_responses._deployment_info
_ORIGINAL_GROUP_INFO = cd_responses._deployment_group_info
_ID_ALPHABET = string.ascii_uppercase + string.digits


class _Error(CodeDeployException):
    code = 400

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(kind, message)


@dataclass
class Control:
    """Clock and fault switches shared by every request (and by tests and the web page)."""

    clock: SimClock = field(default_factory=lambda: SimClock(manual=True))
    lock: threading.RLock = field(default_factory=threading.RLock)
    fail_next: dict[str, HookFailure] = field(default_factory=dict)  # service name -> failure
    image_failures: dict[str, HookFailure] = field(default_factory=dict)  # image digest -> failure
    alarms: dict[str, str] = field(default_factory=dict)  # service name -> alarm name
    throttles: dict[str, int] = field(default_factory=dict)  # operation name -> remaining
    latency_seconds: float = 0.0
    latency_by_operation: dict[str, float] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (service, operation)

    def reset_faults(self) -> None:
        with self.lock:
            self.fail_next.clear()
            self.image_failures.clear()
            self.alarms.clear()
            self.throttles.clear()
            self.latency_seconds = 0.0
            self.latency_by_operation.clear()


CONTROL = Control()


def _now() -> datetime:
    return CONTROL.clock.now()


def _runs(backend: CodeDeployBackend) -> dict[str, DeploymentRun]:
    runs: dict[str, DeploymentRun] | None = getattr(backend, "_sandbox_runs", None)
    if runs is None:
        runs = {}
        backend._sandbox_runs = runs  # type: ignore[attr-defined]
    return runs


def _configs(backend: CodeDeployBackend) -> dict[str, dict[str, Any]]:
    configs: dict[str, dict[str, Any]] | None = getattr(backend, "_sandbox_configs", None)
    if configs is None:
        configs = {}
        backend._sandbox_configs = configs  # type: ignore[attr-defined]
    return configs


def _revisions(backend: CodeDeployBackend) -> dict[tuple[str, str], dict[str, Any]]:
    revs: dict[tuple[str, str], dict[str, Any]] | None = getattr(backend, "_sandbox_revisions", None)
    if revs is None:
        revs = {}
        backend._sandbox_revisions = revs  # type: ignore[attr-defined]
    return revs


class MotoEffects:
    """What a deployment does to ECS and EventBridge, through moto's own backends."""

    def __init__(self, backend: CodeDeployBackend) -> None:
        self.backend = backend
        self.ecs = ecs_backends[backend.account_id][backend.region_name]

    def _service(self, run: DeploymentRun) -> Any:
        return self.ecs.services[f"{run.cluster}:{run.service}"]

    def _arn(self, run: DeploymentRun, task_set_id: str) -> str | None:
        for task_set in self._service(run).task_sets:
            if task_set.id == task_set_id:
                return str(task_set.task_set_arn)
        return None

    def create_green(self, run: DeploymentRun) -> str:
        if run.is_rollback and run.green_task_set:
            return run.green_task_set
        service = self._service(run)
        task_set = self.ecs.create_task_set(
            service=run.service,
            cluster_str=run.cluster,
            task_definition=run.task_definition,
            load_balancers=service.load_balancers,
            network_configuration=service.network_configuration,
            launch_type=service.launch_type or "EC2",
        )
        return str(task_set.id)

    def make_primary(self, run: DeploymentRun, task_set_id: str) -> None:
        arn = self._arn(run, task_set_id)
        if arn:
            self.ecs.update_service_primary_task_set(run.cluster, run.service, arn)

    def delete_task_set(self, run: DeploymentRun, task_set_id: str) -> None:
        arn = self._arn(run, task_set_id)
        if arn:
            self.ecs.delete_task_set(run.cluster, run.service, arn)

    def start_rollback(self, run: DeploymentRun, at: datetime) -> str:
        original = self.backend.deployments[run.deployment_id]
        blue_td = _task_set_definition(self._service(run), run.blue_task_set) or run.task_definition
        content = json.dumps(_appspec_for(blue_td, original))
        info = _new_deployment(
            self.backend,
            application_name=original.application_name,
            group_name=original.deployment_group_name,
            revision=_revision(content),
            description=f"Rollback of {run.deployment_id}",
            creator="codeDeployRollback",
            config_name=str(original.deployment_config_name),
            at=at,
        )
        rollback = DeploymentRun(
            deployment_id=info.deployment_id,
            cluster=run.cluster,
            service=run.service,
            created=at,
            task_definition=blue_td,
            schedule=TrafficSchedule(((0.0, 100.0),)),
            ready_wait_minutes=None,
            termination_wait_minutes=0,
            auto_rollback_events=set(),
            target_groups=(run.target_groups[1], run.target_groups[0]),
            blue_task_set=run.green_task_set or run.blue_task_set,
            green_task_set=run.blue_task_set,
            green_weight=100.0 - run.green_weight,
            is_rollback=True,
        )
        info._sandbox_rollback_of = run.deployment_id  # type: ignore[attr-defined]
        _runs(self.backend)[info.deployment_id] = rollback
        return str(info.deployment_id)

    def emit(self, run: DeploymentRun, state: str, at: datetime) -> None:
        info = self.backend.deployments.get(run.deployment_id)
        if info is None:
            return
        group = info.deployment_group
        detail = {
            "instanceGroupId": group.deployment_group_id,
            "region": self.backend.region_name,
            "application": info.application_name,
            "deploymentId": run.deployment_id,
            "state": state,
            "deploymentGroup": info.deployment_group_name,
        }
        arn = f"arn:aws:codedeploy:{self.backend.region_name}:{self.backend.account_id}"
        events = events_backends[self.backend.account_id][self.backend.region_name]
        events.put_events(
            [
                {
                    "Source": "aws.codedeploy",
                    "DetailType": "CodeDeploy Deployment State-change Notification",
                    "Detail": json.dumps(detail),
                    "Resources": [
                        f"{arn}:application:{info.application_name}",
                        f"{arn}:deploymentgroup:{info.application_name}/{info.deployment_group_name}",
                    ],
                }
            ]
        )

    def alarm_active(self, run: DeploymentRun) -> str | None:
        return CONTROL.alarms.get(run.service)


def _task_set_definition(service: Any, task_set_id: str) -> str | None:
    for task_set in service.task_sets:
        if task_set.id == task_set_id:
            return str(task_set.task_definition)
    return None


def _revision(content: str) -> dict[str, Any]:
    return {
        "revisionType": "AppSpecContent",
        "appSpecContent": {"content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()},
    }


def _appspec_for(task_definition: str, original: DeploymentInfo) -> dict[str, Any]:
    spec = _parse_appspec(original.revision)
    resource = _target_service(spec)
    resource["TaskDefinition"] = task_definition
    return spec


def _parse_appspec(revision: dict[str, Any]) -> dict[str, Any]:
    if (revision or {}).get("revisionType") != "AppSpecContent":
        raise _Error("InvalidRevisionException", "ECS deployments need an AppSpecContent revision.")
    content = revision.get("appSpecContent", {}).get("content") or ""
    try:
        spec = json.loads(content)
    except ValueError:
        try:
            spec = yaml.safe_load(content)
        except yaml.YAMLError as exc:
            raise _Error("InvalidRevisionException", f"The AppSpec file is not valid YAML or JSON: {exc}") from exc
    if not isinstance(spec, dict):
        raise _Error("InvalidRevisionException", "The AppSpec content must be an object.")
    return spec


def _ci_get(mapping: dict[str, Any], key: str) -> Any:
    for k, v in mapping.items():
        if k.lower() == key.lower():
            return v
    return None


def _target_service(spec: dict[str, Any]) -> dict[str, Any]:
    resources = _ci_get(spec, "Resources") or []
    for entry in resources:
        for body in entry.values():
            props = _ci_get(body, "Properties")
            if isinstance(props, dict):
                return props
    raise _Error("InvalidRevisionException", "The AppSpec file has no AWS::ECS::Service resource.")


def _new_deployment(
    backend: CodeDeployBackend,
    *,
    application_name: str,
    group_name: str,
    revision: dict[str, Any],
    description: str | None,
    creator: str,
    config_name: str,
    at: datetime,
    auto_rollback: dict[str, Any] | None = None,
) -> DeploymentInfo:
    application = backend.applications[application_name]
    group = backend.deployment_groups[application_name][group_name]
    info = DeploymentInfo(
        application,
        group,
        revision,
        config_name,
        description,
        None,
        None,
        auto_rollback,
        None,
        None,
        None,
        creator,
    )
    info.deployment_id = "d-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))
    info.create_time = at
    backend.deployments[info.deployment_id] = info
    sha = (
        revision["appSpecContent"].get("sha256")
        or hashlib.sha256(revision["appSpecContent"]["content"].encode()).hexdigest()
    )
    _revisions(backend)[(application_name, sha)] = {"content": revision["appSpecContent"]["content"], "registered": at}
    return info


def _config_routing(backend: CodeDeployBackend, name: str) -> dict[str, Any]:
    if name in PREDEFINED:
        return PREDEFINED[name]
    custom = _configs(backend).get(name)
    if custom is None:
        raise _Error("DeploymentConfigDoesNotExistException", f"The deployment configuration {name} does not exist.")
    return dict(custom["trafficRoutingConfig"])


def _image_digest(ecs: Any, task_definition: str) -> list[str]:
    try:
        definition = ecs.describe_task_definition(task_definition)
    except Exception:  # noqa: BLE001 - moto raises its own ClientException family; any miss is "not found"
        raise _Error(
            "InvalidRevisionException", f"The task definition {task_definition} in the AppSpec does not exist."
        ) from None
    return [c.get("image", "").rpartition("@")[2] for c in definition.container_definitions]


# ------------------------------------------------------------------------------------------------
# Backend operations
# ------------------------------------------------------------------------------------------------


def advance_all() -> None:
    """Bring every deployment in every backend up to the clock."""
    with CONTROL.lock:
        now = _now()
        for regions in list(codedeploy_backends.values()):
            for backend in list(regions.values()):
                runs = _runs(backend)
                effects = MotoEffects(backend)
                # Rollbacks started during this pass join it; loop until nothing new appears.
                done: set[str] = set()
                while True:
                    pending = [r for i, r in runs.items() if i not in done]
                    if not pending:
                        break
                    for run in pending:
                        done.add(run.deployment_id)
                        run.advance(now, effects)
                        info = backend.deployments.get(run.deployment_id)
                        if info is not None:
                            # moto's own fields back ListDeployments' status filter.
                            info.status, info.start_time = run.status, run.start_time
                            info.complete_time = run.complete_time


def create_deployment(self: CodeDeployBackend, **kwargs: Any) -> str:
    with CONTROL.lock:
        app_name = kwargs["application_name"]
        group_name = kwargs["deployment_group_name"]
        group = self.get_deployment_group(app_name, group_name)
        if group.application.compute_platform != "ECS":
            return str(_ORIGINAL_CREATE(self, **kwargs))
        advance_all()
        for dep_id, run in _runs(self).items():
            info = self.deployments[dep_id]
            if info.deployment_group_name == group_name and info.application_name == app_name and run.active:
                raise _Error(
                    "DeploymentLimitExceededException",
                    f"The Deployment Group '{group_name}' already has an active Deployment '{dep_id}'",
                )
        revision = kwargs.get("revision") or {}
        spec = _parse_appspec(revision)
        content = revision["appSpecContent"]["content"]
        given_sha = revision["appSpecContent"].get("sha256")
        if given_sha and given_sha != hashlib.sha256(content.encode()).hexdigest():
            raise _Error("InvalidRevisionException", "The sha256 of the AppSpec content does not match.")
        props = _target_service(spec)
        task_definition = str(_ci_get(props, "TaskDefinition") or "")
        ecs = ecs_backends[self.account_id][self.region_name]
        digests = _image_digest(ecs, task_definition)
        if not group.ecs_services:
            raise _Error("InvalidECSServiceException", "The deployment group has no ECS service.")
        cluster = group.ecs_services[0]["clusterName"].split("/")[-1]
        service_name = group.ecs_services[0]["serviceName"].split("/")[-1]
        service = ecs.services.get(f"{cluster}:{service_name}")
        if service is None:
            raise _Error("InvalidECSServiceException", f"The ECS service {service_name} does not exist.")
        blue = next((ts for ts in service.task_sets if ts.status == "PRIMARY"), None)
        if blue is None:
            raise _Error("InvalidECSServiceException", f"The ECS service {service_name} has no primary task set.")
        config_name = kwargs.get("deployment_config_name") or str(group.deployment_config_name)
        if not config_name.startswith("CodeDeployDefault.ECS") and config_name not in _configs(self):
            config_name = "CodeDeployDefault.ECSAllAtOnce"
        routing = _config_routing(self, config_name)
        bg = group.blue_green_deployment_configuration or {}
        ready = bg.get("deploymentReadyOption") or {}
        term = bg.get("terminateBlueInstancesOnDeploymentSuccess") or {}
        rollback_cfg = kwargs.get("auto_rollback_configuration") or group.auto_rollback_configuration or {}
        lb = (group.load_balancer_info or {}).get("targetGroupPairInfoList") or [{}]
        groups = [g.get("name", "") for g in lb[0].get("targetGroups", [])] + ["", ""]
        failure = CONTROL.fail_next.pop(service_name, None)
        for digest in digests:
            failure = failure or CONTROL.image_failures.get(digest)
        hooks = {k: v for entry in (_ci_get(spec, "Hooks") or []) for k, v in entry.items()}
        info = _new_deployment(
            self,
            application_name=app_name,
            group_name=group_name,
            revision=revision,
            description=kwargs.get("description"),
            creator="user",
            config_name=config_name,
            at=_now(),
            auto_rollback=kwargs.get("auto_rollback_configuration"),
        )
        _runs(self)[info.deployment_id] = DeploymentRun(
            deployment_id=info.deployment_id,
            cluster=cluster,
            service=service_name,
            created=info.create_time,
            task_definition=task_definition,
            schedule=TrafficSchedule.from_routing(routing),
            ready_wait_minutes=(
                float(ready.get("waitTimeInMinutes", 0)) if ready.get("actionOnTimeout") == "STOP_DEPLOYMENT" else None
            ),
            termination_wait_minutes=float(term.get("terminationWaitTimeInMinutes", 0)),
            auto_rollback_events=set(rollback_cfg.get("events") or []) if rollback_cfg.get("enabled") else set(),
            target_groups=(groups[0], groups[1]),
            blue_task_set=str(blue.id),
            hook_names=hooks,
            failure=failure,
        )
        return str(info.deployment_id)


_ORIGINAL_CREATE = CodeDeployBackend.create_deployment


def _run(self: CodeDeployBackend, deployment_id: str) -> DeploymentRun:
    advance_all()
    if deployment_id not in self.deployments:
        raise _Error("DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found.")
    run = _runs(self).get(deployment_id)
    if run is None:
        raise _Error("UnsupportedActionForDeploymentTypeException", "Only ECS deployments are simulated.")
    return run


def stop_deployment(self: CodeDeployBackend, deployment_id: str, auto_rollback: bool | None) -> dict[str, str]:
    with CONTROL.lock:
        run = _run(self, deployment_id)
        if not run.active:
            raise _Error(
                "DeploymentAlreadyCompletedException", f"The deployment {deployment_id} has already completed."
            )
        if auto_rollback is None:
            info = self.deployments[deployment_id]
            cfg = info.auto_rollback_configuration or info.deployment_group.auto_rollback_configuration or {}
            auto_rollback = bool(cfg.get("enabled")) and "DEPLOYMENT_STOP_ON_REQUEST" in (cfg.get("events") or [])
        run.stop(_now(), MotoEffects(self), rollback=auto_rollback)
        return {
            "status": "Succeeded",
            "statusMessage": "Deployment stopped"
            + (f"; rollback deployment {run.rollback_id} created" if run.rollback_id else ""),
        }


def continue_deployment(self: CodeDeployBackend, deployment_id: str, wait_type: str | None) -> None:
    with CONTROL.lock:
        run = _run(self, deployment_id)
        if not run.active:
            raise _Error(
                "DeploymentAlreadyCompletedException", f"The deployment {deployment_id} has already completed."
            )
        wait_type = wait_type or "READY_WAIT"
        if wait_type == "READY_WAIT":
            if run.phase != "ready":
                raise _Error(
                    "DeploymentIsNotInReadyStateException", f"The deployment {deployment_id} is not in a ready state."
                )
            run.continue_ready(_now())
        elif wait_type == "TERMINATION_WAIT":
            if run.phase != "termination_wait":
                raise _Error(
                    "InvalidDeploymentStatusException",
                    f"The deployment {deployment_id} is not waiting to terminate the original task set.",
                )
            run.continue_termination(_now(), MotoEffects(self))
        else:
            raise _Error("InvalidDeploymentWaitTypeException", f"Unknown wait type {wait_type}.")


def _target(self: CodeDeployBackend, run: DeploymentRun) -> dict[str, Any]:
    service = MotoEffects(self)._service(run)
    return {
        "deploymentTargetType": "ECSTarget",
        "ecsTarget": {
            "deploymentId": run.deployment_id,
            "targetId": run.target_id,
            "targetArn": service.arn,
            "lastUpdatedAt": run.last_updated or run.created,
            "lifecycleEvents": [e.to_api() for e in run.events],
            "status": run.target_status,
            "taskSetsInfo": run.task_sets_info(int(service.desired_count)),
        },
    }


def _started_run(self: CodeDeployBackend, deployment_id: str) -> DeploymentRun:
    run = _run(self, deployment_id)
    if run.status == "Created":
        raise _Error("DeploymentNotStartedException", f"The deployment {deployment_id} has not started.")
    return run


def _check_target(run: DeploymentRun, target_id: str) -> None:
    if target_id != run.target_id:
        raise _Error("DeploymentTargetDoesNotExistException", f"The target {target_id} does not exist.")


# ------------------------------------------------------------------------------------------------
# Response (wire) side
# ------------------------------------------------------------------------------------------------


def _deployment_info(deployment: DeploymentInfo) -> dict[str, Any]:
    out = _ORIGINAL_DEPLOYMENT_INFO(deployment)
    revision = json.loads(json.dumps(deployment.revision or {}))
    if "appSpecContent" in revision:
        revision["appSpecContent"].pop("content", None)  # AWS returns null; GetApplicationRevision has it
    out["revision"] = revision
    run = _find_run(deployment.deployment_id)
    if run is None:
        return out
    out.update(
        status=run.status,
        startTime=run.start_time,
        completeTime=run.complete_time,
        createTime=run.created,
        deploymentOverview=run.overview(),
        errorInformation=run.error or {},
        instanceTerminationWaitTimeStarted=False,  # AWS never flips it for ECS (containers-roadmap#269)
    )
    rollback: dict[str, Any] = {}
    if run.rollback_id:
        rollback = {"rollbackDeploymentId": run.rollback_id, "rollbackMessage": run.rollback_message}
    rollback_of = getattr(deployment, "_sandbox_rollback_of", None)
    if rollback_of:
        rollback = {"rollbackTriggeringDeploymentId": rollback_of}
    out["rollbackInfo"] = rollback
    return out


def _find_run(deployment_id: str) -> DeploymentRun | None:
    for regions in codedeploy_backends.values():
        for regional in regions.values():
            run = _runs(regional).get(deployment_id)
            if run is not None:
                return run
    return None


def _deployment_group_info(group: Any) -> dict[str, Any]:
    out = _ORIGINAL_GROUP_INFO(group)
    alarms = group.alarm_configuration
    if isinstance(alarms, dict):
        out["alarmConfiguration"] = alarms
    return out


def _resp_stop_deployment(self: CodeDeployResponse) -> ActionResult:
    advance_all()
    result = stop_deployment(
        self.codedeploy_backend, self._get_param("deploymentId"), self._get_param("autoRollbackEnabled")
    )
    return ActionResult(result)


def _resp_continue_deployment(self: CodeDeployResponse) -> EmptyResult:
    continue_deployment(self.codedeploy_backend, self._get_param("deploymentId"), self._get_param("deploymentWaitType"))
    return EmptyResult()


def _resp_list_deployment_targets(self: CodeDeployResponse) -> ActionResult:
    run = _started_run(self.codedeploy_backend, self._get_param("deploymentId"))
    return ActionResult({"targetIds": [run.target_id]})


def _resp_batch_get_deployment_targets(self: CodeDeployResponse) -> ActionResult:
    ids = self._get_param("targetIds") or []
    if len(ids) > 25:
        raise _Error("InstanceIdRequiredException", "At most 25 target ids can be requested at once.")
    run = _started_run(self.codedeploy_backend, self._get_param("deploymentId"))
    for target_id in ids:
        _check_target(run, target_id)
    return ActionResult({"deploymentTargets": [_target(self.codedeploy_backend, run) for _ in ids]})


def _resp_get_deployment_target(self: CodeDeployResponse) -> ActionResult:
    run = _started_run(self.codedeploy_backend, self._get_param("deploymentId"))
    _check_target(run, self._get_param("targetId"))
    return ActionResult({"deploymentTarget": _target(self.codedeploy_backend, run)})


def _resp_create_deployment_config(self: CodeDeployResponse) -> ActionResult:
    backend = self.codedeploy_backend
    name = self._get_param("deploymentConfigName")
    routing = self._get_param("trafficRoutingConfig") or {"type": "AllAtOnce"}
    if name in PREDEFINED or name in _configs(backend):
        raise _Error("DeploymentConfigAlreadyExistsException", f"The deployment configuration {name} already exists.")
    problem = validate_routing(routing)
    if problem:
        raise _Error(
            "InvalidDeploymentConfigNameException" if not name else "InvalidTrafficRoutingConfigurationException",
            problem,
        )
    config_id = secrets.token_hex(8)
    _configs(backend)[name] = {
        "deploymentConfigId": config_id,
        "deploymentConfigName": name,
        "computePlatform": self._get_param("computePlatform") or "ECS",
        "trafficRoutingConfig": routing,
        "createTime": _now(),
    }
    return ActionResult({"deploymentConfigId": config_id})


def _resp_get_deployment_config(self: CodeDeployResponse) -> ActionResult:
    name = self._get_param("deploymentConfigName")
    routing = _config_routing(self.codedeploy_backend, name)
    custom = _configs(self.codedeploy_backend).get(name)
    info = (
        dict(custom)
        if custom
        else {
            "deploymentConfigId": hashlib.md5(name.encode(), usedforsecurity=False).hexdigest(),
            "deploymentConfigName": name,
            "computePlatform": "ECS",
            "trafficRoutingConfig": routing,
        }
    )
    return ActionResult({"deploymentConfigInfo": info})


def _resp_list_deployment_configs(self: CodeDeployResponse) -> ActionResult:
    names = list(PREDEFINED) + list(_configs(self.codedeploy_backend))
    return ActionResult({"deploymentConfigsList": names})


def _resp_get_application_revision(self: CodeDeployResponse) -> ActionResult:
    app = self._get_param("applicationName")
    revision = self._get_param("revision") or {}
    sha = (revision.get("appSpecContent") or {}).get("sha256", "")
    stored = _revisions(self.codedeploy_backend).get((app, sha))
    if stored is None:
        raise _Error("RevisionDoesNotExistException", "The revision does not exist.")
    return ActionResult(
        {
            "applicationName": app,
            "revision": {
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": stored["content"], "sha256": sha},
            },
            "revisionInfo": {
                "registerTime": stored["registered"],
                "firstUsedTime": stored["registered"],
                "lastUsedTime": stored["registered"],
            },
        }
    )


def _resp_batch_get_deployment_groups(self: CodeDeployResponse) -> ActionResult:
    app = self._get_param("applicationName")
    infos, error = [], ""
    for name in self._get_param("deploymentGroupNames") or []:
        try:
            infos.append(_deployment_group_info(self.codedeploy_backend.get_deployment_group(app, name)))
        except JsonRESTError:
            error = f"Deployment group {name} does not exist."
    return ActionResult({"deploymentGroupsInfo": infos, "errorMessage": error})


def _throttled_call_action(self: BaseResponse) -> Any:
    operation = self._get_action()
    CONTROL.calls.append((str(self.service_name), operation))
    delay = CONTROL.latency_by_operation.get(operation, CONTROL.latency_seconds)
    if delay:
        time.sleep(delay)  # a moto server thread, not the event loop: this is AWS being slow
    with CONTROL.lock:
        remaining = CONTROL.throttles.get(operation, 0)
        if remaining > 0:
            CONTROL.throttles[operation] = remaining - 1
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
            return 400, {"Content-Type": "application/x-amz-json-1.1"}, body
    if self.service_name in {"codedeploy", "ecs"}:
        advance_all()
    return _ORIGINAL_CALL_ACTION(self)


_installed = False


def install() -> None:
    """Graft the simulation onto moto (idempotent)."""
    global _installed
    if _installed:
        return
    # setattr: these replace moto's own functions by design, whatever their declared signatures.
    setattr(CodeDeployBackend, "create_deployment", create_deployment)  # noqa: B010
    setattr(cd_responses, "_deployment_info", _deployment_info)  # noqa: B010
    setattr(cd_responses, "_deployment_group_info", _deployment_group_info)  # noqa: B010
    for name, fn in {
        "stop_deployment": _resp_stop_deployment,
        "continue_deployment": _resp_continue_deployment,
        "list_deployment_targets": _resp_list_deployment_targets,
        "batch_get_deployment_targets": _resp_batch_get_deployment_targets,
        "get_deployment_target": _resp_get_deployment_target,
        "create_deployment_config": _resp_create_deployment_config,
        "get_deployment_config": _resp_get_deployment_config,
        "list_deployment_configs": _resp_list_deployment_configs,
        "get_application_revision": _resp_get_application_revision,
        "batch_get_deployment_groups": _resp_batch_get_deployment_groups,
    }.items():
        setattr(CodeDeployResponse, name, fn)
    setattr(BaseResponse, "call_action", _throttled_call_action)  # noqa: B010
    CONTROL.clock.on_change(advance_all)
    _installed = True
