"""Scalar types of the content model: times in the campaign timezone, recurrences, durations."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from scheduler.models import Post, Recurrence, localize, parse_duration

NEW_YORK = ZoneInfo("America/New_York")
PORT_AU_PRINCE = ZoneInfo("America/Port-au-Prince")


@pytest.mark.parametrize(
    ("zone", "wall", "expected_utc"),
    [
        (NEW_YORK, datetime(2026, 12, 1, 9, 0), datetime(2026, 12, 1, 14, 0, tzinfo=UTC)),
        (NEW_YORK, datetime(2026, 7, 1, 9, 0), datetime(2026, 7, 1, 13, 0, tzinfo=UTC)),
        # Spring forward, 8 March 2026: 02:00-03:00 does not exist; it moves to 03:00 EDT.
        (NEW_YORK, datetime(2026, 3, 8, 2, 30), datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        (PORT_AU_PRINCE, datetime(2026, 3, 8, 2, 0), datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        # Fall back, 1 November 2026: 01:30 happens twice; the first (EDT) is used.
        (NEW_YORK, datetime(2026, 11, 1, 1, 30), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        (PORT_AU_PRINCE, datetime(2026, 11, 1, 1, 59), datetime(2026, 11, 1, 5, 59, tzinfo=UTC)),
    ],
)
def test_localize(zone: ZoneInfo, wall: datetime, expected_utc: datetime) -> None:
    assert localize(wall, zone).astimezone(UTC) == expected_utc


def test_time_without_offset_is_read_in_campaign_timezone() -> None:
    post = Post.model_validate(
        {"id": "p", "text": {"en": "x"}, "at": "2026-12-01 09:00"}, context={"timezone": NEW_YORK}
    )
    assert post.at == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    explicit = Post.model_validate(
        {"id": "p", "text": {"en": "x"}, "at": "2026-12-01T09:00+01:00"}, context={"timezone": NEW_YORK}
    )
    assert explicit.at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_date_without_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="has no time of day; write it as 2026-12-01 09:00"):
        Post.model_validate({"id": "p", "text": {"en": "x"}, "at": "2026-12-01"})


@pytest.mark.parametrize(
    ("text", "clock", "weekdays"),
    [
        ("mon,wed,fri 09:00", (time(9),), {0, 2, 4}),
        ("mon, wed 09:00", (time(9),), {0, 2}),
        ("daily 09:00 18:30", (time(9), time(18, 30)), None),
        ("09:00,13:15", (time(9), time(13, 15)), None),
        ("weekdays 12:30", (time(12, 30),), {0, 1, 2, 3, 4}),
        ("weekends 10:00", (time(10),), {5, 6}),
        ("mon-fri 08:00", (time(8),), {0, 1, 2, 3, 4}),
        ("fri-mon 08:00", (time(8),), {4, 5, 6, 0}),
        ("Tuesday 07:05", (time(7, 5),), {1}),
        ("0 9 * * mon,wed", (time(9),), {0, 2}),
        ("30 8,17 * * 1-5", (time(8, 30), time(17, 30)), {0, 1, 2, 3, 4}),
        ("0 12 * * 0", (time(12),), {6}),
        ("0 12 * * 7", (time(12),), {6}),
        ("*/30 9 * * *", (time(9), time(9, 30)), None),
    ],
)
def test_recurrence_parsing(text: str, clock: tuple[time, ...], weekdays: set[int] | None) -> None:
    rule = Recurrence.parse(text)
    assert rule.clock == clock
    assert rule.weekdays == (frozenset(weekdays) if weekdays is not None else None)


def test_cron_day_of_month_and_week_match_either() -> None:
    rule = Recurrence.parse("0 9 1 * mon")
    assert rule.matches_day(date(2026, 12, 1))  # the 1st, a Tuesday
    assert rule.matches_day(date(2026, 12, 7))  # a Monday
    assert not rule.matches_day(date(2026, 12, 8))
    assert Recurrence.parse("0 9 1 jan *").matches_day(date(2027, 1, 1))
    assert not Recurrence.parse("0 9 1 jan *").matches_day(date(2027, 2, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mondays at nine", "is not a schedule"),
        ("0 24 * * *", "'24' is not a valid hour (0-23)"),
        ("61 * * * *", "'61' is not a valid minute (0-59)"),
        ("0 9 * * funday", "'funday' is not a valid day of week"),
        ("mon 25:00", "'25:00' is not a time of day"),
        ("mon-xyz 09:00", "'mon-xyz' in 'mon-xyz 09:00' is not a day"),
        ("5-1 9 * * *", "'5-1' is an empty range for the minute"),
    ],
)
def test_recurrence_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Recurrence.parse(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(minutes=90)),
        ("1d", timedelta(days=1)),
        ("45s", timedelta(seconds=45)),
        (90, timedelta(minutes=90)),
        (0, timedelta(0)),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "soon", "1y", "-5m", True, -1, 1.5])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match=r"duration|negative"):
        parse_duration(bad)
