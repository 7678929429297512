"""Opens the store named by DEPLOYBOT_STORE: `sqlite:///path` (one replica) or `dynamodb://table`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..domain.ports import Clock, Store
from ..store.sqlite import SqliteStore
from .config import ConfigError


class StoreSettings(BaseSettings):
    """Only what the store needs, so `deploybot init-store` runs without Slack tokens."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    store_url: str = Field(default="sqlite:///deploybot.db", validation_alias="DEPLOYBOT_STORE")
    replicas: int = Field(default=1, ge=1, validation_alias="DEPLOYBOT_REPLICAS")
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")

    @property
    def kind(self) -> Literal["sqlite", "dynamodb"]:
        if self.store_url.startswith("sqlite://"):
            return "sqlite"
        if self.store_url.startswith("dynamodb://"):
            return "dynamodb"
        raise ConfigError(
            f"DEPLOYBOT_STORE={self.store_url!r} is not supported: use sqlite:///path/deploybot.db "
            "(one replica) or dynamodb://<table> (any number of replicas)"
        )


def load_store_settings() -> StoreSettings:
    try:
        return StoreSettings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"environment: {problems}") from None


def open_store(settings: StoreSettings, clock: Clock | None = None) -> Store:
    """The store, reading lease expiry from ``clock`` (the wall clock unless the bot runs on another)."""
    if settings.kind == "sqlite":
        if settings.replicas > 1:
            raise ConfigError(
                f"DEPLOYBOT_STORE is SQLite but DEPLOYBOT_REPLICAS={settings.replicas}: "
                "SQLite serves one replica only. "
                "Use dynamodb://<table> for several replicas (create it with `deploybot init-store`)."
            )
        return SqliteStore.from_url(settings.store_url, clock)
    from ..aws.dynamo_store import DynamoStore

    try:
        return DynamoStore.from_url(settings.store_url, settings.aws_region, settings.aws_endpoint_url, clock)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def init_store(settings: StoreSettings) -> str:
    """Create what the store needs (idempotent); returns what was done, for the operator."""
    store = open_store(settings)
    try:
        if settings.kind == "sqlite":
            return f"SQLite store ready at {settings.store_url}"
        from ..aws.dynamo_store import DynamoStore

        assert isinstance(store, DynamoStore)  # noqa: S101 - open_store returns it for dynamodb:// URLs
        created = store.create_table()
        return f"DynamoDB table {store.table} {'created' if created else 'already exists'}"
    finally:
        store.close()
