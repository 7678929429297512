"""How a CodeDeploy deployment's description names the deploybot request that created it.

CreateDeployment has no idempotency token, so this marker is the only link between a deployment and its
request: after a crash, or a lost store, deploybot finds its own deployments by it.
"""

from __future__ import annotations

import re

from ...domain.models import Deployment
from ...domain.progress import Claim

PREFIX = "deploybot r-"
NOBODY = "nobody-needed"
# "deploybot r-0123456789: web1:production v1.2.3 requested by U…, approved by U…,U…"
# (before environments: "web1 v1.2.3", the app's default environment).
DESCRIPTION = re.compile(
    r"^deploybot (?P<id>r-[0-9a-f]{10}): (?P<target>\S+) (?P<tag>\S+) requested by (?P<requester>\S+), "
    r"approved by (?P<approver>\S+)"
)


def marker(request_id: str) -> str:
    return f"deploybot {request_id}:"


def describe(record: Deployment) -> str:
    approved = ",".join(record.approvals) or record.approver or NOBODY
    text = f"{marker(record.id)} {record.target} {record.tag} requested by {record.requester}, approved by {approved}"
    return text[:256]  # CodeDeploy's limit


def ours(description: str) -> bool:
    return description.startswith(PREFIX)


def read(description: str) -> tuple[Claim, str] | None:
    """The request a description names, and the target (`app:environment`, or an old `app`) it says."""
    found = DESCRIPTION.match(description)
    if found is None:
        return None
    approvers = [] if found["approver"] == NOBODY else found["approver"].split(",")
    claim = Claim(request_id=found["id"], tag=found["tag"], requester=found["requester"], approvals=approvers)
    return claim, found["target"]
