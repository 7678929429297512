"""Settings from the environment (pydantic-settings), and the app catalog read from its YAML file.

Both say what is wrong in words for the person who has to fix it (``ConfigError``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..domain.catalog import Catalog

# The read budget's defaults (bot/watch/budget.py keeps the same: runtime does not import the watcher).
INSTALLATION_PER_MINUTE = 180.0
PER_DEPLOYMENT_PER_MINUTE = 4.0  # the AWS CLI waiter's: one GetDeployment every 15 s


class ConfigError(Exception):
    """A configuration problem, phrased for the person who has to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr = Field(validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr = Field(validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    # Enables the CI hand-off (POST /api/requests) for callers that send it as a bearer token.
    api_token: SecretStr | None = Field(default=None, validation_alias="DEPLOYBOT_API_TOKEN")
    slack_api_url: str | None = Field(default=None, validation_alias="DEPLOYBOT_SLACK_API_URL")
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    config_path: Path = Field(default=Path("deploybot.yml"), validation_alias="DEPLOYBOT_CONFIG")
    # The catalog's YAML itself, which wins over the file: how the CloudFormation stack hands the task its
    # catalog (an SSM parameter injected as a container secret).
    catalog_yaml: str | None = Field(default=None, validation_alias="DEPLOYBOT_CATALOG")
    store_url: str = Field(default="sqlite:///deploybot.db", validation_alias="DEPLOYBOT_STORE")
    replicas: int = Field(default=1, ge=1, validation_alias="DEPLOYBOT_REPLICAS")
    lease_seconds: float = Field(default=30.0, gt=0, validation_alias="DEPLOYBOT_LEASE_SECONDS")
    # How long a record may sit in "starting" before another process recovers it.
    starting_grace_seconds: float = Field(default=300.0, gt=0, validation_alias="DEPLOYBOT_STARTING_GRACE_SECONDS")
    http_host: str = Field(default="0.0.0.0", validation_alias="DEPLOYBOT_HTTP_HOST")  # noqa: S104 - a server binds all
    http_port: int = Field(default=3000, ge=0, le=65535, validation_alias="DEPLOYBOT_HTTP_PORT")
    log_format: Literal["json", "console"] = Field(default="json", validation_alias="DEPLOYBOT_LOG_FORMAT")
    # The shortest gap between two reads of a deployment; how often they really come is the read budget's.
    poll_interval: float = Field(default=1.0, gt=0, validation_alias="DEPLOYBOT_POLL_INTERVAL")
    # AWS read calls a minute for the whole installation (shared by the replicas), and per deployment in
    # flight (the AWS CLI waiter makes 4); the lower wins; 0 lifts a limit.
    reads_per_minute: float = Field(
        default=INSTALLATION_PER_MINUTE, ge=0, validation_alias="DEPLOYBOT_READS_PER_MINUTE"
    )
    reads_per_deployment: float = Field(
        default=PER_DEPLOYMENT_PER_MINUTE, ge=0, validation_alias="DEPLOYBOT_READS_PER_DEPLOYMENT"
    )
    transport: Literal["auto", "socket", "http"] = Field(default="auto", validation_alias="DEPLOYBOT_TRANSPORT")
    approval_timeout_minutes: float = Field(default=120.0, gt=0, validation_alias="DEPLOYBOT_APPROVAL_TIMEOUT_MINUTES")
    scan_seconds: float = Field(default=60.0, gt=0, validation_alias="DEPLOYBOT_SCAN_SECONDS")
    # An SQS queue an EventBridge rule fills with the engines' state-change events: re-read on each.
    events_queue_url: str | None = Field(default=None, validation_alias="DEPLOYBOT_EVENTS_QUEUE_URL")
    # Below Slack's limits (about one message a second per channel; Tier 3 for chat.update); 0 turns pacing off.
    slack_posts_per_minute: float = Field(default=55.0, ge=0, validation_alias="DEPLOYBOT_SLACK_POSTS_PER_MINUTE")
    slack_updates_per_minute: float = Field(default=45.0, ge=0, validation_alias="DEPLOYBOT_SLACK_UPDATES_PER_MINUTE")
    # Check the catalog against AWS and Slack once at start-up (read-only; problems are logged as warnings).
    preflight: bool = Field(default=True, validation_alias="DEPLOYBOT_PREFLIGHT")
    # A slash command's "Checking…" note is sent only when its answer takes longer than this.
    working_note_seconds: float = Field(default=2.0, ge=0, validation_alias="DEPLOYBOT_WORKING_NOTE_SECONDS")
    lock_reminder_hours: float = Field(default=4.0, gt=0, validation_alias="DEPLOYBOT_LOCK_REMINDER_HOURS")

    @property
    def socket_mode(self) -> bool:
        if self.transport == "auto":
            return self.slack_app_token is not None
        return self.transport == "socket"


def where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        names = {e["loc"][0] for e in exc.errors() if e.get("loc")}
        problems = "; ".join(f"{where(e['loc'])}: {e['msg']}" for e in exc.errors())
        hint = " Run `deploybot sandbox` for a local workspace, or export the values." if names else ""
        raise ConfigError(f"environment: {problems}.{hint}") from None


def load_catalog(path: Path) -> Catalog:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found. Set DEPLOYBOT_CONFIG to your catalog (see examples/deploybot.yml)."
        ) from None
    return parse_catalog(text, str(path))


def settings_catalog(settings: Settings) -> Catalog:
    """The catalog `deploybot serve` uses: DEPLOYBOT_CATALOG's YAML if set, else the DEPLOYBOT_CONFIG file."""
    if settings.catalog_yaml:
        return parse_catalog(settings.catalog_yaml, "DEPLOYBOT_CATALOG")
    return load_catalog(settings.config_path)


def parse_catalog(text: str, source: str) -> Catalog:
    """``source`` names where the text came from (a path, or the variable) in every message."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{source}: not valid YAML{place}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with an 'apps' key at the top level")
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{where(e['loc'])}: {e['msg']}" if e["loc"] else str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None
