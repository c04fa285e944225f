"""The language variants of one text agree: the shared check behind `validate` and `excerpts`."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scheduler import statement, twins
from tests.conftest import ROOT, Result

STATEMENT = ROOT / "content" / "mss-statement-2024-10-14.txt"


def statement_blocks(raw: str | None = None) -> list[str]:
    """The statement's blank-line separated blocks: a title, four paragraphs, four slogans per language."""
    raw = STATEMENT.read_text(encoding="utf-8") if raw is None else raw
    return [" ".join(block.split()) for block in raw.split("\n\n") if block.strip()]


def shipped_posts() -> list[dict[str, Any]]:
    posts = yaml.safe_load((ROOT / "posts.yaml").read_text(encoding="utf-8"))["posts"]
    assert isinstance(posts, list)
    return posts


# --- what agrees -----------------------------------------------------------------------------


def test_the_statement_paragraphs_and_their_sentences_agree() -> None:
    found = statement_blocks()
    english, spanish = found[1:5], found[10:14]
    # The first paragraphs open with their datelines, OCTOBER 14, 2024 and 14 DE OCTUBRE DE 2024.
    assert english[0].startswith("• OCTOBER 14, 2024—")
    assert spanish[0].startswith("14 DE OCTUBRE DE 2024-")
    for number, (en, es) in enumerate(zip(english, spanish, strict=True), 1):
        assert twins.disagreements({"en": en, "es": es}) == [], f"paragraph {number}"
        sentences = zip(statement.split_sentences(en), statement.split_sentences(es), strict=True)
        for first, second in sentences:
            assert twins.disagreements({"en": first, "es": second}) == [], first


def test_the_statement_slogans_agree() -> None:
    found = statement_blocks()
    for en, es in zip(found[5:9], found[14:18], strict=True):
        assert twins.disagreements({"en": en, "es": es}) == [], en


def test_the_shipped_posts_agree_in_their_text_and_their_card() -> None:
    posts = shipped_posts()
    assert len(posts) == 16
    for post in posts:
        assert set(post["text"]) == {"en", "es"}
        assert twins.disagreements(post["text"]) == [], post["id"]
        card = post["card"]
        words = card.get("slogan") or card.get("excerpt")
        assert twins.disagreements(words) == [], f"{post['id']}: card"


@pytest.mark.parametrize(
    ("en", "es"),
    [
        ("1,000 people marched", "1.000 personas marcharon"),
        ("2,500 troops", "2.500 soldados"),
        ("10,000 homes", "10 000 hogares"),  # Spanish may group thousands with a space
        ("10,000 homes", "10\u00a0000 hogares"),
        ("a $2.5 million budget", "un presupuesto de 2,5 millones de dólares"),
        ("1,234.5 tonnes", "1.234,5 toneladas"),
        ("On 14 October we meet", "El 14 de octubre nos reunimos"),
        ("On October 14, 2024 we met", "El 14 de octubre de 2024 nos reunimos"),
        ("OCTOBER 14, 2024", "14 DE OCTUBRE DE 2024"),
        ("On Monday, September 30th, the vote", "El lunes 30 de septiembre, la votación"),
        ("on 10/14/2024", "el 14/10/2024"),
        ("Join us Saturday at 6 p.m.", "Acompáñanos el sábado a las 18:00"),
        ("Join us at 6 p.m.", "Acompáñanos a las 6 de la tarde"),
        ("2 million people", "dos millones de personas"),
        ("the nine-member council", "el consejo de 9 miembros"),
        ("2,500 troops in 12 cities", "2.500 soldados en doce ciudades"),
        ("In May we marched", "En mayo marchamos"),  # May alone may be a verb: neither side counts it
        ("Free Haiti!", "¡Que viva Haití libre!"),  # short texts may differ more in length
        ("U.S. out of Haiti!", "¡EE.UU. fuera de Haití!"),
        ("More: https://example.org/en/2024/10/14/statement", "Más: https://example.org/es/p/99"),
    ],
)
def test_the_same_thing_written_the_way_each_language_writes_it_agrees(en: str, es: str) -> None:
    assert twins.disagreements({"en": en, "es": es}) == []


@pytest.mark.parametrize(
    "texts",
    [
        {"en": "Kenya out of Haiti! " * 20},
        {"es": "¡Kenia fuera de Haití!"},
        {"en": "U.S. out of Haiti!", "es": ""},
        {"en": "2,500 troops on 14 October", "es": "   "},
        {},
    ],
)
def test_a_text_in_one_language_has_nothing_to_disagree_with(texts: dict[str, str]) -> None:
    assert twins.disagreements(texts) == []


# --- what does not ---------------------------------------------------------------------------


def test_a_short_variant_beside_a_long_one_is_flagged() -> None:
    # As the review found: a 53-character English variant beside a whole Spanish sentence.
    en = "“We stand with the Haitian people and civil society…”"
    es = "«" + statement.split_sentences(statement_blocks()[10])[2] + "»"
    assert len(en) == 53
    assert len(es) == 273
    assert twins.disagreements({"en": en, "es": es}) == [
        "the es text is 5.2x as long as the en text (usually 0.8-1.7x)",
        "the names differ: Haití, EE.UU., ONU and Core Group in es, not in en",
    ]


def test_a_long_english_variant_is_named_first() -> None:
    en = "We stand with the people and the civil society groups who have opposed foreign intervention for years."
    es = "Estamos con el pueblo."
    assert twins.disagreements({"en": en, "es": es}) == [
        f"the en text is {len(en) / len(es):.1f}x as long as the es text (usually 0.6-1.3x)"
    ]


