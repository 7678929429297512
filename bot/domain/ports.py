"""What the use cases need from the outside world; bot.aws, bot.slack and bot.store implement these.

- ``DeploymentEngine``: one per way of deploying (CodeDeploy blue/green today). Starts a deployment of a
  pinned image, reads many at once, opens a gate, finishes early, rolls back, finds its own deployment
  again after a crash, and lists what runs in the catalog's services.
- ``ImageRegistry``: version tags and digests (ECR).
- ``Chat``: Slack, in the few calls deploybot makes (messages arrive already rendered by ``bot.render``).
- ``Store``: records, locks, holds and the audit trail, every save a compare-and-set.
- ``EventSource``: optional state-change events that say which deployment to read now.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .audit import AuditEvent
from .catalog import AppConfig
from .models import Deployment, Hold, Image, PushedVersion
from .preflight import Check
from .progress import DeploymentEvent, Found, Gate, Live, PastDeployment, Plan, Progress, Revision, Started

Clock = Callable[[], datetime]
# Named places in the flow where a test makes the process die (``bot.app`` passes the hook in).
Faults = Callable[[str], None]
Blocks = list[dict[str, Any]]


def no_faults(point: str) -> None:
    """The production fault hook: nothing happens anywhere."""


class DeploymentEngine(Protocol):
    async def live(self, app: AppConfig) -> Live:
        """What the app's service runs now; DeployError when the service cannot be deployed by this engine."""
        ...

    async def plan(self, app: AppConfig) -> Plan:
        """How a deployment of the app will go (strategy, waits)."""
        ...

    async def register(self, app: AppConfig, record: Deployment) -> Revision:
        """A new task definition revision: the live one with only the app's container on the record's image
        (pinned by digest), tagged with the request it is for."""
        ...

    async def start(self, app: AppConfig, record: Deployment) -> Started:
        """Deploy ``record.task_definition_arn``, marked as ``record.id``'s. A call whose answer was lost is
        not repeated blindly: the engine adopts its own deployment when it finds it."""
        ...

    async def find(self, app: AppConfig, record: Deployment) -> Started | None:
        """The deployment ``record`` started, if one exists (after a crash between asking and recording)."""
        ...

    async def read(self, records: Sequence[Deployment], detail: int | None = None) -> dict[str, Progress]:
        """A reading of each record's deployment, by record id. A record left out: the engine no longer
        knows its deployment. DeployError when the engine could not be read at all. ``detail``: how many
        calls the reading may spend beyond the statuses (on steps and traffic; a failure's diagnostics are
        read regardless); None: the engine's own ration."""
        ...

    def batch(self, record: Deployment) -> tuple[str, int]:
        """Which records one status call reads together (those with the same key: one engine, account and
        region) and how many one call takes."""
        ...

    def detailed(self, record: Deployment) -> bool:
        """Whether reading the record's deployment spends calls beyond its status (steps, traffic weights):
        the read budget keeps the details' share only for such deployments."""
        ...

    async def open_gate(self, record: Deployment, gate: Gate) -> None: ...

    async def finish_early(self, record: Deployment) -> None:
        """End the wait that keeps the old version up once all traffic has moved."""
        ...

    async def roll_back(self, record: Deployment) -> None:
        """Stop the deployment and send traffic back to the version before."""
        ...

    async def unfollowed(
        self, apps: Sequence[AppConfig], following: Collection[str], near: Sequence[DeploymentEvent] | None = None
    ) -> list[Found]:
        """Running deployments of the apps' services whose ids are not in ``following`` (rollbacks the
        engine makes of a followed deployment excepted). ``near``: only where these events happened."""
        ...

    async def deployed(self, app: AppConfig, found: Found) -> tuple[str, str] | None:
        """(task definition, the app container's image) of a found deployment, if the engine can tell."""
        ...

    async def recent(self, app: AppConfig, limit: int) -> list[PastDeployment]:
        """The app's latest deployments as the engine lists them, newest first."""
        ...


class ImageRegistry(Protocol):
    """The app's image repository (in the app's own account and region)."""

    async def resolve(self, app: AppConfig, tag: str) -> Image:
        """The image ``tag`` names now, pinned by digest (TagNotFound when there is none)."""
        ...

    async def version_of(self, app: AppConfig, image: str) -> str | None:
        """The version tag of a running image reference (`repo:tag` or `repo@sha256:…`), if it has one."""
        ...

    async def has_digest(self, app: AppConfig, digest: str) -> bool: ...

    async def versions(self, app: AppConfig) -> list[PushedVersion]:
        """The repository's version tags (those matching the app's pattern), newest push first."""
        ...


