"""deliver(delivery): claim -> render -> platform -> record. The one path every delivery takes,
from the daemon and from `post` alike.

The ledger row is claimed before any platform call; what the adapter does is saved as it goes;
the outcome is recorded whatever happens. A retryable failure goes back to pending with a retry
time (backoff with jitter, never before the platform's own reset time) while the post's max_late
allows; an ambiguous one is retried only where the platform can tell what already exists, and is
otherwise left `unconfirmed` for a person.
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler import plan, text
from scheduler.cards import CardSpec, CardStore, alt_text, specs_for
from scheduler.cards.worker import DrawingInterruptedError
from scheduler.credentials import Credentials
from scheduler.errors import SchedulerError
from scheduler.ledger import CLAIMED, FAILED, PENDING, PUBLISHED, UNCONFIRMED, Ledger, Record, this_process
from scheduler.models import Campaign, Delivery, Post, image_cap
from scheduler.platforms import connect
from scheduler.platforms.base import (
    AmbiguousError,
    Attempt,
    Image,
    Outgoing,
    Platform,
    PlatformError,
    RemotePart,
    RetryableError,
    UnconfirmedError,
)

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=15)


@dataclass(frozen=True)
class Outcome:
    delivery: Delivery
    state: str
    urls: tuple[str, ...] = ()
    error: str | None = None
    retry_at: datetime | None = None
    acted: bool = True  # False when the ledger already held a final state, or another process had it


@dataclass
class Publisher:
    campaign: Campaign
    project: Path
    ledger: Ledger
    cards: CardStore
    credentials: Credentials
    sessions: Path
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    lease: timedelta = timedelta(minutes=2)
    timeout: float = 30.0
    _platforms: dict[str, Platform] = field(default_factory=dict)
    _prepared: dict[str, Outgoing] = field(default_factory=dict)

    def reload(self, campaign: Campaign) -> None:
        """Run on an edited campaign from now on; accounts are connected again as they are used."""
        self.campaign = campaign
        self._platforms.clear()
        self._prepared.clear()

    def prepare(self, deliveries: Iterable[Delivery]) -> None:
        """Connect each account and render each card ahead of the due time, so that nothing waits then."""
        connected: list[tuple[Delivery, Platform]] = []
        cards: list[tuple[CardSpec, int | None]] = []
        for delivery in deliveries:
            if delivery.key in self._prepared:
                continue
            try:
                platform = self.platform(delivery.account)
                platform.prepare()
                card = self.card(delivery, platform)
            except Exception as exc:  # the delivery itself meets the problem at its time, and says it
                log.debug("could not prepare %s ahead: %s", delivery.key, exc)
                continue
            connected.append((delivery, platform))
            if card is not None:
                cards.append(card)
        try:  # every card at once: one drawing process for the daemon, not one per card
            self.cards.draw_missing(cards)
        except Exception as exc:
            log.debug("could not draw the cards ahead: %s", exc)
        for delivery, platform in connected:
            try:
                self._prepared[delivery.key] = self.outgoing(delivery, platform)
            except Exception as exc:
                log.debug("could not prepare %s ahead: %s", delivery.key, exc)

    def platform(self, account_id: str) -> Platform:
        if account_id not in self._platforms:
            self._platforms[account_id] = self.connect(account_id)
        return self._platforms[account_id]

    def connect(self, account_id: str) -> Platform:
        """A new adapter for the account, shared with nobody (for a thread of its own)."""
        account = self.campaign.accounts[account_id]
        secrets = self.credentials.for_account(account_id, account.platform)
        return connect(account_id, account, secrets, self.project, self.sessions, self.timeout)

    def outgoing(self, delivery: Delivery, platform: Platform | None = None) -> Outgoing:
        """Exactly what the delivery publishes: its text (split into a thread if the post asks) and card."""
        post = self._post(delivery)
        account = self.campaign.accounts[delivery.account]
        composed = text.compose(post, delivery.language)
        if post.thread:
            try:
                parts = text.split_thread(composed, account.platform, numbered=post.thread_numbers)
            except ValueError as exc:
                raise SchedulerError(f"post {post.id} cannot be split into a thread: {exc}") from None
        else:
            parts = [composed]
        image = None
        card = self.card(delivery, platform)
        if card is not None:
            spec, cap = card
            data, mime = self.cards.upload(spec, cap)
            width, height = spec.pixels
            image = Image(data, mime, alt_text(self.campaign, post, delivery.language), width, height)
        return Outgoing(delivery.key, delivery.language, tuple(parts), image)

    def card(self, delivery: Delivery, platform: Platform | None = None) -> tuple[CardSpec, int | None] | None:
        """The delivery's card, if its post has one, and the most bytes its account takes for an image."""
        post = self._post(delivery)
        spec = specs_for(self.campaign, post, self.project).get(delivery.language)
        if spec is None:
            return None
        account = self.campaign.accounts[delivery.account]
        caps = [image_cap(account, account.platform), platform.image_limit() if platform else None]
        return spec, min((c for c in caps if c is not None), default=None)

    def _post(self, delivery: Delivery) -> Post:
        post = self.campaign.find_post(delivery.post_id)
        if post is None:
            raise SchedulerError(f"post {delivery.post_id} is no longer in posts.yaml")
        return post

    def fingerprint(self, delivery: Delivery) -> str | None:
        post = self.campaign.find_post(delivery.post_id)
        return (
            text.fingerprint(post, delivery.language) if post is not None and delivery.language in post.text else None
        )

    def deliver(self, delivery: Delivery, origin: str = "schedule") -> Outcome:
        now = self.clock()
        record = self.ledger.ensure(delivery, now, origin)
        token = uuid.uuid4().hex
        if record.state == CLAIMED:
            if not self._stale(record, now):
                return _outcome(record, acted=False, note="another process is delivering it")
            settled = record.updated_at + timedelta(seconds=self.timeout + 2)
            if now < settled:  # its last request may still be running on the server: let it land first
                return Outcome(
                    delivery, CLAIMED, tuple(record.urls), "waiting for a lost request to settle", settled, acted=False
                )
            log.warning("taking over %s from %s, whose claim lapsed", delivery.key, record.owner)
            claimed = self.ledger.claim(delivery, token, now, self.lease, take_over=record.claim)
        elif record.state == PENDING:
            claimed = self.ledger.claim(delivery, token, now, self.lease, fingerprint=self.fingerprint(delivery))
        else:
            return _outcome(record, acted=False)
        if claimed is None:
            current = self.ledger.get(delivery)
            assert current is not None
            return _outcome(current, acted=False, note="another process claimed it first")
        return self._attempt(claimed, token)

    def _attempt(self, record: Record, token: str) -> Outcome:
        delivery = record.delivery
        attempt = Attempt(
            outgoing=Outgoing(delivery.key, delivery.language, ()),
            done=[RemotePart(**part) for part in record.parts],
            memo=dict(record.memo),
            resuming=record.attempts > 1 or bool(record.memo) or bool(record.parts),
        )

        def save() -> None:
            parts = [{"id": p.id, "url": p.url} for p in attempt.done]
            self.ledger.save_progress(delivery, token, attempt.memo, parts, self.clock(), self.lease)

        attempt.save = save
        platform: Platform | None = None
        try:
            platform = self.platform(delivery.account)
            prepared = self._prepared.pop(delivery.key, None)
            attempt.outgoing = prepared if prepared is not None else self.outgoing(delivery, platform)
            published = platform.publish(attempt)
        except RetryableError as exc:
            return self._retry_or_fail(record, token, attempt, str(exc), exc.retry_at)
        except DrawingInterruptedError as exc:  # nothing was sent yet
            return self._retry_or_fail(record, token, attempt, str(exc), None)
        except AmbiguousError as exc:
            if platform is not None and getattr(platform, "idempotent", False):
                # The lost request may still be running on the server: let it land before looking.
                settle = self.clock() + timedelta(seconds=self.timeout + 2)
                return self._retry_or_fail(record, token, attempt, str(exc), settle)
            return self._finish(
                record,
                token,
                attempt,
                UNCONFIRMED,
                f"{exc}; it may have been posted: check the account, it will not be sent again",
            )
        except UnconfirmedError as exc:
            return self._finish(record, token, attempt, UNCONFIRMED, str(exc))
        except (PlatformError, SchedulerError) as exc:
            return self._finish(record, token, attempt, FAILED, str(exc))
        except Exception as exc:  # an adapter bug must not take the daemon down, nor leave a claim
            log.exception("unexpected error delivering %s", delivery.key)
            return self._finish(record, token, attempt, FAILED, f"internal error: {type(exc).__name__}: {exc}")
        attempt.done[:] = list(published.parts)
        return self._finish(record, token, attempt, PUBLISHED, None)

    def _retry_or_fail(
        self, record: Record, token: str, attempt: Attempt, error: str, not_before: datetime | None
    ) -> Outcome:
        now = self.clock()
        backoff = min(FIRST_RETRY * 2 ** (record.attempts - 1), LONGEST_RETRY)
        retry_at = now + backoff * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        if not_before is not None:
            retry_at = max(retry_at, not_before)
        if retry_at > self.deadline(record.delivery):
            return self._finish(
                record,
                token,
                attempt,
                FAILED,
                f"{error} (gave up: the next try would be later than its max_late allows)",
            )
        return self._finish(record, token, attempt, PENDING, error, retry_at)

    def deadline(self, delivery: Delivery) -> datetime:
        """The latest a delivery may still go out: its due instant plus its post's max_late."""
        post = self.campaign.find_post(delivery.post_id)
        late = self.campaign.max_late_of(post) if post is not None else self.campaign.defaults.max_late
        return delivery.due + late

    def _finish(
        self,
        record: Record,
        token: str,
        attempt: Attempt,
        state: str,
        error: str | None,
        retry_at: datetime | None = None,
    ) -> Outcome:
        parts = [{"id": p.id, "url": p.url} for p in attempt.done]
        self.ledger.finish(record.delivery, token, state, self.clock(), parts=parts, error=error, retry_at=retry_at)
        delivery = record.delivery
        level = logging.INFO if state in (PUBLISHED, PENDING) else logging.ERROR
        log.log(
            level,
            "delivery %s %s %s: %s%s%s",
            delivery.post_id,
            delivery.account,
            delivery.language,
            state,
            f" {parts[0]['url']}" if parts else "",
            f" ({error})" if error else "",
        )
        return Outcome(delivery, state, tuple(p["url"] for p in parts), error, retry_at)

    def _stale(self, record: Record, now: datetime) -> bool:
        """A claim may be taken over once its lease ran out, or at once if its process died here."""
        if record.lease_until is not None and record.lease_until < now:
            return True
        host, _, pid = (record.owner or "").rpartition(":")
        return host == this_process().rpartition(":")[0] and pid.isdigit() and not _alive(int(pid))

    def deliver_patiently(
        self, delivery: Delivery, origin: str, patience: timedelta, sleep: Callable[[float], None] = time.sleep
    ) -> Outcome:
        """Deliver, waiting out retryable failures for up to `patience` (for `post`, which has no daemon)."""
        give_up = self.clock() + patience
        outcome = self.deliver(delivery, origin)
        while outcome.state in (PENDING, CLAIMED) and outcome.retry_at is not None and outcome.retry_at <= give_up:
            sleep(max(0.0, (outcome.retry_at - self.clock()).total_seconds()))
            outcome = self.deliver(delivery, origin)
        return outcome


