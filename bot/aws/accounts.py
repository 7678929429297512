"""Which AWS account and region each app's calls go to: deploybot's own credentials, or an IAM role it
assumes there through STS (with an external id when the role asks for one), refreshed before it expires.

One set of clients per (region, role, external id), made on first use; the role is assumed on the first
call that needs it, in that call's worker thread, so the event loop never waits for STS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import botocore.session
import structlog
from botocore.credentials import CredentialProvider, DeferredRefreshableCredentials

from ..domain.catalog import AppConfig
from .calls import Clients, config, session

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

log = structlog.get_logger(__name__)
SESSION_NAME = "deploybot"
SESSION_SECONDS = 3600  # botocore refreshes the role's credentials 15 minutes before they expire

Account = tuple[str, str | None, str | None]  # (region, role, external id)


class _AssumedRole(CredentialProvider):
    METHOD = "sts-assume-role"

    def __init__(self, refresh: Callable[[], dict[str, Any]]) -> None:
        super().__init__()
        self._refresh = refresh

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(refresh_using=self._refresh, method=self.METHOD)


class Accounts:
    def __init__(self, region: str, endpoint_url: str | None = None, session_seconds: int = SESSION_SECONDS) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.session_seconds = session_seconds
        self._home = Clients(session(region), endpoint_url)
        self._clients: dict[Account, Clients] = {(region, None, None): self._home}
        self._sts: STSClient = session(region).client("sts", endpoint_url=endpoint_url, config=config())

    @property
    def home(self) -> Clients:
        """deploybot's own account and region."""
        return self._home

    def clients(self, app: AppConfig) -> Clients:
        region, role, external_id = app.account
        key = (region or self.region, role, external_id)
        found = self._clients.get(key)
        if found is None:
            found = self._clients[key] = self._open(*key)
        return found

    def _open(self, where: str, role: str | None, external_id: str | None) -> Clients:
        if role is None:
            return Clients(session(where), self.endpoint_url)
        core = botocore.session.Session()
        # First in the session's chain of credential providers: the role, assumed again before it expires.
        provider = _AssumedRole(lambda: self._assume(role, external_id))
        core.get_component("credential_provider").insert_before("env", provider)
        log.info("aws_role_configured", role=role, region=where)
        return Clients(session(where, core), self.endpoint_url)

    def _assume(self, role: str, external_id: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "RoleArn": role,
            "RoleSessionName": SESSION_NAME,
            "DurationSeconds": self.session_seconds,
        }
        if external_id:
            kwargs["ExternalId"] = external_id
        creds = self._sts.assume_role(**kwargs)["Credentials"]
        log.info("aws_role_assumed", role=role, expires=creds["Expiration"].isoformat())
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }
