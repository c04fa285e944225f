"""Due instants: one-off, recurring across both DST changes, until, and queue slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.models import Campaign
from scheduler.timeline import assign_slots, deliveries, occurrences

START = datetime(2026, 11, 28, tzinfo=UTC)


def campaign(posts: list[dict[str, Any]], zone: str = "America/New_York", **extra: Any) -> Campaign:
    from zoneinfo import ZoneInfo

    return Campaign.model_validate(
        {
            "timezone": zone,
            "languages": ["en", "es"],
            "accounts": {
                "x-en": {"platform": "x", "languages": ["en"]},
                "outbox": {"platform": "outbox", "languages": ["en", "es"]},
            },
            "posts": posts,
            **extra,
        },
        context={"timezone": ZoneInfo(zone)},
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_weekly_post_keeps_local_time_across_spring_forward_and_fall_back() -> None:
    c = campaign(
        [
            {
                "id": "p",
                "text": {"en": "x", "es": "y"},
                "every": "sun 09:00",
                "starts": "2027-02-28 00:00",
                "until": "2027-03-21 23:00",
            }
        ]
    )
    found = [o.due for o in occurrences(c, START, START + timedelta(days=400))]
    # 14 March 2027: EST (-5) becomes EDT (-4).
    assert found == [utc(2027, 2, 28, 14), utc(2027, 3, 7, 14), utc(2027, 3, 14, 13), utc(2027, 3, 21, 13)]
    c = campaign(
        [
            {
                "id": "p",
                "text": {"en": "x", "es": "y"},
                "every": "sun 09:00",
                "starts": "2027-10-24 00:00",
                "until": "2027-11-14 23:00",
            }
        ],
        zone="America/Port-au-Prince",
    )
    found = [o.due for o in occurrences(c, START, START + timedelta(days=400))]
    # 7 November 2027: EDT (-4) becomes EST (-5).
    assert found == [utc(2027, 10, 24, 13), utc(2027, 10, 31, 13), utc(2027, 11, 7, 14), utc(2027, 11, 14, 14)]


def test_daily_times_in_the_gap_and_the_overlap_fire_once() -> None:
    c = campaign(
        [
            {
                "id": "p",
                "text": {"en": "x", "es": "y"},
                "every": "daily 01:30 02:30",
                "starts": "2027-03-13 00:00",
                "until": "2027-03-15 00:00",
            }
        ]
    )
    found = [o.due for o in occurrences(c, START, START + timedelta(days=400))]
    assert found == [
        utc(2027, 3, 13, 6, 30),
        utc(2027, 3, 13, 7, 30),  # EST
        utc(2027, 3, 14, 6, 30),
        utc(2027, 3, 14, 7, 0),  # 02:30 does not exist: 03:00 EDT
    ]
    c = campaign(
        [
            {
                "id": "p",
                "text": {"en": "x", "es": "y"},
                "every": "daily 01:30",
                "starts": "2027-11-06 00:00",
                "until": "2027-11-08 00:00",
            }
        ]
    )
    found = [o.due for o in occurrences(c, START, START + timedelta(days=400))]
    assert found == [utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30)]  # once, at the first 01:30


def test_queue_fills_free_slots_in_file_order_and_held_slots_stay() -> None:
    posts = [
        {"id": "a", "text": {"en": "a", "es": "a"}},
        {"id": "b", "text": {"en": "b", "es": "b"}},
        {"id": "fixed", "text": {"en": "f", "es": "f"}, "at": "2026-12-01 10:00"},
        {"id": "c", "text": {"en": "c", "es": "c"}},
    ]
    c = campaign(posts, queue={"slots": ["tue,thu 10:00"], "starts": "2026-12-01"})
    assert assign_slots(c, START) == {"a": utc(2026, 12, 1, 15), "b": utc(2026, 12, 3, 15), "c": utc(2026, 12, 8, 15)}
    # "b" went out on 1 December (held by the ledger): "a" and "c" take the next free slots.
    assert assign_slots(c, START, held={"b": utc(2026, 12, 1, 15)}) == {
        "b": utc(2026, 12, 1, 15),
        "a": utc(2026, 12, 3, 15),
        "c": utc(2026, 12, 8, 15),
    }


def test_deliveries_fan_out_per_account_and_language() -> None:
    c = campaign([{"id": "p", "text": {"en": "x", "es": "y"}, "at": "2026-12-01 09:00"}])
    found = deliveries(c, occurrences(c, START, START + timedelta(days=30)))
    assert [(d.account, d.language) for d in found] == [("x-en", "en"), ("outbox", "en"), ("outbox", "es")]
    assert {d.due for d in found} == {utc(2026, 12, 1, 14)}


def test_queue_slots_across_spring_forward_in_port_au_prince() -> None:
    posts = [{"id": f"q{i}", "text": {"en": "x", "es": "y"}} for i in range(4)]
    c = campaign(posts, zone="America/Port-au-Prince", queue={"slots": ["sat,sun 02:30", "mon 09:00"]})
    # Sunday 14 March 2027, 02:30 does not exist in Port-au-Prince: that slot is 03:00 EDT.
    assert assign_slots(c, utc(2027, 3, 13)) == {
        "q0": utc(2027, 3, 13, 7, 30),  # Sat 02:30 EST
        "q1": utc(2027, 3, 14, 7, 0),  # Sun 03:00 EDT, the first valid instant
        "q2": utc(2027, 3, 15, 13, 0),  # Mon 09:00 EDT
        "q3": utc(2027, 3, 20, 6, 30),  # Sat 02:30 EDT
    }


def test_one_off_at_both_changes_and_until_is_inclusive() -> None:
    c = campaign(
        [
            {"id": "gap", "text": {"en": "x", "es": "y"}, "at": "2027-03-14 02:15"},
            {"id": "overlap", "text": {"en": "x", "es": "y"}, "at": "2027-11-07 01:15"},
            {
                "id": "weekly",
                "text": {"en": "x", "es": "y"},
                "every": "0 1 * * sun",
                "starts": "2027-10-30 00:00",
                "until": "2027-11-14 01:00",
            },
        ]
    )
    found = [(o.post_id, o.due) for o in occurrences(c, START, START + timedelta(days=400))]
    assert found == [
        ("gap", utc(2027, 3, 14, 7, 0)),  # 02:15 does not exist: 03:00 EDT
        ("weekly", utc(2027, 10, 31, 5, 0)),  # 01:00 EDT
        ("weekly", utc(2027, 11, 7, 5, 0)),  # 01:00 happens twice: once, the first (EDT)
        ("overlap", utc(2027, 11, 7, 5, 15)),  # 01:15 happens twice: the first, EDT
        ("weekly", utc(2027, 11, 14, 6, 0)),  # 01:00 EST: until is inclusive
    ]
