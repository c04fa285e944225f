"""Operating the scheduler, end to end through the command line: the kill switch (for `post` and a
running daemon), never publishing early (whatever wakes the daemon), a damaged or locked ledger,
backups, an unwritable outbox, `daemon --once` exit codes, the heartbeat, and what the daemon says
at its default verbosity."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mastodon_mock.testing import MockServer

from scheduler.ledger import Ledger, Record, default_url
from tests.conftest import ROOT, Listener, Result, mastodon_fault
from tests.test_daemon import local, outbox_posts, write

TRACEBACK = "Traceback (most recent call last)"


# --- helpers -------------------------------------------------------------------------------------


def whole_second(moment: datetime) -> datetime:
    """The next whole second at or after `moment` (ledger and outbox stamps have whole seconds)."""
    return moment.replace(microsecond=0) + (timedelta(seconds=1) if moment.microsecond else timedelta(0))


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def wait_for(condition: Callable[[], bool], limit: float) -> bool:
    """Polls `condition` until it holds (True) or `limit` seconds passed (False)."""
    deadline = time.monotonic() + limit
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def start_daemon(folder: Path, log: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "daemon", *args],
        cwd=folder,
        env={**os.environ, **(env or {})},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def stop_daemon(daemon: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then SIGKILL if it does not stop in time; its exit code."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
    try:
        return daemon.wait(timeout=40)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait(timeout=10)
        raise


def wait_running(daemon: subprocess.Popen[bytes], log: Path, limit: float = 30.0) -> None:
    """Until the daemon says it runs (its banner is printed and its scheduler started)."""
    started = wait_for(lambda: "Running (pid" in log.read_text() or daemon.poll() is not None, limit)
    assert started, log.read_text()
    assert daemon.poll() is None, log.read_text()


def run_command(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=folder,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def records(folder: Path) -> list[Record]:
    ledger = Ledger(default_url(folder))
    try:
        return ledger.records(newest_first=False)
    finally:
        ledger.close()


def outbox_records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in (folder / "outbox" / "posts").glob("*/post.json")]


def unique(text: str) -> str:
    return f"{text} {time.time_ns()}"


# --- kill switch ---------------------------------------------------------------------------------


def test_post_refuses_while_paused_unless_told_to_ignore_the_pause(
    folder: Path, run_cli: Callable[..., Result]
) -> None:
    now = datetime.now(UTC)
    text = unique("Held by the kill switch")
    write(folder, [{"id": "p", "text": text, "at": local(now + timedelta(days=2))}])
    assert run_cli("pause").exit_code == 0
    refused = run_cli("post", "p")
    assert refused.exit_code == 1, refused.output
    assert "publishing is paused (by run.py pause): nothing was posted" in refused.output
    assert "--ignore-pause" in refused.output
    assert outbox_posts(folder) == {}
    assert records(folder) == []

    dry = run_cli("post", "p", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.lines[0].startswith("would post  outbox (outbox) en, due ")
    assert f"  text ({len(text)}): {text}" in dry.lines
    assert outbox_posts(folder) == {}

    # paused: true in posts.yaml does the same, even after `resume`.
    assert run_cli("resume").exit_code == 0
    write(folder, [{"id": "p", "text": text, "at": local(now + timedelta(days=2))}], paused=True)
    refused = run_cli("post", "p")
    assert refused.exit_code == 1, refused.output
    assert "publishing is paused (paused: true in posts.yaml): nothing was posted" in refused.output
    assert "--ignore-pause" in refused.output
    assert outbox_posts(folder) == {}
    dry = run_cli("post", "p", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"  text ({len(text)}): {text}" in dry.lines
    assert outbox_posts(folder) == {}

    forced = run_cli("post", "p", "--ignore-pause")
    assert forced.exit_code == 0, forced.output
    assert forced.lines[0].startswith("published   outbox en file://")
    assert outbox_posts(folder) == {"p": [text]}
    assert [r.state for r in records(folder)] == ["published"]


def test_a_running_daemon_holds_back_while_paused_and_catches_up_on_resume(
    folder: Path, run_cli: Callable[..., Result]
) -> None:
    first_text, second_text = unique("Fell due while paused"), unique("Paused just before it fell due")
    due = whole_second(datetime.now(UTC) + timedelta(seconds=4))
    first = {"id": "first", "text": first_text, "at": local(due), "max_late": "2m"}
    write(folder, [first])
    log = folder / "daemon.log"
    daemon = start_daemon(folder, log)
    try:
        assert run_cli("pause").exit_code == 0  # at once: the daemon is still starting
        wait_running(daemon, log)
        sleep_until(due + timedelta(seconds=3))
        assert outbox_posts(folder) == {}, log.read_text()
        assert [(r.delivery.post_id, r.state) for r in records(folder)] == [("first", "pending")]

        assert run_cli("resume").exit_code == 0
        resumed = time.monotonic()
        # Sent at once, not at the daemon's idle wake five minutes later.
        assert wait_for(lambda: "first" in outbox_posts(folder), 2.5), log.read_text()
        assert time.monotonic() - resumed < 2.5

        # Paused while idle, shortly before a post falls due: nothing goes out at its time.
        second_due = whole_second(datetime.now(UTC) + timedelta(seconds=4))
        second = {"id": "second", "text": second_text, "at": local(second_due), "max_late": "2m"}
        write(folder, [first, second])
        assert wait_for(lambda: "posts.yaml changed: reloaded" in log.read_text(), 3.0), log.read_text()
        sleep_until(second_due - timedelta(seconds=1.5))
        assert run_cli("pause").exit_code == 0
        sleep_until(second_due + timedelta(seconds=2))
        assert "second" not in outbox_posts(folder), log.read_text()
        assert run_cli("resume").exit_code == 0
        assert wait_for(lambda: "second" in outbox_posts(folder), 2.5), log.read_text()
    finally:
        assert stop_daemon(daemon) == 0
    text = log.read_text()
    assert outbox_posts(folder) == {"first": [first_text], "second": [second_text]}
    assert text.count("delivery first outbox en: published") == 1, text
    assert text.count("delivery second outbox en: published") == 1, text
    assert sorted((r.delivery.post_id, r.state) for r in records(folder)) == [
        ("first", "published"),
        ("second", "published"),
    ]
    assert TRACEBACK not in text


# --- never early ---------------------------------------------------------------------------------


def test_daemon_once_never_publishes_before_the_due_instant(folder: Path, run_cli: Callable[..., Result]) -> None:
    # 10:00 and 10:00:30 in New York on 1 June 2030 are 14:00:00 and 14:00:30 UTC.
    write(
        folder,
        [
            {"id": "on-the-minute", "text": unique("On the minute"), "at": "2030-06-01 10:00:00"},
            {"id": "with-seconds", "text": unique("Thirty seconds past"), "at": "2030-06-01 10:00:30"},
        ],
    )
    early = run_cli("daemon", "--once", "--now", "2030-06-01T13:59:59.500+00:00")
    assert early.exit_code == 0, early.output
    assert outbox_posts(folder) == {}
    assert records(folder) == []

    due = run_cli("daemon", "--once", "--now", "2030-06-01T14:00:00+00:00")
    assert due.exit_code == 0, due.output
    assert list(outbox_posts(folder)) == ["on-the-minute"]

    early = run_cli("daemon", "--once", "--now", "2030-06-01T14:00:29.500+00:00")
    assert early.exit_code == 0, early.output
    assert list(outbox_posts(folder)) == ["on-the-minute"]
    assert [(r.delivery.post_id, r.state) for r in records(folder)] == [("on-the-minute", "published")]

    due = run_cli("daemon", "--once", "--now", "2030-06-01T14:00:30+00:00")
    assert due.exit_code == 0, due.output
    assert sorted(outbox_posts(folder)) == ["on-the-minute", "with-seconds"]
    found = {r.delivery.post_id: r for r in records(folder)}
    assert found["with-seconds"].delivery.due == datetime(2030, 6, 1, 14, 0, 30, tzinfo=UTC)
    assert found["with-seconds"].state == "published"


def json_events(log: Path) -> list[dict[str, Any]]:
    """The log lines of a daemon run with --log-format json (its banner lines are plain text)."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def logged_at(events: list[dict[str, Any]], needle: str) -> list[datetime]:
    return [datetime.fromisoformat(e["time"]) for e in events if needle in e["message"]]


