"""Counts every Slack Web API attempt for bot.metrics: by method and outcome, and the 429s apart.

It sits first among the client's retry handlers, which slack_sdk asks about every answer (and every
failure to get one); it never asks for a retry itself, so the handlers after it decide as before."""

from __future__ import annotations

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from .. import metrics

TOO_MANY_REQUESTS = 429
EVERY_ATTEMPT = 1_000_000  # the interface skips handlers past their max_retry_count: never skip this one


class CallCounter(AsyncRetryHandler):
    def __init__(self) -> None:
        super().__init__(max_retry_count=EVERY_ATTEMPT)

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = request.url.rsplit("/", 1)[-1].split("?", 1)[0]
        if response is None:
            outcome = "no_answer"
        elif response.status_code == TOO_MANY_REQUESTS:
            outcome = "ratelimited"
            metrics.SLACK_RATE_LIMITED.labels(method).inc()
        elif isinstance(response.body, dict):
            outcome = "ok" if response.body.get("ok") else str(response.body.get("error") or "error")
        else:
            outcome = f"http_{response.status_code}"
        metrics.SLACK_CALLS.labels(method, outcome).inc()
        return False
