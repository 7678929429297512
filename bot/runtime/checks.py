"""`deploybot check --aws`: the preflight from a terminal, on the same environment `deploybot serve` reads
(AWS_REGION, AWS_ENDPOINT_URL, SLACK_BOT_TOKEN, DEPLOYBOT_SLACK_API_URL); Slack is checked when a token is set."""

from __future__ import annotations

from typing import TextIO

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..domain.catalog import Catalog
from ..render.preflight import check_line, summary


class CheckSettings(BaseSettings):
    """Only what the preflight needs: no signing secret, no store."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_api_url: str | None = Field(default=None, validation_alias="DEPLOYBOT_SLACK_API_URL")
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")


async def preflight(catalog: Catalog, out: TextIO) -> int:
    """Print one line per app and environment; 0 when every one can be deployed, else 2."""
    from ..app import preflight_of  # the composition root wires the preflight's adapters

    settings = CheckSettings()
    token = settings.slack_bot_token
    checks = await preflight_of(
        catalog,
        settings.aws_region,
        settings.aws_endpoint_url,
        token.get_secret_value() if token else None,
        settings.slack_api_url,
    ).run()
    for check in checks:
        out.write(check_line(check) + "\n")
    out.write(summary(checks, slack_checked=token is not None) + "\n")
    return 0 if all(c.usable for c in checks) else 2
