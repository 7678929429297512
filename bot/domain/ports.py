"""What the domain needs from the outside world; bot.aws, bot.slack and bot.store implement these."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from .audit import AuditEvent
from .models import (
    ActiveDeployment,
    Deployment,
    DeploymentEvent,
    Hold,
    Image,
    PastDeployment,
    ServiceState,
    Snapshot,
)


class ImageRegistry(Protocol):
    async def resolve(self, repository: str, tag: str, version_pattern: str) -> Image: ...

    async def version_of(self, repository: str, image: str, version_pattern: str) -> str | None: ...

    async def has_digest(self, repository: str, digest: str) -> bool: ...


class DeployPlatform(Protocol):
    async def service_state(self, cluster: str, service: str, container: str) -> ServiceState: ...

    async def group_settings(self, application: str, group: str) -> tuple[str, float | None, float]:
        """(deployment config name, ready wait minutes or None, termination wait minutes)."""
        ...

    async def register_image(self, task_definition_arn: str, container: str, image: str) -> str: ...

    async def create_deployment(
        self, application: str, group: str, service: ServiceState, task_definition_arn: str, description: str
    ) -> str: ...

    async def snapshots(self, deployment_ids: Sequence[str]) -> list[Snapshot]: ...

    async def find_deployment(self, application: str, group: str, description_prefix: str) -> str | None:
        """The recent deployment of the group whose description starts with the prefix, if any."""
        ...

    async def active_deployments(self, application: str, group: str) -> list[ActiveDeployment]:
        """The group's deployments that have not finished yet."""
        ...

    async def active_in_account(self, skip: Collection[str]) -> list[ActiveDeployment]:
        """Every unfinished deployment in the account but those in ``skip``, each with its group: one
        listing for the whole account, then details only for the ids not skipped."""
        ...

    async def deployed_image(self, application: str, revision_sha: str, container: str) -> tuple[str, str] | None:
        """(task definition ARN, the container's image) of a deployment's AppSpec, if it names one."""
        ...

    async def recent_deployments(self, application: str, group: str, limit: int) -> list[PastDeployment]:
        """The group's latest deployments, newest first."""
        ...

    async def continue_deployment(self, deployment_id: str, wait_type: str) -> None: ...

    async def stop_deployment(self, deployment_id: str, rollback: bool) -> None: ...


class EventSource(Protocol):
    async def receive(self, wait_seconds: int = 20) -> list[DeploymentEvent]:
        """Wait up to ``wait_seconds`` for state-change events; raises DeployError when unreadable."""
        ...


class Store(Protocol):
    async def create(self, record: Deployment) -> Deployment:
        """Insert a new record at version 1; raises StaleRecord when the id exists already."""
        ...

    async def get(self, record_id: str) -> Deployment | None: ...

    async def save(self, record: Deployment) -> Deployment:
        """Compare-and-set on ``record.version``; raises StaleRecord when someone saved first."""
        ...

    async def in_flight(self) -> list[Deployment]: ...

    async def history(self, app: str, environment: str, limit: int) -> list[Deployment]:
        """The app's latest requests in that environment, newest first."""
        ...

    async def hold(self, hold: Hold) -> Hold | None:
        """Lock an app and environment; None when done, else the hold already there (it stays)."""
        ...

    async def update_hold(self, hold: Hold) -> None:
        """Rewrite an existing hold (its reminder time)."""
        ...

    async def get_hold(self, key: str) -> Hold | None: ...

    async def release_hold(self, key: str) -> Hold | None:
        """Remove the hold on ``key`` (``app:environment``); the hold that was there, if any."""
        ...

    async def holds(self) -> list[Hold]: ...

    async def audit(self, event: AuditEvent) -> None:
        """Append one entry to the audit trail (never updated, never deleted)."""
        ...

    async def acquire_lock(self, key: str, owner: str, until: datetime) -> str | None:
        """Take the lock ``key`` for ``owner`` until ``until``; None if taken, else the current owner.

        A lock whose lease has run out (checked here against ``until``'s clock) can be taken over."""
        ...

    async def renew_lock(self, key: str, owner: str, until: datetime) -> bool: ...

    async def release_lock(self, key: str, owner: str) -> None: ...

    async def audit_log(self, record_id: str) -> list[AuditEvent]:
        """One deployment's trail, oldest first."""
        ...

    async def audit_for_app(self, app: str, limit: int) -> list[AuditEvent]:
        """An app's latest entries, newest first."""
        ...

    async def audit_export(self) -> list[AuditEvent]:
        """Every entry, oldest first."""
        ...

    def close(self) -> None: ...


class StaleRecord(Exception):
    """Another writer changed the record first (compare-and-set lost)."""
