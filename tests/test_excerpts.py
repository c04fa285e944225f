"""`run.py excerpts`: draft posts from the bilingual statement, aligned, within limits, written safely."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scheduler import statement, text
from tests.conftest import NOW, ROOT, Result

STATEMENT = ROOT / "content" / "mss-statement-2024-10-14.txt"
SLOGANS = {
    "U.S. out of Haiti!": "¡EE.UU. fuera de Haití!",
    "Kenya out of Haiti!": "¡Kenia fuera de Haití!",
    "No to Another Occupation!": "¡No a otra ocupación!",
    "Free Haiti!": "¡Que viva Haití libre!",
}
PLATFORMS = ("x", "mastodon", "bluesky")


@pytest.fixture(autouse=True)
def _statement_is_there() -> None:
    assert STATEMENT.is_file(), f"the statement is expected at {STATEMENT} (content/ in the repository)"


@pytest.fixture
def campaign_copy(project: Path) -> Path:
    """The shipped posts.yaml and the assets it names, in a project folder of its own."""
    shutil.copy(ROOT / "assets" / "logo.png", project / "assets" / "logo.png")
    shutil.copy(ROOT / "posts.yaml", project / "posts.yaml")
    return project / "posts.yaml"


def statement_blocks() -> list[str]:
    """The statement's blank-line separated blocks, read independently of the tool."""
    raw = STATEMENT.read_text(encoding="utf-8")
    return [" ".join(block.split()) for block in raw.split("\n\n") if block.strip()]


def paragraphs() -> tuple[list[str], list[str]]:
    """English and Spanish paragraphs: each language is a title, four paragraphs, four slogans."""
    found = statement_blocks()
    return found[1:5], found[10:14]


