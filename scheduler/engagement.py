"""Engagement counts fetched back from the platforms: which deliveries are due a fetch, the fetch itself,
and X's read budget. One path for `run.py stats` and the daemon.

A published delivery is due a fetch once a checkpoint (stats.after, by default 1 h, 24 h and 7 days
after it went out) has passed and its counts were not fetched since. Each account is fetched on its
own: one failing (a rate limit, an outage) leaves the others' counts stored, and is not asked again
before its retry time, under the same backoff as posting. X charges for every post read, so X is read
only within stats.x_reads_per_month, counted in the ledger for every process sharing it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from scheduler.errors import SchedulerError
from scheduler.ledger import Ledger, Record, parse_stamp, stamp
from scheduler.models import Campaign
from scheduler.platforms.base import Counts, Platform, PlatformError, RetryableError

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
TROUBLE_SETTING = "stats/trouble/"  # + account id: {"error", "failures", "not_before"} while it fails
X_READS_SETTING = "stats/x-reads/"  # + YYYY-MM (UTC): posts read from X that month


@dataclass
class AccountFetch:
    """What one account's fetch did."""

    account: str
    platform: str
    asked: int = 0  # deliveries whose counts were asked for
    stored: int = 0
    error: str | None = None
    not_before: datetime | None = None  # not asked again before this (a failure's retry time)
    note: str | None = None  # why some or all were not asked (no counts, X's budget)
    x_reads: int = 0


@dataclass
class Fetch:
    asked: int = 0  # deliveries whose counts were asked of this fetch
    accounts: list[AccountFetch] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(a.stored for a in self.accounts)

    @property
    def failed(self) -> list[AccountFetch]:
        return [a for a in self.accounts if a.error is not None]


def checkpoint_passed(campaign: Campaign, published: datetime, now: datetime) -> datetime | None:
    """The latest checkpoint of a delivery that went out at `published` that has passed by `now`."""
    passed = [published + after for after in campaign.stats.after if published + after <= now]
    return max(passed, default=None)


def due(campaign: Campaign, ledger: Ledger, now: datetime) -> list[Record]:
    """The published deliveries, of accounts still in the campaign, whose counts are due a fetch."""
    found = []
    for record, fetched in ledger.published_with_last_fetch():
        if not _counted(campaign, record):
            continue
        checkpoint = checkpoint_passed(campaign, record.updated_at, now)
        if checkpoint is not None and (fetched is None or fetched < checkpoint):
            found.append(record)
    return found


def next_due(campaign: Campaign, ledger: Ledger, now: datetime) -> datetime | None:
    """When the next fetch falls due: the earliest checkpoint still ahead, or a failed account's retry."""
    ahead = [
        record.updated_at + after
        for record, _ in ledger.published_with_last_fetch()
        if _counted(campaign, record)
        for after in campaign.stats.after
        if record.updated_at + after > now
    ]
    retries = [trouble.not_before for trouble in troubles(ledger).values() if trouble.not_before > now]
    return min(ahead + retries, default=None)


def _counted(campaign: Campaign, record: Record) -> bool:
    """Whether the daemon fetches a delivery's counts: its account is enabled and can count."""
    account = campaign.accounts.get(record.delivery.account)
    return account is not None and account.enabled and account.platform != "outbox" and bool(record.parts)


@dataclass(frozen=True)
class Trouble:
    error: str
    failures: int
    not_before: datetime


def troubles(ledger: Ledger) -> dict[str, Trouble]:
    """The accounts whose last fetch failed, and when each may be asked again."""
    found = {}
    for name, value in ledger.settings_named(TROUBLE_SETTING).items():
        saved = json.loads(value)
        found[name.removeprefix(TROUBLE_SETTING)] = Trouble(
            saved["error"], int(saved["failures"]), parse_stamp(saved["not_before"])
        )
    return found


