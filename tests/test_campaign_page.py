"""The campaign page at any size: broken posts in red while the rest renders, counts of what goes out,
one text per variant, disabled accounts collapsed, thread parts, every month through the last `until`,
month pages for a big campaign, a phone-first layout; and `validate -v`, `post --dry-run` to match."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import NOW, ROOT, Result
from tests.test_preview import browser  # noqa: F401 - the fixture

LONG_ES = (
    "La Misión Multinacional de Apoyo a la Seguridad no es una misión de paz. Es una ocupación extranjera "
    "que sirve a los intereses de Washington y de sus aliados, no a los del pueblo haitiano. Exigimos que "
    "las tropas extranjeras se retiren de Haití, que se respete la soberanía del país y que el pueblo "
    "haitiano recupere su derecho a decidir su propio futuro en plena libertad."
)

HEADER = """timezone: America/New_York
languages: [en, es]
accounts:
  x-en: {platform: x, languages: [en], enabled: true, api_base: "http://127.0.0.1:9"}
  x-es: {platform: x, languages: [es], enabled: false}
  mastodon: {platform: mastodon, instance: "https://mastodon.example", languages: [en, es], enabled: false}
  outbox: {platform: outbox, languages: [en, es]}
posts:
"""


def write(folder: Path, posts: str) -> Path:
    (folder / "posts.yaml").write_text(HEADER + posts, encoding="utf-8")
    return folder / "posts.yaml"


def page_of(project: Path) -> str:
    return (project / "preview" / "index.html").read_text(encoding="utf-8")


GOOD = '  - {id: good-post, text: {en: "Good one", es: "Buena"}, at: 2026-12-01 09:00}\n'


def test_a_broken_post_is_shown_in_red_while_the_rest_renders(project: Path, run_cli: Callable[..., Result]) -> None:
    write(project, GOOD + '  - {id: broken-post, text: {en: "Broken <b>", es: "Roto"}, accounts: [nowhere]}\n')
    result = run_cli("preview", "--now", NOW)
    assert result.exit_code == 1
    assert "with errors shown in red on the page" in result.output
    page = page_of(project)
    broken = page.split('<section aria-labelledby="broken"')[1].split("</section>")[0]
    assert "broken-post" in broken
    assert "no account &#x27;nowhere&#x27;" in broken or "nowhere" in broken
    assert "Broken &lt;b&gt;" in broken
    assert 'id="good-post-20261201T1400"' in page  # the valid post renders in full


def test_the_header_counts_only_enabled_accounts(project: Path, run_cli: Callable[..., Result]) -> None:
    write(project, GOOD)
    assert run_cli("preview", "--now", NOW).exit_code == 0
    page = page_of(project)
    # x-en (en) and outbox (en, es) are enabled: 3 deliveries; x-es and mastodon (en, es) would add 3.
    assert "1 post going out as 3 deliveries" in page
    assert "Once mastodon, x-es are enabled, 3 more deliveries would go out." in page
    assert "Not posted (account disabled): x-es (es), mastodon (en), mastodon (es)" in page


def test_each_text_variant_is_shown_once_with_its_accounts(project: Path, run_cli: Callable[..., Result]) -> None:
    write(project, '  - {id: twice, text: {en: "Unique words here", es: "Palabras únicas"}, at: 2026-12-01 09:00}\n')
    assert run_cli("preview", "--now", NOW).exit_code == 0
    page = page_of(project)
    assert page.count("Unique words here") == 1  # x-en and outbox get the same English text
    variant = page.split("Unique words here")[1].split("</ul>")[0]
    assert "<strong>x-en</strong> (x)" in variant
    assert "<strong>outbox</strong> (outbox)" in variant
    assert "17/280 weighted characters" in variant


def test_a_thread_shows_each_part_with_its_count(project: Path, run_cli: Callable[..., Result]) -> None:
    write(project, f'  - {{id: long, text: {{en: "{LONG_ES}", es: "Corto"}}, thread: true, at: 2026-12-01 09:00}}\n')
    assert run_cli("preview", "--now", NOW).exit_code == 0
    page = page_of(project)
    thread = page.split("a thread of ")[1].split("</ol>")[0]
    parts = re.findall(r'<span class="part">(.*?)</span> <span class="count">(\d+)/280', thread, re.S)
    assert len(parts) >= 2
    assert all(int(count) <= 280 for _, count in parts)
    assert parts[-1][0].endswith(f"{len(parts)}/{len(parts)}")


def test_the_shipped_campaign_reaches_its_last_until(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    shutil.copytree(ROOT / "assets", tmp_path / "assets")
    shutil.copy(ROOT / "posts.yaml", tmp_path / "posts.yaml")
    result = run_cli("preview", "--config", str(tmp_path / "posts.yaml"), "--now", NOW)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "preview" / "index.html").read_text(encoding="utf-8")
    assert "Mon 29 Mar 2027 12:00 EDT" in page  # the last occurrence, after the daylight-saving change
    assert '<a href="#month-2027-03">March 2027</a>' in page
    assert (tmp_path / "preview" / "index.html").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700


def test_a_big_campaign_gets_one_page_per_month_and_nothing_is_lost(
    project: Path, run_cli: Callable[..., Result]
) -> None:
    write(
        project,
        '  - {id: twice-daily, text: {en: "Morning and evening", es: "Mañana y tarde"}, accounts: [outbox],'
        ' every: "mon,tue,wed,thu,fri,sat,sun 09:00,18:00", until: 2027-05-31 23:00}\n',
    )
    result = run_cli("preview", "--now", NOW)
    assert result.exit_code == 0, result.output
    folder = project / "preview"
    months = sorted(p.name for p in folder.glob("20*.html"))
    assert months[0] == "2026-11.html"
    assert months[-1] == "2027-05.html"
    index = page_of(project)
    for month in months:
        assert f'href="{month}"' in index
    articles = sum(len(re.findall(r"<article id=", (folder / m).read_text(encoding="utf-8"))) for m in months)
    occurrences = int(re.search(r"([\d,]+) post occurrences", result.output).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert articles == occurrences > 300


def test_dry_run_shows_disabled_accounts_too(project: Path, run_cli: Callable[..., Result]) -> None:
    write(project, GOOD)
    result = run_cli("post", "good-post", "--dry-run")
    assert result.exit_code == 0, result.output
    assert any(line.startswith("disabled    x-es (x) es") for line in result.lines)
    assert any(line.startswith("would post  outbox (outbox) en") for line in result.lines)


def test_validate_verbose_lists_the_schedule_in_time_order(project: Path, run_cli: Callable[..., Result]) -> None:
    write(
        project,
        '  - {id: late, text: {en: "Later", es: "Luego"}, accounts: [outbox], at: 2027-03-20 09:00}\n'
        '  - {id: night, text: {en: "At night", es: "De noche"}, accounts: [outbox], every: "sun 02:30",'
        " until: 2027-03-21 23:00}\n"
        '  - {id: early, text: {en: "Earlier", es: "Antes"}, accounts: [outbox], at: 2026-11-20 09:00}\n',
    )
    result = run_cli("validate", "-v", "--now", NOW)
    schedule = result.output.split("Schedule in time order")[1]
    lines = [line for line in schedule.splitlines() if line.startswith("  ") and "->" in line]
    dates = [line.split()[1] for line in lines]
    assert dates == sorted(dates)
    assert lines[0].startswith("  Fri 2026-11-20 09:00 EST")
    assert "[past: not published]" in lines[0]
    assert "moved from 02:30, which does not exist on 14 Mar (the clocks go forward), to 03:00" in schedule
    assert re.search(r"night: every sun 02:30, until .*: 18 times in all, 17 still to come", schedule)


@pytest.mark.parametrize("width", [390, 1280])
def test_the_page_on_a_phone_and_a_desktop(
    browser: object,  # noqa: F811
    project: Path,
    run_cli: Callable[..., Result],
    width: int,
) -> None:
    long_id = "a-rather-long-post-identifier-for-the-calendar"
    write(
        project,
        GOOD
        + f'  - {{id: {long_id}, text: {{en: "{LONG_ES}", es: "Corto"}}, thread: true, at: 2026-12-02 09:00}}\n'
        + '  - {id: broken-post, text: {en: "Broken"}, accounts: [nowhere]}\n',
    )
    run_cli("preview", "--now", NOW)
    driver: object = browser
    driver.set_window_size(width, 900)  # type: ignore[attr-defined]
    driver.get((project / "preview" / "index.html").as_uri())  # type: ignore[attr-defined]
    overflow = driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
    # No id is broken across lines: each shown id sits on one line (an ellipsis may end it).
    broken_ids = driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.querySelectorAll('.calendar .id, .calendar .entry')]"
        ".filter(e => e.offsetParent !== null && new Set([...e.getClientRects()].map(r => r.top)).size > 1)"
        ".map(e => e.textContent)"
    )
    assert broken_ids == []
    # A count never lies on top of the text it counts.
    overlaps = driver.execute_script(  # type: ignore[attr-defined]
        "const hit = (a, b) => !(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top);"
        "return [...document.querySelectorAll('.count')].filter(c => {"
        " const box = c.getBoundingClientRect();"
        " return [...document.querySelectorAll('.text, .part')].some(t => hit(box, t.getBoundingClientRect()));"
        "}).length"
    )
    assert overlaps == 0
    red = driver.execute_script(  # type: ignore[attr-defined]
        "const e = document.querySelector('.broken article'); return e && getComputedStyle(e).borderTopColor"
    )
    assert red == "rgb(192, 57, 43)"
    parts = driver.execute_script("return document.querySelectorAll('.thread li').length")  # type: ignore[attr-defined]
    assert parts >= 2
    body = driver.find_element("tag name", "body").text  # type: ignore[attr-defined]
    assert "Not posted (account disabled): x-es (es), mastodon (en), mastodon (es)" in body


def test_what_x_will_charge_is_in_the_header_and_in_validate(project: Path, run_cli: Callable[..., Result]) -> None:
    posts = (
        '  - {id: plain, text: {en: "No link here", es: "Sin enlace"}, at: 2026-12-01 09:00}\n'
        '  - {id: linked, text: {en: "Read it", es: "Léelo"}, link: "https://example.org/s", at: 2026-12-02 09:00}\n'
    )
    write(project, posts)
    assert run_cli("preview", "--now", NOW).exit_code == 0
    page = page_of(project)
    assert "X: 2 posts in Dec 2026 on x-en (1 with a link): about $0.22" in page
    checked = run_cli("validate", "-v", "--now", NOW)
    assert "X: 2 posts in Dec 2026 on x-en (1 with a link): about $0.22" in checked.lines
    (project / "posts.yaml").write_text(
        HEADER.replace("posts:\n", "x_prices: {post: 0.01, post_with_link: 0.1, as_of: 2026-11-01}\nposts:\n") + posts,
        encoding="utf-8",
    )
    cheaper = run_cli("validate", "--now", NOW)
    assert cheaper.lines[-1] == (
        "X: total about $0.11 for 2 posts ($0.01 a post, $0.10 with a link; prices as of 2026-11-01, "
        "from x_prices in posts.yaml)"
    )


def test_each_card_is_stored_once_and_unused_cards_are_pruned(project: Path, run_cli: Callable[..., Result]) -> None:
    card = '  - {id: carded, text: {en: "Hi", es: "Hola"}, card: {slogan: {en: "Old words", es: "Viejas"}},'
    write(project, card + " at: 2026-12-01 09:00}\n")
    assert run_cli("preview", "--now", NOW).exit_code == 0
    cache = project / "state" / "cards"
    before = {p.name for p in cache.glob("*.png")}
    linked = [p for p in (project / "preview" / "cards").glob("*.png")]
    assert linked
    for page_copy in linked:  # the page's card is the cached file itself, not a second copy
        assert page_copy.stat().st_ino == (cache / page_copy.name).stat().st_ino
        assert page_copy.stat().st_mode & 0o777 == 0o644
    write(project, card.replace("Old words", "New words") + " at: 2026-12-01 09:00}\n")
    result = run_cli("preview", "--now", NOW)
    assert result.exit_code == 0
    assert "Pruned" in result.output
    after = {p.name for p in cache.glob("*.png")}
    assert len(before & after) < len(before)  # the old cards of the edited post are gone
