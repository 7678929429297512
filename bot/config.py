"""Settings from the environment (pydantic-settings) and the app catalog (YAML, validated by pydantic)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_VERSION_PATTERN = r"^v[0-9a-zA-Z._-]+$"  # the current release workflow's check


class ConfigError(Exception):
    """A configuration problem, phrased for the person who has to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr = Field(validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr = Field(validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(default=None, validation_alias="DEPLOYBOT_SLACK_API_URL")
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    config_path: Path = Field(default=Path("deploybot.yml"), validation_alias="DEPLOYBOT_CONFIG")
    store_url: str = Field(default="sqlite:///deploybot.db", validation_alias="DEPLOYBOT_STORE")
    replicas: int = Field(default=1, ge=1, validation_alias="DEPLOYBOT_REPLICAS")
    lease_seconds: float = Field(default=30.0, gt=0, validation_alias="DEPLOYBOT_LEASE_SECONDS")
    # How long a record may sit in "starting" before another process recovers it.
    starting_grace_seconds: float = Field(default=300.0, gt=0, validation_alias="DEPLOYBOT_STARTING_GRACE_SECONDS")
    http_host: str = Field(default="0.0.0.0", validation_alias="DEPLOYBOT_HTTP_HOST")  # noqa: S104 - a server binds all
    http_port: int = Field(default=3000, ge=0, le=65535, validation_alias="DEPLOYBOT_HTTP_PORT")
    log_format: Literal["json", "console"] = Field(default="json", validation_alias="DEPLOYBOT_LOG_FORMAT")
    poll_interval: float = Field(default=10.0, gt=0, validation_alias="DEPLOYBOT_POLL_INTERVAL")
    transport: Literal["auto", "socket", "http"] = Field(default="auto", validation_alias="DEPLOYBOT_TRANSPORT")

    @property
    def socket_mode(self) -> bool:
        if self.transport == "auto":
            return self.slack_app_token is not None
        return self.transport == "socket"


class People(BaseModel):
    """Slack users and user groups, by id (names can be changed by anyone; ids cannot)."""

    model_config = ConfigDict(extra="forbid")

    users: list[str] = Field(default_factory=list)
    usergroups: list[str] = Field(default_factory=list)

    @field_validator("users", "usergroups")
    @classmethod
    def _ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"[A-Z0-9]{2,20}", value):
                raise ValueError(f"{value!r} is not a Slack id (like U0123ABCD or S0123ABCD)")
        return values

    @property
    def empty(self) -> bool:
        return not self.users and not self.usergroups


Approvers = People


class AppConfig(BaseModel):
    """One deployable app: where its image lives, which service runs it, who approves."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    cluster: str
    service: str
    container: str = ""
    repository: str
    codedeploy_application: str = ""
    deployment_group: str = ""
    deploy_channel: str
    alert_channel: str = ""
    version_pattern: str = DEFAULT_VERSION_PATTERN
    approvers: People = Field(default_factory=People)
    approvals: int = Field(default=1, ge=1, le=5)  # distinct approvers needed before it starts
    allow_self_approval: bool = False
    # Who may ask for a deployment; unset: anyone in the workspace (an approver still has to approve).
    requesters: People | None = None
    # Channels where `/deploy <app>` is accepted; empty: any channel (the thread always goes to deploy_channel).
    request_channels: list[str] = Field(default_factory=list)

    @field_validator("version_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def fill_defaults(self, name: str) -> AppConfig:
        # Same defaults as `aws ecs deploy` for the CodeDeploy names (filehelpers.get_app_name).
        return self.model_copy(
            update={
                "name": name,
                "container": self.container or name,
                "codedeploy_application": self.codedeploy_application
                or f"AppECS-{self.cluster[:46]}-{self.service[:46]}",
                "deployment_group": self.deployment_group or f"DgpECS-{self.cluster[:46]}-{self.service[:46]}",
                "alert_channel": self.alert_channel or self.deploy_channel,
            }
        )


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apps: dict[str, AppConfig]

    @model_validator(mode="after")
    def _named(self) -> Catalog:
        for name in self.apps:
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", name):
                raise ValueError(f"app name {name!r} must be lowercase letters, digits and dashes")
        self.apps = {name: cfg.fill_defaults(name) for name, cfg in self.apps.items()}
        if not self.apps:
            raise ValueError("the catalog lists no apps")
        return self

    def get(self, name: str) -> AppConfig | None:
        return self.apps.get(name)

    def warnings(self) -> list[str]:
        """What is allowed but probably not meant: said at start-up and by `deploybot check`."""
        out = []
        for app in self.apps.values():
            if app.approvers.empty:
                out.append(f"apps.{app.name}: no approvers, so nobody can approve a deployment of it (fail closed)")
            elif app.approvals > len(app.approvers.users) and not app.approvers.usergroups:
                out.append(
                    f"apps.{app.name}: needs {app.approvals} approvals but lists only "
                    f"{len(app.approvers.users)} approver(s), so it can never start"
                )
        return out


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_catalog(path: Path) -> Catalog:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found. Set DEPLOYBOT_CONFIG to your catalog (see examples/deploybot.yml)."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with an 'apps' key at the top level")
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        names = {e["loc"][0] for e in exc.errors() if e.get("loc")}
        problems = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors())
        hint = " Run `deploybot sandbox` for a local workspace, or export the values." if names else ""
        raise ConfigError(f"environment: {problems}.{hint}") from None