def drafts(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    answer = "\n".join(line for line in result.lines if not line.startswith("Warning:"))
    posts = yaml.safe_load(answer)
    assert isinstance(posts, list)
    return posts


def pairs_from(
    posts: list[dict[str, Any]], english: list[str], spanish: list[str], paragraph_map: dict[int, int]
) -> None:
    for post in posts:
        excerpt = post["card"].get("excerpt")
        if excerpt is None:
            continue
        where = [i for i, paragraph in enumerate(english) if excerpt["en"] in paragraph]
        assert len(where) == 1, f"{post['id']}: the en variant is not in exactly one English paragraph"
        assert where[0] in paragraph_map, f"{post['id']}: quotes an unpaired paragraph"
        assert excerpt["es"] in spanish[paragraph_map[where[0]]], f"{post['id']}: es is not from the aligned paragraph"
        assert post["text"] == {"en": f"“{excerpt['en']}”", "es": f"«{excerpt['es']}»"}


def test_slogans_found_and_paired(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    posts = drafts(run_cli("excerpts", str(STATEMENT), "--config", str(campaign_copy)))
    slogans = {p["card"]["slogan"]["en"]: p["card"]["slogan"]["es"] for p in posts if "slogan" in p["card"]}
    assert slogans == SLOGANS
    ids = [p["id"] for p in posts]
    assert {"us-out-of-haiti", "kenya-out-of-haiti", "no-to-another-occupation", "free-haiti"} <= set(ids)
    assert len(ids) == len(set(ids))
    assert all("at" not in p and "every" not in p for p in posts)


def test_excerpts_come_from_aligned_paragraphs_and_fit(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    posts = drafts(run_cli("excerpts", str(STATEMENT), "--config", str(campaign_copy)))
    english, spanish = paragraphs()
    excerpts = [p for p in posts if "excerpt" in p["card"]]
    assert len(excerpts) >= 5
    pairs_from(posts, english, spanish, {i: i for i in range(4)})
    for post in posts:
        for language, words in post["text"].items():
            for platform in PLATFORMS:
                if not text.fits(platform, words):
                    assert post.get("thread"), f"{post['id']}.{language} is over {platform}'s limit and no thread"
                    assert len(text.split_thread(words, platform)) > 1


def test_ids_are_stable_across_runs(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    first = drafts(run_cli("excerpts", str(STATEMENT), "--config", str(campaign_copy)))
    second = drafts(run_cli("excerpts", str(STATEMENT), "--config", str(campaign_copy)))
    assert [p["id"] for p in first] == [p["id"] for p in second]


def test_printed_drafts_validate(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    result = run_cli("excerpts", str(STATEMENT), "--config", str(campaign_copy))
    drafts(result)
    shipped = campaign_copy.read_text(encoding="utf-8")
    head = shipped[: shipped.index("\nposts:\n") + len("\nposts:\n")]
    campaign_copy.write_text(head + result.output, encoding="utf-8")
    checked = run_cli("validate", "--config", str(campaign_copy), "--now", NOW)
    assert checked.exit_code == 0, checked.output


def test_without_a_campaign_attribution_comes_from_the_dateline(run_cli: Callable[..., Result], project: Path) -> None:
    posts = drafts(run_cli("excerpts", str(STATEMENT), "--config", str(project / "none.yaml")))
    card = next(p["card"] for p in posts if "excerpt" in p["card"])
    assert card["template"] == "quote"
    assert card["attribution"] == {
        "en": "Black Alliance for Peace Haiti/Americas Team, 14 October 2024",
        "es": "Equipo Haití/Américas de la Alianza Negra por la Paz, 14 de octubre de 2024",
    }


def test_one_file_per_language(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    found = statement_blocks()
    english, spanish = campaign_copy.parent / "en.txt", campaign_copy.parent / "es.txt"
    english.write_text("\n\n".join(found[:9]), encoding="utf-8")
    spanish.write_text("\n\n".join(found[9:]), encoding="utf-8")
    together = drafts(run_cli("excerpts", str(STATEMENT), "--config", str(campaign_copy)))
    apart = drafts(run_cli("excerpts", str(english), str(spanish), "--config", str(campaign_copy)))
    assert apart == together


def test_write_keeps_every_byte_and_validates(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    original = campaign_copy.read_text(encoding="utf-8")
    result = run_cli("excerpts", str(STATEMENT), "--write", "--config", str(campaign_copy))
    assert result.exit_code == 0, result.output
    updated = campaign_copy.read_text(encoding="utf-8")
    assert updated.startswith(original)  # posts is the last section: entries are appended after it
    assert len(updated) > len(original)
    # The shipped slogans are there already, by id.
    assert "skipped us-out-of-haiti: id 'us-out-of-haiti' is already in posts.yaml" in result.output.replace(
        str(campaign_copy), "posts.yaml"
    )
    assert "0 errors" in result.output
    checked = run_cli("validate", "--config", str(campaign_copy), "--now", NOW)
    assert checked.exit_code == 0, checked.output
    posts = yaml.safe_load(updated)["posts"]
    ids = [p["id"] for p in posts]
    assert len(ids) == len(set(ids))
    english, spanish = paragraphs()
    pairs_from(posts[16:], english, spanish, {i: i for i in range(4)})


def test_write_twice_adds_nothing_the_second_time(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    assert run_cli("excerpts", str(STATEMENT), "--write", "--config", str(campaign_copy)).exit_code == 0
    after_first = campaign_copy.read_text(encoding="utf-8")
    again = run_cli("excerpts", str(STATEMENT), "--write", "--config", str(campaign_copy))
    assert again.exit_code == 0, again.output
    assert f"Added 0 posts to {campaign_copy}: nothing" in again.output
    assert campaign_copy.read_text(encoding="utf-8") == after_first


def test_sentence_splitting_keeps_abbreviations() -> None:
    english = (
        "We warn that the U.S. aims to use Haiti. Dr. Smith agrees with the U.S.-installed view. "
        "It ended in the U.S. The rest followed."
    )
    assert statement.split_sentences(english) == [
        "We warn that the U.S. aims to use Haiti.",
        "Dr. Smith agrees with the U.S.-installed view.",
        "It ended in the U.S.",
        "The rest followed.",
    ]
    spanish = "Advertimos que EE.UU. pretende utilizar Haití. ¡EE.UU. fuera de Haití! «Otra frase.»"
    assert statement.split_sentences(spanish) == [
        "Advertimos que EE.UU. pretende utilizar Haití.",
        "¡EE.UU. fuera de Haití!",
        "«Otra frase.»",
    ]


def test_shipped_statement_splits_into_its_sentences() -> None:
    english, spanish = paragraphs()
    counts = [len(statement.split_sentences(p)) for p in english]
    assert counts == [len(statement.split_sentences(p)) for p in spanish] == [3, 5, 2, 4]


@pytest.mark.parametrize("missing", [1, 2])
def test_a_missing_paragraph_is_reported_not_misaligned(
    run_cli: Callable[..., Result], campaign_copy: Path, missing: int
) -> None:
    found = statement_blocks()
    del found[10 + missing]  # Spanish paragraph missing + 1
    broken = campaign_copy.parent / "broken.txt"
    broken.write_text("\n\n".join(found), encoding="utf-8")
    result = run_cli("excerpts", str(broken), "--config", str(campaign_copy))
    assert f"Warning: en paragraph {missing + 1} has no es counterpart" in result.output
    posts = drafts(result)
    english, spanish = paragraphs()
    kept = [s for i, s in enumerate(spanish) if i != missing]
    # The paragraphs before the gap pair with themselves, those after it with the one before.
    paragraph_map = {i: i if i < missing else i - 1 for i in range(4) if i != missing}
    pairs_from(posts, english, kept, paragraph_map)
    assert sum("excerpt" in p["card"] for p in posts) >= 4
    assert {p["card"]["slogan"]["en"]: p["card"]["slogan"]["es"] for p in posts if "slogan" in p["card"]} == SLOGANS


def test_a_campaign_without_a_queue_is_warned(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    shipped = campaign_copy.read_text(encoding="utf-8")
    # No queue, and so no queued posts either (they would make the campaign invalid).
    start = shipped.index("\nqueue:\n")
    campaign_copy.write_text(shipped[:start] + "\nposts: []\n", encoding="utf-8")
    result = run_cli("excerpts", str(STATEMENT), "--config", str(campaign_copy))
    assert result.exit_code == 0
    assert "has no queue" in result.output.split("Warning: ", 1)[1]
    assert "# posts.yaml has no queue" in result.output
    refused = run_cli("excerpts", str(STATEMENT), "--write", "--config", str(campaign_copy))
    assert refused.exit_code == 1
    assert "nothing written" in refused.output


def test_bad_langs_is_a_usage_error(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    result = run_cli("excerpts", str(STATEMENT), "--langs", "en", "--config", str(campaign_copy))
    assert result.exit_code == 2
    assert "--langs" in result.output
