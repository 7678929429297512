"""boto3 as the rest of bot/aws uses it: typed clients with adaptive retries, and calls run in a worker
thread that note their request ids for the audit trail and turn AWS's errors into the domain's.

One client per service and per process (botocore's adaptive retry limiter is per client, so sharing it
is what makes it work).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .. import metrics
from ..domain.audit import note_aws_request
from ..domain.errors import DeployError, UpstreamError

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient

P = ParamSpec("P")
T = TypeVar("T")
USER_AGENT = "deploybot/0.1"


_LOADER = botocore.session.get_session().get_component("data_loader")


def session(region: str, core: botocore.session.Session | None = None) -> boto3.session.Session:
    """A boto3 session in ``region`` (on ``core``'s credentials, else the usual chain). Every session shares
    one loader of botocore's models, so the JSON is read once per process, not once per session."""
    core = core or botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    count_calls(core)
    return boto3.session.Session(botocore_session=core, region_name=region)


THROTTLES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)


def _where(event_name: str) -> tuple[str, str]:
    """(service, operation) of a botocore event name such as ``after-call.ecs.DescribeServices``."""
    _, service, operation = [*event_name.split(".", 2), "", ""][:3]
    return service, operation


def count_calls(core: botocore.session.Session) -> None:
    """Every client made from this session counts its calls, errors and throttled answers (bot.metrics)."""

    def called(**kw: Any) -> None:
        service, operation = _where(kw["event_name"])
        metrics.AWS_CALLS.labels(service, operation).inc()
        status = getattr(kw.get("http_response"), "status_code", 200)
        if status >= 300:
            code = str((kw.get("parsed") or {}).get("Error", {}).get("Code") or status)
            metrics.AWS_ERRORS.labels(service, operation, code).inc()

    def unanswered(**kw: Any) -> None:
        service, operation = _where(kw["event_name"])
        metrics.AWS_CALLS.labels(service, operation).inc()
        metrics.AWS_ERRORS.labels(service, operation, "NoAnswer").inc()

    def retrying(**kw: Any) -> None:
        response = kw.get("response")
        if response is not None and (response[1] or {}).get("Error", {}).get("Code") in THROTTLES:
            metrics.AWS_THROTTLES.labels(*_where(kw["event_name"])).inc()

    core.register("after-call", called, unique_id="deploybot-metrics-called")
    core.register("after-call-error", unanswered, unique_id="deploybot-metrics-unanswered")
    core.register("needs-retry", retrying, unique_id="deploybot-metrics-retrying")


def config(max_attempts: int = 5) -> Config:
    return Config(
        retries={"mode": "adaptive", "total_max_attempts": max_attempts},
        connect_timeout=5,
        read_timeout=20,
        user_agent_extra=USER_AGENT,
    )


class Clients:
    """The AWS clients of one account and region (``bot.aws.accounts`` says which)."""

    def __init__(self, session: boto3.session.Session, endpoint_url: str | None = None, max_attempts: int = 5) -> None:
        cfg = config(max_attempts)
        self.region = str(session.region_name)
        self.ecr: ECRClient = session.client("ecr", endpoint_url=endpoint_url, config=cfg)
        self.ecs: ECSClient = session.client("ecs", endpoint_url=endpoint_url, config=cfg)
        self.codedeploy: CodeDeployClient = session.client("codedeploy", endpoint_url=endpoint_url, config=cfg)

    @classmethod
    def of(cls, region: str, endpoint_url: str | None = None) -> Clients:
        """Clients on deploybot's own credentials in ``region``."""
        return cls(session(region), endpoint_url)


Translate = Callable[[str, str], DeployError | None]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def translate(exc: ClientError, special: Translate | None = None) -> DeployError:
    """AWS's error as the domain's: ``special`` names the codes a room gives a meaning of its own."""
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", str(exc)))
    found = special(code, message) if special else None
    return found or UpstreamError(f"AWS refused the call ({code}): {message}")


async def call(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in a worker thread; AWS's errors become UpstreamError."""
    return await call_as(None, fn, *args, **kwargs)


async def call_as(special: Translate | None, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """As ``call``, with the room's own meaning for some error codes."""
    metrics.tallied()
    try:
        result = await asyncio.to_thread(fn, *args, **kwargs)
    except ClientError as exc:
        note_aws_request(str(exc.response.get("ResponseMetadata", {}).get("RequestId") or ""))
        raise translate(exc, special) from exc
    except BotoCoreError as exc:
        raise UpstreamError(f"AWS could not be reached: {exc}") from exc
    if isinstance(result, dict):  # the audit trail lists the AWS request ids behind each change
        meta: Any = result.get("ResponseMetadata") or {}
        note_aws_request(str(meta.get("RequestId") or ""))
    return result