@dataclass(frozen=True)
class Refusal:
    delivery: Delivery
    reason: str


def plan_manual(
    campaign: Campaign,
    ledger: Ledger,
    post_id: str,
    accounts: tuple[str, ...],
    languages: tuple[str, ...],
    now: datetime,
    *,
    force: bool,
    reopen: bool = True,
    include_disabled: bool = False,
) -> list[Delivery | Refusal]:
    """The deliveries `post ID` makes now.

    A one-off or queued post is delivered as its scheduled delivery (same ledger key), so the daemon
    will not post it again; a recurring post gets an extra occurrence now. What the ledger holds as
    published (or unconfirmed) is refused unless `force`, which posts a new delivery now.
    `include_disabled` (for a dry run) plans the disabled accounts too.
    """
    post = campaign.find_post(post_id)
    if post is None:
        known = ", ".join(p.id for p in campaign.posts[:5])
        raise SchedulerError(f"no post '{post_id}' in posts.yaml (posts include: {known}, ...)")
    now = now.replace(microsecond=0)
    snapshot = plan.Snapshot.read(ledger)
    if post.at is not None:
        due = post.at.astimezone(UTC)
    elif post.queued:
        due = plan.queue_slots(campaign, snapshot, now).get(post.id, now)
    else:
        due = now
    plans: list[Delivery | Refusal] = []
    for account_id in campaign.accounts_of(post):
        account = campaign.accounts[account_id]
        if accounts and account_id not in accounts:
            continue
        if not account.enabled and not include_disabled:
            if accounts:
                plans.append(Refusal(Delivery(due, post.id, account_id, "-"), "the account is disabled in posts.yaml"))
            continue
        for language in account.languages:
            if language not in post.text or (languages and language not in languages):
                continue
            delivery = Delivery(due, post.id, account_id, language)
            item = plan.resolve(post, snapshot, delivery)
            if item.state in (PUBLISHED, UNCONFIRMED) and item.record is not None:
                if force:
                    plans.append(Delivery(now, post.id, account_id, language))
                else:
                    urls = f" ({', '.join(item.record.urls)})" if item.record.urls else ""
                    plans.append(Refusal(delivery, f"already {item.state}{urls}; use --force to post it again"))
                continue
            if item.state == plan.HELD and not force:
                plans.append(Refusal(delivery, item.note or "held"))
                continue
            if reopen and item.record is not None and item.record.delivery.key == delivery.key:
                ledger.reopen(delivery, now)
            plans.append(delivery)
    return plans


def _outcome(record: Record, *, acted: bool, note: str | None = None) -> Outcome:
    return Outcome(record.delivery, record.state, tuple(record.urls), note or record.error, record.retry_at, acted)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
