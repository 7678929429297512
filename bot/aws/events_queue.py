"""The EventBridge-to-SQS wake-up: the engines' state-change events, long-polled from one SQS queue.

The events carry no progress detail (no traffic weight, no lifecycle event), so they only say which
deployment to re-read now; the watcher's polling stays on as the safety net for lost events. Each engine's
room reads its own events (``PARSERS``); anything else on the queue is deleted unread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import UpstreamError
from ..domain.progress import DeploymentEvent
from .calls import USER_AGENT, session
from .codedeploy.events import parse as codedeploy_event
from .ecs.events import parse as ecs_event

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

P = ParamSpec("P")
T = TypeVar("T")
log = structlog.get_logger(__name__)
Parser = Callable[[dict[str, Any]], DeploymentEvent | None]
PARSERS: tuple[Parser, ...] = (codedeploy_event, ecs_event)


def parse(body: str) -> DeploymentEvent | None:
    """The deployment an SQS message is about, or None for anything else (it is then just deleted)."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    return next((found for read in PARSERS if (found := read(event)) is not None), None)


async def _in_daemon_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call in a daemon thread: a long poll still waiting when deploybot stops must not
    hold up the stop (asyncio's default executor, and interpreter exit, wait for their threads)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return  # cancelled meanwhile: the answer is dropped (the messages come back after their timeout)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]  # None only when error is set

    def work() -> None:
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task, which decides
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(settle, None, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=work, name="events-queue", daemon=True).start()
    return await future


class EventQueue:
    def __init__(self, queue_url: str, region: str, endpoint_url: str | None = None) -> None:
        # The long poll holds a connection for up to 20 s: the read timeout must outlast it.
        config = Config(
            retries={"mode": "standard", "total_max_attempts": 3}, read_timeout=30, user_agent_extra=USER_AGENT
        )
        self.sqs: SQSClient = session(region).client("sqs", endpoint_url=endpoint_url, config=config)
        self.url = queue_url

    async def receive(self, wait_seconds: int = 20) -> list[DeploymentEvent]:
        """Wait up to ``wait_seconds`` for events; every message read is deleted (they are only wake-ups)."""
        try:
            resp = await _in_daemon_thread(
                self.sqs.receive_message, QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            )
            messages = resp.get("Messages") or []
            if messages:
                await asyncio.to_thread(
                    self.sqs.delete_message_batch,
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m.get("ReceiptHandle", "")} for i, m in enumerate(messages)
                    ],
                )
        except (ClientError, BotoCoreError) as exc:
            raise UpstreamError(f"The events queue could not be read: {exc}") from exc
        changes = [parse(str(m.get("Body", ""))) for m in messages]
        return [c for c in changes if c is not None]
