"""The engagement report: charts as inline SVG, totals that never count a delivery not fetched yet as
zero, hostile text shown as text, a CSV a spreadsheet cannot run, and a page that fits a phone and a
desktop in a real headless Chromium."""

from __future__ import annotations

import csv
import html
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver import Chrome

from scheduler.platforms.base import Counts
from scheduler.report import PALETTE, Row, Snapshot, build
from tests.conftest import ROOT
from tests.test_preview import browser  # noqa: F401 - the fixture

ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script> $x$ & "quotes" $\\frac$'  # "$\frac$" makes mathtext raise
LONG_WORD = "Solidaridad" * 25
EVIL_URL = '=HYPERLINK("http://evil.example")'
POSTS = (("peace-slogan", "slogan"), (HOSTILE, "excerpt"))
PLATFORMS = ("x", "mastodon", "bluesky")


def card(path: Path, color: str) -> Path:
    Image.new("RGB", (120, 63), color).save(path)
    return path


def make_rows(folder: Path) -> list[Row]:
    """2 posts x 2 languages x 3 platforms with two snapshots each, one never fetched, one to the outbox."""
    cards = {"en": card(folder / "card-en.png", "#0072B2"), "es": card(folder / "card-es.png", "#D55E00")}
    rows = []
    for post_index, (post_id, kind) in enumerate(POSTS):
        for language in ("en", "es"):
            for platform_index, platform in enumerate(PLATFORMS):
                published = START + timedelta(days=post_index, hours=platform_index)
                base = 5 * (post_index + 1) + 3 * platform_index + (language == "es")
                full = Counts(
                    base, base // 2, 1, 0 if platform != "mastodon" else None, 900 if platform == "x" else None
                )
                half = Counts(base // 2, 0, 0, 0, 100 if platform == "x" else None)
                hostile = post_id == HOSTILE
                rows.append(
                    Row(
                        post_id=post_id,
                        kind=kind,
                        language=language,
                        account=f"{platform}-{language}",
                        platform=platform,
                        published=published,
                        url="javascript:alert(1)"
                        if hostile and platform == "bluesky"
                        else f"https://{platform}.example/{post_index}/{language}",
                        text=f"{HOSTILE} {LONG_WORD}" if hostile else f"Peace now ({language})",
                        card=folder / "missing.png" if hostile else cards[language],
                        history=(
                            Snapshot(published + timedelta(hours=1), half),
                            Snapshot(published + timedelta(days=1), full),
                        ),
                    )
                )
    late = START + timedelta(days=3)
    rows.append(Row("@late", "text", "en", "bluesky-en", "bluesky", late, EVIL_URL, "Late", None, ()))
    rows.append(Row("peace-slogan", "slogan", "en", "outbox", "outbox", late, "outbox/1", "Peace now", None, ()))
    return rows


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Row]]:
    folder = tmp_path_factory.mktemp("report")
    rows = make_rows(folder)
    index = build(rows, folder / "out" / "report", timezone=ZONE, title=f"Report {HOSTILE}", now=NOW, csv=True)
    return index, rows


def test_the_page_is_written_with_inline_charts_and_no_script(report: tuple[Path, list[Row]]) -> None:
    index, _ = report
    assert index == index.parent / "index.html"
    assert index.stat().st_mode & 0o777 == 0o644
    page = index.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "<?xml" not in page
    assert "<!DOCTYPE svg" not in page
    figures = re.findall(r'<figure class="chart".*?</figure>', page, re.S)
    assert len(figures) >= 5
    for figure in figures:
        assert figure.count("<svg") == 1
        assert "<figcaption" in figure
        assert re.search(r'<svg [^>]*viewBox="[^"]+"', figure)
        assert "<table>" in figure  # the numbers, as a text alternative
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # every chart's ids are its own


def test_hostile_text_is_escaped_and_bad_links_are_not_links(report: tuple[Path, list[Row]]) -> None:
    page = report[0].read_text(encoding="utf-8")
    assert html.escape(HOSTILE) in page
    assert "<script>alert(1)</script>" not in page
    assert html.escape(f"{HOSTILE} {LONG_WORD}") in page
    assert "javascript:alert(1)" in page
    assert 'href="javascript' not in page
    assert "href=" + html.escape(f'"{EVIL_URL}"') not in page


def test_a_delivery_not_fetched_yet_is_not_counted_as_zero(report: tuple[Path, list[Row]]) -> None:
    page = report[0].read_text(encoding="utf-8")
    total = sum(counts.engagement for row in report[1] if (counts := row.latest) is not None)
    assert "14 deliveries</strong>: 12 with counts, 1 not fetched yet, 1 to the outbox (no counts)." in page
    assert f"Total engagement: {total:,}" in page
    assert '<td colspan="7" class="pending">not fetched yet</td>' in page
    assert '<td colspan="7" class="pending">outbox: no counts</td>' in page
    charts = page.split('<div class="charts">')[1].split("</section>")[0]
    assert "@late" not in charts
    hours = charts.split('id="chart-hours"')[1].split("</figure>")[0]
    deliveries = re.findall(r'<tr><td class="t">\d\d</td><td class="n">(\d+)</td>', hours)
    assert sum(map(int, deliveries)) == 12


