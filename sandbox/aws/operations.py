"""CodeDeploy operations moto lacks or gets wrong for ECS, and their effects on ECS and EventBridge."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import datetime
from typing import Any

import yaml
from moto.codedeploy.models import CodeDeployBackend, DeploymentInfo, codedeploy_backends
from moto.ecs.models import ecs_backends
from moto.events.models import events_backends

from .control import _ID_ALPHABET, CONTROL, _configs, _Error, _now, _revisions, _runs
from .simulation import DeploymentRun
from .tasks import record_stopped
from .traffic import PREDEFINED, TrafficSchedule


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

    def stop_tasks(self, run: DeploymentRun, task_set_id: str, reason: str, exit_code: int) -> None:
        """The green task set's tasks, stopped as ECS reports them (started by the task set)."""
        count = int(self._service(run).desired_count or 1)
        record_stopped(self.ecs, run.cluster, run.task_definition, run.service, task_set_id, count, reason, exit_code)

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
        CONTROL.events.publish(
            events,
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
            ],
            at,
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
                        before = run.status
                        run.advance(now, effects)
                        if run.status != before:
                            CONTROL.transitions.append((run.deployment_id, run.status, time.time()))
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
        if not given_sha:  # CodeDeploy computes it when the caller (the AWS CLI, say) leaves it out
            revision = _revision(content)
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
            install_extra=CONTROL.slow_install.get(service_name, 0.0),
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


def forget_deployment(deployment_id: str) -> bool:
    """Make CodeDeploy forget a deployment, as if it were another account's (tests of a vanished one)."""
    with CONTROL.lock:
        for regions in list(codedeploy_backends.values()):
            for backend in list(regions.values()):
                if backend.deployments.pop(deployment_id, None) is not None:
                    _runs(backend).pop(deployment_id, None)
                    return True
    return False
