"""What X will charge: posts (every thread part) per X account and local month, links priced apart."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from scheduler import text, timeline
from scheduler.costs import XCostRow, XPrices, estimate, has_url
from scheduler.models import Campaign, Delivery

START = datetime(2026, 11, 28, tzinfo=UTC)
END = datetime(2027, 3, 1, tzinfo=UTC)

THREAD_EN = (
    "Haiti has lived through more than a century of foreign occupations, each one sold to the world as help and "
    "each one leaving the country poorer and less free than before. "
    "The people of Haiti, not the United States, the United Nations or a council chosen abroad, must decide who "
    "governs them and how their country is rebuilt after the crisis. "
    "We stand with Haitian organizers who demand sovereignty, an end to the foreign troops and reparations for the "
    "debt France forced on Haiti after its revolution. "
    "Solidarity means listening to them, amplifying their demands and refusing every plan made without them."
)

POSTS: list[dict[str, Any]] = [
    {  # Mondays: 4 in December, 4 in January; "U.S." and "EE.UU." are no links to X
        "id": "slogan",
        "text": {"en": "U.S. out of Haiti!", "es": "¡EE.UU. fuera de Haití!"},
        "every": "mon 12:00",
        "starts": "2026-12-01 00:00",
        "until": "2027-01-31 23:59",
    },
    {
        "id": "statement",
        "text": {"en": "Our statement on Haiti.", "es": "Nuestra declaración sobre Haití."},
        "link": "https://blackallianceforpeace.com/statement-haiti",
        "at": "2026-12-10 09:00",
    },
    {  # no link: key, but X makes a link of the bare domain and bills it as one
        "id": "read-more",
        "text": {
            "en": "Read the full statement at blackallianceforpeace.com",
            "es": "Lea la declaración completa en blackallianceforpeace.com",
        },
        "at": "2026-12-15 09:00",
    },
    {  # 04:30 UTC on 1 January: still December in New York
        "id": "new-year",
        "text": {"en": "A year of resistance ends; another begins.", "es": "Termina un año de resistencia."},
        "at": "2026-12-31 23:30",
    },
    {  # three parts on X; the link is in the last one only
        "id": "long",
        "text": {"en": THREAD_EN},
        "thread": True,
        "link": "https://blackallianceforpeace.com/statement",
        "accounts": ["x-en"],
        "at": "2027-01-05 10:00",
    },
]


def campaign(posts: list[dict[str, Any]], zone: str = "America/New_York") -> Campaign:
    return Campaign.model_validate(
        {
            "timezone": zone,
            "languages": ["en", "es"],
            "accounts": {
                "x-en": {"platform": "x", "languages": ["en"]},
                "x-es": {"platform": "x", "languages": ["es"]},
                "mastodon": {"platform": "mastodon", "instance": "https://mastodon.social", "languages": ["en", "es"]},
                "outbox": {"platform": "outbox", "languages": ["en", "es"]},
            },
            "posts": posts,
        },
        context={"timezone": ZoneInfo(zone)},
    )


def all_deliveries(c: Campaign) -> list[Delivery]:
    """Every delivery of the campaign, to every account (X or not), as the timeline fans them out."""
    return timeline.deliveries(c, timeline.occurrences(c, START, END))


def row(account: str, month: date, with_link: int, without_link: int, amount: str) -> XCostRow:
    return XCostRow(account, month, with_link, without_link, Decimal(amount))


def test_counts_every_x_post_per_account_and_local_month_and_prices_links_apart() -> None:
    c = campaign(POSTS)
    assert len(text.split_thread(text.compose(c.posts[4], "en"), "x")) == 3  # the thread is what the test says
    cost = estimate(c, all_deliveries(c), XPrices())
    assert cost.rows == (
        # 4 slogans, the new-year post; the statement's link and the bare domain: 5 x 0.015 + 2 x 0.20
        row("x-en", date(2026, 12, 1), 2, 5, "0.475"),
        row("x-es", date(2026, 12, 1), 2, 5, "0.475"),
        # 4 slogans and a thread of 3, the last part with the link: 6 x 0.015 + 0.20
        row("x-en", date(2027, 1, 1), 1, 6, "0.290"),
        row("x-es", date(2027, 1, 1), 0, 4, "0.060"),
    )
    assert [r.posts for r in cost.rows] == [7, 7, 7, 4]
    assert cost.posts == 25
    assert cost.total == Decimal("1.300")
    assert cost.render_lines() == [
        "X: 7 posts in Dec 2026 on x-en (2 with a link): about $0.48",
        "X: 7 posts in Dec 2026 on x-es (2 with a link): about $0.48",
        "X: 7 posts in Jan 2027 on x-en (1 with a link): about $0.29",
        "X: 4 posts in Jan 2027 on x-es (none with a link): about $0.06",
        "X: total about $1.30 for 25 posts ($0.015 a post, $0.20 with a link; prices as of 2026-02-06, "
        "from X's developer docs; set x_prices in posts.yaml to change them)",
    ]


def test_prices_set_in_posts_yaml_override_the_defaults_exactly() -> None:
    section = yaml.safe_load("x_prices: {post: 0.01, post_with_link: 0.25, currency: eur, as_of: 2027-01-15}")
    prices = XPrices.model_validate(section["x_prices"])
    assert (prices.post, prices.post_with_link, prices.currency, prices.as_of) == (
        Decimal("0.01"),
        Decimal("0.25"),
        "EUR",
        date(2027, 1, 15),
    )
    c = campaign(POSTS)
    cost = estimate(c, all_deliveries(c), prices)
    assert [r.amount for r in cost.rows] == [Decimal("0.55"), Decimal("0.55"), Decimal("0.31"), Decimal("0.04")]
    assert cost.total == Decimal("1.45")
    assert cost.render_lines()[-1] == (
        "X: total about 1.45 EUR for 25 posts (0.01 EUR a post, 0.25 EUR with a link; prices as of 2027-01-15, "
        "from x_prices in posts.yaml)"
    )


def test_money_has_no_float_drift() -> None:
    # In floats 0.1 x 3 is 0.30000000000000004, and YAML reads 0.015 as the float 0.01499999...
    prices = XPrices.model_validate(yaml.safe_load("{post: 0.1, post_with_link: 0.015}"))
    assert prices.post_with_link == Decimal("0.015")
    posts = [
        {"id": f"p{i}", "text": {"en": "No links here", "es": "Sin enlaces"}, "at": "2026-12-02 09:00"}
        for i in range(3)
    ]
    posts.append(
        {"id": "l", "text": {"en": "See blackallianceforpeace.com", "es": "Sin enlaces"}, "at": "2026-12-03 09:00"}
    )
    c = campaign(posts)
    cost = estimate(c, [d for d in all_deliveries(c) if d.account == "x-en"], prices)
    assert cost.rows == (row("x-en", date(2026, 12, 1), 1, 3, "0.315"),)
    assert cost.total == Decimal("0.315")


def test_months_are_read_in_the_campaign_timezone() -> None:
    new_york = campaign([{"id": "p", "text": {"en": "Last word", "es": "Última palabra"}, "at": "2026-12-31 23:30"}])
    (delivery,) = [d for d in all_deliveries(new_york) if d.account == "x-en"]
    assert delivery.due == datetime(2027, 1, 1, 4, 30, tzinfo=UTC)  # January in UTC
    assert [r.month for r in estimate(new_york, [delivery], XPrices()).rows] == [date(2026, 12, 1)]

    tokyo = campaign(
        [{"id": "p", "text": {"en": "First word", "es": "Primera"}, "at": "2027-01-01 00:30"}], "Asia/Tokyo"
    )
    (delivery,) = [d for d in all_deliveries(tokyo) if d.account == "x-en"]
    assert delivery.due == datetime(2026, 12, 31, 15, 30, tzinfo=UTC)  # December in UTC
    assert [r.month for r in estimate(tokyo, [delivery], XPrices()).rows] == [date(2027, 1, 1)]


def test_what_never_reaches_x_costs_nothing() -> None:
    unsplittable = {  # a hashtag longer than a post cannot be cut: validate reports it, it never goes out
        "id": "broken",
        "text": {"en": "#" + "a" * 300, "es": "#" + "b" * 300},
        "thread": True,
        "at": "2026-12-02 09:00",
    }
    c = campaign([POSTS[1], unsplittable])
    due = datetime(2026, 12, 10, 14, tzinfo=UTC)
    others = [
        Delivery(due, "statement", "mastodon", "en"),
        Delivery(due, "statement", "outbox", "es"),
        Delivery(due, "statement", "gone-account", "en"),
        Delivery(due, "removed-post", "x-en", "en"),
        Delivery(due, "statement", "x-en", "fr"),  # no text in that language
        *(d for d in all_deliveries(c) if d.post_id == "broken"),
    ]
    cost = estimate(c, others, XPrices())
    assert cost.rows == ()
    assert cost.total == Decimal(0)
    assert cost.render_lines() == []
    cost = estimate(c, [*others, Delivery(due, "statement", "x-en", "en")], XPrices())
    assert cost.rows == (row("x-en", date(2026, 12, 1), 1, 0, "0.20"),)
    assert cost.render_lines()[0] == "X: 1 post in Dec 2026 on x-en (1 with a link): about $0.20"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("U.S. out of Haiti!", False),
        ("¡EE.UU. fuera de Haití!", False),
        ("Thread 1/3", False),
        ("Read it at blackallianceforpeace.com.", True),
        ("https://example.org/haiti", True),
    ],
)
def test_links_are_found_as_x_finds_them(words: str, expected: bool) -> None:
    assert has_url(words) is expected


def test_default_prices_are_xs_pay_per_use_prices() -> None:
    prices = XPrices()
    assert (prices.post, prices.post_with_link, prices.currency, prices.as_of) == (
        Decimal("0.015"),
        Decimal("0.20"),
        "USD",
        date(2026, 2, 6),
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"post": -0.015}, "'-0.015' is not a price; write it as a number such as 0.015"),
        ({"post": "cheap"}, "'cheap' is not a price; write it as a number such as 0.015"),
        ({"post_with_link": True}, "must be a price such as 0.015"),
        ({"currency": "dollars"}, "'dollars' is not a currency code; write three letters such as USD"),
        ({"as_of": "2026-02-30"}, "'2026-02-30' is not a valid date (day is out of range for month)"),
        ({"posts": 0.015}, "Extra inputs are not permitted"),
    ],
)
def test_bad_prices_are_refused_with_a_reason(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        XPrices.model_validate(section)
    assert message in str(caught.value)


def test_prices_are_frozen() -> None:
    prices = XPrices()
    with pytest.raises(ValidationError):
        prices.post = Decimal(0)  # type: ignore[misc]
