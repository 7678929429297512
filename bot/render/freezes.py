"""What deploybot says about change freezes: a refusal inside one (with its end and how to get an
exception), the answers to `/deploy freeze` and `/deploy unfreeze`, and a freeze's line in status."""

from __future__ import annotations

from datetime import datetime

from ..domain.catalog import AppConfig
from ..domain.freezes import Freeze
from .text import duration, esc, mention, when


def _where(app: AppConfig) -> str:
    return app.name if app.only_environment else f"{app.name} {app.environment}"


def _who(app: AppConfig) -> str:
    people = [*app.approvers.users, *app.approvers.usergroups]
    return ", ".join(mention(p) for p in people) or "its approvers"


def left(now: datetime, until: datetime) -> str:
    """`2d 15h` for a long freeze, else as every other duration (`2h 10m`)."""
    hours = int((until - now).total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 48 else duration(now, until)


def line(freeze: Freeze, now: datetime) -> str:
    """`frozen by @bob until 2026-12-14 07:00 UTC (in 2h 10m): reason`, or by the catalog's window."""
    why = f": {esc(freeze.reason)}" if freeze.reason else ""
    until = f"until {when(freeze.until)} (in {left(now, freeze.until)})"
    if freeze.user:
        return f"frozen by <@{freeze.user}> {until}{why}"
    return f"frozen {until} by the catalog's freeze {esc(freeze.what)}{why}"


def refused(app: AppConfig, freeze: Freeze, now: datetime, version: str = "") -> str:
    """A request or approval inside a freeze: what the freeze is, when it ends, how to get an exception."""
    ways = []
    if freeze.user:
        ways.append(f"an approver of `{app.label}` ({_who(app)}) can lift it with `/deploy unfreeze {_where(app)}`")
    else:
        ways.append(f"it is in the catalog, so lifting it early means changing the catalog ({_who(app)})")
    if not app.emergency.empty:
        allowed = ", ".join(mention(p) for p in [*app.emergency.users, *app.emergency.usergroups])
        ways.append(
            f"for an emergency, {allowed} can deploy anyway with "
            f'`/deploy {_where(app)} {esc(version) or "<version>"} --emergency "reason"`'
        )
    return (
        f":snowflake: `{app.label}` is {line(freeze, now)}. Nothing new is deployed during a freeze (deployments "
        f"already running go on). For an exception: {'; '.join(ways)}."
    )


def froze(app: AppConfig, until: datetime) -> str:
    return f"Froze `{app.label}` until {when(until)}. `/deploy unfreeze {_where(app)}` lifts it earlier."


def froze_note(app: AppConfig, user: str, until: datetime, reason: str) -> str:
    why = f": {esc(reason)}" if reason else ""
    return f":snowflake: <@{user}> froze `{app.label}` until {when(until)}{why}. Nothing new is deployed until then."


def not_frozen(app: AppConfig, catalog_freeze: Freeze | None, now: datetime) -> str:
    if catalog_freeze is None:
        return f"`{app.label}` has no freeze to lift."
    return (
        f"`{app.label}` has no freeze from `/deploy freeze`; it is {line(catalog_freeze, now)}, which is in the "
        "catalog: only a change to the catalog lifts it early."
    )


def unfroze(app: AppConfig) -> str:
    return f"Lifted the freeze on `{app.label}`."


def unfroze_note(app: AppConfig, user: str) -> str:
    return f":sunny: <@{user}> lifted the freeze on `{app.label}`."
