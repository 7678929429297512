"""What must hold over a campaign's whole history, checked once everything has settled: each invariant is
a line of the report, with what it counted and every violation it found (an empty list: it holds).

The truth is read from outside deploybot: AWS's deployments from the sandbox (whose request made each one:
CodeDeploy's description marker, the task definition's tags on ECS), the store's records, audit trails and
locks, the workspace's messages, and the replicas' logs.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.aws.dynamo_store import DynamoStore
from bot.domain.audit import AuditEvent
from bot.domain.models import Deployment, State
from bot.render.root import root_text
from sandbox.aws.seed_ecs import ECS_SERVICES
from sandbox.runner import Sandbox

from .people import Journal
from .plan import LANES

ECS_OK = {"SUCCESSFUL"}
ECS_ENDED = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
CD_ENDED = {"Succeeded", "Failed", "Stopped"}
# The record's end each AWS ending allows (a rollback a person asked for is a stop; one a failure caused, a failure).
ALLOWED = {
    "Succeeded": {State.SUCCEEDED},
    "SUCCESSFUL": {State.SUCCEEDED},
    "Failed": {State.FAILED, State.STOPPED},
    "Stopped": {State.STOPPED, State.FAILED},
    "STOPPED": {State.STOPPED, State.FAILED},
    "ROLLBACK_SUCCESSFUL": {State.FAILED, State.STOPPED},
    "ROLLBACK_FAILED": {State.FAILED, State.STOPPED},
}
ENDINGS = {
    "cancelled",
    "expired",
    "start_failed",
    "state:succeeded",
    "state:failed",
    "state:stopped",
    "state:cancelled",
}


@dataclass
class Check:
    name: str
    counted: int = 0
    violations: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AwsDeployment:
    id: str
    lane: str
    status: str
    claim: str | None  # the deploybot request that made it (None: nobody's, or a rollback of CodeDeploy's own)
    rollback: bool = False  # CodeDeploy's own rollback deployment of another one


@dataclass
class World:
    """Everything the checks look at, read once."""

    records: list[Deployment]
    audits: dict[str, list[AuditEvent]]
    locks: dict[str, str]  # lock key -> owner
    deployments: list[AwsDeployment]
    before: set[str]  # AWS deployments that existed before the campaign began
    box: Sandbox
    logs: list[Path]
    journal: Journal


def aws_deployments(box: Sandbox) -> list[AwsDeployment]:
    out: list[AwsDeployment] = []
    cd = box.aws.client("codedeploy")
    for lane in (lane for lane in LANES if lane.engine == "codedeploy"):
        app, group = f"AppECS-apps-{lane.service}", f"DgpECS-apps-{lane.service}"
        ids = cd.list_deployments(applicationName=app, deploymentGroupName=group).get("deployments", [])
        for start in range(0, len(ids), 25):
            infos = cd.batch_get_deployments(deploymentIds=ids[start : start + 25]).get("deploymentsInfo", [])
            for info in infos:
                marker = str(info.get("description") or "")
                claim = (
                    marker.split(":", 1)[0].removeprefix("deploybot ") if marker.startswith("deploybot r-") else None
                )
                rollback = str(info.get("creator")) == "codeDeployRollback"
                out.append(AwsDeployment(str(info["deploymentId"]), lane.key, str(info["status"]), claim, rollback))
    specs = {s.name: s for s in ECS_SERVICES}
    for lane in (lane for lane in LANES if lane.engine == "ecs"):
        spec = specs[lane.service]
        client = box.aws.client("ecs", region=spec.region, account=spec.account)
        listed = client.list_service_deployments(cluster="apps", service=lane.service, maxResults=100)
        arns = [b["serviceDeploymentArn"] for b in listed.get("serviceDeployments", [])]
        for start in range(0, len(arns), 20):
            found = client.describe_service_deployments(serviceDeploymentArns=arns[start : start + 20])
            for info in found.get("serviceDeployments", []):
                revision = (info.get("targetServiceRevision") or {}).get("arn")
                claim = _ecs_claim(client, revision) if revision else None
                out.append(AwsDeployment(str(info["serviceDeploymentArn"]), lane.key, str(info["status"]), claim))
    return out


def _ecs_claim(ecs: Any, revision: str) -> str | None:
    revisions = ecs.describe_service_revisions(serviceRevisionArns=[revision]).get("serviceRevisions", [])
    if not revisions:
        return None
    td = ecs.describe_task_definition(taskDefinition=revisions[0]["taskDefinition"], include=["TAGS"])
    tags = {t["key"]: t["value"] for t in td.get("tags", [])}
    return tags.get("deploybot:request")


async def read_world(box: Sandbox, store: DynamoStore, before: set[str], logs: list[Path], journal: Journal) -> World:
    records, locks = [], {}
    kwargs: dict[str, Any] = {"TableName": store.table}
    while True:
        page = store.client.scan(**kwargs)
        for item in page.get("Items", []):
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            if sk == "record":
                records.append(Deployment.model_validate_json(item["data"]["S"]))
            elif pk.startswith("lock#app:"):
                locks[pk.removeprefix("lock#")] = item["owner"]["S"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    audits = {r.id: await store.audit_log(r.id) for r in records}
    return World(records, audits, locks, aws_deployments(box), before, box, logs, journal)


def check(world: World) -> list[Check]:
    return [
        _one_deployment_each(world),
        _ends_as_aws_shows(world),
        _messages(world),
        _alerts(world),
        _audit(world),
        _locks(world),
        _logs(world),
    ]


def _started(record: Deployment) -> bool:
    return record.started_at is not None or record.deployment_id is not None


def _one_deployment_each(world: World) -> Check:
    check = Check("every approved request made exactly one deployment in AWS; none that nobody decided on")
    made = Counter(d.claim for d in world.deployments if d.claim)
    ids = {r.id for r in world.records}
    for record in world.records:
        if record.outside is not None:
            continue
        check.counted += 1
        approved = record.approved_at is not None and record.state is not State.CANCELLED
        want = (1,) if approved and record.state is not State.START_FAILED else (0, 1) if approved else (0,)
        if made[record.id] not in want:
            check.violations.append(
                f"{record.id} ({record.target}, {record.state.value}): {made[record.id]} deployments"
            )
    for d in world.deployments:
        if d.id in world.before or d.rollback or d.id in world.journal.outside:
            continue
        if d.claim is None or d.claim not in ids:
            check.violations.append(f"{d.id} on {d.lane} ({d.status}): nobody decided on it (claim {d.claim})")
    return check


def _ends_as_aws_shows(world: World) -> Check:
    check = Check("every record ends in the state AWS shows; none left in flight")
    status = {d.id: d.status for d in world.deployments}
    for record in world.records:
        check.counted += 1
        if not record.state.terminal:
            check.violations.append(f"{record.id} ({record.target}) still {record.state.value}")
            continue
        if record.deployment_id and record.deployment_id in status:
            shown = status[record.deployment_id]
            if record.state not in ALLOWED.get(shown, set()):
                check.violations.append(f"{record.id}: {record.state.value}, but AWS says {shown}")
        elif record.deployment_id:
            check.violations.append(f"{record.id}: its deployment {record.deployment_id} is not in AWS")
    return check


def _thread_marks(world: World) -> dict[str, list[tuple[str, int, int]]]:
    """Request id -> (channel, first, last) of every message deploybot marked as the request's, anywhere."""
    out: dict[str, list[tuple[str, int, int]]] = {}
    for channel, messages in world.box.slack.ws.messages.items():
        for m in messages:
            payload = (m.metadata or {}).get("event_payload") or {}
            if isinstance(payload, dict) and payload.get("request_id"):
                first = int(payload.get("seq", 0))
                last = int(payload.get("upto", first))
                out.setdefault(str(payload["request_id"]), []).append((channel, first, last))
    return out


