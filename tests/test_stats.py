"""Engagement counts as a person meets them: `post`, then people like and boost it on the real peers,
then `stats`, `status` and `report`; the daemon fetching them on its own; a platform failing."""

from __future__ import annotations

import csv
import html
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import requests
from atproto import Client, models
from mastodon_mock.testing import MockServer
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver import Chrome

from scheduler.ledger import Ledger, default_url
from tests.conftest import ROOT, Result, mastodon_fault, new_bsky_account, x_environment
from tests.peers.appview.server import AppViewStub
from tests.peers.x_stub.server import XStub
from tests.test_preview import browser  # noqa: F401 - the fixture

T = TypeVar("T")


def write_campaign(folder: Path, accounts: str, stats: str = "", posts: int = 1) -> Path:
    stamp = time.time_ns()  # texts of their own: X refuses a duplicate
    entries = "".join(
        f"""
  - id: slogan-{i}
    text: {{en: "U.S. out of Haiti! {stamp}-{i}", es: "¡EE.UU. fuera de Haití! {stamp}-{i}"}}
    card: {{slogan: {{en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití!"}}}}
    at: 2030-12-01 09:00
"""
        for i in range(posts)
    )
    config = folder / "posts.yaml"
    config.write_text(
        f"timezone: America/New_York\nlanguages: [en, es]\naccounts:\n{accounts}\n{stats}\nposts:{entries}",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def project(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """conftest's project folder, with the X stub's credentials for the account x-en."""
    for name, value in x_environment("x-en").items():
        monkeypatch.setenv(name, value)
    return folder


def mastodon_accounts(server: MockServer) -> str:
    return f'  mastodon: {{platform: mastodon, instance: "{server.base_url}", languages: [en, es]}}\n'


def x_account(stub: XStub) -> str:
    return f'  x-en: {{platform: x, api_base: "{stub.url}", languages: [en]}}\n'


def published_ids(project: Path, account: str, post_id: str = "slogan-0") -> dict[str, str]:
    """The remote id of each published delivery of the post to the account, by language."""
    ledger = Ledger(default_url(project))
    try:
        records = ledger.records(post_id=post_id, account=account, states=("published",))
        return {r.delivery.language: r.parts[0]["id"] for r in records}
    finally:
        ledger.close()


def test_mastodon_favourites_and_boosts_come_back_with_a_history(
    project: Path, run_cli: Callable[..., Result], mastodon_server: MockServer
) -> None:
    write_campaign(project, mastodon_accounts(mastodon_server) + "  outbox: {platform: outbox, languages: [en, es]}")
    assert run_cli("post", "slogan-0").exit_code == 0
    status_id = published_ids(project, "mastodon")["es"]
    mastodon_server.client("bob").status_favourite(status_id)
    mastodon_server.client("bob").status_reblog(status_id)

    first = run_cli("stats")
    assert first.exit_code == 0, first.output
    es_line = next(line for line in first.lines if line.startswith("slogan-0 mastodon es"))
    assert "1 like, 1 repost, 0 replies (fetched " in es_line
    en_line = next(line for line in first.lines if line.startswith("slogan-0 mastodon en"))
    assert "0 likes, 0 reposts, 0 replies (fetched " in en_line
    assert "mastodon (mastodon): 2 posts counted" in first.lines
    assert "outbox (outbox): 0 posts counted; an outbox has no counts" in first.lines

    mastodon_server.client("carol").status_favourite(status_id)
    second = json.loads(run_cli("stats", "--json").output)
    counts = {(d["account"], d["language"]): d["counts"] for d in second["deliveries"]}
    assert counts[("mastodon", "es")] | {"fetched_utc": None} == {
        "likes": 2,
        "reposts": 1,
        "replies": 0,
        "quotes": None,  # this server does not count quotes: unknown, not 0
        "impressions": None,
        "engagement": 3,
        "fetched_utc": None,
    }
    assert counts[("outbox", "es")] is None

    ledger = Ledger(default_url(project))
    history = ledger.snapshots()
    ledger.close()
    key = next(k for k in history if k.startswith("slogan-0|") and k.endswith("|mastodon|es"))
    assert [(c.likes, c.reposts) for _, c in history[key]] == [(1, 1), (2, 1)]

    status = run_cli("status")
    assert any(line.strip().startswith("counts: 2 likes, 1 repost, 0 replies (fetched ") for line in status.lines)
    assert "      counts: none (an outbox is read by nobody)" in status.lines
    recent = json.loads(run_cli("status", "--json").output)["recent"]
    es = next(r for r in recent if (r["account"], r["language"]) == ("mastodon", "es"))
    assert (es["counts"]["likes"], es["counts"]["engagement"]) == (2, 3)

    config = project / "posts.yaml"
    config.write_text(
        config.read_text().replace("languages: [en, es]}\n  outbox", "languages: [en, es], enabled: false}\n  outbox")
    )
    disabled = run_cli("stats")
    assert disabled.exit_code == 0, disabled.output
    assert "mastodon (mastodon): 0 posts counted; disabled in posts.yaml: not read" in disabled.lines


def test_x_is_read_only_within_its_monthly_budget_and_says_what_it_cost(
    project: Path, run_cli: Callable[..., Result], x_stub: XStub
) -> None:
    config = write_campaign(project, x_account(x_stub), posts=3)
    for i in range(3):
        assert run_cli("post", f"slogan-{i}").exit_code == 0
    tweet = published_ids(project, "x-en")["en"]
    reads_before = sum(x_stub.state()["reads"].values())

    off = run_cli("stats")
    assert off.exit_code == 0, off.output
    assert "x-en (x): 0 posts counted; X is not read: it charges per post read" in off.output
    assert sum(x_stub.state()["reads"].values()) == reads_before  # nothing was read, nothing billed

    config.write_text(config.read_text().replace("\nposts:", "stats: {x_reads_per_month: 2}\nposts:"))
    x_stub.set_metrics(tweet, like_count=5, retweet_count=2, quote_count=1, impression_count=340)
    spent = run_cli("stats")
    assert spent.exit_code == 0, spent.output
    assert "x-en (x): 2 posts counted; this month's X read budget (2) is spent: 1 not read" in spent.output
    assert "X reads: 2 now; 2 this month (budget 2), about 0.002 USD at 0.001 per post read" in spent.output
    assert sum(x_stub.state()["reads"].values()) == reads_before + 2
    assert "5 likes, 2 reposts, 0 replies, 1 quote, 340 views" in run_cli("status").output

    again = run_cli("stats")
    assert "X reads: 0 now; 2 this month (budget 2)" in again.output
    assert sum(x_stub.state()["reads"].values()) == reads_before + 2

    # X answering with an error bills nothing: what was taken from the budget is given back.
    config.write_text(config.read_text().replace("x_reads_per_month: 2", "x_reads_per_month: 10"))
    x_stub.add_fault(match={"method": "GET", "path": "/2/tweets"}, effect={"type": "status", "status": 503})
    failed = run_cli("stats")
    assert failed.exit_code == 1
    assert "X reads: 0 now; 2 this month (budget 10)" in failed.output


def test_a_failing_platform_leaves_the_others_counts_stored_and_waits_before_asking_again(
    project: Path, run_cli: Callable[..., Result], mastodon_server: MockServer, x_stub: XStub
) -> None:
    write_campaign(project, mastodon_accounts(mastodon_server) + x_account(x_stub), "stats: {x_reads_per_month: 10}")
    assert run_cli("post", "slogan-0").exit_code == 0
    mastodon_fault(mastodon_server, "/api/v1/statuses/*", {"type": "status", "status": 503}, 10, ("GET",))
    failed = run_cli("stats")
    assert failed.exit_code == 1
    assert any(line.startswith("mastodon (mastodon): 0 posts counted; FAILED: ") for line in failed.lines)
    assert "x-en (x): 1 post counted" in failed.lines
    ledger = Ledger(default_url(project))
    stored = {key.split("|")[2] for key in ledger.snapshots()}
    ledger.close()
    assert stored == {"x-en"}
    status = run_cli("status")
    assert any(line.startswith("COUNTS FAILING for mastodon: ") for line in status.lines), status.output

    requests.delete(f"{mastodon_server.base_url}/api/v1/_mock/faults", timeout=5)  # back, but not yet time
    waiting = run_cli("stats", "--account", "mastodon")
    assert waiting.exit_code == 1
    assert "mastodon (mastodon): 0 posts counted; FAILED: " in waiting.output
    assert "; next try after " in waiting.output


def add_timed_posts(config: Path, *due: datetime) -> None:
    """Posts post-0, post-1, ... going out at these instants, with texts of their own."""
    stamp = time.time_ns()
    config.write_text(
        config.read_text().replace("posts:", "posts:\n", 1)
        + "".join(
            f"  - id: post-{i}\n    text: {{en: 'Post {i} {stamp}', es: 'Post {i} {stamp}'}}\n"
            f"    at: {at:%Y-%m-%d %H:%M:%S}+00:00\n"
            for i, at in enumerate(due)
        )
    )


def run_daemon_until(
    project: Path, look: Callable[[Ledger], T], done: Callable[[T], bool], limit: float
) -> tuple[T, str]:
    """Run the daemon as a server does until what `look` finds in the ledger is `done` (or `limit` seconds
    pass); what it found last, and the daemon's output."""
    daemon = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "daemon"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + limit
        while True:
            time.sleep(0.5)
            ledger = Ledger(default_url(project))
            found = look(ledger)
            ledger.close()
            if done(found) or time.monotonic() > deadline:
                break
    finally:
        daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=60)
    return found, output


def test_the_daemon_fetches_counts_after_each_delivery_on_its_own(project: Path, mastodon_server: MockServer) -> None:
    config = write_campaign(project, mastodon_accounts(mastodon_server), "stats: {after: [3s, 6s]}", posts=0)
    add_timed_posts(config, datetime.now(UTC) + timedelta(seconds=3))
    fetches, output = run_daemon_until(
        project,
        lambda ledger: sorted(len(history) for history in ledger.snapshots().values()),
        lambda fetches: fetches == [2, 2],
        limit=60,
    )
    assert fetches == [2, 2], output  # en and es, each at 3 s and at 6 s after it went out
    assert "  counts fetched 3s, 6s after each delivery (stats in posts.yaml)" in output
    assert output.count("fetched the counts of 2 of 2 published deliveries") == 2
    assert "Traceback" not in output


@pytest.fixture(scope="module")
def appview(pds_url: str) -> Iterator[AppViewStub]:
    with AppViewStub(pds_url) as running:
        yield running


def test_bluesky_counts_come_from_the_appview_25_posts_a_call(
    project: Path,
    run_cli: Callable[..., Result],
    pds_url: str,
    appview: AppViewStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = new_bsky_account(pds_url)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", account.app_password)
    bluesky = (
        f'  bluesky: {{platform: bluesky, handle: {account.handle}, service: "{pds_url}", appview: "{appview.url}",'
        " languages: [en, es]}\n"
    )
    write_campaign(project, bluesky, posts=13)
    for i in range(13):
        assert run_cli("post", f"slogan-{i}").exit_code == 0
    uri = published_ids(project, "bluesky", "slogan-12")["es"]
    fan = new_bsky_account(pds_url)
    client = Client(base_url=pds_url)
    client.login(fan.handle, fan.app_password, fetch_bsky_profile=False)
    subject = models.ComAtprotoRepoStrongRef.Main(
        uri=uri,
        cid=client.com.atproto.repo.get_record(
            {"repo": account.did, "collection": "app.bsky.feed.post", "rkey": uri.rsplit("/", 1)[1]}
        ).cid,
    )
    now = client.get_current_time_iso()
    client.app.bsky.feed.like.create(fan.did, models.AppBskyFeedLike.Record(created_at=now, subject=subject))
    client.app.bsky.feed.repost.create(fan.did, models.AppBskyFeedRepost.Record(created_at=now, subject=subject))
    appview.clear_calls()

    result = run_cli("stats")
    assert result.exit_code == 0, result.output
    assert [call["uris"] for call in appview.calls()] == [25, 1]
    assert "bluesky (bluesky): 26 posts counted" in result.lines
    line = next(line for line in result.lines if line.startswith("slogan-12 bluesky es"))
    assert "1 like, 1 repost, 0 replies, 0 quotes (fetched " in line

    reset = int(time.time()) + 1800  # later than any backoff: the platform's own reset time decides
    appview.add_fault(429, count=2, headers={"ratelimit-reset": str(reset)})
    limited = run_cli("stats")
    assert limited.exit_code == 1
    failing = next(line for line in limited.lines if line.startswith("bluesky (bluesky): 0 posts counted; FAILED: "))
    assert "Bluesky rate limit reached" in failing
    assert "; next try after " in failing
    waiting = json.loads(run_cli("stats", "--json").output)["accounts"][0]
    assert waiting["note"].startswith("not asked again before ")
    assert datetime.fromisoformat(waiting["not_before"]) >= datetime.fromtimestamp(reset, UTC)
    assert len(appview.calls()) == 3  # 25 + 1, then the refused call; the waiting run asked nothing


@pytest.mark.parametrize("collect", [True, False])
def test_daemon_once_fetches_what_is_due_unless_switched_off(
    project: Path, run_cli: Callable[..., Result], mastodon_server: MockServer, collect: bool
) -> None:
    write_campaign(project, mastodon_accounts(mastodon_server), f"stats: {{collect: {str(collect).lower()}}}")
    assert run_cli("post", "slogan-0").exit_code == 0
    soon = run_cli("daemon", "--once", "--now", (datetime.now(UTC) + timedelta(minutes=30)).isoformat())
    assert "counts: fetched" not in soon.output  # the first checkpoint, 1 h after it went out, has not come
    later = run_cli("daemon", "--once", "--now", (datetime.now(UTC) + timedelta(hours=2)).isoformat())
    ledger = Ledger(default_url(project))
    stored = ledger.snapshots()
    ledger.close()
    if collect:
        assert "counts: fetched 2 of 2 due" in later.lines
        assert sorted(len(history) for history in stored.values()) == [1, 1]
    else:
        assert "  counts: not fetched (stats.collect: false in posts.yaml)" in later.lines
        assert "counts: fetched" not in later.output
        assert stored == {}


def test_a_slow_platform_never_delays_a_due_post(project: Path, mastodon_server: MockServer) -> None:
    """Counts of the first post fall due while the platform answers reads slowly; the second post still
    goes out on time."""
    config = write_campaign(project, mastodon_accounts(mastodon_server), "stats: {after: [1s]}", posts=0)
    add_timed_posts(config, datetime.now(UTC) + timedelta(seconds=3), datetime.now(UTC) + timedelta(seconds=8))
    mastodon_fault(
        mastodon_server, "/api/v1/statuses/*", {"type": "latency", "delay_ms": 8000}, count=20, methods=("GET",)
    )
    went_out, output = run_daemon_until(
        project,
        lambda ledger: {r.delivery.key: r.updated_at for r in ledger.records(states=("published",))},
        lambda went_out: len(went_out) == 4,
        limit=40,
    )
    assert len(went_out) == 4, output
    late = {key: at - datetime.fromisoformat(key.split("|")[1]) for key, at in went_out.items()}
    assert all(delay < timedelta(seconds=2) for delay in late.values()), (late, output)


HOSTILE = "<script>alert('x')</script> & $x$ <b>bold</b>"


def test_report_from_the_command_shows_what_went_out_and_how_it_did(
    project: Path,
    run_cli: Callable[..., Result],
    mastodon_server: MockServer,
    browser: Chrome,  # noqa: F811
) -> None:
    config = write_campaign(
        project, mastodon_accounts(mastodon_server) + "  outbox: {platform: outbox, languages: [en, es]}", posts=2
    )
    config.write_text(config.read_text().replace('en: "U.S. out of Haiti! ', f'en: "{HOSTILE} ', 1))
    first_card = '    card: {slogan: {en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití!"}}\n'
    config.write_text(config.read_text().replace(first_card, "", 1))  # slogan-0 is text alone
    for i in range(2):
        assert run_cli("post", f"slogan-{i}").exit_code == 0
    not_yet = run_cli("report")
    assert not_yet.exit_code == 0, not_yet.output
    assert not_yet.lines[0] == f"Wrote {project / 'report' / 'index.html'}: 8 deliveries, 0 with counts"
    assert "No counts yet" in (project / "report" / "index.html").read_text()

    mastodon_server.client("bob").status_favourite(published_ids(project, "mastodon", "slogan-1")["es"])
    assert run_cli("stats").exit_code == 0
    made = run_cli("report", "--csv", "--out", str(project / "site"))
    assert made.lines == [
        f"Wrote {project / 'site' / 'index.html'}: 8 deliveries, 4 with counts",
        f"Wrote {project / 'site' / 'engagement.csv'}",
    ]
    page = (project / "site" / "index.html").read_text()
    assert "<script" not in page
    assert html.escape(HOSTILE, quote=True).split(" &amp;")[0] in page
    rows = list(csv.DictReader((project / "site" / "engagement.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) == 8
    liked = next(r for r in rows if (r["post_id"], r["account"], r["language"]) == ("slogan-1", "mastodon", "es"))
    assert (liked["kind"], liked["likes"], liked["engagement"]) == ("slogan", "1", "1")
    text_only = next(r for r in rows if (r["post_id"], r["account"]) == ("slogan-0", "mastodon"))
    assert text_only["kind"] == "text"
    # the top posts counted: slogan-1's English and Spanish cards; slogan-0 has none
    assert sorted(p.suffix for p in (project / "site" / "cards").iterdir()) == [".png", ".png"]

    for width in (390, 1280):
        browser.set_window_size(width, 900)
        browser.get((project / "site" / "index.html").as_uri())
        assert browser.execute_script("return document.querySelectorAll('figure.chart svg').length") >= 5
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
        texts = [element.text for element in browser.find_elements("css selector", "article.top .text")]
        assert any(text.startswith(HOSTILE) for text in texts)
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.accept()

    # Edited after it went out: the page does not show the new words as if they had gone out.
    config.write_text(config.read_text().replace("¡EE.UU. fuera de Haití! ", "¡Fuera! ").replace('-1"', '-1 editado"'))
    assert run_cli("report").exit_code == 0
    top = (project / "report" / "index.html").read_text().split('<article class="top">')[1]
    assert "slogan-1" in top
    assert "(changed in posts.yaml since it went out)" in top
    assert "<img" not in top


@pytest.mark.parametrize("command", [("stats",), ("post", "slogan-0")])
def test_an_unknown_account_is_a_usage_error(project: Path, command: tuple[str, ...]) -> None:
    write_campaign(project, "  outbox: {platform: outbox, languages: [en, es]}")
    done = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *command, "--account", "nope"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "Error: Invalid value for --account: no account nope in posts.yaml"