@dataclass(frozen=True)
class Mark:
    """What an outbox message carries so a later sender can see it arrived: its request and numbers (the
    outbox's from 1; ``ROOT``, 0, marks the deployment's root message, so a copy of it can be found too)."""

    request_id: str
    first: int
    last: int


ROOT = 0  # the number a root message is marked with


@dataclass(frozen=True)
class Copy:
    """One marked message as it is in Slack: where, and which of its request's numbers it covers."""

    channel: str
    ts: str
    first: int
    last: int

    @property
    def seqs(self) -> set[int]:
        return set(range(self.first, self.last + 1))


class Chat(Protocol):
    """Slack. Errors are ``ChatError``: ``answered`` says whether the call surely did nothing."""

    @property
    def home_team(self) -> str:
        """deploybot's own workspace ("" until known)."""
        ...

    async def identify(self) -> None: ...

    async def post(
        self, channel: str, text: str, blocks: Blocks | None = None, *, mark: Mark | None = None, paced: bool = True
    ) -> str:
        """A message in a channel; its ts. ``paced``: wait for a turn in Slack's pace (``False`` when the
        caller took one already with ``can_post``)."""
        ...

    async def reply(
        self,
        channel: str,
        thread_ts: str,
        text: str,
        *,
        broadcast: bool = False,
        mark: Mark | None = None,
        paced: bool = True,
    ) -> str:
        """A reply in a thread, also shown in the channel when ``broadcast``."""
        ...

    async def update(self, channel: str, ts: str, text: str, blocks: Blocks, *, paced: bool = True) -> None: ...

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        """Best effort, as Slack's own ephemerals are: never raises."""
        ...

    async def respond(self, response_url: str, text: str, *, note: bool = False) -> None:
        """Answer a slash command through its response_url (best effort). A ``note`` (a holding message)
        is dropped once the response_url has had its answer, and an answer waits for a note being sent."""
        ...

    async def group_members(self, group_ids: Sequence[str]) -> set[str]:
        """The members of these user groups; a group that cannot be read counts as empty."""
        ...

    async def user_names(self, users: Sequence[str]) -> dict[str, str]:
        """The display names of these users, for plain text where a mention does not render (a dialog's
        errors); a user that cannot be read is left out."""
        ...

    def permalink(self, channel: str, ts: str) -> str: ...

    async def publish_home(self, user: str, view: dict[str, Any]) -> None:
        """Set ``user``'s Home tab to ``view`` (views.publish); ChatError when Slack refused."""
        ...

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal for the person whose click or command gave ``trigger_id`` (valid 3 seconds)."""
        ...

    async def update_view(self, view_id: str, view: dict[str, Any], view_hash: str) -> None:
        """Replace an open modal (``view_hash``: only if nobody changed it meanwhile)."""
        ...

    async def channel_problem(self, channel: str) -> str | None:
        """Why deploybot could not post in ``channel`` (with the fix), or None when it can."""
        ...

    async def group_problem(self, group_id: str) -> str | None:
        """Why the user group's members cannot be read (with the fix), or None when they can."""
        ...

    async def marked(self, channel: str, request_id: str, thread_ts: str | None = None) -> set[int]:
        """The numbers of ``request_id``'s messages already in the thread (or the channel's recent past)."""
        ...

    async def copies(self, channel: str, request_id: str, thread_ts: str | None = None) -> list[Copy]:
        """Each of ``request_id``'s messages in the thread (or the channel's recent past), oldest first."""
        ...

    async def delete(self, channel: str, ts: str) -> None:
        """Remove one of deploybot's own messages (one already gone is no error)."""
        ...

    def can_post(self, channel: str) -> bool:
        """Take a post turn in ``channel`` if one is free now (for messages that can wait a second)."""
        ...

    def can_update(self) -> bool: ...

    def update_free(self) -> bool:
        """Whether an update turn is free, without taking it."""
        ...


class ServiceInspector(Protocol):
    async def inspect(self, app: AppConfig) -> Check:
        """Read-only: can ``app`` be deployed where the catalog says, and with which engine?"""
        ...


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