def _messages(world: World) -> Check:
    check = Check("every deployment has one root showing its outcome, and every message it owed once, none missing")
    marks = _thread_marks(world)
    roots = Counter((m.channel, m.ts) for ms in world.box.slack.ws.messages.values() for m in ms)
    for record in world.records:
        check.counted += 1
        if record.outbox:
            check.violations.append(f"{record.id}: {len(record.outbox)} messages never sent")
        if not record.message_ts:
            if record.state is State.CANCELLED and record.cancelled_by == "deploybot":
                continue  # Slack did not take its root, so it was cancelled at once (and its requester told)
            check.violations.append(f"{record.id}: no root message")
            continue
        if roots[(record.channel, record.message_ts)] != 1:
            check.violations.append(f"{record.id}: its root is not in Slack once")
            continue
        shown = world.box.slack.ws.find(record.channel, record.message_ts).text
        if shown != root_text(record):
            check.violations.append(f"{record.id}: the root says {shown!r}, not {root_text(record)!r}")
        seqs = Counter(n for _, first, last in marks.get(record.id, []) for n in range(first, last + 1))
        twice = sorted(n for n, c in seqs.items() if c > 1)
        missing = sorted(set(range(1, record.next_seq)) - set(seqs))
        if twice:
            check.violations.append(f"{record.id}: messages {twice} posted more than once")
        if missing:
            check.violations.append(f"{record.id}: messages {missing} never posted")
    top = [m for m in world.box.slack.messages("C0DEPLOYS") if m.user == "U0BOT" and not m.thread_ts]
    known = {r.message_ts for r in world.records}
    extra = [m.text[:60] for m in top if m.ts not in known and _looks_like_a_root(m.text)]
    if extra:
        check.violations.append(f"{len(extra)} roots no record knows: {extra[:3]}")
    return check


