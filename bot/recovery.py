"""Finding deployments again after a crash or a lost store, and the ones started outside deploybot.

Two cases: a record left in STARTING by a process that died around CreateDeployment, and a
CodeDeploy deployment that deploybot started (its description carries the request id) but whose
record the store no longer has (a store restored from a backup, a table recreated). Both are
matched by the request id in the deployment's description; CreateDeployment has no idempotency
token, so that marker is the only link between the two sides.
"""

from __future__ import annotations

import re

import structlog
from slack_sdk.errors import SlackApiError

from .catalog import AppConfig
from .deployer import Deployer
from .domain import audit
from .domain.errors import DeployError
from .domain.lifecycle import deadline
from .domain.models import ActiveDeployment, Deployment, Image, Phase, State
from .domain.ports import StaleRecord
from .keys import RUN_LEASE, app_lock, marker
from .notifier import reply
from .slack.render import console_url, esc

log = structlog.get_logger(__name__)
# What Deployer._create writes: "deploybot r-0123456789: web1:prod v1.2.3 requested by U…, approved by U…"
# (before environments: "web1 v1.2.3", the app's default environment).
DESCRIPTION = re.compile(
    r"^deploybot (?P<id>r-[0-9a-f]{10}): (?P<target>\S+) (?P<tag>\S+) requested by (?P<requester>\S+), "
    r"approved by (?P<approver>\S+)"
)


