"""The preview page: written for the shipped campaign, cached on the second run, safe and usable in
a real headless Chromium, on a phone-sized screen too."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import NOW, ROOT, Result

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HOSTILE = "<script>alert('x')</script> & \"quotes\""


@pytest.fixture(scope="module")
def campaign_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped campaign in a folder of its own, with one hostile post added."""
    folder = tmp_path_factory.mktemp("campaign")
    shutil.copytree(ROOT / "assets", folder / "assets")
    text = (ROOT / "posts.yaml").read_text(encoding="utf-8")
    quoted = json.dumps(HOSTILE)
    text += (
        "\n  - id: hostile\n"
        f"    text: {{en: {quoted}, es: {quoted}}}\n"
        f"    card: {{excerpt: {{en: {quoted}, es: {quoted}}}}}\n"
        "    at: 2026-12-20 10:00\n"
    )
    (folder / "posts.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def written(campaign_copy: Path) -> Path:
    from click.testing import CliRunner

    from scheduler.cli import cli

    result = CliRunner().invoke(cli, ["preview", "--config", str(campaign_copy / "posts.yaml"), "--now", NOW])
    assert result.exit_code == 0, result.output
    return campaign_copy / "preview" / "index.html"


def test_preview_writes_every_card_and_the_page(written: Path) -> None:
    page = written.read_text(encoding="utf-8")
    sources = set(re.findall(r'src="([^"]+)"', page))
    assert len(sources) > 25
    for source in sources:
        assert (written.parent / source).is_file(), source
    assert "Calendar" in page
    assert "Timeline" in page
    assert "Tue 01 Dec 2026 09:00 EST" in page
    assert "(14:00 UTC)" in page
    assert 'lang="es"' in page


def test_user_text_is_escaped(written: Path) -> None:
    page = written.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page


def test_second_preview_renders_nothing(campaign_copy: Path, written: Path, run_cli: Callable[..., Result]) -> None:
    result = run_cli("preview", "--config", str(campaign_copy / "posts.yaml"), "--now", NOW)
    assert result.exit_code == 0
    assert re.search(r"\d+ cards \(0 rendered, \d+ from the cache\)", result.output), result.output


def test_over_limit_text_is_marked(project: Path, run_cli: Callable[..., Result]) -> None:
    (project / "posts.yaml").write_text(
        "timezone: America/New_York\nlanguages: [en]\naccounts:\n"
        "  outbox: {platform: outbox, languages: [en]}\n"
        "posts:\n  - id: p\n    text: {en: hello}\n    at: 2026-12-01 09:00\n",
        encoding="utf-8",
    )
    result = run_cli("preview", "--now", NOW)
    assert result.exit_code == 0, result.output
    page = (project / "preview" / "index.html").read_text(encoding="utf-8")
    assert "5 characters" in page
    assert 'class="count over"' not in page


def test_preview_of_a_campaign_with_errors_is_written_and_exits_1(
    project: Path, run_cli: Callable[..., Result]
) -> None:
    shutil.copy(ROOT / "tests" / "broken" / "13-unknown-account.yaml", project / "posts.yaml")
    result = run_cli("preview", "--now", NOW)
    assert result.exit_code == 1
    assert "no account 'outbx'; did you mean 'outbox'?" in result.output
    page = (project / "preview" / "index.html").read_text(encoding="utf-8")
    assert "Posts with errors" in page
    assert "did you mean &#x27;outbox&#x27;?" in page


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium through its ChromeDriver; missing ones fail the test, never skip it."""
    assert CHROMIUM.exists(), "Chromium is missing: apt-get install chromium chromium-driver (tests/run.sh does)"
    assert CHROMEDRIVER.exists(), "ChromeDriver is missing: apt-get install chromium-driver"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.parametrize("width", [1280, 390])
def test_page_in_a_real_browser(browser: object, written: Path, width: int) -> None:
    driver: object = browser
    driver.set_window_size(width, 900)  # type: ignore[attr-defined]
    driver.get(written.as_uri())  # type: ignore[attr-defined]
    driver.execute_async_script(  # type: ignore[attr-defined]
        "const done = arguments[0];"
        "Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => {i.onload = i.onerror = r})))"
        ".then(() => done(0));"
    )
    broken = driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.getAttribute('src'))"
    )
    assert broken == []
    missing_alt = driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.images].filter(i => !i.getAttribute('alt')).length"
    )
    assert missing_alt == 0
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]  # type: ignore[attr-defined]
    assert errors == []
    overflow = driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
    body = driver.find_element("tag name", "body").text  # type: ignore[attr-defined]
    assert "<script>alert('x')</script>" in body
    assert "Mon 29 Mar 2027 12:00 EDT" in body  # the campaign's last `until` is reached
    headings = driver.execute_script("return document.querySelectorAll('h1, h2, h3').length")  # type: ignore[attr-defined]
    assert headings > 10


def test_chromium_is_the_debian_build() -> None:
    version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("Chromium")


def test_outbox_feed_shows_hostile_text_as_text(browser: object, tmp_path: Path) -> None:
    from scheduler.platforms.base import Attempt, Image, Outgoing
    from scheduler.platforms.outbox import OutboxPlatform

    hostile = '<img src=x onerror="window.__hit=1"><script>window.__hit=2</script>'
    picture = Image((ROOT / "assets" / "logo.png").read_bytes(), "image/png", hostile, 256, 256)
    outbox = OutboxPlatform("outbox", tmp_path / "outbox")
    outbox.publish(Attempt(Outgoing(f"{hostile}|2026-12-01T14:00:00Z|outbox|en", "en", (hostile,), picture)))
    driver: object = browser
    driver.get((tmp_path / "outbox" / "index.html").as_uri())  # type: ignore[attr-defined]
    assert driver.execute_script("return window.__hit === undefined")  # type: ignore[attr-defined]
    body = driver.find_element("tag name", "body").text  # type: ignore[attr-defined]
    assert hostile in body
    image = driver.execute_script("return document.images[0].naturalWidth")  # type: ignore[attr-defined]
    assert image == 256
