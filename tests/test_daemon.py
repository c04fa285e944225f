"""The daemon: due deliveries once each, late ones within max_late, the rest expired; restarts after
SIGKILL, hot reloads, the kill switch, and a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mastodon_mock.testing import MockServer

from scheduler.ledger import Ledger, default_url
from tests.conftest import ROOT, Listener, Result

NY = "America/New_York"


def local(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(NY)).strftime("%Y-%m-%d %H:%M:%S")


def write(folder: Path, posts: list[dict[str, str]], mastodon_url: str | None = None, paused: bool = False) -> None:
    accounts = "  outbox: {platform: outbox, languages: [en]}\n"
    if mastodon_url:
        accounts += f'  mastodon: {{platform: mastodon, instance: "{mastodon_url}", languages: [en]}}\n'
    lines = [
        f"timezone: {NY}",
        "languages: [en]",
        f"paused: {str(paused).lower()}",
        "accounts:",
        accounts.rstrip(),
        "posts:",
    ]
    for post in posts:
        lines.append(f"  - id: {post['id']}")
        lines.append(f'    text: {{en: "{post["text"]}"}}')
        lines.append(f'    at: "{post["at"]}"')
        if "max_late" in post:
            lines.append(f"    max_late: {post['max_late']}")
    (folder / "posts.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def outbox_posts(folder: Path) -> dict[str, list[str]]:
    """post id -> the texts the outbox received for it."""
    found: dict[str, list[str]] = {}
    for path in (folder / "outbox" / "posts").glob("*/post.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        found.setdefault(record["key"].split("|")[0], []).append(record["parts"][0])
    return found


def states(folder: Path) -> dict[tuple[str, str], str]:
    return {(r.delivery.post_id, r.delivery.account): r.state for r in Ledger(default_url(folder)).records()}


def start_daemon(folder: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "daemon", "-v"],
        cwd=folder,
        env=os.environ.copy(),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_once_delivers_what_is_due_and_expires_what_is_too_late(folder: Path, run_cli: Callable[..., Result]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    write(
        folder,
        [
            {"id": "recent", "text": "Due ten minutes ago", "at": local(now - timedelta(minutes=10))},
            {"id": "stale", "text": "Due three hours ago", "at": local(now - timedelta(hours=3))},
            {
                "id": "patient",
                "text": "Due three hours ago, may wait",
                "at": local(now - timedelta(hours=3)),
                "max_late": "4h",
            },
            {"id": "future", "text": "Due tomorrow", "at": local(now + timedelta(days=1))},
        ],
    )
    result = run_cli("daemon", "--once")
    assert result.exit_code == 1  # something expired: a person should know
    assert "  live  outbox (outbox)" in result.lines
    assert any(line.startswith("expired     outbox en stale") for line in result.lines)
    assert sorted(outbox_posts(folder)) == ["patient", "recent"]
    assert states(folder) == {
        ("recent", "outbox"): "published",
        ("patient", "outbox"): "published",
        ("stale", "outbox"): "expired",
    }
    again = run_cli("daemon", "--once")
    assert again.exit_code == 0
    assert sorted(outbox_posts(folder)) == ["patient", "recent"]


def test_the_kill_switch(folder: Path, run_cli: Callable[..., Result]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    write(folder, [{"id": "p", "text": "Held back", "at": local(now - timedelta(minutes=1))}])
    assert run_cli("pause").lines[0] == "Paused until you run: run.py resume."
    paused = run_cli("daemon", "--once")
    assert "paused: nothing was published" in paused.lines
    assert outbox_posts(folder) == {}
    paused_line = "PAUSED (by run.py pause): nothing is being published (resume with: run.py resume)"
    assert paused_line in run_cli("status").lines
    assert run_cli("resume").lines[0] == "Resumed."
    run_cli("daemon", "--once")
    assert list(outbox_posts(folder)) == ["p"]
    write(folder, [{"id": "q", "text": "Also held", "at": local(now - timedelta(minutes=1))}], paused=True)
    run_cli("daemon", "--once")
    assert "q" not in outbox_posts(folder)


def test_status_lists_the_next_deliveries(folder: Path, run_cli: Callable[..., Result]) -> None:
    write(folder, [{"id": "p", "text": "Soon", "at": "2030-06-01 09:00:00"}])
    result = run_cli("status", "--now", "2030-05-31T00:00:00Z")
    assert result.lines[0].startswith("Daemon: none is running on this ledger (sqlite:///")
    assert result.lines[1:3] == ["Next deliveries:", "  Sat 2030-06-01 09:00 EDT (13:00 UTC)  p outbox en"]
    data = json.loads(run_cli("status", "--json", "--now", "2030-05-31T00:00:00Z").output)
    assert data["upcoming"] == [
        {
            "post": "p",
            "account": "outbox",
            "language": "en",
            "due_utc": "2030-06-01T13:00:00Z",
            "due_local": "2030-06-01T09:00:00-04:00",
        }
    ]
    assert data["paused"] is False


def test_twenty_deliveries_over_a_minute_survive_a_sigkill(folder: Path, mastodon_server: MockServer) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    posts = []
    for index in range(20):
        due = start + timedelta(seconds=3 * index)
        post = {"id": f"p{index:02d}", "text": f"Delivery {index} {time.time_ns()}", "at": local(due)}
        if index % 2:
            post["max_late"] = "2s"  # if it falls due while the daemon is down, it must expire, not go late
        posts.append(post)
    write(folder, posts, mastodon_server.base_url)
    log = folder / "daemon.log"
    daemon = start_daemon(folder, log)
    kill_at = start + timedelta(seconds=24)
    time.sleep(max(0.0, (kill_at - datetime.now(UTC)).total_seconds()))
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    down_until = datetime.now(UTC) + timedelta(seconds=8)
    time.sleep(8)
    daemon = start_daemon(folder, log)
    time.sleep(max(0.0, (start + timedelta(seconds=3 * 19 + 6) - datetime.now(UTC)).total_seconds()))
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=40) == 0
    ledger = states(folder)
    received = outbox_posts(folder)
    client = mastodon_server.client("alice")
    me = client.account_verify_credentials()
    on_mastodon = [s["content"] for s in client.account_statuses(me["id"], limit=40)]
    expired = []
    for index, post in enumerate(posts):
        due = start + timedelta(seconds=3 * index)
        missed = kill_at - timedelta(seconds=1) <= due <= down_until - timedelta(seconds=2)
        copies = sum(post["text"] in content for content in on_mastodon)
        if index % 2 and missed and ledger[(post["id"], "outbox")] == "expired":
            expired.append(post["id"])
            assert post["id"] not in received
            assert ledger[(post["id"], "mastodon")] == "expired"
            assert copies == 0
            continue
        assert ledger[(post["id"], "outbox")] == "published", (post["id"], log.read_text())
        assert ledger[(post["id"], "mastodon")] == "published", post["id"]
        assert received[post["id"]] == [post["text"]]
        assert copies == 1, post["id"]
    assert expired, "some deliveries fell due while the daemon was down with a 2 s max_late"
    assert "expired" in log.read_text()


def test_reload_while_running(folder: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first = {"id": "first", "text": "First version", "at": local(now + timedelta(seconds=2))}
    gone = {"id": "gone", "text": "Removed before it was due", "at": local(now + timedelta(seconds=30))}
    write(folder, [first, gone])
    log = folder / "daemon.log"
    daemon = start_daemon(folder, log)
    try:
        wait_for(lambda: "first" in outbox_posts(folder))
        # A changed text of what was published, a removed post, a new post due in 3 s.
        added = {"id": "added", "text": "Added while running", "at": local(datetime.now(UTC) + timedelta(seconds=3))}
        write(folder, [{**first, "text": "Second version"}, added])
        wait_for(lambda: "added" in outbox_posts(folder))
        assert outbox_posts(folder)["first"] == ["First version"]
        # A broken edit: logged, and the last good version keeps running.
        (folder / "posts.yaml").write_text("timezone: Mars/Olympus\n", encoding="utf-8")
        wait_for(lambda: "still running the last valid version" in log.read_text())
        # The kill switch while running: what falls due is held back.
        held = {"id": "held", "text": "Held by the switch", "at": local(datetime.now(UTC) + timedelta(seconds=2))}
        write(folder, [added, held], paused=True)
        time.sleep(5)
        assert "held" not in outbox_posts(folder)
        write(folder, [added, held])
        wait_for(lambda: "held" in outbox_posts(folder))
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "SIGHUP: reloaded" in log.read_text())
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=40) == 0
    assert "gone" not in outbox_posts(folder)
    assert "posts.yaml:1:11: timezone: 'Mars/Olympus' is not an IANA timezone name" in log.read_text()


def wait_for(condition: Callable[[], bool], limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the condition was not met in time")


def test_webhook_hears_of_what_needs_a_person(
    folder: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, listener: Listener
) -> None:
    monkeypatch.setenv("SCHEDULER_WEBHOOK_URL", f"{listener.url}/hook")
    now = datetime.now(UTC).replace(microsecond=0)
    write(folder, [{"id": "stale", "text": "Too late", "at": local(now - timedelta(hours=5))}])
    run_cli("daemon", "--once")
    received = listener.posted
    assert [(e["post"], e["account"], e["state"]) for e in received] == [("stale", "outbox", "expired")]
    assert received[0]["text"] == "stale to outbox (en): expired: not delivered in time"


def test_json_logs_are_one_object_per_line(folder: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    write(folder, [{"id": "p", "text": "Logged as JSON", "at": local(now - timedelta(minutes=1))}])
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "daemon", "--once", "-v", "--log-format", "json"],
        cwd=folder,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=True,
    )
    events = [json.loads(line) for line in result.stderr.splitlines()]
    published = [e for e in events if "published" in e["message"]]
    assert published
    assert published[0]["level"] == "INFO"
    assert published[0]["message"].startswith("delivery p outbox en: published file://")
