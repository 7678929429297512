"""Every answer the local AWS gives in these tests is held to the installed botocore model (wire_shapes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.aws.seed_ecs import OTHER_ACCOUNT, OTHER_REGION

from .wire_shapes import Recorder

CHECKED = ("ecs", "codedeploy", "ecr")


@pytest.fixture(autouse=True)
def wire(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """A recorder on the sandbox's clients for the test (none when the test has no local AWS)."""
    recorder = Recorder()
    clients = []
    if "aws" in request.fixturenames:
        aws = request.getfixturevalue("aws")
        places = ({}, {"region": OTHER_REGION, "account": OTHER_ACCOUNT})
        clients = [recorder.watch(aws.client(service, **where)) for service in CHECKED for where in places]
    yield recorder
    for client in clients:
        client.meta.events.unregister("after-call", recorder.after)
    assert recorder.found == [], "the local AWS answered outside the botocore model"
