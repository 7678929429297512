"""ECR, ECS and CodeDeploy through boto3, translated into the domain's models and errors.

One client per service (botocore's adaptive retry limiter is per client, so sharing it is what
makes it work), every call run in a worker thread so the event loop never blocks on AWS.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..domain.audit import note_aws_request
from ..domain.errors import AlreadyDeploying, Conflict, TagNotFound, UpstreamError
from ..domain.models import ActiveDeployment, Image, PastDeployment, ServiceState, Snapshot
from .progress import ACTIVE, BATCH, ProgressReader

T = TypeVar("T")
log = structlog.get_logger(__name__)


def _strip_list(ecs: Any) -> set[str]:
    """TaskDefinition members RegisterTaskDefinition does not accept, computed from the installed model."""
    model = ecs.meta.service_model
    described = set(model.shape_for("TaskDefinition").members)
    accepted = set(model.operation_model("RegisterTaskDefinition").input_shape.members)
    return described - accepted


class AwsGateway:
    def __init__(self, region: str, endpoint_url: str | None = None, max_attempts: int = 5) -> None:
        config = Config(
            retries={"mode": "adaptive", "total_max_attempts": max_attempts},
            connect_timeout=5,
            read_timeout=20,
            user_agent_extra="deploybot/0.1",
        )
        session = boto3.session.Session(region_name=region)
        self.region = region
        self.ecr = session.client("ecr", endpoint_url=endpoint_url, config=config)
        self.ecs = session.client("ecs", endpoint_url=endpoint_url, config=config)
        self.codedeploy = session.client("codedeploy", endpoint_url=endpoint_url, config=config)
        self._strip = _strip_list(self.ecs)
        self.progress = ProgressReader(self._call, _translate, self.codedeploy, self.ecs)

    async def _call(self, fn: Callable[..., T], **kwargs: Any) -> T:
        try:
            result = await asyncio.to_thread(fn, **kwargs)
        except ClientError as exc:
            note_aws_request(str(exc.response.get("ResponseMetadata", {}).get("RequestId") or ""))
            raise _translate(exc) from exc
        except BotoCoreError as exc:
            raise UpstreamError(f"AWS could not be reached: {exc}") from exc
        if isinstance(result, dict):  # the audit trail lists the AWS request ids behind each change
            note_aws_request(str(result.get("ResponseMetadata", {}).get("RequestId") or ""))
        return result

    # -- ECR ---------------------------------------------------------------------------------

    async def resolve(self, repository: str, tag: str, version_pattern: str) -> Image:
        try:
            detail = (
                await asyncio.to_thread(
                    self.ecr.describe_images, repositoryName=repository, imageIds=[{"imageTag": tag}]
                )
            )["imageDetails"][0]
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ImageNotFoundException":
                raise TagNotFound(repository, tag) from exc
            if code == "RepositoryNotFoundException":
                raise UpstreamError(f"The ECR repository `{repository}` does not exist; check the catalog.") from exc
            raise _translate(exc) from exc
        registry = detail.get("registryId", "")
        uri = f"{registry}.dkr.ecr.{self.region}.amazonaws.com/{repository}"
        if tag == "latest":
            versions = sorted(
                t for t in detail.get("imageTags", []) if t != "latest" and re.fullmatch(version_pattern, t)
            )
            if not versions:
                raise TagNotFound(repository, "latest (with a version tag on the same image)")
            tag = versions[-1]
        return Image(repository_uri=uri, tag=tag, digest=str(detail["imageDigest"]))

    async def has_digest(self, repository: str, digest: str) -> bool:
        try:
            await self._call(self.ecr.describe_images, repositoryName=repository, imageIds=[{"imageDigest": digest}])
        except (TagNotFound, UpstreamError):
            return False
        return True

    async def version_of(self, repository: str, image: str, version_pattern: str) -> str | None:
        """The version tag of a running image reference (`repo:tag` or `repo@sha256:...`)."""
        ref = image.rsplit("/", 1)[-1]
        if "@" in ref:
            image_id = {"imageDigest": ref.split("@", 1)[1]}
        elif ":" in ref:
            tag = ref.split(":", 1)[1]
            if tag != "latest" and re.fullmatch(version_pattern, tag):
                return tag
            image_id = {"imageTag": tag}
        else:
            return None
        try:
            details = (await self._call(self.ecr.describe_images, repositoryName=repository, imageIds=[image_id]))[
                "imageDetails"
            ]
        except (TagNotFound, UpstreamError):
            return None
        tags = [t for d in details for t in d.get("imageTags", []) if re.fullmatch(version_pattern, t)]
        return sorted(tags)[-1] if tags else None

    # -- ECS ---------------------------------------------------------------------------------

    async def service_state(self, cluster: str, service: str, container: str) -> ServiceState:
        resp = await self._call(self.ecs.describe_services, cluster=cluster, services=[service])
        services = [s for s in resp.get("services", []) if s.get("status") == "ACTIVE"]
        if not services:
            raise UpstreamError(f"The ECS service `{service}` was not found in cluster `{cluster}`.")
        svc = services[0]
        if (svc.get("deploymentController") or {}).get("type") != "CODE_DEPLOY":
            raise UpstreamError(
                f"The ECS service `{service}` is not deployed by CodeDeploy (its deployment "
                "controller is not CODE_DEPLOY)."
            )
        td_arn = str(svc["taskDefinition"])
        primary = next((ts for ts in svc.get("taskSets", []) if ts.get("status") == "PRIMARY"), None)
        if primary:
            td_arn = str(primary["taskDefinition"])
        td = (await self._call(self.ecs.describe_task_definition, taskDefinition=td_arn))["taskDefinition"]
        image = next((c["image"] for c in td["containerDefinitions"] if c["name"] == container), None)
        if image is None:
            raise UpstreamError(f"The task definition {td_arn} has no container named `{container}`.")
        lbs = svc.get("loadBalancers") or []
        lb = next((x for x in lbs if x.get("containerName") == container), lbs[0] if lbs else {})
        network = svc.get("networkConfiguration")
        return ServiceState(
            task_definition_arn=td_arn,
            image=str(image),
            running_version=None,
            container_name=str(lb.get("containerName") or container),
            container_port=int(lb.get("containerPort") or _port_of(td, container)),
            platform_version=svc.get("platformVersion"),
            network_configuration=network,
            capacity_provider_strategy=svc.get("capacityProviderStrategy") or [],
        )

    async def register_image(self, task_definition_arn: str, container: str, image: str) -> str:
        resp = await self._call(self.ecs.describe_task_definition, taskDefinition=task_definition_arn, include=["TAGS"])
        kwargs = {k: v for k, v in resp["taskDefinition"].items() if k not in self._strip}
        for definition in kwargs["containerDefinitions"]:
            if definition["name"] == container:
                definition["image"] = image
        if resp.get("tags"):
            kwargs["tags"] = resp["tags"]
        new = await self._call(self.ecs.register_task_definition, **kwargs)
        return str(new["taskDefinition"]["taskDefinitionArn"])

    # -- CodeDeploy --------------------------------------------------------------------------

    async def group_settings(self, application: str, group: str) -> tuple[str, float | None, float]:
        info = (
            await self._call(
                self.codedeploy.get_deployment_group, applicationName=application, deploymentGroupName=group
            )
        )["deploymentGroupInfo"]
        bg = info.get("blueGreenDeploymentConfiguration") or {}
        ready = bg.get("deploymentReadyOption") or {}
        wait = float(ready.get("waitTimeInMinutes", 0)) if ready.get("actionOnTimeout") == "STOP_DEPLOYMENT" else None
        term = float((bg.get("terminateBlueInstancesOnDeploymentSuccess") or {}).get("terminationWaitTimeInMinutes", 0))
        return str(info.get("deploymentConfigName") or "CodeDeployDefault.ECSAllAtOnce"), wait, term

    async def create_deployment(
        self, application: str, group: str, service: ServiceState, task_definition_arn: str, description: str
    ) -> str:
        content = json.dumps(build_appspec(service, task_definition_arn), sort_keys=True)
        resp = await self._call(
            self.codedeploy.create_deployment,
            applicationName=application,
            deploymentGroupName=group,
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()},
            },
            description=description[:256],
        )
        return str(resp["deploymentId"])

    async def snapshots(self, deployment_ids: Sequence[str]) -> list[Snapshot]:
        return await self.progress.snapshots(deployment_ids)

    async def find_deployment(self, application: str, group: str, description_prefix: str) -> str | None:
        ids = (
            await self._call(self.codedeploy.list_deployments, applicationName=application, deploymentGroupName=group)
        )["deployments"]
        recent = list(reversed(ids))[:100]  # the first page is enough: a restart looks minutes back
        for start in range(0, len(recent), BATCH):
            chunk = recent[start : start + BATCH]
            infos = (await self._call(self.codedeploy.batch_get_deployments, deploymentIds=chunk))["deploymentsInfo"]
            for info in infos:
                if str(info.get("description") or "").startswith(description_prefix):
                    return str(info["deploymentId"])
        return None

    async def active_deployments(self, application: str, group: str) -> list[ActiveDeployment]:
        ids = (
            await self._call(
                self.codedeploy.list_deployments,
                applicationName=application,
                deploymentGroupName=group,
                includeOnlyStatuses=["Created", *ACTIVE],
            )
        )["deployments"]
        return await self._describe_active(ids)

    async def active_in_account(self, skip: Collection[str]) -> list[ActiveDeployment]:
        ids: list[str] = []
        token: str | None = None
        while True:
            page = await self._call(
                self.codedeploy.list_deployments,
                includeOnlyStatuses=["Created", *ACTIVE],
                **({"nextToken": token} if token else {}),
            )
            ids += [i for i in page["deployments"] if i not in skip]
            token = page.get("nextToken")
            if not token:
                break
        return await self._describe_active(ids)

    async def _describe_active(self, ids: Sequence[str]) -> list[ActiveDeployment]:
        out: list[ActiveDeployment] = []
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            infos = (await self._call(self.codedeploy.batch_get_deployments, deploymentIds=chunk))["deploymentsInfo"]
            out.extend(
                ActiveDeployment(
                    deployment_id=info["deploymentId"],
                    status=info["status"],
                    description=str(info.get("description") or ""),
                    config_name=info.get("deploymentConfigName"),
                    revision_sha=((info.get("revision") or {}).get("appSpecContent") or {}).get("sha256"),
                    creator=str(info.get("creator") or ""),
                    application=str(info.get("applicationName") or ""),
                    group=str(info.get("deploymentGroupName") or ""),
                )
                for info in infos
            )
        return out

    async def recent_deployments(self, application: str, group: str, limit: int) -> list[PastDeployment]:
        ids = (
            await self._call(self.codedeploy.list_deployments, applicationName=application, deploymentGroupName=group)
        )["deployments"]
        recent = list(reversed(ids))[: limit * 2]  # the newest page is enough for a history
        out: list[PastDeployment] = []
        for start in range(0, len(recent), BATCH):
            chunk = recent[start : start + BATCH]
            infos = (await self._call(self.codedeploy.batch_get_deployments, deploymentIds=chunk))["deploymentsInfo"]
            out.extend(
                PastDeployment(
                    deployment_id=info["deploymentId"],
                    status=info["status"],
                    description=str(info.get("description") or ""),
                    creator=str(info.get("creator") or ""),
                    create_time=info.get("createTime"),
                    complete_time=info.get("completeTime"),
                    error_code=(info.get("errorInformation") or {}).get("code"),
                )
                for info in infos
            )
        out.sort(key=lambda d: d.create_time or datetime.min.replace(tzinfo=UTC), reverse=True)
        return out[:limit]

    async def deployed_image(self, application: str, revision_sha: str, container: str) -> tuple[str, str] | None:
        # BatchGetDeployments leaves the AppSpec's content out; GetApplicationRevision has it.
        revision = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": revision_sha}}
        resp = await self._call(
            self.codedeploy.get_application_revision, applicationName=application, revision=revision
        )
        content = str(((resp.get("revision") or {}).get("appSpecContent") or {}).get("content") or "")
        found = re.search(r"""["']?TaskDefinition["']?\s*:\s*["']?([^"',\s}]+)""", content)
        if found is None:
            return None
        arn = found.group(1)
        td = (await self._call(self.ecs.describe_task_definition, taskDefinition=arn))["taskDefinition"]
        image = next((str(c["image"]) for c in td["containerDefinitions"] if c["name"] == container), "")
        return arn, image

    async def continue_deployment(self, deployment_id: str, wait_type: str) -> None:
        await self._call(self.codedeploy.continue_deployment, deploymentId=deployment_id, deploymentWaitType=wait_type)

    async def stop_deployment(self, deployment_id: str, rollback: bool) -> None:
        await self._call(self.codedeploy.stop_deployment, deploymentId=deployment_id, autoRollbackEnabled=rollback)


def _port_of(td: dict[str, Any], container: str) -> int:
    for definition in td["containerDefinitions"]:
        if definition["name"] == container and definition.get("portMappings"):
            return int(definition["portMappings"][0]["containerPort"])
    return 80


def build_appspec(service: ServiceState, task_definition_arn: str) -> dict[str, Any]:
    """The AppSpec from the live service, as ecspresso builds it (no AppSpec file needed)."""
    props: dict[str, Any] = {
        "TaskDefinition": task_definition_arn,
        "LoadBalancerInfo": {"ContainerName": service.container_name, "ContainerPort": service.container_port},
    }
    if service.platform_version:
        props["PlatformVersion"] = service.platform_version
    awsvpc = (service.network_configuration or {}).get("awsvpcConfiguration")
    if isinstance(awsvpc, dict):
        net = {"Subnets": awsvpc.get("subnets", []), "SecurityGroups": awsvpc.get("securityGroups", [])}
        if awsvpc.get("assignPublicIp"):
            net["AssignPublicIp"] = awsvpc["assignPublicIp"]
        props["NetworkConfiguration"] = {"AwsvpcConfiguration": net}
    if service.capacity_provider_strategy:
        props["CapacityProviderStrategy"] = [
            {"Base": s.get("base", 0), "CapacityProvider": s.get("capacityProvider"), "Weight": s.get("weight", 1)}
            for s in service.capacity_provider_strategy
        ]
    return {"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": props}}]}


def _translate(exc: ClientError) -> Exception:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    message = exc.response.get("Error", {}).get("Message", str(exc))
    if code == "DeploymentLimitExceededException":
        return AlreadyDeploying(f"CodeDeploy already has an active deployment for this service: {message}")
    if code in (
        "DeploymentIsNotInReadyStateException",
        "DeploymentAlreadyCompletedException",
        "InvalidDeploymentStatusException",
    ):
        return Conflict(f"CodeDeploy says that is too late: {message}")
    return UpstreamError(f"AWS refused the call ({code}): {message}")
