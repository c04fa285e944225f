"""The shipped posts.yaml is the real campaign: the statement's slogans and verbatim excerpts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduler import content
from tests.conftest import ROOT

STATEMENT = ROOT / "content" / "mss-statement-2024-10-14.txt"
SLOGANS = {
    "U.S. out of Haiti!": "¡EE.UU. fuera de Haití!",
    "Kenya out of Haiti!": "¡Kenia fuera de Haití!",
    "No to Another Occupation!": "¡No a otra ocupación!",
    "Free Haiti!": "¡Que viva Haití libre!",
}


@pytest.fixture(scope="module")
def statement() -> str:
    assert STATEMENT.is_file(), f"the statement is expected at {STATEMENT} (content/ in the repository)"
    return STATEMENT.read_text(encoding="utf-8")


def test_four_slogans_in_both_languages(statement: str) -> None:
    campaign = content.load(ROOT / "posts.yaml", now=datetime(2026, 11, 28, tzinfo=UTC))
    slogans = {p.card.slogan["en"]: p.card.slogan["es"] for p in campaign.posts if p.card and p.card.slogan}
    assert slogans == SLOGANS
    for english, spanish in SLOGANS.items():
        assert f"\n{english}\n" in statement
        assert f"\n{spanish}" in statement


def test_excerpts_are_verbatim_in_both_languages(statement: str) -> None:
    campaign = content.load(ROOT / "posts.yaml", now=datetime(2026, 11, 28, tzinfo=UTC))
    excerpts = [p.card.excerpt for p in campaign.posts if p.card and p.card.excerpt]
    assert len(excerpts) >= 8
    english, spanish = statement.split("\nLa Misión Multinacional", 1)
    for excerpt in excerpts:
        assert excerpt["en"].strip("…") in english
        assert excerpt["es"].strip("…") in spanish
    assert campaign.defaults.attribution == {
        "en": "Black Alliance for Peace Haiti/Americas Team, 14 October 2024",
        "es": "Equipo Haití/Américas de la Alianza Negra por la Paz, 14 de octubre de 2024",
    }


def test_only_the_outbox_is_enabled_and_every_platform_is_present() -> None:
    campaign = content.load(ROOT / "posts.yaml", now=datetime(2026, 11, 28, tzinfo=UTC))
    platforms = {a.platform: a.enabled for a in campaign.accounts.values()}
    assert platforms == {"x": False, "mastodon": False, "bluesky": False, "outbox": True}
    winter = campaign.timezone.utcoffset(datetime(2027, 1, 15, tzinfo=UTC))
    summer = campaign.timezone.utcoffset(datetime(2027, 7, 15, tzinfo=UTC))
    assert winter != summer, "the campaign timezone should observe daylight saving time"
