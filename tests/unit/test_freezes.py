"""Change freeze windows: weekly ones across a daylight-saving change, one-off ones, which windows cover
which app and environment, and the errors a broken catalog entry gets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.freezes import Freeze, FreezeWindow, in_force, span
from bot.render.freezes import line
from bot.runtime.config import ConfigError, parse_catalog

WEEKEND = FreezeWindow.model_validate(
    {"name": "weekend", "timezone": "Europe/Berlin", "weekly": {"start": "Fri 16:00", "end": "mon 08:00"}}
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2026-12-11T15:59:00+01:00", None),  # Friday, a minute before
        ("2026-12-11T16:00:00+01:00", "2026-12-14T08:00:00+01:00"),  # Friday 16:00 sharp
        ("2026-12-13T23:00:00+01:00", "2026-12-14T08:00:00+01:00"),  # Sunday night
        ("2026-12-14T08:00:00+01:00", None),  # Monday 08:00: over
        ("2026-12-16T12:00:00+01:00", None),  # midweek
        # Daylight saving starts on Sunday 29 March 2026: the window ends at 08:00 summer time, 06:00 UTC.
        ("2026-03-28T12:00:00+01:00", "2026-03-30T08:00:00+02:00"),
        ("2026-03-30T07:30:00+02:00", "2026-03-30T08:00:00+02:00"),
        # ... and ends on Sunday 25 October: 08:00 winter time, 07:00 UTC.
        ("2026-10-26T07:30:00+01:00", "2026-10-26T08:00:00+01:00"),
    ],
)
def test_a_weekly_window_follows_the_zone(now: str, until: str | None) -> None:
    found = WEEKEND.until(at(now))
    assert found == (at(until) if until else None)


def test_a_window_within_one_day_and_one_wrapping_a_week() -> None:
    lunch = FreezeWindow.model_validate({"name": "lunch", "weekly": {"start": "wed 12:00", "end": "wed 13:00"}})
    assert lunch.until(at("2026-12-09T12:30:00+00:00")) == at("2026-12-09T13:00:00+00:00")
    assert lunch.until(at("2026-12-09T13:30:00+00:00")) is None
    week = FreezeWindow.model_validate({"name": "all week", "weekly": {"start": "wed 12:00", "end": "wed 11:00"}})
    assert week.until(at("2026-12-09T11:30:00+00:00")) is None  # the one hour a week it is open
    assert week.until(at("2026-12-08T09:00:00+00:00")) == at("2026-12-09T11:00:00+00:00")


def test_a_one_off_window_and_the_one_ending_last_wins() -> None:
    holiday = FreezeWindow.model_validate(
        {"name": "holidays", "timezone": "America/New_York", "start": "2026-12-24", "end": "2026-12-28 09:00"}
    )
    assert holiday.until(at("2026-12-24T04:59:00+00:00")) is None  # 23:59 in New York
    assert holiday.until(at("2026-12-24T05:00:00+00:00")) == at("2026-12-28T14:00:00+00:00")
    found = in_force((WEEKEND, holiday), at("2026-12-25T12:00:00+00:00"))
    assert found is not None and found.until == at("2026-12-28T14:00:00+00:00") and "holidays" in found.what
    assert in_force((WEEKEND, holiday), at("2026-12-30T12:00:00+00:00")) is None


@pytest.mark.parametrize(
    ("window", "says"),
    [
        ({"name": "x", "weekly": {"start": "fri 16", "end": "mon 08:00"}}, "is not a weekday and time"),
        ({"name": "x", "weekly": {"start": "fri 25:00", "end": "mon 08:00"}}, "is not a weekday and time"),
        ({"name": "x", "timezone": "Mars/Olympus", "weekly": {"start": "fri 16:00", "end": "mon 08:00"}}, "zone"),
        ({"name": "x", "start": "2026-12-24"}, "both `start` and `end`"),
        ({"name": "x", "start": "2026-12-24", "end": "2026-12-20"}, "`end` must come after `start`"),
        ({"name": "x", "start": "christmas", "end": "2026-12-20"}, "is not a date or date-time"),
        ({"name": "x"}, "either `weekly` or both"),
    ],
)
def test_a_broken_window_is_refused_clearly(window: dict[str, object], says: str) -> None:
    text = "apps:\n  web1: {cluster: c, service: s, repository: r, deploy_channel: C1}\nfreezes: [WINDOW]\n"
    with pytest.raises(ConfigError) as caught:
        parse_catalog(text.replace("WINDOW", json.dumps(window)), "catalog.yml")
    assert says in str(caught.value) and "catalog.yml" in str(caught.value)


CATALOG = """
freezes:
  - {name: everywhere, weekly: {start: "sat 00:00", end: "sun 00:00"}}
  - {name: prod only, weekly: {start: "sun 00:00", end: "mon 00:00"}, environments: [production]}
apps:
  web1:
    cluster: c
    repository: r
    deploy_channel: C1
    freezes: [{name: app, start: "2026-12-24", end: "2026-12-27"}]
    environments:
      production: {service: p}
      staging:
        service: s
        freezes: [{name: staging's own, start: "2027-01-01", end: "2027-01-02"}]
"""


def test_the_catalog_decides_which_windows_cover_which_environment() -> None:
    catalog = parse_catalog(CATALOG, "catalog.yml")
    production, staging = catalog.get("web1", "production"), catalog.get("web1", "staging")
    assert production is not None and staging is not None
    assert [w.name for w in production.freezes] == ["app", "everywhere", "prod only"]
    assert [w.name for w in staging.freezes] == ["staging's own", "everywhere"]  # its own replace the app's


def test_environments_belong_to_the_top_level_freezes_only() -> None:
    text = CATALOG.replace(
        'freezes: [{name: app, start: "2026-12-24", end: "2026-12-27"}]',
        ('freezes: [{name: app, start: "2026-12-24", end: "2026-12-27", environments: [staging]}]'),
    )
    with pytest.raises(ConfigError, match="top-level freezes only"):
        parse_catalog(text, "catalog.yml")


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d12h", timedelta(hours=36)),
        ("2H", timedelta(hours=2)),
    ],
)
def test_an_ad_hoc_freeze_length(text: str, length: timedelta) -> None:
    assert span(text) == length


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2", "not a duration"),
        ("h2", "not a duration"),
        ("0m", "a minute to"),
        ("31d", "a minute to"),
        ("2h reason", "not a duration"),
    ],
)
def test_a_bad_freeze_length(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        span(text)


def test_a_freeze_line_says_how_long_is_left() -> None:
    now = at("2026-12-11T16:00:00+00:00")
    assert line(Freeze("", now + timedelta(hours=63), "U0BOB", "sale"), now).startswith(
        "frozen by <@U0BOB> until 2026-12-14 07:00 UTC (in 2d 15h): sale"
    )
    weekend = in_force((WEEKEND,), now)
    assert weekend is not None
    assert line(weekend, now) == (
        "frozen until 2026-12-14 07:00 UTC (in 2d 15h) by the catalog's freeze weekend "
        "(every fri 16:00 to mon 08:00, Europe/Berlin)"
    )
    assert "(in 1h 30m)" in line(Freeze("", now + timedelta(minutes=90), "U0BOB"), now)
