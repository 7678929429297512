"""The AWS half of the preflight (`deploybot check --aws`, and at start-up): read-only calls that say
whether a catalog entry can be deployed: its service, the engine ECS names for it, CodeDeploy's application
and group when it has them, the container, the ECR repository and its tags, and the rollback settings."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..domain.catalog import AppConfig
from ..domain.errors import DeployError
from ..domain.preflight import Check
from .accounts import Accounts
from .calls import call, error_code
from .codedeploy.engine import names
from .ecs.engine import plan_of

if TYPE_CHECKING:
    from .calls import Clients

IMAGE_PAGES = 5  # DescribeImages pages (1,000 images each) read looking for a tag the version pattern takes


class Problem(Exception):
    """One thing that stops a deployment of the app, phrased with its fix."""


class AwsInspector:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    async def inspect(self, app: AppConfig) -> Check:
        place = f"{app.cluster}/{app.service} in {app.region or self.accounts.region}"
        problems: list[str] = []
        warnings: list[str] = []
        engine = ""
        try:
            clients = self.accounts.clients(app)
            service = await self._service(clients, app, place)
            engine, more = await self._engine(clients, app, service)
            warnings += more
            for step in (self._container(clients, app, service), self._images(clients, app)):
                try:
                    warnings += await step
                except Problem as exc:
                    problems.append(str(exc))
        except Problem as exc:
            problems.append(str(exc))
        return Check(app=app.name, environment=app.environment, engine=engine, problems=problems, warnings=warnings)

    async def _service(self, clients: Clients, app: AppConfig, place: str) -> Any:
        where = "" if app.region else ", and `region:` if it lives in another region"
        try:
            resp = await _read(
                clients.ecs.describe_services, "ecs:DescribeServices", cluster=app.cluster, services=[app.service]
            )
        except Problem as exc:
            if "ClusterNotFound" in str(exc):
                raise Problem(
                    f"the ECS cluster `{app.cluster}` was not found in {clients.region}: check `cluster:`{where}"
                ) from None
            raise
        active = [s for s in resp.get("services", []) if s.get("status") == "ACTIVE"]
        if not active:
            reason = next((f.get("reason") for f in resp.get("failures", [])), None) or "INACTIVE"
            raise Problem(f"the ECS service {place} was not found ({reason}): check `cluster:` and `service:`{where}")
        return active[0]

    async def _engine(self, clients: Clients, app: AppConfig, service: Any) -> tuple[str, list[str]]:
        controller = (service.get("deploymentController") or {}).get("type") or "ECS"
        if controller == "CODE_DEPLOY":
            return await self._codedeploy(clients, app)
        if controller != "ECS":
            raise Problem(
                f"the service's deployment controller is {controller}, which deploybot cannot drive: "
                "use ECS (rolling, blue/green, linear, canary) or CODE_DEPLOY"
            )
        config = service.get("deploymentConfiguration") or {}
        strategy = config.get("strategy") or "ROLLING"
        warnings: list[str] = []
        if strategy == "ROLLING":
            breaker = config.get("deploymentCircuitBreaker") or {}
            if not (breaker.get("enable") and breaker.get("rollback")):
                warnings.append(
                    "the deployment circuit breaker is off: a rolling update whose tasks keep failing never "
                    "ends; turn on deploymentCircuitBreaker with rollback"
                )
        elif not any(lb.get("advancedConfiguration") for lb in service.get("loadBalancers", [])):
            warnings.append(
                "no load balancer has an advancedConfiguration (alternate target group and listener rules), "
                f"which ECS {strategy.lower().replace('_', '/')} needs to shift traffic"
            )
        return f"ECS {plan_of(config).strategy}", warnings

    async def _codedeploy(self, clients: Clients, app: AppConfig) -> tuple[str, list[str]]:
        application, group_name = names(app)
        try:
            resp = await _read(
                clients.codedeploy.get_deployment_group,
                "codedeploy:GetDeploymentGroup",
                applicationName=application,
                deploymentGroupName=group_name,
            )
        except Problem as exc:
            if "DoesNotExist" in str(exc):
                raise Problem(
                    f"the service deploys through CodeDeploy but {application}/{group_name} does not exist: set "
                    "`codedeploy_application:` and `deployment_group:` to the service's (aws ecs deploy names "
                    "them AppECS-<cluster>-<service> and DgpECS-<cluster>-<service>)"
                ) from None
            raise
        group = resp.get("deploymentGroupInfo") or {}
        bound = [(s.get("clusterName"), s.get("serviceName")) for s in group.get("ecsServices", [])]
        if (app.cluster, app.service) not in bound:
            shown = ", ".join(f"{c}/{s}" for c, s in bound) or "no service"
            raise Problem(
                f"the CodeDeploy group {application}/{group_name} deploys {shown}, not {app.cluster}/{app.service}: "
                "set `deployment_group:` to the service's own group"
            )
        warnings: list[str] = []
        if not (group.get("autoRollbackConfiguration") or {}).get("enabled"):
            warnings.append(
                f"automatic rollback is off in {group_name}: a failed deployment stays as CodeDeploy left it; "
                "turn on autoRollbackConfiguration (DEPLOYMENT_FAILURE)"
            )
        config = str(group.get("deploymentConfigName") or "")
        return f"CodeDeploy blue/green ({config.removeprefix('CodeDeployDefault.')})", warnings

    async def _container(self, clients: Clients, app: AppConfig, service: Any) -> list[str]:
        arn = str(service.get("taskDefinition") or "")
        primary = next((t for t in service.get("taskSets", []) if t.get("status") == "PRIMARY"), None)
        arn = str(primary.get("taskDefinition", arn)) if primary else arn
        resp = await _read(clients.ecs.describe_task_definition, "ecs:DescribeTaskDefinition", taskDefinition=arn)
        task = resp["taskDefinition"]
        containers = [str(c.get("name")) for c in task.get("containerDefinitions", [])]
        if app.container not in containers:
            revision = f"{task.get('family')}:{task.get('revision')}"
            raise Problem(
                f"the live task definition {revision} has no container `{app.container}` "
                f"(it has {', '.join(containers)}): set `container:` to the one whose image deploys"
            )
        return []

    async def _images(self, clients: Clients, app: AppConfig) -> list[str]:
        pattern = re.compile(app.version_pattern)
        kwargs: dict[str, Any] = {"repositoryName": app.repository, "filter": {"tagStatus": "TAGGED"}}
        seen = 0
        for _ in range(IMAGE_PAGES):
            try:
                resp = await _read(clients.ecr.describe_images, "ecr:DescribeImages", **kwargs)
            except Problem as exc:
                if "RepositoryNotFound" in str(exc):
                    raise Problem(
                        f"the ECR repository `{app.repository}` was not found in {clients.region}: set `repository:`"
                    ) from None
                raise
            for image in resp.get("imageDetails", []):
                seen += 1
                if any(pattern.search(tag) for tag in image.get("imageTags", [])):
                    return []
            if not resp.get("nextToken"):
                break
            kwargs["nextToken"] = resp["nextToken"]
        return [
            f"no image in `{app.repository}` has a tag that version_pattern {app.version_pattern} takes "
            f"({seen} tagged image(s) read): /deploy will refuse every version until one is pushed"
        ]


async def _read(fn: Any, action: str, **kwargs: Any) -> Any:
    """One read-only call; AWS's refusal (an assumed role's refusal included: `call` translates both) becomes
    a Problem naming the action and what to do about it."""
    try:
        return await call(fn, **kwargs)
    except DeployError as exc:
        cause = exc.__cause__
        code = error_code(cause) if isinstance(cause, ClientError) else ""
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            raise Problem(f"deploybot may not call {action} here ({code}): grant it (docs/iam-policy.json)") from None
        raise Problem(f"{action} failed: {exc.message}") from None
