"""The wire side: response handlers grafted onto moto's CodeDeployResponse, and fuller API views."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from moto.codedeploy import responses as cd_responses
from moto.codedeploy.models import DeploymentInfo, codedeploy_backends
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult

from .control import _configs, _Error, _now, _revisions, _runs
from .operations import (
    _check_target,
    _config_routing,
    _started_run,
    _target,
    advance_all,
    continue_deployment,
    stop_deployment,
)
from .simulation import DeploymentRun
from .traffic import PREDEFINED, validate_routing

_ORIGINAL_DEPLOYMENT_INFO = cd_responses._deployment_info
_ORIGINAL_GROUP_INFO = cd_responses._deployment_group_info

# ------------------------------------------------------------------------------------------------
# Response (wire) side
# ------------------------------------------------------------------------------------------------


def deployment_info(deployment: DeploymentInfo) -> dict[str, Any]:
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


def deployment_group_info(group: Any) -> dict[str, Any]:
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
            infos.append(deployment_group_info(self.codedeploy_backend.get_deployment_group(app, name)))
        except JsonRESTError:
            error = f"Deployment group {name} does not exist."
    return ActionResult({"deploymentGroupsInfo": infos, "errorMessage": error})


HANDLERS = {
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
}
