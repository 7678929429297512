"""Small pieces every message uses: escaping, cutting to Slack's limits, durations, the traffic bar."""

from __future__ import annotations

from datetime import datetime

from ..domain.errors import shown

CUT = "… (cut)"

esc = shown  # escape for mrkdwn so no `<!channel>`, mention or link can be injected


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def progress_bar(weight: float, width: int = 10) -> str:
    filled = round(max(0.0, min(100.0, weight)) / 100 * width)
    return "▰" * filled + "▱" * (width - filled)


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    seconds = max(0, int((end - start).total_seconds()))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def mention(slack_id: str) -> str:
    """A user (U…/W…) or user group (S…) mention."""
    return f"<!subteam^{slack_id}>" if slack_id.startswith("S") else f"<@{slack_id}>"


def when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "an unknown time"


def linked(text: str, url: str | None) -> str:
    """``text`` as a link to ``url`` when there is one."""
    return f"<{url}|{text}>" if url else text


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def plain(text: str, *, emoji: bool | None = None) -> dict[str, object]:
    out: dict[str, object] = {"type": "plain_text", "text": text}
    if emoji is not None:
        out["emoji"] = emoji
    return out
