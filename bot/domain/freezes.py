"""Change freezes: windows in which nothing new is deployed to an app.

The catalog declares them (for every app, for one app, or for one environment of it): a weekly window
(`fri 16:00` to `mon 08:00`) or a one-off one (a holiday freeze), each in a named time zone so that
daylight saving follows the zone database. Approvers add ad hoc ones from Slack (`/deploy freeze`), kept
as a ``Hold`` of kind ``freeze`` with an end. A freeze refuses requests and approvals; a deployment already
running is never stopped by one starting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MOMENT = re.compile(r"(mon|tue|wed|thu|fri|sat|sun)[a-z]* +([0-9]{1,2}):([0-9]{2})")
SPAN = re.compile(r"([0-9]+)([mhd])")
UNITS = {"m": 60, "h": 3600, "d": 86400}
LONGEST = timedelta(days=30)  # an ad hoc freeze longer than this belongs in the catalog


class Weekly(BaseModel):
    """From a weekday and time to another, every week (`fri 16:00` to `mon 08:00`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _moment(cls, value: str) -> str:
        found = MOMENT.fullmatch(value.strip().lower())
        if found is None or int(found[2]) > 23 or int(found[3]) > 59:
            raise ValueError(f"{value!r} is not a weekday and time (like 'fri 16:00')")
        return f"{found[1]} {int(found[2]):02d}:{found[3]}"


def _day_time(value: str) -> tuple[int, time]:
    day, clock = value.split(" ")
    hours, minutes = clock.split(":")
    return DAYS.index(day), time(int(hours), int(minutes))


class FreezeWindow(BaseModel):
    """A window of the catalog: ``weekly``, or ``start`` and ``end`` (local date-times) once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    timezone: str = "UTC"
    weekly: Weekly | None = None
    start: datetime | None = None
    end: datetime | None = None
    reason: str = ""
    # Only in the catalog's top-level `freezes`: the environments it covers (none listed: all of them).
    environments: tuple[str, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone of the zone database (like Europe/Berlin)") from None
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _moment(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value, time())  # a date alone: from its midnight
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date or date-time (like 2026-12-24 16:00)") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> FreezeWindow:
        once = self.start is not None or self.end is not None
        if (self.weekly is None) == (not once) or (once and (self.start is None or self.end is None)):
            raise ValueError(f"freeze {self.name!r}: give either `weekly` or both `start` and `end`")
        if self.start is not None and self.end is not None and self.local(self.end) <= self.local(self.start):
            raise ValueError(f"freeze {self.name!r}: `end` must come after `start`")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        """A catalog date-time as an instant: in the window's zone unless it names its own offset."""
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=self.zone)

    def until(self, now: datetime) -> datetime | None:
        """When the window ends if ``now`` is inside it, else None."""
        if self.weekly is None:
            assert self.start is not None and self.end is not None  # noqa: S101 - checked by the validator
            start, end = self.local(self.start), self.local(self.end)
            return end if start <= now < end else None
        start_day, start_time = _day_time(self.weekly.start)
        end_day, end_time = _day_time(self.weekly.end)
        length = (end_day - start_day) % 7
        if length == 0 and end_time <= start_time:
            length = 7
        here = now.astimezone(self.zone)
        for weeks_back in (0, 1):
            day = here.date() - timedelta(days=(here.weekday() - start_day) % 7 + 7 * weeks_back)
            # Wall times in the zone, then compared as instants: a DST change inside the window is its own.
            opens = datetime.combine(day, start_time, tzinfo=self.zone).astimezone(UTC)
            closes = datetime.combine(day + timedelta(days=length), end_time, tzinfo=self.zone).astimezone(UTC)
            if opens <= now < closes:
                return closes
        return None

    def describe(self) -> str:
        """`weekend, fri 16:00 to mon 08:00 (Europe/Berlin)`, for a refusal or the status."""
        if self.weekly is not None:
            span = f"every {self.weekly.start} to {self.weekly.end}"
        else:
            span = f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"
        return f"{self.name} ({span}, {self.timezone})"


@dataclass(frozen=True)
class Freeze:
    """A freeze in force: what it is (window or ad hoc), until when, and who put it on if a person did."""

    what: str  # the catalog window's description ("" for an ad hoc one)
    until: datetime
    user: str = ""
    reason: str = ""


def in_force(windows: tuple[FreezeWindow, ...], now: datetime) -> Freeze | None:
    """The catalog's freeze in force at ``now`` (the one ending last when several overlap), else None."""
    found = [(end, w) for w in windows if (end := w.until(now)) is not None]
    if not found:
        return None
    end, window = max(found, key=lambda pair: pair[0])
    return Freeze(window.describe(), end, reason=window.reason)


def span(text: str) -> timedelta:
    """`2h`, `90m`, `1d12h`: an ad hoc freeze's length; ValueError when it is not one or too long."""
    parts = SPAN.findall(text.lower())
    if not parts or "".join(n + u for n, u in parts) != text.lower():
        raise ValueError(f"{text!r} is not a duration (like 30m, 2h or 1d)")
    length = timedelta(seconds=sum(int(n) * UNITS[u] for n, u in parts))
    if length <= timedelta(0) or length > LONGEST:
        raise ValueError(f"a freeze from Slack lasts a minute to {LONGEST.days} days; longer ones go in the catalog")
    return length
