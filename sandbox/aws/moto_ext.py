"""Extends moto 5.2.5 so that CodeDeploy ECS blue/green deployments and ECS's own service deployments
(rolling, blue/green, linear, canary: ``ecs/``) really progress.

moto dispatches ``X-Amz-Target`` actions by looking up methods on its response class at call time,
so methods grafted onto ``CodeDeployResponse`` become routable in server mode without subclassing.
``install()`` grafts the operations (``operations.py``) and wire handlers (``wire.py``), and wraps every
action for the fault switches (throttling, latency, answers lost after the change was made) and to bring
the simulation up to the clock.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from typing import Any

from moto.codedeploy import responses as cd_responses
from moto.codedeploy.models import CodeDeployBackend
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.responses import BaseResponse

from . import wire
from .control import CONTROL, Control
from .ecs import graft as ecs
from .operations import advance_all as advance_codedeploy
from .operations import create_deployment

__all__ = ["CONTROL", "Control", "advance_all", "install"]

_ORIGINAL_CALL_ACTION = BaseResponse.call_action


def advance_all() -> None:
    """Bring every CodeDeploy deployment and every ECS service deployment up to the clock."""
    with CONTROL.lock:
        advance_codedeploy()
        ecs.advance_ecs()
    CONTROL.events.release(CONTROL.clock.now())


def _agent(user_agent: str) -> str:
    """Who called, from a User-Agent: its app id (AWS_SDK_UA_APP_ID), else the tool's name."""
    app = next((part[4:] for part in user_agent.split() if part.startswith("app/")), None)
    if app:
        return app
    if "deploybot/" in user_agent:
        return "deploybot"
    return "aws-cli" if "aws-cli/" in user_agent else "other"


def _throttled_call_action(self: BaseResponse) -> Any:
    operation = self._get_action()
    CONTROL.calls.append((str(self.service_name), operation))
    agent = str(self.headers.get("User-Agent", ""))
    CONTROL.agent_calls[(_agent(agent), str(self.service_name), operation)] += 1
    if "deploybot/" in agent:
        CONTROL.bot_calls.add((str(self.service_name), operation))
        CONTROL.bot_log.append((time.time(), str(self.service_name), operation))
    if CONTROL.fault_agent is not None and _agent(agent) != CONTROL.fault_agent:
        if self.service_name in {"codedeploy", "ecs"}:
            advance_all()
        return _ORIGINAL_CALL_ACTION(self)  # someone the faults are not meant for (a test's own client)
    delay = CONTROL.latency_by_operation.get(operation, CONTROL.latency_seconds)
    if delay:
        time.sleep(delay)  # a moto server thread, not the event loop: this is AWS being slow
    if _take(CONTROL.throttles, operation):
        return _error(400, "ThrottlingException", "Rate exceeded")
    if _take(CONTROL.errors, operation):
        return _error(500, "InternalFailure", "We encountered an internal error.")
    if _take(CONTROL.dropped_before, operation):
        _drop(self)
    if self.service_name in {"codedeploy", "ecs"}:
        advance_all()
    answer = _ORIGINAL_CALL_ACTION(self)
    if _take(CONTROL.lost_answers, operation):
        # The change is made, but the caller never hears so: what a timeout after the fact looks like.
        return _error(500, "InternalFailure", "We encountered an internal error.")
    if _take(CONTROL.dropped_after, operation):
        _drop(self)
    return answer


def _drop(response: BaseResponse) -> None:
    """Close the caller's connection unanswered (werkzeug then writes nothing): to the caller, a request that
    timed out, as a load balancer's idle timeout or a network fault looks."""
    request = getattr(response, "normalized_request", None)
    sock = getattr(request, "environ", {}).get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("dropped by the sandbox's fault switch")


def _take(counts: dict[str, int], operation: str) -> bool:
    """One of the faults left for ``operation``, if any are."""
    with CONTROL.lock:
        left = counts.get(operation, 0)
        if left > 0:
            counts[operation] = left - 1
        return left > 0


def _error(status: int, kind: str, message: str) -> tuple[int, dict[str, str], str]:
    return status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({"__type": kind, "message": message})


_installed = False


def install() -> None:
    """Graft the simulation onto moto (idempotent)."""
    global _installed
    if _installed:
        return
    # setattr: these replace moto's own functions by design, whatever their declared signatures.
    setattr(CodeDeployBackend, "create_deployment", create_deployment)  # noqa: B010
    setattr(cd_responses, "_deployment_info", wire.deployment_info)  # noqa: B010
    setattr(cd_responses, "_deployment_group_info", wire.deployment_group_info)  # noqa: B010
    for name, fn in wire.HANDLERS.items():
        setattr(CodeDeployResponse, name, fn)
    ecs.install()
    setattr(BaseResponse, "call_action", _throttled_call_action)  # noqa: B010
    CONTROL.clock.on_change(advance_all)
    _installed = True
