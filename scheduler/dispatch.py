"""What is due now, and seeing it out: the daemon's one step, also run alone by `daemon --once`.

A step looks back over the longest max_late of the campaign: every delivery due in that window
gets its ledger row; one past its own max_late is expired (visibly), the rest are delivered in
order of due time, unless the campaign is paused. Deliveries left claimed by a process that died
are resumed through the same path (publish.Publisher decides when a claim is stale). The step
returns when it should run next: the next due instant or retry, whichever comes first.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scheduler import timeline
from scheduler.ledger import CLAIMED, EXPIRED, FAILED, PENDING, PUBLISHED, UNCONFIRMED, Ledger, parse_stamp, stamp
from scheduler.models import Campaign, Delivery
from scheduler.publish import Outcome, Publisher

log = logging.getLogger(__name__)

PAUSE_SETTING = "paused_until"
FOREVER = "forever"
IDLE_WAKE = timedelta(minutes=5)
ALERT_AFTER = timedelta(minutes=10)  # a delivery this late and not published is an error worth a person


@dataclass
class Step:
    outcomes: list[Outcome] = field(default_factory=list)
    expired: list[Delivery] = field(default_factory=list)
    late: list[Delivery] = field(default_factory=list)
    paused: bool = False
    next_wake: datetime | None = None


LAST_STEP_SETTING = "last_step_at"
FIRST_LOOK_BACK = timedelta(days=7)  # on a new ledger, how far back missed deliveries are recorded
LONGEST_LOOK_BACK = timedelta(days=30)


def due_window(campaign: Campaign, ledger: Ledger, now: datetime) -> tuple[datetime, datetime]:
    """Everything that may still go out (within the longest max_late), and everything that fell due
    since the last step (which a downtime may have missed, to be expired visibly), up to now."""
    longest = max([campaign.max_late_of(p) for p in campaign.posts] + [campaign.defaults.max_late])
    last = ledger.setting(LAST_STEP_SETTING)
    since = parse_stamp(last) if last else now - FIRST_LOOK_BACK
    start = max(min(now - longest, since), now - LONGEST_LOOK_BACK)
    return start - timedelta(minutes=1), now + timedelta(seconds=1)


def enabled_deliveries(campaign: Campaign, found: list[timeline.Occurrence]) -> list[Delivery]:
    return [d for d in timeline.deliveries(campaign, found) if campaign.accounts[d.account].enabled]


def paused(campaign: Campaign, ledger: Ledger, now: datetime) -> bool:
    """The kill switch: `paused: true` in posts.yaml, or `pause` (until a time, or until `resume`)."""
    if campaign.paused:
        return True
    until = ledger.setting(PAUSE_SETTING)
    return until is not None and (until == FOREVER or until > stamp(now))


def step(publisher: Publisher, now: datetime, stop: threading.Event | None = None) -> Step:
    """Expire, deliver, and say when to wake next."""
    campaign, ledger = publisher.campaign, publisher.ledger
    result = Step(paused=paused(campaign, ledger, now))
    start, end = due_window(campaign, ledger, now)
    held = ledger.held_slots([p.id for p in campaign.posts if p.queued])
    slots = timeline.assign_slots(campaign, start, held)
    due = enabled_deliveries(campaign, timeline.occurrences(campaign, start, end, slots))
    _forget_removed_posts(campaign, ledger, now)
    for delivery in sorted(due):
        if stop is not None and stop.is_set():
            break
        record = ledger.ensure(delivery, now)
        if record.state in (PUBLISHED, FAILED, UNCONFIRMED, EXPIRED):
            continue
        if record.state == PENDING and now > publisher.deadline(delivery):
            late_by = _duration(now - delivery.due)
            if ledger.expire(delivery, f"not delivered in time: due {late_by} ago, beyond its max_late", now):
                log.error(
                    "delivery %s %s %s: expired (due %s ago)",
                    delivery.post_id,
                    delivery.account,
                    delivery.language,
                    late_by,
                )
                result.expired.append(delivery)
            continue
        if now - delivery.due > ALERT_AFTER:
            result.late.append(delivery)
            log.error(
                "delivery %s %s %s is %s late and still %s",
                delivery.post_id,
                delivery.account,
                delivery.language,
                _duration(now - delivery.due),
                record.state,
            )
        if result.paused:
            continue
        if record.state in (PENDING, CLAIMED):
            result.outcomes.append(publisher.deliver(delivery))
    if stop is None or not stop.is_set():
        ledger.set_setting(LAST_STEP_SETTING, stamp(now))
    result.next_wake = next_wake(publisher, now)
    return result


def next_wake(publisher: Publisher, now: datetime) -> datetime:
    """The next due instant, or the next retry, or an idle check-in."""
    campaign, ledger = publisher.campaign, publisher.ledger
    candidates = [now + IDLE_WAKE]
    held = ledger.held_slots([p.id for p in campaign.posts if p.queued])
    horizon = now + IDLE_WAKE
    upcoming = enabled_deliveries(
        campaign,
        timeline.occurrences(campaign, now + timedelta(seconds=1), horizon, timeline.assign_slots(campaign, now, held)),
    )
    candidates += [d.due for d in upcoming]
    for record in ledger.records(states=(PENDING, CLAIMED), newest_first=False):
        if record.retry_at is not None:
            candidates.append(record.retry_at)
        elif record.state == CLAIMED and record.lease_until is not None:
            # A claim left by a dead process is taken over once its last request had time to land.
            settled = record.updated_at + timedelta(seconds=publisher.timeout + 2)
            candidates.append(min(record.lease_until, settled))
    return max(min(candidates), now + timedelta(milliseconds=100))


def upcoming(campaign: Campaign, ledger: Ledger, now: datetime, count: int) -> list[Delivery]:
    """The next `count` deliveries to enabled accounts (for the start-up banner and `status`)."""
    held = ledger.held_slots([p.id for p in campaign.posts if p.queued])
    slots = timeline.assign_slots(campaign, now, held)
    for days in (7, 60, 366):
        found = enabled_deliveries(campaign, timeline.occurrences(campaign, now, now + timedelta(days=days), slots))
        if len(found) >= count or days == 366:
            return found[:count]
    return []


def _forget_removed_posts(campaign: Campaign, ledger: Ledger, now: datetime) -> None:
    """A post removed from posts.yaml will not go out: its waiting deliveries are expired, visibly."""
    known = {post.id for post in campaign.posts}
    for record in ledger.records(states=(PENDING,), newest_first=False):
        if record.delivery.post_id not in known:
            ledger.expire(record.delivery, "its post was removed from posts.yaml", now)


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


@dataclass
class Webhook:
    """Tells a person (chat, pager) about deliveries that need one: failed, unconfirmed, expired."""

    url: str | None
    timeout: float = 10.0
    sender: Callable[[str, bytes, float], None] | None = None

    def notify(self, step_result: Step) -> None:
        if not self.url:
            return
        events = [
            _event(o.delivery, o.state, o.error)
            for o in step_result.outcomes
            if o.acted and o.state in (FAILED, UNCONFIRMED)
        ]
        events += [_event(d, EXPIRED, "not delivered in time") for d in step_result.expired]
        for event in events:
            body = json.dumps(event).encode()
            try:
                (self.sender or _post)(self.url, body, self.timeout)
            except OSError as exc:
                log.warning("the webhook did not answer (%s); the event is in the log and in `status`", exc)


def _event(delivery: Delivery, state: str, error: str | None) -> dict[str, str | None]:
    return {
        "post": delivery.post_id,
        "account": delivery.account,
        "language": delivery.language,
        "due": stamp(delivery.due),
        "state": state,
        "error": error,
        "text": f"{delivery.post_id} to {delivery.account} ({delivery.language}): {state}"
        + (f": {error}" if error else ""),
    }


def _post(url: str, body: bytes, timeout: float) -> None:
    if not url.startswith(("https://", "http://")):
        raise OSError(f"the webhook URL must start with https:// (got {url.split(':', 1)[0]}:)")
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - checked above
    with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 - checked above
        pass