def fetch(
    campaign: Campaign,
    ledger: Ledger,
    platform_of: Callable[[str], Platform],
    records: Iterable[Record],
    now: datetime,
    clock: Callable[[], datetime],
) -> Fetch:
    """Ask each account for the counts of its records and store them; an account failing is recorded
    (with its retry time) and the others go on."""
    by_account: dict[str, list[Record]] = {}
    for record in records:
        by_account.setdefault(record.delivery.account, []).append(record)
    waiting = troubles(ledger)
    result = Fetch(asked=sum(len(mine) for mine in by_account.values()))
    for account_id, mine in by_account.items():
        account = campaign.accounts[account_id]
        outcome = AccountFetch(account_id, account.platform)
        result.accounts.append(outcome)
        trouble = waiting.get(account_id)
        if account.platform == "outbox":
            outcome.note = "an outbox has no counts"
            continue
        if not account.enabled:
            outcome.note = "disabled in posts.yaml: not read"
            continue
        if trouble is not None and trouble.not_before > now:
            outcome.error, outcome.not_before = trouble.error, trouble.not_before
            outcome.note = f"not asked again before {stamp(trouble.not_before)}"
            continue
        if account.platform == "x":
            mine = _within_x_budget(campaign, ledger, mine, now, outcome)
        if not mine:
            continue
        outcome.asked = len(mine)
        ids = [record.parts[0]["id"] for record in mine]
        failure: Exception | None = None
        try:
            counts = platform_of(account_id).counts(ids)
        except (PlatformError, SchedulerError) as exc:
            counts, failure = {}, exc
        if outcome.x_reads > len(counts):  # X bills the posts it returns: none on a failure, no deleted one
            ledger.spend(_x_month(now), len(counts) - outcome.x_reads, campaign.stats.x_reads_per_month)
            outcome.x_reads = len(counts)
        if failure is not None:
            _failed(ledger, account_id, failure, trouble, clock(), outcome)
            continue
        fetched = [(record.delivery, counts[id_]) for record, id_ in zip(mine, ids, strict=True) if id_ in counts]
        ledger.add_snapshots(fetched, clock())
        outcome.stored = len(fetched)
        if len(fetched) < len(mine):
            outcome.note = f"{len(mine) - len(fetched)} no longer on {account.platform} (deleted?)"
        if trouble is not None:
            ledger.set_setting(TROUBLE_SETTING + account_id, None)
    return result


def fetch_due(
    campaign: Campaign, ledger: Ledger, platform_of: Callable[[str], Platform], clock: Callable[[], datetime]
) -> Fetch:
    """What the daemon fetches on its own: the counts of every delivery due a fetch now."""
    now = clock()
    return fetch(campaign, ledger, platform_of, due(campaign, ledger, now), now, clock)


def _within_x_budget(
    campaign: Campaign, ledger: Ledger, records: list[Record], now: datetime, outcome: AccountFetch
) -> list[Record]:
    budget = campaign.stats.x_reads_per_month
    if budget == 0:
        outcome.note = "X is not read: it charges per post read (set stats.x_reads_per_month to allow it)"
        return []
    granted = ledger.spend(_x_month(now), len(records), budget)
    outcome.x_reads = granted
    if granted < len(records):
        outcome.note = f"this month's X read budget ({budget}) is spent: {len(records) - granted} not read"
    return records[:granted]


def x_reads(ledger: Ledger, now: datetime) -> int:
    """Posts read from X this month (UTC), by every process sharing the ledger."""
    return int(ledger.setting(_x_month(now)) or 0)


def x_cost(campaign: Campaign, reads: int) -> Decimal:
    return campaign.x_prices.owned_read * reads


def _x_month(now: datetime) -> str:
    return f"{X_READS_SETTING}{now:%Y-%m}"


def _failed(
    ledger: Ledger, account_id: str, exc: Exception, before: Trouble | None, now: datetime, outcome: AccountFetch
) -> None:
    failures = (before.failures if before is not None else 0) + 1
    not_before = now + min(FIRST_RETRY * 2 ** (failures - 1), LONGEST_RETRY)
    if isinstance(exc, RetryableError) and exc.retry_at is not None:
        not_before = max(not_before, exc.retry_at)  # never before the platform's own reset time
    outcome.error, outcome.not_before = str(exc), not_before
    ledger.set_setting(
        TROUBLE_SETTING + account_id,
        json.dumps({"error": str(exc), "failures": failures, "not_before": stamp(not_before)}),
    )
    log.warning("counts of %s could not be fetched (%s); next try after %s", account_id, exc, stamp(not_before))


def describe(counts: Counts) -> str:
    """Counts in words, leaving out what the platform does not count."""
    shown = [f"{value} {one if value == 1 else many}" for one, many, value in counts.named() if value is not None]
    return ", ".join(shown) or "no counts"
