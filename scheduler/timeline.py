"""When each post goes out: a campaign and a time window in, due instants out. Pure: no clock, no I/O.

Recurrences are expanded on the wall clock of the campaign timezone, one local day at a time,
so daylight-saving changes never skip or double a day: a time skipped by spring-forward moves to
the first valid instant, and a time repeated by fall-back fires once (see models.localize).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from scheduler.models import Campaign, Delivery, Post, Recurrence, localize


@dataclass(frozen=True, order=True)
class Occurrence:
    """One due instant (UTC) of one post."""

    due: datetime
    post_id: str


def recurrence_instants(rule: Recurrence, zone: tzinfo, start: datetime, end: datetime) -> Iterator[datetime]:
    """The instants of `rule` in [start, end), in order, as UTC."""
    day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date()
    clock = [timedelta(hours=t.hour, minutes=t.minute) for t in rule.clock]
    previous: datetime | None = None
    while day <= last_day:
        if rule.matches_day(day):
            for instant in _day_instants(day, rule, clock, zone):
                if start <= instant < end and instant != previous:
                    previous = instant
                    yield instant
        day += timedelta(days=1)


def _day_instants(day: date, rule: Recurrence, clock: list[timedelta], zone: tzinfo) -> list[datetime]:
    """The rule's times on one local day, as UTC. A day without a clock change (almost all of
    them) has one offset: plain arithmetic. A day with one localizes each time."""
    midnight = localize(datetime.combine(day, time()), zone)
    next_midnight = localize(datetime.combine(day + timedelta(days=1), time()), zone)
    offset = midnight.utcoffset()
    if offset == next_midnight.utcoffset() and offset is not None:
        base = datetime.combine(day, time(), tzinfo=UTC) - offset
        return [base + step for step in clock]
    return [localize(datetime.combine(day, t), zone).astimezone(UTC) for t in rule.clock]


def slot_instants(campaign: Campaign, start: datetime, end: datetime) -> list[datetime]:
    """Every queue slot in [start, end), merged across the queue's schedules."""
    if campaign.queue is None:
        return []
    zone = campaign.timezone
    if campaign.queue.starts is not None:
        first = localize(datetime.combine(campaign.queue.starts, datetime.min.time()), zone)
        start = max(start, first)
    instants: set[datetime] = set()
    for rule in campaign.queue.slots:
        instants.update(recurrence_instants(rule, zone, start, end))
    return sorted(instants)


def assign_slots(
    campaign: Campaign,
    now: datetime,
    held: Mapping[str, datetime] | None = None,
    horizon: timedelta = timedelta(days=366),
    taken: Iterable[datetime] = (),
) -> dict[str, datetime]:
    """Queue slot of each queued post: posts in `held` keep theirs, the rest fill free slots from `now`.

    `held` comes from the ledger (a slot once used is never moved), and so does `taken` (slots used
    by posts no longer in the queue); a post whose `until` passes before a free slot is found gets none.
    """
    held = dict(held or {})
    queued = [post for post in campaign.posts if post.queued and post.id not in held]
    taken = set(held.values()) | set(taken)
    free = (s for s in slot_instants(campaign, now, now + horizon) if s not in taken)
    assigned = dict(held)
    pending = iter(queued)
    post = next(pending, None)
    for slot in free:
        while post is not None and post.until is not None and post.until < slot:
            post = next(pending, None)
        if post is None:
            break
        assigned[post.id] = slot
        post = next(pending, None)
    return assigned


def post_instants(
    campaign: Campaign, post: Post, start: datetime, end: datetime, slots: Mapping[str, datetime]
) -> Iterator[datetime]:
    """The due instants of one post in [start, end)."""
    if post.at is not None:
        if start <= post.at < end:
            yield post.at.astimezone(UTC)
    elif post.every is not None:
        first = max(start, post.starts) if post.starts is not None else start
        last = min(end, post.until + timedelta(microseconds=1)) if post.until is not None else end
        yield from recurrence_instants(post.every, campaign.timezone, first, last)
    elif post.id in slots and start <= slots[post.id] < end:
        yield slots[post.id]


def occurrences(
    campaign: Campaign, start: datetime, end: datetime, slots: Mapping[str, datetime] | None = None
) -> list[Occurrence]:
    """Every post occurrence due in [start, end), in order of time, then of post id."""
    slots = slots if slots is not None else assign_slots(campaign, start)
    return sorted(
        Occurrence(instant, post.id)
        for post in campaign.posts
        for instant in post_instants(campaign, post, start, end, slots)
    )


def deliveries(campaign: Campaign, found: Iterable[Occurrence]) -> list[Delivery]:
    """Each occurrence fanned out to the post's accounts, in each language the account posts."""
    posts = {post.id: post for post in campaign.posts}
    result = []
    for occurrence in found:
        post = posts[occurrence.post_id]
        for account_id in campaign.accounts_of(post):
            for language in campaign.accounts[account_id].languages:
                if language in post.text:
                    result.append(Delivery(occurrence.due, post.id, account_id, language))
    return result
