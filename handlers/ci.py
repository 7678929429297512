"""The CI hand-off: after a release workflow pushes an image, it asks for a deployment over HTTP.

`POST /api/requests` with `Authorization: Bearer $DEPLOYBOT_API_TOKEN` and a JSON body
`{"app", "version", "environment"?, "actor", "commit_url"?, "run_url"?, "committed_at"?, "queue"?}` opens the
same request in Slack (checked against ECR, waiting for approval) and answers with its request id and thread link.
The token is the authorization: the workflow stands in for a person, so the requester list and request
channels do not apply; locks, approvals and everything after them do.
"""

from __future__ import annotations

import hmac
from typing import Any

import structlog
from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, ValidationError

from bot.domain.catalog import Catalog
from bot.domain.errors import DeployError, UnknownApp
from bot.domain.lifecycle import check_version
from bot.domain.models import CiInfo
from bot.domain.ports import Chat
from bot.usecases.requests import Requests

log = structlog.get_logger(__name__)


class CiRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app: str = Field(min_length=1, max_length=40)
    version: str = Field(min_length=1, max_length=200)
    environment: str | None = Field(default=None, max_length=40)
    actor: str = Field(min_length=1, max_length=100)
    commit_url: str | None = None
    run_url: str | None = None
    committed_at: AwareDatetime | None = None  # the commit's time: the start of its lead time
    queue: bool = False  # wait in line when the app is busy or locked, instead of a 409


def _answer(status: int, **body: Any) -> web.Response:
    return web.json_response({"ok": 200 <= status < 300, **body}, status=status)


class CiHandoff:
    def __init__(self, token: SecretStr, catalog: Catalog, requests: Requests, chat: Chat) -> None:
        self.token = token
        self.catalog = catalog
        self.requests = requests
        self.chat = chat

    async def handle(self, request: web.Request) -> web.Response:
        expected = f"Bearer {self.token.get_secret_value()}".encode()
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            log.warning("ci_request_refused", reason="bad token")
            return _answer(401, error="invalid_token", message="Send Authorization: Bearer <DEPLOYBOT_API_TOKEN>.")
        try:
            body = CiRequest.model_validate_json(await request.read())
            ci = CiInfo(
                actor=body.actor, commit_url=body.commit_url, run_url=body.run_url, committed_at=body.committed_at
            )
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
            return _answer(400, error="invalid_request", message=problems)
        try:
            if body.app not in self.catalog.apps:
                raise UnknownApp(body.app, self.catalog.names())
            app = self.catalog.get(body.app, body.environment)
            if app is None:
                raise DeployError(f"`{body.app}` has no environment `{body.environment}`.")
            if body.version != "latest":
                check_version(body.version, app.version_pattern)
        except DeployError as exc:
            return _answer(400, error="invalid_request", message=exc.message)
        told: list[str] = []

        async def tell(text: str) -> None:
            told.append(text)

        structlog.contextvars.bind_contextvars(app=app.name, version=body.version)
        record = await self.requests.request(
            app, body.version, "", self.chat.home_team, "", tell=tell, ci=ci, queue=body.queue
        )
        if record is None:
            return _answer(409, error="refused", message=told[-1] if told else "The request was refused.")
        link = self.chat.permalink(record.channel, record.message_ts or "")
        return _answer(201, request_id=record.id, thread=link, message=told[-1] if told else "")