def _looks_like_a_root(text: str) -> bool:
    return text.startswith(("Deploy ", "Roll back ")) and ":" in text


def _alerts(world: World) -> Check:
    check = Check("every failure has exactly one alert, a success none")
    alerts = Counter(rid for rid, marks in _thread_marks(world).items() for ch, _, _ in marks if ch == "C0ALERTS")
    for record in world.records:
        if not record.state.terminal or record.state in (State.CANCELLED, State.START_FAILED):
            continue
        check.counted += 1
        want = 1 if record.state in (State.FAILED, State.STOPPED) else 0
        if alerts[record.id] != want:
            check.violations.append(f"{record.id} ({record.state.value}): {alerts[record.id]} alerts")
    return check


def _audit(world: World) -> Check:
    check = Check("the audit trail holds each decision and state change once, in order")
    for record in world.records:
        events = world.audits.get(record.id, [])
        check.counted += 1
        actions = [e.action for e in events]
        first = actions[0] if actions else None
        if record.outside is None and first != "requested":
            check.violations.append(f"{record.id}: the trail begins with {first!r}, not the request")
        endings = [a for a in actions if a in ENDINGS]
        if record.state.terminal and len(endings) != 1:
            check.violations.append(f"{record.id} ({record.state.value}): endings in the trail {endings}")
        by_users = [e.actor for e in events if e.action == "approved" and e.actor.startswith("U")]
        if not record.auto_approved and by_users != record.approvals:
            check.violations.append(f"{record.id}: approvals {by_users} in the trail, {record.approvals} on record")
        states = [a for a in actions if a.startswith("state:")]
        if len(states) != len(set(states)):
            check.violations.append(f"{record.id}: a state change audited twice: {states}")
        times = [e.at for e in events]
        if times != sorted(times):
            check.violations.append(f"{record.id}: the trail is out of order")
    return check


def _locks(world: World) -> Check:
    check = Check("no app is left locked by a request that no longer holds it")
    records = {r.id: r for r in world.records}
    for key, owner in world.locks.items():
        check.counted += 1
        record = records.get(owner)
        if record is None or record.state.terminal:
            state = record.state.value if record else "no such request"
            check.violations.append(f"{key} locked by {owner} ({state})")
    return check


def _logs(world: World) -> Check:
    check = Check("no unhandled exception in any replica's log")
    for log in world.logs:
        for line in log.read_text(errors="replace").splitlines():
            check.counted += 1
            try:
                entry = json.loads(line) if line.startswith("{") else {"event": line}
            except ValueError:
                entry = {"event": line}
            if not isinstance(entry, dict):
                continue
            if entry.get("exception") or entry.get("level") in ("error", "critical") or "Traceback" in line:
                check.violations.append(
                    f"{log.name}: {str(entry.get('event'))[:80]} {str(entry.get('exception'))[-200:]}"
                )
    return check
