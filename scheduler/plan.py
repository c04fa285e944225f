"""The plan: which deliveries go out when, and what became of each.

One computation for the daemon and for everything a person reads (`status`, the daemon's banner,
`validate -v`, the preview), so what they show is what runs.

- Queue slots are filled from the daemon's last step (or from now, on a new ledger), and a slot a
  post once took in the ledger stays its own: every reader assigns the same slots as the daemon.
- A delivery's fate is its ledger row. A post that goes out once (`at` or a queue slot) and
  already went out to that account in that language went out, whatever time the file gives it
  now. A once-only post whose text and card already went out there under another id is held for a
  person (`post ID --force`), so renaming a post never posts it again. Recurring posts repeat by
  design, but an occurrence that went out under the post's old id is not sent again.
- Queue slots a post took stay taken when it leaves the file, so no newcomer gets a past slot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from scheduler import text, timeline
from scheduler.models import Campaign, Delivery, Post

if TYPE_CHECKING:  # `validate` and `preview` plan without a database driver when there is no ledger
    from scheduler.ledger import Ledger, Record

# Ledger states, as the ledger names them (see scheduler.ledger).
UPCOMING = "upcoming"  # not in the ledger yet: it will go out at its time
PENDING, CLAIMED, PUBLISHED, UNCONFIRMED, HELD = "pending", "claimed", "published", "unconfirmed", "held"
OUT = (PUBLISHED, UNCONFIRMED, CLAIMED)
LAST_STEP_SETTING = "last_step_at"
MIN_SPAN = timedelta(weeks=8)  # open-ended recurring posts are shown at least this far ahead


@dataclass(frozen=True)
class Planned:
    """One delivery of the plan and what became of it."""

    delivery: Delivery
    state: str  # UPCOMING, or the ledger state that decides it
    record: Record | None = None  # that ledger row: this delivery's own, or an earlier one it repeats
    note: str | None = None

    @property
    def goes_out(self) -> bool:
        """Still to be sent (now or at its time)."""
        return self.state in (UPCOMING, PENDING)


class Snapshot:
    """The ledger's rows, read once and indexed for planning."""

    def __init__(self, records: Iterable[Record] = (), last_step: datetime | None = None) -> None:
        self.last_step = last_step
        self.by_key: dict[str, Record] = {}
        self.out_by_post: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
        self.out_by_content: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
        self.first_due: dict[str, datetime] = {}
        for record in records:
            d = record.delivery
            self.by_key[d.key] = record
            if d.post_id not in self.first_due or d.due < self.first_due[d.post_id]:
                self.first_due[d.post_id] = d.due
            if record.state in OUT:
                self.out_by_post[(d.post_id, d.account, d.language)].append(record)
                if record.fingerprint:
                    self.out_by_content[(d.account, d.language, record.fingerprint)].append(record)

    @classmethod
    def read(cls, ledger: Ledger) -> Snapshot:
        from scheduler.ledger import parse_stamp

        last = ledger.setting(LAST_STEP_SETTING)
        return cls(ledger.records(newest_first=False), parse_stamp(last) if last else None)

    def went_out(self) -> frozenset[str]:
        """The posts that went out (or may have) at least once, or were held as a repeat: their past
        times are no news."""
        return frozenset(post_id for post_id, _, _ in self.out_by_post) | frozenset(self.held_notes())

    def held_notes(self) -> dict[str, str]:
        """Why each post held in the ledger is held."""
        return {r.delivery.post_id: r.error or "held" for r in self.by_key.values() if r.state == HELD}


def queue_slots(campaign: Campaign, snapshot: Snapshot, now: datetime) -> dict[str, datetime]:
    """The queue slot of each queued post, as the daemon assigns it.

    Free slots are filled from the daemon's last step, so that the slot it is waking for is still
    there a moment later; never from further back than the longest max_late (after a long downtime
    the queue moves on instead of expiring), nor from a rehearsal's future.
    """
    queued = {post.id for post in campaign.posts if post.queued}
    held = {post_id: due for post_id, due in snapshot.first_due.items() if post_id in queued}
    known = {post.id for post in campaign.posts}
    gone = [due for post_id, due in snapshot.first_due.items() if post_id not in known]
    anchor = now.replace(microsecond=0)  # a slot at this very second is still ahead (as the step sees it)
    if snapshot.last_step is not None and snapshot.last_step < now:
        longest = max([campaign.max_late_of(p) for p in campaign.posts] + [campaign.defaults.max_late])
        # The last step saw everything due up to it (its time is kept to the second, below it).
        anchor = max(snapshot.last_step + timedelta(seconds=1), now - longest)
    return timeline.assign_slots(campaign, min(anchor, now.replace(microsecond=0)), held, taken=gone)


