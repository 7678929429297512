"""What a requester is told on joining the line for a busy or locked app (`--queue`)."""

from __future__ import annotations

from ..domain.catalog import AppConfig
from ..domain.models import Deployment, Hold, Image
from .text import esc


def in_line(app: AppConfig, image: Image, place: int, ahead: Deployment | None, hold: Hold | None) -> str:
    """`#2 in line after web1 v1.2.3 by @alice`, and what happens next."""
    if ahead is not None:
        who = f"<@{ahead.requester}>" if ahead.requester else "CI"
        after = f"after `{esc(ahead.app)}` `{esc(ahead.tag)}` by {who}"
    elif hold is not None:
        after = f"behind the lock <@{hold.user}> put on it" if hold.user != "deploybot" else "behind its lock"
    else:
        after = "behind the request being prepared"
    return (
        f":busstop: `{app.label}` `{esc(image.tag)}` is #{place} in line {after}. When `{app.label}` is free it "
        f"is asked for approval in <#{app.deploy_channel}> (or starts, where none is needed); "
        "*Leave the line* on its message takes it out."
    )
