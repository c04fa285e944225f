"""The ledger on real SQLite and PostgreSQL: claims are exclusive, states move only as allowed,
damage is reported, and ledgers made by the SQLAlchemy versions open unchanged."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scheduler.errors import SchedulerError
from scheduler.ledger import (
    CLAIMED,
    EXPIRED,
    FAILED,
    PENDING,
    PUBLISHED,
    SCHEMA_VERSION,
    Ledger,
    LedgerDamagedError,
)
from scheduler.models import Delivery
from scheduler.platforms.base import Counts
from tests.conftest import ROOT

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
DELIVERY = Delivery(NOW, "us-out-of-haiti", "mastodon", "es")

# The tables as SQLAlchemy created them (schema version 2) before the ledger used the drivers
# directly: SQLite's `.schema` of a ledger it made, word for word (whitespace aside). For
# PostgreSQL it wrote SERIAL for the id; version 1 had no fingerprint.
OLD_SCHEMA = (
    """CREATE TABLE schema_version (
    version INTEGER NOT NULL
)""",
    """CREATE TABLE deliveries (
    id INTEGER NOT NULL,
    post_id VARCHAR(64) NOT NULL,
    due VARCHAR(20) NOT NULL,
    account VARCHAR(64) NOT NULL,
    language VARCHAR(8) NOT NULL,
    state VARCHAR(12) NOT NULL,
    origin VARCHAR(12) NOT NULL,
    attempts INTEGER NOT NULL,
    owner VARCHAR(128),
    claim VARCHAR(32),
    lease_until VARCHAR(20),
    retry_at VARCHAR(20),
    memo TEXT NOT NULL,
    parts TEXT NOT NULL,
    error TEXT,
    fingerprint VARCHAR(64),
    created_at VARCHAR(20) NOT NULL,
    updated_at VARCHAR(20) NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT delivery_key UNIQUE (post_id, due, account, language)
)""",
    """CREATE TABLE settings (
    name VARCHAR(64) NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name)
)""",
)


def new_database(postgres_url: str) -> str:
    """The URL of a new, empty database on that PostgreSQL server."""
    database = f"ledger_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {database}")
    return postgres_url.rsplit("/", 1)[0] + f"/{database}"


def run_sql(url: str, *statements: str) -> list[tuple[Any, ...]]:
    """Statements run on a ledger's database directly, in one transaction; the rows of the last."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(path)) as connection, connection:
            for statement in statements:
                cursor = connection.execute(statement)
            return cursor.fetchall()
    with psycopg.connect(url.replace("+psycopg", "")) as pg:
        for statement in statements:
            rows = pg.execute(statement)
        return rows.fetchall() if rows.description else []


