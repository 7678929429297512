"""The wake-up's parts on their own: which SQS bodies are CodeDeploy state changes, and the loop that
hands them to the watcher and survives an unreadable queue."""

from __future__ import annotations

import asyncio
import json

from bot.aws.events_queue import parse
from bot.domain.errors import UpstreamError
from bot.domain.progress import DeploymentEvent
from bot.watch.wakeup import Wakeup

# The shape EventBridge delivers (aws_lambda_events' fixture), minus `account` as moto's SQS target sends it.
EVENT = {
    "region": "us-east-1",
    "detail-type": "CodeDeploy Deployment State-change Notification",
    "source": "aws.codedeploy",
    "version": "0",
    "time": "2016-06-30T22:06:31Z",
    "id": "c071bfbf-83c4-49ca-a6ff-3df053957145",
    "resources": [],
    "detail": {
        "instanceGroupId": "9fd2fbef",
        "region": "us-east-1",
        "application": "AppECS-apps-web2",
        "deploymentId": "d-123456789",
        "state": "SUCCESS",
        "deploymentGroup": "DgpECS-apps-web2",
    },
}


def test_a_state_change_event_names_its_deployment_and_group() -> None:
    event = parse(json.dumps(EVENT))
    assert event == DeploymentEvent(
        deployment_id="d-123456789", state="SUCCESS", scope="AppECS-apps-web2/DgpECS-apps-web2"
    )


def test_anything_else_on_the_queue_is_ignored() -> None:
    other = {**EVENT, "detail-type": "CodeDeploy Instance State-change Notification"}
    no_id = {**EVENT, "detail": {"state": "SUCCESS"}}
    for body in (json.dumps(other), json.dumps(no_id), "not json", "[]", json.dumps({"detail": "x"})):
        assert parse(body) is None, body


class FakeSource:
    """The EventSource port: answers from a script, then blocks like an empty long poll."""

    def __init__(self, script: list[list[DeploymentEvent] | Exception]) -> None:
        self.script = script
        self.calls = 0

    async def receive(self, wait_seconds: int = 20) -> list[DeploymentEvent]:
        self.calls += 1
        if not self.script:
            await asyncio.Event().wait()
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


class FakeWatcher:
    def __init__(self) -> None:
        self.woken: list[list[DeploymentEvent]] = []
        self.got = asyncio.Event()

    def wake(self, events: list[DeploymentEvent]) -> None:
        self.woken.append(list(events))
        self.got.set()


async def test_events_wake_the_watcher_and_an_unreadable_queue_is_retried(monkeypatch: object) -> None:
    slept: list[float] = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)

    event = DeploymentEvent(deployment_id="d-1", state="START", scope="a/g")
    source = FakeSource([UpstreamError("down"), UpstreamError("still down"), [], [event]])
    watcher = FakeWatcher()
    wakeup = Wakeup(source, watcher, sleep=no_wait)  # type: ignore[arg-type]
    task = asyncio.create_task(wakeup.run())
    await asyncio.wait_for(watcher.got.wait(), 5)
    task.cancel()
    assert watcher.woken == [[event]]  # the empty answer woke nobody
    assert slept == [1.0, 2.0]  # backed off, doubling, and the first good answer reset it
    assert source.calls == 5