def deliveries(
    campaign: Campaign, snapshot: Snapshot, start: datetime, end: datetime, now: datetime, *, enabled: bool = True
) -> list[Planned]:
    """Every delivery due in [start, end) with its fate; to enabled accounts only unless told otherwise."""
    found = timeline.occurrences(campaign, start, end, queue_slots(campaign, snapshot, now))
    posts = {post.id: post for post in campaign.posts}
    return [
        resolve(posts[d.post_id], snapshot, d)
        for d in timeline.deliveries(campaign, found)
        if campaign.accounts[d.account].enabled or not enabled
    ]


def resolve(post: Post, snapshot: Snapshot, delivery: Delivery) -> Planned:
    own = snapshot.by_key.get(delivery.key)
    if own is not None and own.state != HELD:
        return Planned(delivery, own.state, own, own.error)
    if post.every is not None and snapshot.out_by_content:  # a renamed recurring post: this occurrence went out
        fingerprint = text.fingerprint(post, delivery.language)
        for earlier in snapshot.out_by_content.get((delivery.account, delivery.language, fingerprint), ()):
            same_instant = earlier.delivery.due.replace(microsecond=0) == delivery.due.replace(microsecond=0)
            if same_instant and earlier.delivery.post_id != post.id:
                return Planned(delivery, earlier.state, earlier, f"went out as '{earlier.delivery.post_id}'")
    if post.every is None:
        for earlier in snapshot.out_by_post.get((post.id, delivery.account, delivery.language), ()):
            if earlier.delivery.key != delivery.key:
                when = f"{earlier.updated_at:%Y-%m-%d %H:%M} UTC"
                return Planned(delivery, earlier.state, earlier, f"went out {when}; its time moved since")
        fingerprint = text.fingerprint(post, delivery.language)
        for earlier in snapshot.out_by_content.get((delivery.account, delivery.language, fingerprint), ()):
            if earlier.delivery.post_id != post.id:
                return Planned(delivery, HELD, own or earlier, _held_note(post, earlier))
    if own is not None:  # held before, but its text or card changed since: it goes out
        return Planned(delivery, PENDING, own, "released: its text or card changed")
    return Planned(delivery, UPCOMING)


def _held_note(post: Post, earlier: Record) -> str:
    d = earlier.delivery
    return (
        f"held: the same text and card went out as '{d.post_id}' to {d.account} ({d.language}) on "
        f"{earlier.updated_at:%Y-%m-%d %H:%M} UTC; to post it again, run: run.py post {post.id} --force"
    )


def span(campaign: Campaign, snapshot: Snapshot, now: datetime) -> tuple[datetime, datetime, list[str]]:
    """From the campaign's first time (or now) through its last `at`, `until` or queue slot; open-ended
    recurring posts at least MIN_SPAN ahead. Also says which posts never end."""
    slots = queue_slots(campaign, snapshot, now)
    firsts = [now, *snapshot.first_due.values(), *slots.values()]
    lasts = [now, *slots.values()]
    endless = []
    for post in campaign.posts:
        if post.at is not None:
            firsts.append(post.at)
            lasts.append(post.at)
        elif post.every is not None:
            if post.starts is not None:
                firsts.append(post.starts)
            if post.until is not None:
                lasts.append(post.until)
            else:
                endless.append(post.id)
    end = max(lasts) + timedelta(seconds=1)
    if endless:
        end = max(end, now + MIN_SPAN)
    return min(firsts), end, endless


def upcoming(campaign: Campaign, snapshot: Snapshot, now: datetime, count: int) -> list[Planned]:
    """The next `count` deliveries that will go out, from now."""
    for days in (7, 60, 366):
        planned = deliveries(campaign, snapshot, now, now + timedelta(days=days), now)
        coming = [p for p in planned if p.goes_out]
        if len(coming) >= count or days == 366:
            return coming[:count]
    return []


def held(campaign: Campaign, snapshot: Snapshot, now: datetime) -> list[Planned]:
    """The coming deliveries of once-only posts that repeat something already published."""
    if not snapshot.out_by_content:
        return []
    return [p for p in deliveries(campaign, snapshot, now, now + timedelta(days=366), now) if p.state == HELD]
