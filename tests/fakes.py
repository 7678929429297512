"""A fake of the domain's AWS ports (ImageRegistry + DeployPlatform) for tests of the use cases alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.domain.models import ActiveDeployment, Image, ServiceState, Snapshot


class FakeAws:
    def __init__(self) -> None:
        self.created: list[str] = []
        self.descriptions: list[str] = []
        self.continued: list[tuple[str, str]] = []
        self.stopped: list[str] = []

    async def resolve(self, repository: str, tag: str, version_pattern: str) -> Image:
        return Image(repository_uri=f"r/{repository}", tag=tag, digest="sha256:" + "b" * 64)

    async def has_digest(self, repository: str, digest: str) -> bool:
        return True

    async def version_of(self, repository: str, image: str, version_pattern: str) -> str | None:
        return "v1.2.2"

    async def service_state(self, cluster: str, service: str, container: str) -> ServiceState:
        await asyncio.sleep(0)  # yield, as a real call would, so the racers interleave
        return ServiceState(
            task_definition_arn="td:1",
            image="r/web1:v1.2.2",
            running_version="v1.2.2",
            container_port=3000,
            container_name=container,
        )

    async def group_settings(self, application: str, group: str) -> tuple[str, float | None, float]:
        return "CodeDeployDefault.ECSAllAtOnce", None, 5.0

    async def register_image(self, task_definition_arn: str, container: str, image: str) -> str:
        await asyncio.sleep(0)
        return "td:2"

    async def create_deployment(
        self, application: str, group: str, service: ServiceState, task_definition_arn: str, description: str
    ) -> str:
        self.created.append(description.split()[1].rstrip(":"))
        self.descriptions.append(description)
        return f"d-{len(self.created):09d}"

    async def snapshots(self, deployment_ids: Sequence[str]) -> list[Snapshot]:
        return []

    async def find_deployment(self, application: str, group: str, description_prefix: str) -> str | None:
        return None

    async def continue_deployment(self, deployment_id: str, wait_type: str) -> None:
        self.continued.append((deployment_id, wait_type))

    async def stop_deployment(self, deployment_id: str, rollback: bool) -> None:
        self.stopped.append(deployment_id)

    async def active_deployments(self, application: str, group: str) -> list[ActiveDeployment]:
        return []

    async def active_in_account(self, skip: object) -> list[ActiveDeployment]:
        return []

    async def deployed_image(self, application: str, revision_sha: str, container: str) -> tuple[str, str] | None:
        return None
