"""What X will charge for the posts a campaign sends.

X bills API posts pay-per-use (since 2026-02-06): each post it creates costs one price, and more
when the post holds a URL. Every part of a thread is a post of its own, so the estimate splits
each text exactly as publishing does and looks for URLs part by part, the way X finds them
(twitter-text), so a bare `example.org` in the words counts as a link too. Months are read in the
campaign timezone, as the team plans them. Money is Decimal throughout: no float drift.

Only post creation is counted: the account lookup the scheduler makes before posting and the card
upload are not priced here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from scheduler import text
from scheduler.models import MONTHS, Campaign, Delivery, Post, XPrices

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class XCostRow:
    """The X posts one account sends in one calendar month (campaign timezone), and their price."""

    account: str
    month: date  # its first day
    with_link: int
    without_link: int
    amount: Decimal

    @property
    def posts(self) -> int:
        return self.with_link + self.without_link


@dataclass(frozen=True)
class XCost:
    rows: tuple[XCostRow, ...]  # by month, then account
    prices: XPrices

    @property
    def posts(self) -> int:
        return sum(row.posts for row in self.rows)

    @property
    def total(self) -> Decimal:
        return sum((row.amount for row in self.rows), Decimal(0))

    def render_lines(self) -> list[str]:
        """One line per account and month, then the total and where the prices come from; none
        when nothing goes to X."""
        if not self.rows:
            return []
        lines = []
        for row in self.rows:
            links = f"{row.with_link} with a link" if row.with_link else "none with a link"
            lines.append(
                f"X: {_count(row.posts, 'post')} in {_month_name(row.month)} on {row.account} ({links}): "
                f"about {self._money(row.amount)}"
            )
        p = self.prices
        rates = f"{self._money(p.post, exact=True)} a post, {self._money(p.post_with_link, exact=True)} with a link"
        source = (
            "X's developer docs; set x_prices in posts.yaml to change them"
            if p == XPrices()
            else "x_prices in posts.yaml"
        )
        lines.append(
            f"X: total about {self._money(self.total)} for {_count(self.posts, 'post')} "
            f"({rates}; prices as of {p.as_of.isoformat()}, from {source})"
        )
        return lines

    def _money(self, amount: Decimal, *, exact: bool = False) -> str:
        """`exact` for a price (0.015 stays 0.015), else rounded to the cent."""
        shown = amount.normalize() if exact else amount.quantize(_CENT, ROUND_HALF_UP)
        if shown == shown.quantize(_CENT):
            shown = shown.quantize(_CENT)  # 0.2 reads as 0.20, 1 as 1.00
        figure = f"{shown:,f}"
        return f"${figure}" if self.prices.currency == "USD" else f"{figure} {self.prices.currency}"


def estimate(campaign: Campaign, deliveries: Iterable[Delivery], prices: XPrices) -> XCost:
    """What X will charge for `deliveries`, per X account and calendar month in the campaign timezone.

    Deliveries to accounts that are not on X, of posts no longer in the campaign, or of threads
    that cannot be split (validate reports those; they fail before reaching X) cost nothing.
    """
    posts = {post.id: post for post in campaign.posts}
    links_per_part: dict[tuple[str, str], list[bool] | None] = {}  # a post's parts are the same every time
    counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for delivery in deliveries:
        account = campaign.accounts.get(delivery.account)
        post = posts.get(delivery.post_id)
        if account is None or account.platform != "x" or post is None or delivery.language not in post.text:
            continue
        key = (post.id, delivery.language)
        if key not in links_per_part:
            links_per_part[key] = _links_per_part(post, delivery.language)
        parts = links_per_part[key]
        if parts is None:
            continue
        local = delivery.due.astimezone(campaign.timezone)
        tally = counts[(date(local.year, local.month, 1), delivery.account)]
        tally[0] += sum(parts)
        tally[1] += len(parts) - sum(parts)
    rows = tuple(
        XCostRow(
            account, month, with_link, without_link, with_link * prices.post_with_link + without_link * prices.post
        )
        for (month, account), (with_link, without_link) in sorted(counts.items())
    )
    return XCost(rows, prices)


def _links_per_part(post: Post, language: str) -> list[bool] | None:
    """For each post X will create for this text, whether it holds a URL; None if it cannot go out."""
    composed = text.compose(post, language)
    if not post.thread:
        return [has_url(composed)]
    try:
        parts = text.split_thread(composed, "x", numbered=post.thread_numbers)
    except ValueError:
        return None
    return [has_url(part) for part in parts]


def has_url(words: str) -> bool:
    """Whether X sees a URL in `words`, by twitter-text's rules (with or without https://)."""
    if "." not in words:
        return False  # twitter-text finds no URL without a dot; skip importing it (0.2 s)
    from twitter_text import extract_urls

    return bool(extract_urls(words))


def _month_name(month: date) -> str:
    return f"{MONTHS[month.month - 1].title()} {month.year}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
