"""What is due now, and seeing it out: the daemon's one step, also run alone by `daemon --once`.

A step looks back over the longest max_late of the campaign: every delivery of the plan due in
that window (and none due later: never early) gets its ledger row; one past its own max_late is
expired (visibly), one repeating what already went out is held, the rest are delivered in order of
due time, each account's in turn and the accounts side by side, unless the campaign is paused
(read again before each delivery). Deliveries left claimed by a process that died
are resumed through the same path (publish.Publisher decides when a claim is stale). The step
returns when it should run next: the next due instant or retry, whichever comes first.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scheduler import plan
from scheduler.ledger import CLAIMED, EXPIRED, FAILED, HELD, PENDING, REMOVED, UNCONFIRMED, Ledger, stamp
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
    held: list[plan.Planned] = field(default_factory=list)
    late: list[Delivery] = field(default_factory=list)
    paused: bool = False
    next_wake: datetime | None = None

    @property
    def troubled(self) -> bool:
        """Something a person must look at: a delivery failed, unconfirmed, expired, held or waiting to retry."""
        return bool(self.expired or self.held or self.late) or any(
            o.state in (FAILED, UNCONFIRMED) or (o.state in (PENDING, CLAIMED) and o.retry_at is not None)
            for o in self.outcomes
        )


FIRST_LOOK_BACK = timedelta(days=7)  # on a new ledger, how far back missed deliveries are recorded
LONGEST_LOOK_BACK = timedelta(days=30)
MAX_PARALLEL_ACCOUNTS = 8


def window_start(campaign: Campaign, snapshot: plan.Snapshot, now: datetime) -> datetime:
    """Everything that may still go out (within the longest max_late), and everything that fell due
    since the last step (which a downtime may have missed, to be expired visibly)."""
    longest = max([campaign.max_late_of(p) for p in campaign.posts] + [campaign.defaults.max_late])
    since = snapshot.last_step if snapshot.last_step is not None else now - FIRST_LOOK_BACK
    return max(min(now - longest, since), now - LONGEST_LOOK_BACK) - timedelta(minutes=1)


def paused(campaign: Campaign, ledger: Ledger, now: datetime) -> bool:
    """The kill switch: `paused: true` in posts.yaml, or `pause` (until a time, or until `resume`)."""
    if campaign.paused:
        return True
    until = ledger.setting(PAUSE_SETTING)
    return until is not None and (until == FOREVER or until > stamp(now))


def step(publisher: Publisher, now: datetime, stop: threading.Event | None = None) -> Step:
    """Expire, hold, deliver, and say when to wake next. Nothing due after `now` is sent."""
    campaign, ledger = publisher.campaign, publisher.ledger
    result = Step(paused=paused(campaign, ledger, now))
    snapshot = plan.Snapshot.read(ledger)
    start = window_start(campaign, snapshot, now)
    due = plan.deliveries(campaign, snapshot, start, now + timedelta(microseconds=1), now)
    _forget_removed_posts(campaign, ledger, now)
    sending: list[Delivery] = []
    for item in due:
        delivery = item.delivery
        if item.state == plan.HELD:
            ledger.ensure(delivery, now)
            if ledger.expire(delivery, item.note or "held", now, state=HELD):
                log.warning("delivery %s %s %s: %s", delivery.post_id, delivery.account, delivery.language, item.note)
                result.held.append(item)
            continue
        if item.record is not None and item.record.delivery.key != delivery.key:
            continue  # it went out at its earlier time
        if item.record is not None and item.record.state == HELD:
            ledger.reopen(delivery, now)  # its text or card changed since it was held
        record = ledger.ensure(delivery, now)
        if record.state not in (PENDING, CLAIMED):
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
        if not result.paused:
            sending.append(delivery)
    result.outcomes = _send(publisher, sending, stop, result)
    if stop is None or not stop.is_set():
        ledger.set_setting(plan.LAST_STEP_SETTING, stamp(now))
    result.next_wake = next_wake(publisher, now)
    return result


def _send(publisher: Publisher, sending: list[Delivery], stop: threading.Event | None, result: Step) -> list[Outcome]:
    """Each account's deliveries in order, accounts side by side; the kill switch is read before each."""
    by_account: dict[str, list[Delivery]] = {}
    for delivery in sending:
        by_account.setdefault(delivery.account, []).append(delivery)

    def send_in_order(queue: list[Delivery]) -> list[Outcome]:
        done = []
        for delivery in queue:
            if (stop is not None and stop.is_set()) or result.paused:
                break
            if paused(publisher.campaign, publisher.ledger, publisher.clock()):
                result.paused = True
                log.warning("paused: the deliveries not yet sent wait for `resume`")
                break
            done.append(publisher.deliver(delivery))
        return done

    if len(by_account) <= 1:
        return [outcome for queue in by_account.values() for outcome in send_in_order(queue)]
    with ThreadPoolExecutor(max_workers=min(len(by_account), MAX_PARALLEL_ACCOUNTS)) as pool:
        return [outcome for done in pool.map(send_in_order, by_account.values()) for outcome in done]


def next_wake(publisher: Publisher, now: datetime) -> datetime:
    """The next due instant, or the next retry, or an idle check-in."""
    campaign, ledger = publisher.campaign, publisher.ledger
    candidates = [now + IDLE_WAKE]
    snapshot = plan.Snapshot.read(ledger)
    coming = plan.deliveries(campaign, snapshot, now + timedelta(microseconds=1), now + IDLE_WAKE, now)
    candidates += [p.delivery.due for p in coming if p.goes_out]
    for record in snapshot.by_key.values():
        if record.state == PENDING and record.retry_at is not None:
            candidates.append(record.retry_at)
        elif record.state == CLAIMED and record.lease_until is not None:
            # A claim left by a dead process is taken over once its last request had time to land.
            settled = record.updated_at + timedelta(seconds=publisher.timeout + 2)
            candidates.append(min(record.lease_until, settled))
    soonest = min(candidates)
    return soonest if soonest > now else now + timedelta(milliseconds=100)


def _forget_removed_posts(campaign: Campaign, ledger: Ledger, now: datetime) -> None:
    """A post removed from posts.yaml will not go out: its waiting deliveries are expired, visibly."""
    known = {post.id for post in campaign.posts}
    for record in ledger.records(states=(PENDING,), newest_first=False):
        gone = record.delivery.post_id not in known
        if gone and ledger.expire(record.delivery, "its post was removed from posts.yaml", now, state=REMOVED):
            log.warning("delivery %s: removed (its post left posts.yaml)", record.delivery.key)


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
        events += [_event(p.delivery, HELD, p.note) for p in step_result.held]
        for event in events:
            self._send(event)

    def alert(self, state: str, error: str) -> None:
        """An event about the daemon itself (it stopped, its ledger is damaged)."""
        if self.url:
            self._send({"post": None, "state": state, "error": error, "text": f"slogan-scheduler: {state}: {error}"})

    def _send(self, event: dict[str, str | None]) -> None:
        try:
            (self.sender or _post)(self.url or "", json.dumps(event).encode(), self.timeout)
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
