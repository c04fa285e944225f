"""The ledger on real SQLite: claims are exclusive, states move only as allowed, damage is reported."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from scheduler.errors import SchedulerError
from scheduler.ledger import CLAIMED, EXPIRED, FAILED, PENDING, PUBLISHED, Ledger, LedgerDamagedError
from scheduler.models import Delivery

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
DELIVERY = Delivery(NOW, "us-out-of-haiti", "mastodon", "es")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests on both ledgers: SQLite, the default, and PostgreSQL, for several daemons."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'ledger.sqlite3'}"
    base: str = request.getfixturevalue("postgres_url")
    database = f"ledger_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {database}"))
    engine.dispose()
    return base.rsplit("/", 1)[0] + f"/{database}"


def test_one_of_many_concurrent_claimers_wins(url: str) -> None:
    ledgers = [Ledger(url) for _ in range(8)]
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
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE schema_version SET version = 99"))
    with pytest.raises(SchedulerError, match="schema version 99, newer than this program"):
        Ledger(url)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    with ledger.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


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


def test_a_ledger_from_the_previous_version_is_migrated_in_place(url: str) -> None:
    ledger = Ledger(url)
    ledger.ensure(DELIVERY, NOW)
    ledger.close()
    engine = create_engine(url)
    with engine.begin() as connection:  # as the previous version left it: no fingerprint column
        connection.execute(text("ALTER TABLE deliveries DROP COLUMN fingerprint"))
        connection.execute(text("UPDATE schema_version SET version = 1"))
    engine.dispose()
    upgraded = Ledger(url)
    assert [r.state for r in upgraded.records()] == [PENDING]
    assert upgraded.claim(DELIVERY, "a", NOW, LEASE, fingerprint="f" * 32) is not None
    assert upgraded.records()[0].fingerprint == "f" * 32
    upgraded.close()


def test_a_locked_ledger_names_the_daemon_holding_it_and_never_says_move_it_aside(tmp_path: Path) -> None:
    from sqlalchemy.exc import OperationalError

    from scheduler import presence
    from scheduler.ledger import LedgerBusyError, _unusable

    state = tmp_path / "state"
    state.mkdir()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    presence.advertise(state, presence.Advert(4242, "server-1", "sqlite:///x", "/srv/posts.yaml", now, now))
    locked = OperationalError("BEGIN", {}, Exception("database is locked"))
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