@pytest.mark.parametrize(
    ("en", "es", "reason"),
    [
        ("2,500 troops", "3.500 soldados", "the numbers differ: 2,500 in en, 3.500 in es"),
        ("2,500 troops in 12 cities", "2.500 soldados en las ciudades", "the numbers differ: 12 in en, not in es"),
        ("the nine-member council", "el consejo de 7 miembros", "the numbers differ: 7 in es, not in en"),
        ("a 2.5% rise", "un aumento del 25 %", "the numbers differ: 2.5 in en, 25 in es"),
        (
            "On October 14, 2024 we met",
            "El 15 de octubre de 2024 nos reunimos",
            "the dates differ: October 14, 2024 in en, 15 de octubre de 2024 in es",
        ),
        (
            "On Monday, September 30th, the vote",
            "El lunes 30 de octubre, la votación",
            "the dates differ: September 30th in en, 30 de octubre in es",
        ),
        ("Join us Saturday", "Acompáñanos el domingo", "the dates differ: Saturday in en, domingo in es"),
        ("Join us at 6 p.m.", "Acompáñanos a las 17:00", "the times differ: 6 p.m. in en, 17:00 in es"),
        ("Kenya out of Haiti!", "¡Fuera de Haití!", "the names differ: Kenya in en, not in es"),
        ("Out of Haiti!", "¡Kenia fuera de Haití!", "the names differ: Kenia in es, not in en"),
        ("Ruto sends police to Haiti", "Kenia envía policías a Haití", "the names differ: Ruto in en, Kenia in es"),
        (
            "the U.S., France, and Canada",
            "Estados Unidos, Rusia y Canadá",
            "the names differ: France in en, Rusia in es",
        ),
    ],
)
def test_a_changed_number_date_time_or_name_is_flagged_naming_the_languages(en: str, es: str, reason: str) -> None:
    assert twins.disagreements({"en": en, "es": es}) == [reason]


def test_a_name_dropped_from_a_real_excerpt_is_flagged() -> None:
    post = next(p for p in shipped_posts() if p["id"] == "un-vote-extension")
    text = dict(post["text"])
    text["es"] = text["es"].replace(", financiada por Estados Unidos y dirigida por Kenia", "")
    assert twins.disagreements(text) == ["the names differ: U.S. and Kenya in en, not in es"]


def test_a_date_changed_in_a_real_excerpt_is_flagged() -> None:
    post = next(p for p in shipped_posts() if p["id"] == "one-year-extension")
    text = dict(post["text"])
    text["es"] = text["es"].replace("lunes 30 de septiembre", "martes 1 de octubre")
    assert twins.disagreements(text) == [
        "the dates differ: Monday and September 30th in en, martes and 1 de octubre in es"
    ]


def test_every_two_languages_are_compared_by_their_own_names() -> None:
    texts = {"en": "Kenya out of Haiti!", "es": "¡Kenia fuera de Haití!", "ht": "Ayiti libere!"}
    assert twins.disagreements(texts) == [
        "the names differ: Kenya in en, not in ht",
        "the names differ: Kenia in es, not in ht",
    ]


# --- excerpts uses the same check ------------------------------------------------------------


@pytest.fixture
def campaign_copy(project: Path) -> Path:
    shutil.copy(ROOT / "assets" / "logo.png", project / "assets" / "logo.png")
    shutil.copy(ROOT / "posts.yaml", project / "posts.yaml")
    return project / "posts.yaml"


def printed_drafts(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    posts = yaml.safe_load("\n".join(line for line in result.lines if not line.startswith("Warning:")))
    assert isinstance(posts, list)
    return posts


def test_what_excerpts_drafts_passes_the_check(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    drafts = printed_drafts(run_cli("excerpts", str(STATEMENT), "--config", str(campaign_copy)))
    assert sum("excerpt" in d["card"] for d in drafts) >= 5
    for draft in drafts:
        assert twins.disagreements(draft["text"]) == [], draft["id"]
        words = draft["card"].get("excerpt") or draft["card"].get("slogan")
        assert twins.disagreements(words) == [], draft["id"]


def test_excerpts_leaves_out_a_pair_the_check_flags_with_the_same_reason(
    run_cli: Callable[..., Result], campaign_copy: Path
) -> None:
    raw = STATEMENT.read_text(encoding="utf-8")
    changed = raw.replace("El lunes 30 de septiembre", "El lunes 31 de septiembre")
    assert changed != raw
    broken = campaign_copy.parent / "statement.txt"
    broken.write_text(changed, encoding="utf-8")
    english = statement.split_sentences(statement_blocks()[2])[0]
    spanish = statement.split_sentences(statement_blocks(changed)[11])[0]
    reasons = twins.disagreements({"en": english, "es": spanish})
    assert reasons == ["the dates differ: September 30th in en, 31 de septiembre in es"]
    result = run_cli("excerpts", str(broken), "--config", str(campaign_copy))
    assert f"Warning: paragraph 2, sentence 1: unsure of the pair ({reasons[0]})" in result.lines
    drafts = printed_drafts(result)
    assert not any(english in d["card"].get("excerpt", {}).get("en", "") for d in drafts)
    # Without the change the same sentence is quoted: it was left out for the date alone.
    untouched = printed_drafts(run_cli("excerpts", str(STATEMENT), "--config", str(campaign_copy)))
    assert any(english in d["card"].get("excerpt", {}).get("en", "") for d in untouched)