def test_a_reload_and_a_sighup_just_before_the_due_instant_do_not_send_it_early(folder: Path) -> None:
    due = whole_second(datetime.now(UTC) + timedelta(seconds=7))
    text = unique("Not a moment early")
    write(folder, [{"id": "p", "text": text, "at": local(due)}])
    log = folder / "daemon.log"
    daemon = start_daemon(folder, log, "-v", "--log-format", "json")
    try:
        wait_running(daemon, log)
        assert datetime.now(UTC) < due - timedelta(seconds=1), "the daemon took too long to start for this test"
        sleep_until(due - timedelta(seconds=0.8))
        with (folder / "posts.yaml").open("a", encoding="utf-8") as stream:
            stream.write("# an edit just before the post falls due\n")
        sleep_until(due - timedelta(seconds=0.5))
        daemon.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "p" in outbox_posts(folder), 5.0), log.read_text()
        assert wait_for(lambda: "posts.yaml changed: reloaded" in log.read_text(), 3.0), log.read_text()
    finally:
        assert stop_daemon(daemon) == 0
    events = json_events(log)
    # The SIGHUP reload (and the step it wakes) really happened before the due instant.
    (sighup,) = logged_at(events, "SIGHUP: reloaded")
    assert sighup < due, (sighup, due)
    assert logged_at(events, "posts.yaml changed: reloaded")
    written = outbox_records(folder)
    assert len(written) == 1
    assert written[0]["parts"] == [text]
    assert datetime.fromisoformat(written[0]["written_at"]) >= due, (written[0]["written_at"], due)
    (record,) = records(folder)
    assert record.state == "published"
    assert record.updated_at >= due, (record.updated_at, due)
    (published,) = logged_at(events, "delivery p outbox en: published")
    assert published >= due, (published, due)
    assert TRACEBACK not in log.read_text()