def test_top_posts_show_their_cards_once_copied(report: tuple[Path, list[Row]]) -> None:
    index, _ = report
    page = index.read_text(encoding="utf-8")
    articles = re.findall(r'<article class="top">.*?</article>', page, re.S)
    assert len(articles) == 10
    for article in articles:
        assert ("<img " in article) == ("peace-slogan" in article)  # the excerpt's card is missing on disk
    sources = set(re.findall(r'<img src="([^"]+)" alt="Card of the post [^"]+"', page))
    assert all(re.fullmatch(r"cards/[0-9a-f]{32}\.png", source) for source in sources)
    assert sorted(p.name for p in (index.parent / "cards").iterdir()) == sorted(Path(s).name for s in sources)
    assert len(sources) == 2  # one file per distinct card


def test_the_csv_has_one_line_per_row_and_cannot_run_formulas(report: tuple[Path, list[Row]]) -> None:
    index, rows = report
    with (index.parent / "engagement.csv").open(encoding="utf-8-sig", newline="") as stream:
        lines = list(csv.DictReader(stream))
    assert len(lines) == len(rows)
    assert list(lines[0]) == [
        "post_id",
        "kind",
        "language",
        "account",
        "platform",
        "published",
        "url",
        "likes",
        "reposts",
        "replies",
        "quotes",
        "impressions",
        "engagement",
        "fetched_at",
    ]
    late = next(line for line in lines if line["post_id"] == "'@late")
    assert late["url"] == f"'{EVIL_URL}"
    assert late["engagement"] == ""  # never fetched: unknown, not zero
    assert late["fetched_at"] == ""
    first = next(line for line in lines if line["post_id"] == "peace-slogan" and line["account"] == "x-en")
    assert first["published"] == "2026-12-01T14:00:00+00:00"
    assert (first["likes"], first["reposts"], first["replies"], first["quotes"]) == ("5", "2", "1", "0")
    assert (first["impressions"], first["engagement"]) == ("900", "8")
    assert first["fetched_at"] == "2026-12-02T14:00:00+00:00"
    mastodon = next(line for line in lines if line["account"] == "mastodon-en")
    assert (mastodon["quotes"], mastodon["impressions"]) == ("", "")  # not counted by the platform


def test_no_counts_yet_instead_of_charts(tmp_path: Path) -> None:
    empty = build([], tmp_path / "empty", timezone=ZONE, title="Report", now=NOW).read_text(encoding="utf-8")
    assert "No counts yet: nothing has been published." in empty
    assert "<svg" not in empty
    rows = [row for row in make_rows(tmp_path) if row.post_id == "peace-slogan"]
    pending = [replace(row, history=()) for row in rows]
    page = build(pending, tmp_path / "pending", timezone=ZONE, title="Report", now=NOW).read_text(encoding="utf-8")
    assert "No counts yet: no delivery has had its counts fetched." in page
    assert "<strong>No counts yet.</strong>" in page
    assert "Total engagement" not in page
    assert "<svg" not in page
    assert page.count("not fetched yet</td>") == 6
    assert not (tmp_path / "pending" / "engagement.csv").exists()


def test_matplotlib_settings_are_left_as_they_were(tmp_path: Path) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    figure = Figure()
    figure.text(0, 0, HOSTILE)
    with pytest.raises(ValueError, match="frac"):  # what the hostile id would do to mathtext
        figure.savefig(tmp_path / "mathtext.svg")
    before = dict(matplotlib.rcParams)
    build(make_rows(tmp_path), tmp_path / "out", timezone=ZONE, title="Report", now=NOW)
    assert dict(matplotlib.rcParams) == before


def test_other_commands_do_not_import_matplotlib() -> None:
    check = "import sys, scheduler.cli, scheduler.preview; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], check=True, cwd=ROOT)


def relative_luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("color", PALETTE)
def test_chart_colors_stand_out_on_white(color: str) -> None:
    assert 1.05 / (relative_luminance(color) + 0.05) >= 3  # WCAG's minimum for graphics


@pytest.mark.parametrize("width", [390, 1280])
def test_report_in_a_real_browser(browser: Chrome, report: tuple[Path, list[Row]], width: int) -> None:  # noqa: F811
    driver = browser
    driver.set_window_size(width, 900)
    driver.get(report[0].as_uri())
    assert driver.execute_script("return window.innerWidth") <= width
    driver.execute_async_script(
        "const done = arguments[0];"
        "Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => {i.onload = i.onerror = r})))"
        ".then(() => done(0));"
    )
    charts = driver.execute_script(
        "return [...document.querySelectorAll('figure.chart svg')].map(s => {"
        "const r = s.getBoundingClientRect(), p = s.parentElement.getBoundingClientRect();"
        "return {width: r.width, height: r.height, left: r.left - p.left, right: p.right - r.right}})"
    )
    assert len(charts) >= 5
    for chart in charts:
        assert chart["width"] > 0
        assert chart["height"] > 0
        assert chart["left"] >= 0
        assert chart["right"] >= 0  # fits its figure
    # clientWidth, not innerWidth: the latter includes the scrollbar and would hide 15px of overflow
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
    ids = [element.text for element in driver.find_elements("css selector", "article.top .id")]
    assert HOSTILE in ids
    texts = [element.text for element in driver.find_elements("css selector", "article.top .text")]
    assert f"{HOSTILE} {LONG_WORD}" in texts
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.accept()
    images = driver.execute_script("return [...document.images].map(i => [i.naturalWidth, i.alt])")
    with_cards = driver.execute_script(
        "return [...document.querySelectorAll('article.top')].filter(a => a.querySelector('.id')"
        ".textContent === 'peace-slogan').length"
    )
    assert len(images) == with_cards > 0
    assert all(natural == 120 and alt.startswith("Card of the post peace-slogan") for natural, alt in images)
    links = driver.execute_script("return [...document.links].map(a => a.protocol)")
    assert set(links) <= {"http:", "https:", "file:"}
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
