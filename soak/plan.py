"""The campaign's schedule, drawn from one seed: what people do (stories, one lane per app and environment,
taken in turn) and what goes wrong meanwhile (faults, at random moments). The same seed gives the same
schedule; what the system does with it depends on timing, as it does for real.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# The sandbox's catalog, lane by lane: what `/deploy` names it, who may approve, and the engine.
APPROVERS = ("U0BOB", "U0DAVE")


@dataclass(frozen=True)
class Lane:
    app: str
    environment: str
    words: str  # how `/deploy <app> <version> <words>` names the environment ("" for the default)
    approval: bool
    engine: str  # codedeploy or ecs
    service: str
    outside: bool = True  # a CI job may deploy it outside deploybot (the home account's services)

    @property
    def key(self) -> str:
        return f"{self.app}:{self.environment}"


LANES = (
    Lane("web1", "production", "", True, "codedeploy", "web1"),
    Lane("web2", "production", "", True, "codedeploy", "web2"),
    Lane("web2", "staging", "staging", False, "codedeploy", "web2-staging"),
    Lane("shop", "production", "", True, "ecs", "shop"),
    Lane("shop", "staging", "staging", False, "ecs", "shop-staging"),
    Lane("api", "production", "", True, "ecs", "api"),
    Lane("api", "staging", "staging", False, "ecs", "api-staging", outside=False),  # another account
)

# What a person does with one request, and how often.
STORIES = {
    "deploy": 10,  # ask, approve, open its gates, watch it to the end
    "rollback": 3,  # the same, then Roll back at a random moment
    "finish": 1,  # the same, then Finish now where the engine allows it
    "cancel": 2,  # ask, then cancel it
    "wrong_person": 2,  # someone who may not approve tries first (and the requester approves their own)
    "double": 3,  # approve twice at once, and a replayed approval (the same signed request again)
    "concurrent": 2,  # two people ask for the same app at once
    "queue": 2,  # one asks, another joins the line (`--queue`), gets a turn once the first is over
    "outside": 3,  # a CI job deploys it outside deploybot
    "lock": 1,  # someone locks the app, a request is refused, then it is unlocked
}
VERSIONS = {"v1.2.3": 5, "v1.2.2": 2, "v1.2.4-broken": 3}  # v1.2.4-broken fails its checks

FAULTS = {
    "kill": 3,  # kill -9 of a replica, restarted a few seconds later
    "pause": 3,  # SIGSTOP of a replica past its lease, then SIGCONT
    "aws_throttle": 3,
    "aws_error": 3,  # a 500 before the call does anything
    "aws_lost_answer": 3,  # a 500 after a change was made (CreateDeployment, UpdateService, ...)
    "aws_dropped": 3,  # the connection closed unanswered, before or after the change
    "slack_429": 3,
    "slack_500": 2,
    "slack_timeout": 1,  # Slack answers after the client gave up (and does what was asked)
    "slack_outage": 2,  # every Web API call answers 503 for a while
    "events": 4,  # the next events lost, duplicated, delayed or out of order
    "dynamo_conflict": 3,  # another writer saves a record first (its version moves on)
}
AWS_READS = (
    "BatchGetDeployments",
    "GetDeployment",
    "GetDeploymentTarget",
    "ListDeploymentTargets",
    "DescribeServices",
    "DescribeTaskDefinition",
    "DescribeServiceDeployments",
    "ListServiceDeployments",
    "DescribeImages",
    "ListDeployments",
)
AWS_CHANGES = (
    "CreateDeployment",
    "RegisterTaskDefinition",
    "UpdateService",
    "ContinueDeployment",
    "StopDeployment",
    "ContinueServiceDeployment",
    "StopServiceDeployment",
)
SLACK_METHODS = ("chat.postMessage", "chat.update", "conversations.replies", "conversations.history")


@dataclass(frozen=True)
class Story:
    lane: Lane
    kind: str
    version: str
    pause: float  # seconds before it begins (people do not all act at once)
    moment: float  # 0..1: when in the deployment a Roll back or a Finish now is pressed


@dataclass(frozen=True)
class Fault:
    at: float  # seconds into the run
    kind: str
    detail: dict[str, str | int | float] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    seed: int
    stories: tuple[Story, ...]
    faults: tuple[Fault, ...]

    def by_lane(self) -> dict[str, list[Story]]:
        out: dict[str, list[Story]] = {}
        for story in self.stories:
            out.setdefault(story.lane.key, []).append(story)
        return out


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def draw(seed: int, requests: int, seconds: float, replicas: int = 3) -> Plan:
    """``requests`` stories over the lanes, and faults spread over ``seconds`` (a fault about every
    four seconds)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
    stories = []
    for _ in range(requests):
        lane = rng.choice(LANES)
        kind = _pick(rng, STORIES)
        if kind == "outside" and not lane.outside:
            kind = "deploy"
        stories.append(Story(lane, kind, _pick(rng, VERSIONS), rng.uniform(0, 3), rng.random()))
    faults = []
    at = rng.uniform(1, 4)
    while at < seconds:
        faults.append(_fault(rng, at, replicas))
        at += rng.uniform(1, 7)
    return Plan(seed, tuple(stories), tuple(faults))


def _fault(rng: random.Random, at: float, replicas: int) -> Fault:
    kind = _pick(rng, FAULTS)
    detail: dict[str, str | int | float] = {}
    if kind in ("kill", "pause"):
        detail = {"replica": rng.randrange(replicas), "seconds": round(rng.uniform(3, 8), 2)}
    elif kind in ("aws_throttle", "aws_error"):
        detail = {"operation": rng.choice(AWS_READS + AWS_CHANGES), "count": rng.randint(1, 4)}
    elif kind == "aws_lost_answer":
        detail = {"operation": rng.choice(AWS_CHANGES), "count": 1}
    elif kind == "aws_dropped":
        detail = {"operation": rng.choice(AWS_READS + AWS_CHANGES), "when": rng.choice(("before", "after"))}
    elif kind in ("slack_429", "slack_500", "slack_timeout"):
        detail = {"method": rng.choice(SLACK_METHODS), "count": 1 if kind == "slack_timeout" else rng.randint(1, 5)}
    elif kind == "slack_outage":
        detail = {"seconds": round(rng.uniform(2, 10), 2)}
    elif kind == "events":
        detail = {"what": rng.choice(("drop", "dup", "delay", "reorder")), "count": rng.randint(1, 4)}
    return Fault(round(at, 3), kind, detail)