def schema(url: str) -> list[tuple[Any, ...]]:
    """A ledger's tables as its database describes them: columns, types, keys and constraints."""
    if url.startswith("sqlite:///"):
        rows = run_sql(url, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
        return [(kind, name, table, " ".join(sql.split()) if sql else None) for kind, name, table, sql in rows]
    return run_sql(
        url,
        "SELECT table_name, column_name, ordinal_position, data_type, character_maximum_length, is_nullable,"
        " column_default FROM information_schema.columns WHERE table_schema = 'public'"
        " ORDER BY table_name, ordinal_position",
    ) + run_sql(
        url,
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE connamespace = 'public'::regnamespace ORDER BY conname",
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests on both ledgers: SQLite, the default, and PostgreSQL, for several daemons."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'ledger.sqlite3'}"
    return new_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def second_url(url: str, tmp_path: Path) -> str:
    """Another empty ledger of the same kind."""
    if url.startswith("sqlite:///"):
        return f"sqlite:///{tmp_path / 'second' / 'ledger.sqlite3'}"
    return new_database(url)


@pytest.mark.parametrize("shared", [False, True], ids=["a-ledger-each", "one-ledger-for-all-threads"])
def test_one_of_many_concurrent_claimers_wins(url: str, shared: bool) -> None:
    ledgers = [Ledger(url)] * 8 if shared else [Ledger(url) for _ in range(8)]
    ledgers[0].ensure(DELIVERY, NOW)
    winners: list[str] = []
    barrier = threading.Barrier(len(ledgers))

    def claim(ledger: Ledger, token: str) -> None:
        barrier.wait()
        if ledger.claim(DELIVERY, token, NOW, LEASE) is not None:
            winners.append(token)

    threads = [threading.Thread(target=claim, args=(ledger, f"t{i}")) for i, ledger in enumerate(ledgers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    record = ledgers[1].get(DELIVERY)
    assert record is not None
    assert (record.state, record.claim, record.attempts) == (CLAIMED, winners[0], 1)


def test_states_move_only_as_allowed(url: str) -> None:
    ledger = Ledger(url)
    assert ledger.ensure(DELIVERY, NOW).state == PENDING
    assert ledger.ensure(DELIVERY, NOW + timedelta(hours=1)).state == PENDING  # idempotent
    assert ledger.claim(DELIVERY, "a", NOW, LEASE) is not None
    assert ledger.claim(DELIVERY, "b", NOW, LEASE) is None
    with pytest.raises(SchedulerError, match="lost to another process"):
        ledger.finish(DELIVERY, "b", PUBLISHED, NOW)
    ledger.save_progress(DELIVERY, "a", {"rkeys": ["x"]}, [{"id": "1", "url": "u"}], NOW, LEASE)
    ledger.finish(DELIVERY, "a", PENDING, NOW, error="429", retry_at=NOW + timedelta(minutes=5))
    assert ledger.claim(DELIVERY, "c", NOW + timedelta(minutes=1), LEASE) is None  # not before retry_at
    claimed = ledger.claim(DELIVERY, "c", NOW + timedelta(minutes=5), LEASE)
    assert claimed is not None
    assert claimed.attempts == 2
    assert claimed.memo == {"rkeys": ["x"]}
    assert claimed.parts == [{"id": "1", "url": "u"}]
    ledger.finish(DELIVERY, "c", PUBLISHED, NOW, parts=[{"id": "1", "url": "u"}])
    record = ledger.get(DELIVERY)
    assert record is not None
    assert (record.state, record.urls, record.claim) == (PUBLISHED, ["u"], None)
    assert not ledger.expire(DELIVERY, "too late", NOW)
    assert not ledger.reopen(DELIVERY, NOW)


def test_take_over_needs_the_stale_token(url: str) -> None:
    ledger = Ledger(url)
    ledger.ensure(DELIVERY, NOW)
    ledger.claim(DELIVERY, "dead", NOW, LEASE)
    assert ledger.claim(DELIVERY, "new", NOW, LEASE, take_over="other") is None
    taken = ledger.claim(DELIVERY, "new", NOW, LEASE, take_over="dead")
    assert taken is not None
    assert (taken.claim, taken.attempts) == ("new", 2)


def test_expire_and_reopen(url: str) -> None:
    ledger = Ledger(url)
    ledger.ensure(DELIVERY, NOW)
    assert ledger.expire(DELIVERY, "missed by 3 hours", NOW)
    record = ledger.get(DELIVERY)
    assert record is not None
    assert (record.state, record.error) == (EXPIRED, "missed by 3 hours")
    assert ledger.reopen(DELIVERY, NOW)
    ledger.claim(DELIVERY, "a", NOW, LEASE)
    ledger.finish(DELIVERY, "a", FAILED, NOW, error="401")
    assert [r.state for r in ledger.records(states=(FAILED,))] == [FAILED]


def test_a_slot_once_recorded_is_held_whatever_became_of_it(url: str) -> None:
    ledger = Ledger(url)
    assert ledger.held_slots(["us-out-of-haiti"]) == {}
    ledger.ensure(DELIVERY, NOW)
    assert ledger.held_slots(["us-out-of-haiti"]) == {"us-out-of-haiti": NOW}
    ledger.claim(DELIVERY, "a", NOW, LEASE)
    ledger.finish(DELIVERY, "a", PUBLISHED, NOW)
    assert ledger.held_slots(["us-out-of-haiti", "other"]) == {"us-out-of-haiti": NOW}


def test_a_damaged_ledger_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    before = path.read_bytes()
    with pytest.raises(LedgerDamagedError, match=r"is damaged \(file is not a database\).*never delete it"):
        Ledger(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_a_truncated_ledger_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(f"sqlite:///{path}")
    for minute in range(200):
        ledger.ensure(Delivery(NOW + timedelta(minutes=minute), "p", "outbox", "en"), NOW)
    ledger.close()
    for extra in path.parent.glob("ledger.sqlite3-*"):
        extra.unlink()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(LedgerDamagedError, match="is damaged"):
        Ledger(f"sqlite:///{path}").records()


def test_a_newer_schema_is_refused(url: str) -> None:
    Ledger(url).close()
    run_sql(url, "UPDATE schema_version SET version = 99")
    with pytest.raises(SchedulerError, match="schema version 99, newer than this program"):
        Ledger(url)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    Ledger(url).close()
    assert run_sql(url, "PRAGMA journal_mode") == [("wal",)]  # kept in the file itself


def test_settings_set_at_the_same_moment_never_collide(url: str) -> None:
    ledgers = [Ledger(url), Ledger(url)]
    failures: list[Exception] = []

    def keep_setting(ledger: Ledger) -> None:
        for second in range(150):
            try:
                ledger.set_setting("last_step_at", f"2026-11-28T05:00:{second % 60:02d}Z")
            except SchedulerError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=keep_setting, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert ledgers[0].setting("last_step_at") is not None
    ledgers[0].set_setting("last_step_at", None)
    assert ledgers[1].setting("last_step_at") is None


def make_old_ledger(url: str, version: int, *rows: str) -> None:
    """A ledger as the SQLAlchemy versions made it, at that schema version, holding these rows."""
    statements = [s.replace("id INTEGER", "id SERIAL") if url.startswith("postgresql") else s for s in OLD_SCHEMA]
    statements.append("INSERT INTO schema_version (version) VALUES (2)")
    if version == 1:
        statements = [s.replace("    fingerprint VARCHAR(64),\n", "") for s in statements]
        statements.append("UPDATE schema_version SET version = 1")
    run_sql(url, *statements, *rows)


def test_a_new_ledger_has_the_schema_an_old_one_is_migrated_to(url: str, second_url: str) -> None:
    Ledger(url).close()
    make_old_ledger(second_url, 2)
    before = schema(second_url)
    Ledger(second_url).close()  # migration 3 adds the snapshots table and its index, and nothing else
    assert schema(url) == schema(second_url)
    assert set(schema(second_url)) - set(before) == {s for s in schema(url) if "snapshots" in str(s)}


@pytest.mark.parametrize("version", [1, 2])
def test_a_ledger_made_by_the_sqlalchemy_versions_opens_unchanged(url: str, second_url: str, version: int) -> None:
    make_old_ledger(
        url,
        version,
        "INSERT INTO deliveries (post_id, due, account, language, state, origin, attempts, owner, memo, parts,"
        " created_at, updated_at) VALUES ('us-out-of-haiti', '2026-12-01T14:00:00Z', 'mastodon', 'es', 'published',"
        """ 'schedule', 1, 'host:42', '{"rkeys": ["x"]}', '[{"id": "1", "url": "u"}]', '2026-12-01T13:59:00Z',"""
        " '2026-12-01T14:00:02Z')",
        "INSERT INTO settings (name, value) VALUES ('paused', 'forever')",
    )
    ledger = Ledger(url)
    [old] = ledger.records()
    assert (old.delivery, old.state, old.attempts, old.owner, old.memo, old.urls, old.fingerprint) == (
        DELIVERY,
        PUBLISHED,
        1,
        "host:42",
        {"rkeys": ["x"]},
        ["u"],
        None,
    )
    assert old.updated_at == NOW + timedelta(seconds=2)
    assert ledger.setting("paused") == "forever"
    later = Delivery(NOW + timedelta(hours=1), "us-out-of-haiti", "mastodon", "es")
    ledger.ensure(later, NOW)
    claimed = ledger.claim(later, "a", NOW, LEASE, fingerprint="f" * 32)
    assert claimed is not None
    assert claimed.fingerprint == "f" * 32
    assert [r.delivery for r in ledger.records(newest_first=False)] == [DELIVERY, later]
    ledger.close()
    assert run_sql(url, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    assert run_sql(url, "SELECT id FROM deliveries ORDER BY id") == [(1,), (2,)]
    if version == 2:  # migrated to exactly what a new ledger is (version 1 has fingerprint last)
        Ledger(second_url).close()
        assert schema(url) == schema(second_url)


def test_a_locked_ledger_names_the_daemon_holding_it_and_never_says_move_it_aside(tmp_path: Path) -> None:
    from scheduler import presence
    from scheduler.ledger import LedgerBusyError, _unusable

    state = tmp_path / "state"
    state.mkdir()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    presence.advertise(state, presence.Advert(4242, "server-1", "sqlite:///x", "/srv/posts.yaml", now, now))
    locked = sqlite3.OperationalError("database is locked")
    error = _unusable(f"sqlite:///{state / 'ledger.sqlite3'}", locked)
    assert isinstance(error, LedgerBusyError)
    assert "in use by another process (the daemon pid 4242 on server-1" in str(error)
    assert "try again" in str(error)
    assert "aside" not in str(error)


def test_a_retry_time_is_never_rounded_down(url: str) -> None:
    ledger = Ledger(url)
    ledger.ensure(DELIVERY, NOW)
    ledger.claim(DELIVERY, "a", NOW, LEASE)
    ledger.finish(DELIVERY, "a", PENDING, NOW, retry_at=NOW + timedelta(seconds=5, milliseconds=300))
    record = ledger.get(DELIVERY)
    assert record is not None
    assert record.retry_at == NOW + timedelta(seconds=6)
    assert ledger.claim(DELIVERY, "b", NOW + timedelta(seconds=5, milliseconds=900), LEASE) is None


def test_ensure_makes_one_row_whoever_else_ensures_it_at_once(url: str) -> None:
    ledgers = [Ledger(url) for _ in range(8)]
    barrier = threading.Barrier(len(ledgers))
    records = []

    def ensure(ledger: Ledger) -> None:
        barrier.wait()
        records.append(ledger.ensure(DELIVERY, NOW))

    threads = [threading.Thread(target=ensure, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(records) == 8
    assert {(r.delivery, r.state) for r in records} == {(DELIVERY, PENDING)}
    assert len(ledgers[0].records()) == 1
    for ledger in ledgers:
        ledger.close()


def test_settings_named_matches_a_literal_prefix(url: str) -> None:
    ledger = Ledger(url)
    for name in ("daemon:a:1", "daemon:b:2", "daemonXc", "daemon_d", "daemon%e", "daemon/f", "Daemon:g"):
        ledger.set_setting(name, name.upper())
    assert ledger.settings_named("daemon:") == {"daemon:a:1": "DAEMON:A:1", "daemon:b:2": "DAEMON:B:2"}
    assert ledger.settings_named("daemon_") == {"daemon_d": "DAEMON_D"}
    assert ledger.settings_named("daemon%") == {"daemon%e": "DAEMON%E"}
    assert ledger.settings_named("daemon/") == {"daemon/f": "DAEMON/F"}
    assert len(ledger.settings_named("")) == 7
    ledger.close()


def test_a_postgresql_url_may_name_the_driver_or_not(postgres_url: str) -> None:
    url = new_database(postgres_url)
    assert url.startswith("postgresql+psycopg://")
    with_driver = Ledger(url)
    with_driver.ensure(DELIVERY, NOW)
    plain = Ledger(url.replace("+psycopg", ""))
    assert [r.delivery for r in plain.records()] == [DELIVERY]
    with_driver.close()
    plain.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:s3cr3t-pw@127.0.0.1:1/x",
        "postgresql+psycopg://u:s3cr3t-pw@127.0.0.1:1/x",
        "mysql://u:s3cr3t-pw@h/x",
    ],
)
def test_a_ledger_that_cannot_be_reached_is_a_clear_error_without_its_password(url: str) -> None:
    with pytest.raises(SchedulerError, match="cannot be used") as raised:
        Ledger(url)
    assert "s3cr3t-pw" not in str(raised.value)
    assert url.split("@")[-1] in str(raised.value)


def test_a_postgresql_connection_dropped_while_idle_is_replaced(postgres_url: str) -> None:
    url = new_database(postgres_url)
    ledger = Ledger(url)
    ledger.ensure(DELIVERY, NOW)
    dropped = run_sql(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    assert dropped == [(True,)]
    assert ledger.claim(DELIVERY, "a", NOW, LEASE) is not None
    record = ledger.get(DELIVERY)
    assert record is not None
    assert (record.state, record.attempts) == (CLAIMED, 1)
    ledger.close()


def test_a_sqlite_ledger_loads_neither_psycopg_nor_sqlalchemy(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from scheduler.ledger import Ledger\n"
        "from scheduler.models import Delivery\n"
        "ledger = Ledger(sys.argv[1])\n"
        "ledger.ensure(Delivery(datetime.now(UTC), 'p', 'outbox', 'en'), datetime.now(UTC))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'psycopg', 'sqlalchemy'}))\n"
    )
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    loaded = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, cwd=ROOT, check=True)
    assert loaded.stdout.strip() == "[]"


def _published(ledger: Ledger, delivery: Delivery, at: datetime) -> None:
    ledger.ensure(delivery, at)
    ledger.claim(delivery, "t", at, LEASE)
    ledger.finish(delivery, "t", PUBLISHED, at, parts=[{"id": "1", "url": "u"}])


def test_snapshots_keep_a_history_per_delivery_and_none_stays_none(url: str) -> None:
    ledger = Ledger(url)
    other = Delivery(NOW, "us-out-of-haiti", "mastodon", "en")
    _published(ledger, DELIVERY, NOW)
    _published(ledger, other, NOW)
    assert [fetched for _, fetched in ledger.published_with_last_fetch()] == [None, None]
    ledger.add_snapshots([(DELIVERY, Counts(likes=1, reposts=0, replies=0))], NOW + timedelta(hours=1))
    ledger.add_snapshots(
        [(DELIVERY, Counts(likes=4, reposts=2, replies=1)), (other, Counts(likes=0))], NOW + timedelta(days=1)
    )
    history = ledger.snapshots()
    assert history[DELIVERY.key] == [
        (NOW + timedelta(hours=1), Counts(likes=1, reposts=0, replies=0)),
        (NOW + timedelta(days=1), Counts(likes=4, reposts=2, replies=1)),
    ]
    assert history[other.key] == [(NOW + timedelta(days=1), Counts(likes=0))]  # quotes unknown, not 0
    assert ledger.latest_counts() == {key: fetches[-1] for key, fetches in history.items()}
    assert {r.delivery.key: f for r, f in ledger.published_with_last_fetch()} == {
        DELIVERY.key: NOW + timedelta(days=1),
        other.key: NOW + timedelta(days=1),
    }


def test_spending_a_budget_never_passes_it_across_processes(url: str) -> None:
    ledgers = [Ledger(url) for _ in range(4)]
    taken: list[int] = []

    def take(ledger: Ledger) -> None:
        for _ in range(5):
            taken.append(ledger.spend("stats/x-reads/2026-12", 3, 40))

    threads = [threading.Thread(target=take, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(taken) == 40
    assert ledgers[0].setting("stats/x-reads/2026-12") == "40"
    assert ledgers[0].spend("stats/x-reads/2026-12", -5, 40) == -5  # a failed read is given back
    assert ledgers[0].spend("stats/x-reads/2026-12", -100, 40) == -35  # never below nothing


def test_counts_from_a_broken_server_are_not_counted_and_big_ones_fit(url: str) -> None:
    counts = Counts.read(likes="5", reposts=-1, replies=True, quotes=2.0, impressions=3_000_000_000)
    assert counts == Counts(impressions=3_000_000_000)
    ledger = Ledger(url)
    _published(ledger, DELIVERY, NOW)
    ledger.add_snapshots([(DELIVERY, counts)], NOW)
    assert ledger.snapshots()[DELIVERY.key] == [(NOW, counts)]
