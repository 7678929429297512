"""What deploybot says about an emergency (break-glass) deploy: the alert channel's notice as it starts,
the requester's answer, and the review note asked of them once it has ended."""

from __future__ import annotations

from typing import Any

from ..domain.catalog import AppConfig
from ..domain.models import Deployment
from .root import emergency_line, to_environment
from .text import cut, esc, mention, mrkdwn


def emergency_alert(record: Deployment, permalink: str, oncall: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Posted in the alert channel as an emergency deploy starts, mentioning on-call."""
    page = f"{mention(oncall)} " if oncall else ""  # in the text too: that is what notifies
    text = f"{page}Emergency deploy of {record.app} {record.tag}{to_environment(record)} without approval"
    body = f"{page}{emergency_line(record)}\n*{esc(record.app)} {esc(record.tag)}*{esc(to_environment(record))}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(cut(body, 3000))},
        {"type": "context", "elements": [mrkdwn(f"<{permalink}|open the thread> · request `{record.id}`")]},
    ]
    return text, blocks


def emergency_started(app: AppConfig, tag: str) -> str:
    return (
        f":rotating_light: Deploying `{app.label}` `{esc(tag)}` now as an emergency, without approval; the alert "
        f"channel <#{app.alert_channel}> has been told. Follow it in <#{app.deploy_channel}>; once it ends, "
        "you will be asked for a short review note in its thread."
    )


def review_request(record: Deployment) -> str:
    """Asked of the requester in the thread once an emergency deploy has ended."""
    return (
        f":memo: <@{record.requester}>, this was an emergency deploy. Please reply in this thread with a short "
        "review note: what was broken, why it could not wait for an approval, and any follow-up."
    )