# --- a damaged or locked ledger ------------------------------------------------------------------


def damage(ledger: Path) -> None:
    with ledger.open("r+b") as stream:
        stream.write(b"\xde\xad\xbe\xef garbage, not a SQLite header " * 3)
    for suffix in ("-wal", "-shm"):
        Path(f"{ledger}{suffix}").unlink(missing_ok=True)


def test_a_damaged_ledger_stops_the_daemon_with_one_line_and_an_alert(folder: Path, listener: Listener) -> None:
    write(folder, [{"id": "p", "text": unique("Never sent"), "at": local(datetime.now(UTC) + timedelta(days=3))}])
    (folder / "state").mkdir()
    (folder / "state" / "ledger.sqlite3").write_bytes(b"this is not a database at all\n" * 200)
    env = {"SCHEDULER_WEBHOOK_URL": f"{listener.url}/hook"}
    started = run_command(folder, "daemon", env=env)
    assert started.returncode == 1, started.stdout + started.stderr
    errors = [line for line in started.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, started.stderr
    assert "is damaged" in errors[0]
    assert "ledger.sqlite3" in errors[0]
    assert TRACEBACK not in started.stdout + started.stderr
    assert wait_for(lambda: bool(listener.posted), 2.0)
    assert len(listener.posted) == 1
    assert "damaged" in listener.posted[0]["error"]
    assert "daemon" in listener.posted[0]["state"]

    status = run_command(folder, "status", env=env)
    assert status.returncode == 1, status.stdout + status.stderr
    errors = [line for line in status.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, status.stderr
    assert "is damaged" in errors[0]
    assert TRACEBACK not in status.stdout + status.stderr


def test_a_ledger_damaged_under_a_running_daemon_stops_it(folder: Path, listener: Listener) -> None:
    write(folder, [{"id": "p", "text": unique("Far ahead"), "at": local(datetime.now(UTC) + timedelta(days=3))}])
    log = folder / "daemon.log"
    daemon = start_daemon(folder, log, env={"SCHEDULER_WEBHOOK_URL": f"{listener.url}/hook"})
    try:
        wait_running(daemon, log)
        damage(folder / "state" / "ledger.sqlite3")
        with (folder / "posts.yaml").open("a", encoding="utf-8") as stream:
            stream.write("# touched after the ledger was damaged\n")
        try:
            code = daemon.wait(timeout=25)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 1, log.read_text()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=10)
    text = log.read_text()
    critical = [line for line in text.splitlines() if " CRITICAL " in line]
    assert len(critical) == 1, text
    assert "is damaged" in critical[0]
    assert TRACEBACK not in text
    assert [event["state"] for event in listener.posted] == ["the daemon stopped"], listener.posted
    assert "damaged" in listener.posted[0]["error"]


def test_a_briefly_locked_ledger_is_waited_for(folder: Path) -> None:
    """`pause` waits for a lock held by another process (SQLite's busy timeout, 30 s) rather than fail.
    The "in use by another process" message after the full 30 s is not tested: too slow for the suite."""
    write(folder, [{"id": "p", "text": unique("Locked out"), "at": local(datetime.now(UTC) + timedelta(days=3))}])
    first = run_command(folder, "status")  # creates the ledger
    assert first.returncode == 0, first.stderr
    holder = sqlite3.connect(
        folder / "state" / "ledger.sqlite3", isolation_level=None, timeout=5, check_same_thread=False
    )
    try:
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO settings (name, value) VALUES ('test-lock', 'held')")
        release = threading.Timer(3.0, lambda: holder.execute("COMMIT"))
        began = time.monotonic()
        release.start()
        paused = run_command(folder, "pause")
        took = time.monotonic() - began
        release.join()
    finally:
        holder.close()
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert paused.stdout.startswith("Paused until you run: run.py resume.")
    assert took >= 2.5  # it waited for the lock to go
    assert TRACEBACK not in paused.stdout + paused.stderr
    ledger = sqlite3.connect(folder / "state" / "ledger.sqlite3")
    try:
        stored = dict(ledger.execute("SELECT name, value FROM settings").fetchall())
    finally:
        ledger.close()
    assert stored["paused_until"] == "forever"
    assert stored["test-lock"] == "held"


# --- backup --------------------------------------------------------------------------------------


def table_rows(path: Path) -> list[tuple[Any, ...]] | None:
    connection = sqlite3.connect(path)  # read-write: its -wal and -shm go when it closes
    try:
        return connection.execute("SELECT * FROM deliveries ORDER BY id").fetchall()
    except sqlite3.DatabaseError:
        return None
    finally:
        connection.close()


def test_backup_copies_the_live_ledger_including_its_write_ahead_log(
    folder: Path, run_cli: Callable[..., Result]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    posts = [{"id": "a", "text": unique("First of all"), "at": local(now - timedelta(minutes=3))}]
    write(folder, posts)
    assert run_cli("daemon", "--once").exit_code == 0
    ledger_path = folder / "state" / "ledger.sqlite3"
    # A reader that stays open: no process closing the ledger can checkpoint the log into the file.
    reader = sqlite3.connect(ledger_path)
    try:
        reader.execute("SELECT count(*) FROM deliveries").fetchone()
        posts += [
            {"id": "b", "text": unique("Second"), "at": local(now - timedelta(minutes=2))},
            {"id": "c", "text": unique("Third"), "at": local(now - timedelta(minutes=1))},
        ]
        write(folder, posts)
        assert run_cli("daemon", "--once").exit_code == 0
        live = reader.execute("SELECT * FROM deliveries ORDER BY id").fetchall()
        assert [(row[1], row[5]) for row in live] == [("a", "published"), ("b", "published"), ("c", "published")]
        wal = Path(f"{ledger_path}-wal")
        assert wal.is_file()
        assert wal.stat().st_size > 0
        # The file alone (what a plain copy takes) lacks what is still in the log.
        plain = folder / "plain-copy.sqlite3"
        shutil.copyfile(ledger_path, plain)
        assert table_rows(plain) != live

        (folder / "out").mkdir()
        copied = run_cli("backup", "out/copy.sqlite3")
        assert copied.exit_code == 0, copied.output
        assert copied.lines[0].startswith("Backed up the ledger ")
        assert table_rows(folder / "out" / "copy.sqlite3") == live

        again = run_cli("backup", "out/copy.sqlite3")
        assert again.exit_code == 1, again.output
        assert "already exists" in again.output
        assert table_rows(folder / "out" / "copy.sqlite3") == live

        into = run_cli("backup", "out/")
        assert into.exit_code == 0, into.output
        stamped = [p for p in (folder / "out").iterdir() if p.name != "copy.sqlite3"]
        assert len(stamped) == 1, stamped
        assert re.fullmatch(r"ledger-\d{8}T\d{6}Z\.sqlite3", stamped[0].name)
        assert table_rows(stamped[0]) == live
        assert stamped[0].stat().st_mode & 0o777 == 0o600  # the whole history: private
        assert (folder / "out" / "copy.sqlite3").stat().st_mode & 0o777 == 0o600

        # A folder named with a trailing slash that does not exist yet is created.
        fresh = run_cli("backup", "fresh/")
        assert fresh.exit_code == 0, fresh.output
        made = list((folder / "fresh").iterdir())
        assert len(made) == 1, made
        assert re.fullmatch(r"ledger-\d{8}T\d{6}Z\.sqlite3", made[0].name)
        assert table_rows(made[0]) == live
    finally:
        reader.close()


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg://u@127.0.0.1:1/x", "postgresql+psycopg://u:s3cr3t-pw@127.0.0.1:1/x"]
)
def test_backup_of_a_postgresql_ledger_explains_pg_dump(folder: Path, run_cli: Callable[..., Result], url: str) -> None:
    write(folder, [{"id": "p", "text": unique("Anything"), "at": local(datetime.now(UTC) + timedelta(days=3))}])
    result = run_cli("backup", "copy.dump", "--ledger", url)
    assert result.exit_code == 1, result.output
    assert "pg_dump" in result.output
    assert "127.0.0.1:1/x" in result.output
    assert "s3cr3t-pw" not in result.output
    assert TRACEBACK not in result.output
    assert not (folder / "copy.dump").exists()


# --- the outbox, exit codes ----------------------------------------------------------------------


def test_an_unwritable_outbox_is_a_clean_failure(folder: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    write(folder, [{"id": "p", "text": unique("Nowhere to go"), "at": local(now - timedelta(minutes=1))}])
    (folder / "outbox").write_text("a file where the outbox folder should be\n", encoding="utf-8")
    result = run_command(folder, "daemon", "--once")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^failed +outbox en .*cannot write to the outbox", result.stdout, re.MULTILINE), result.stdout
    assert TRACEBACK not in result.stdout
    assert TRACEBACK not in result.stderr
    assert [r.state for r in records(folder)] == ["failed"]


def test_daemon_once_exit_codes(folder: Path, run_cli: Callable[..., Result], mastodon_server: MockServer) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    fine = {"id": "fine", "text": unique("All went out"), "at": local(now - timedelta(minutes=1))}
    write(folder, [fine])
    published = run_cli("daemon", "--once")
    assert published.exit_code == 0, published.output
    assert any(line.startswith("published   outbox en") for line in published.lines)

    # Fell due since the last step, beyond its max_late: expired.
    stale = {"id": "stale", "text": unique("Too late"), "at": local(now - timedelta(minutes=2)), "max_late": "1m"}
    write(folder, [fine, stale])
    expired = run_cli("daemon", "--once")
    assert expired.exit_code == 1, expired.output
    assert any(line.startswith("expired     outbox en stale") for line in expired.lines)

    # Mastodon answers 503: its delivery waits for a retry (the others are settled and stay on the outbox).
    retry = {"id": "retry", "text": unique("Mastodon is down"), "at": local(now - timedelta(minutes=1))}
    write(folder, [fine, stale, retry], mastodon_server.base_url)
    config = folder / "posts.yaml"
    source = config.read_text(encoding="utf-8")
    for post_id, account in (("fine", "outbox"), ("stale", "outbox"), ("retry", "mastodon")):
        source = source.replace(f"  - id: {post_id}\n", f"  - id: {post_id}\n    accounts: [{account}]\n")
    config.write_text(source, encoding="utf-8")
    mastodon_fault(mastodon_server, "/api/v1/statuses", {"type": "status", "status": 503})
    waiting = run_cli("daemon", "--once")
    assert waiting.exit_code == 1, waiting.output
    assert any(line.startswith("pending     mastodon en") and "next try at" in line for line in waiting.lines), (
        waiting.output
    )
    assert not [line for line in waiting.lines if line.startswith(("expired", "failed", "held"))], waiting.output
    states = {(r.delivery.post_id, r.delivery.account): r.state for r in records(folder)}
    assert states == {("fine", "outbox"): "published", ("stale", "outbox"): "expired", ("retry", "mastodon"): "pending"}


# --- health and what the daemon says -------------------------------------------------------------


def test_the_heartbeat_is_pinged_soon_after_start(folder: Path, listener: Listener) -> None:
    write(folder, [{"id": "p", "text": unique("Alive"), "at": local(datetime.now(UTC) + timedelta(days=3))}])
    log = folder / "daemon.log"
    daemon = start_daemon(folder, log, env={"SCHEDULER_HEARTBEAT_URL": f"{listener.url}/ping/check-id"})
    try:
        wait_running(daemon, log)
        running = time.monotonic()
        assert wait_for(lambda: any(path == "/ping/check-id" for _, path in listener.gets), 5.0), (
            listener.gets,
            log.read_text(),
        )
        first = next(at for at, path in listener.gets if path == "/ping/check-id")
        assert first - running < 5.0
    finally:
        assert stop_daemon(daemon) == 0
    assert not [path for _, path in listener.gets if path.endswith("/fail")]
    assert "check-id" not in log.read_text()  # the check's secret id is never logged


def test_the_daemon_says_one_line_per_delivery_outcome_without_v(folder: Path) -> None:
    now = datetime.now(UTC)
    due = whole_second(now + timedelta(seconds=3))
    posts = [
        {"id": "soon", "text": unique("Out in a moment"), "at": local(due)},
        {"id": "stale", "text": unique("Missed long ago"), "at": local(now - timedelta(hours=3))},
    ]
    write(folder, posts)
    log = folder / "daemon.log"
    daemon = start_daemon(folder, log)
    try:
        wait_running(daemon, log)
        assert wait_for(lambda: "soon" in outbox_posts(folder), 10.0), log.read_text()
        assert wait_for(lambda: "delivery soon outbox en: published" in log.read_text(), 2.0), log.read_text()
        with (folder / "posts.yaml").open("a", encoding="utf-8") as stream:
            stream.write("# an edit: one line says it was reloaded\n")
        assert wait_for(lambda: "posts.yaml changed: reloaded" in log.read_text(), 3.0), log.read_text()
    finally:
        assert stop_daemon(daemon) == 0
    lines = log.read_text().splitlines()
    about_soon = [line for line in lines if "soon" in line and " outbox" in line and "delivery" in line]
    assert len(about_soon) == 1, lines
    assert re.search(r" INFO scheduler\.\S+: delivery soon outbox en: published file://", about_soon[0])
    about_stale = [line for line in lines if "delivery stale outbox en" in line]
    assert len(about_stale) == 1, lines
    assert "expired" in about_stale[0]
    assert len([line for line in lines if "posts.yaml changed: reloaded" in line]) == 1, lines
    assert not [line for line in lines if " DEBUG " in line or "apscheduler" in line], lines
    assert TRACEBACK not in "\n".join(lines)