class Recovery:
    def __init__(self, deployer: Deployer) -> None:
        self.deployer = deployer
        self._ignored: set[str] = set()  # deployment ids a scan need not describe again

    async def stranded(self, record: Deployment) -> None:
        """A record left in STARTING by a replica that died: adopt its deployment or say it never began."""
        d = self.deployer
        app = d.catalog.get(record.app, record.environment)
        if app is None:
            return
        try:
            found = await d.platform.find_deployment(
                app.codedeploy_application, app.deployment_group, marker(record.id)
            )
            if found is not None:
                log.info("deployment_adopted", found=found)
                await d.started(app, record, found)
            else:
                await d.start_failed(
                    app,
                    record,
                    "deploybot stopped before CodeDeploy was asked to deploy, so "
                    "nothing was deployed. Ask again with /deploy.",
                )
        except StaleRecord:
            return  # another replica recovered it first

    async def lost(self, groups: set[tuple[str, str]] | None = None) -> int:
        """Adopt the configured groups' running deployments the store does not know: deploybot's own
        (matched by the request id in the description) and those started outside it (CI, the console).
        ``groups`` limits the search to those (application, group) pairs (an event named them); without
        it, one listing of the whole account is read and only unknown deployments are looked at."""
        followed = {r.tracked_deployment for r in await self.deployer.store.in_flight() if r.tracked_deployment}
        apps = {(a.codedeploy_application, a.deployment_group): a for a in self.deployer.catalog.all()}
        found: list[ActiveDeployment] = []
        try:
            if groups is None:
                found = await self.deployer.platform.active_in_account(followed | self._ignored)
            else:
                for application, group in groups & apps.keys():
                    found += await self.deployer.platform.active_deployments(application, group)
        except DeployError as exc:
            log.warning("lost_deployment_scan_failed", reason=exc.message)
            return 0
        adopted = 0
        for deployment in found:
            app = apps.get((deployment.application, deployment.group))
            if app is None or deployment.creator == "codeDeployRollback":
                # Another team's group, or a rollback CodeDeploy started (told in its deployment's thread):
                # never adopted, so not described again on the next scan.
                self._ignored.add(deployment.deployment_id)
                continue
            if deployment.deployment_id in followed:
                continue
            match = DESCRIPTION.match(deployment.description)
            if match is not None and match["target"] not in (app.key, app.name):
                continue  # another catalog entry's
            if deployment.description.startswith("deploybot r-") and match is None:
                continue  # ours, written in a form this version does not read: leave it alone
            request_id = match["id"] if match else outside_id(deployment.deployment_id)
            if await self.deployer.store.get(request_id) is not None:
                continue
            if await self._adopt(app, deployment, request_id, match):
                adopted += 1
        return adopted

    async def _adopt(
        self, app: AppConfig, found: ActiveDeployment, request_id: str, match: re.Match[str] | None
    ) -> bool:
        d = self.deployer
        now = d.now()
        try:
            deployed = None
            if found.revision_sha:
                deployed = await d.platform.deployed_image(
                    app.codedeploy_application, found.revision_sha, app.container
                )
            _, wait, term = await d.platform.group_settings(app.codedeploy_application, app.deployment_group)
            task_definition, pinned = deployed or (None, "")
            tag = match["tag"] if match else None
            if tag is None and pinned:
                tag = await d.registry.version_of(app.repository, pinned, app.version_pattern)
        except DeployError as exc:
            log.warning("lost_deployment_unreadable", deployment_id=found.deployment_id, reason=exc.message)
            return False
        tag = tag or "unknown"
        repository, _, digest = pinned.partition("@")
        if match is not None:
            who = {
                "requester": match["requester"],
                "approver": None if match["approver"] == "nobody-needed" else match["approver"],
                "auto_approved": match["approver"] == "nobody-needed",
            }
        else:
            started_by = found.creator or "someone"
            who = {
                "requester": "",
                "outside": f"{started_by}: {found.description}" if found.description else started_by,
            }
        record = Deployment(
            id=request_id,
            app=app.name,
            environment=app.environment,
            show_environment=not app.only_environment,
            tag=tag,
            image=Image(repository_uri=repository or app.repository, tag=tag, digest=digest or "unknown"),
            team_id=d.notifier.slack.team_id,
            channel=app.deploy_channel,
            state=State.IN_PROGRESS,
            phase=Phase.WAITING,
            created_at=now,
            updated_at=now,
            started_at=now,
            deployment_id=found.deployment_id,
            task_definition_arn=task_definition,
            config_name=found.config_name,
            cd_status=found.status,
            wait_minutes=wait,
            termination_minutes=term,
            deadline_at=now + deadline(wait, term),
            **who,
        )
        try:
            record = await d.store.create(record)
        except StaleRecord:
            return False  # another replica adopted it first
        structlog.contextvars.bind_contextvars(
            request_id=record.id, app=app.name, version=record.tag, deployment_id=found.deployment_id
        )
        log.warning("deployment_found_without_record" if match else "outside_deployment_found")
        action = "adopted" if match else "outside_deployment"
        await d.store.audit(
            audit.event(now, record.id, app.name, "deploybot", action, deployment_id=found.deployment_id)
        )
        await d.store.acquire_lock(app_lock(app.key), record.id, now + RUN_LEASE)
        link = f"<{console_url(d.notifier.region, found.deployment_id)}|{found.deployment_id}>"
        if match:
            text = (
                f":mag: deploybot had lost its record of CodeDeploy deployment {link} and found it again by its "
                "request id; following it from here. Earlier steps of this deployment are not shown."
            )
        else:
            text = (
                f":eyes: CodeDeploy deployment {link} of `{app.label}` was started outside deploybot "
                f"({esc(record.outside or '')}); following it here."
            )
        note = reply(text)
        try:
            ts = await d.notifier.post_root(record, now)
            record = await d.store.save(record.model_copy(update={"message_ts": ts}).queue(note))
        except SlackApiError as exc:  # the record exists: its thread starts late, its outcome still comes
            log.warning("adopted_root_not_posted", error=exc.response.get("error"))
            record = await d.store.save(record.queue(note))
        await d.notifier.flush(record.id)
        structlog.contextvars.unbind_contextvars("request_id", "app", "version", "deployment_id")
        return True


def outside_id(deployment_id: str) -> str:
    """The record id of a deployment deploybot did not start: its CodeDeploy id, marked."""
    return f"x-{deployment_id}"
