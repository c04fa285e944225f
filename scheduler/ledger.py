"""The ledger: the only record of what was posted. SQLite by default, PostgreSQL for several daemons.

Every delivery is one row keyed by (post, due instant, account, language). It moves
pending -> claimed -> published | failed | unconfirmed | expired, and may go back from claimed
to pending for a retry. A claim is a compare-and-set on that row, so of two claimers exactly one
wins; it carries a lease and its owner (host:pid), so a claim whose process died can be taken over.
Every change is one transaction; nothing is ever deleted or silently reset.

Each statement is written once, in SQL both databases accept, with :name parameters, and run on the
DB-API driver itself: sqlite3, or psycopg (imported only for a PostgreSQL ledger), which is sent
%(name)s placeholders instead. No ORM: importing one slowed every command that opens the ledger, and
its memory stayed with the daemon.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import socket
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from scheduler.errors import SchedulerError
from scheduler.files import default_ledger_url
from scheduler.models import Delivery
from scheduler.platforms.base import Counts

if TYPE_CHECKING:
    import psycopg

PENDING, CLAIMED, PUBLISHED, FAILED, UNCONFIRMED, EXPIRED, HELD, REMOVED = (
    "pending",
    "claimed",
    "published",
    "failed",
    "unconfirmed",
    "expired",
    "held",  # same text and card as something already published: waits for a person's --force
    "removed",  # its post left posts.yaml while it waited
)
# What went out, or may have: never sent again by an edit.
OUT = (PUBLISHED, UNCONFIRMED, CLAIMED)
SCHEMA_VERSION = 3
P = ParamSpec("P")
R = TypeVar("R")

# The tables exactly as earlier releases made them (the same columns, types, keys and
# constraint names), so their ledgers open unchanged. {id_type} is the one word the two databases
# spell differently for an id that numbers new rows by itself: INTEGER (the primary key) in SQLite,
# SERIAL in PostgreSQL. due, lease_until, retry_at, created_at and updated_at are UTC stamps
# (2026-12-01T14:00:00Z), which sort and compare as text; origin is schedule | manual; owner is the
# claimer's host:pid and claim its token; memo is the platform adapter's own state and parts what was
# created ([{"id": ..., "url": ...}]), both JSON; fingerprint is what it publishes (text and card), to
# recognise a repeat.
_TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS deliveries (
    id {id_type} NOT NULL,
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
    """CREATE TABLE IF NOT EXISTS settings (
    name VARCHAR(64) NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name)
)""",
)
# Engagement counts of published deliveries, one row per fetch, so they have a history. A count the
# platform does not report is NULL, never 0. BIGINT: a viral post may pass PostgreSQL INTEGER's 2^31 views.
_SNAPSHOTS = (
    """CREATE TABLE IF NOT EXISTS snapshots (
    id {id_type} NOT NULL,
    delivery_id INTEGER NOT NULL,
    fetched_at VARCHAR(20) NOT NULL,
    likes BIGINT,
    reposts BIGINT,
    replies BIGINT,
    quotes BIGINT,
    impressions BIGINT,
    PRIMARY KEY (id),
    CONSTRAINT snapshot_delivery FOREIGN KEY (delivery_id) REFERENCES deliveries (id)
)""",
    "CREATE INDEX IF NOT EXISTS snapshots_by_delivery ON snapshots (delivery_id, fetched_at)",
)
_TABLES += _SNAPSHOTS
_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
)"""
# Steps from version N-1 to N, as SQL both SQLite and PostgreSQL accept.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE deliveries ADD COLUMN fingerprint VARCHAR(64)",),
    3: _SNAPSHOTS,
}

# A Record's columns in _record's order, by name: a ledger migrated from version 1 has fingerprint last.
_COLUMNS = (
    "post_id, due, account, language, state, origin, attempts, owner, claim, lease_until, retry_at, memo, parts,"
    " error, updated_at, fingerprint"
)
# The statements hold no colon but those of their parameters (no casts, no literal times).
_PARAMETER = re.compile(r":(\w+)")


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Record:
    """A delivery as the ledger holds it."""

    delivery: Delivery
    state: str
    origin: str
    attempts: int
    owner: str | None
    claim: str | None
    lease_until: datetime | None
    retry_at: datetime | None
    memo: dict[str, Any]
    parts: list[dict[str, str]]
    error: str | None
    updated_at: datetime
    fingerprint: str | None = None

    @property
    def urls(self) -> list[str]:
        return [part["url"] for part in self.parts]


default_url = default_ledger_url


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...


class _Transaction:
    """The statements of one transaction, sent in the placeholder style of its driver."""

    def __init__(self, execute: Callable[..., _Cursor], dialect: str) -> None:
        self._execute = execute
        self.dialect = dialect

    def execute(self, sql: str, /, **params: object) -> _Cursor:
        if not params:
            return self._execute(sql)
        if self.dialect == "postgresql":
            sql = _PARAMETER.sub(r"%(\1)s", sql)
        return self._execute(sql, params)


class _Sqlite:
    dialect = "sqlite"
    error: type[Exception] = sqlite3.Error
    raced: tuple[type[Exception], ...] = (sqlite3.IntegrityError, sqlite3.ProgrammingError)

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path

    def run(self, work: Callable[[_Transaction], R], *, write: bool) -> R:
        # A fresh connection per transaction: one kept open would go on with its cached pages after
        # the file was damaged or replaced under it, and record into a write-ahead log nobody reads.
        # isolation_level=None leaves beginning and committing to the statements below.
        with contextlib.closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            # A writer takes the write lock before it reads (waiting up to the busy timeout), so what it
            # read still holds when it writes; a deferred transaction could not upgrade once another wrote.
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            result = work(_Transaction(connection.execute, self.dialect))
            connection.execute("COMMIT")  # on an error, closing the connection rolls back
            return result

    def close(self) -> None:
        """Nothing stays open between transactions."""


class _Postgres:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg  # only here: a SQLite ledger never loads it

        # libpq takes the URL without SQLAlchemy's driver name (postgresql+psycopg://).
        conninfo = "postgresql://" + url.partition("://")[2]
        self._connect: Callable[[], psycopg.Connection[tuple[Any, ...]]] = lambda: psycopg.connect(conninfo)
        self.error: type[Exception] = psycopg.Error
        self.raced: tuple[type[Exception], ...] = (psycopg.IntegrityError, psycopg.ProgrammingError)
        self._dropped: type[Exception] = psycopg.OperationalError
        # Connections between transactions. Each thread takes one for a whole transaction and puts it
        # back after, so deliveries running side by side never share one.
        self._idle: deque[psycopg.Connection[tuple[Any, ...]]] = deque()

    def run(self, work: Callable[[_Transaction], R], *, write: bool) -> R:
        del write  # row locks order the writers: a claim waits for the other's and checks the row again
        try:
            connection, reused = self._idle.pop(), True
        except IndexError:
            connection, reused = self._connect(), False
        while True:
            committing = False
            try:
                result = work(_Transaction(connection.execute, self.dialect))
                committing = True
                connection.commit()
            except BaseException as exc:
                if self._rolled_back(connection):
                    self._idle.append(connection)
                    raise
                dropped = connection.broken and isinstance(exc, self._dropped)
                connection.close()
                # The server closed it while it was idle (a restart, a timeout): the transaction died
                # with it uncommitted, so it runs again, once, on a new connection.
                if dropped and reused and not committing:
                    connection, reused = self._connect(), False
                    continue
                raise
            self._idle.append(connection)
            return result

    def _rolled_back(self, connection: psycopg.Connection[tuple[Any, ...]]) -> bool:
        """Whether a connection whose transaction failed is fit for the next one."""
        if connection.broken:
            return False
        try:
            connection.rollback()
        except self.error:
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(IndexError):
            while True:
                self._idle.pop().close()


def _database(url: str) -> _Sqlite | _Postgres:
    if url.startswith("sqlite:///"):
        return _Sqlite(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgresql+psycopg://")):
        return _Postgres(url)
    raise SchedulerError(
        f"the ledger {describe(url)} cannot be used (not a sqlite:/// or postgresql:// URL); it was left as it is"
    )


def _transaction(
    *, write: bool
) -> Callable[[Callable[Concatenate[Ledger, _Transaction, P], R]], Callable[Concatenate[Ledger, P], R]]:
    """Run a Ledger method in one transaction (in SQLite, holding the write lock from the start when it
    writes), turning a damaged database into a clear error."""

    def decorate(method: Callable[Concatenate[Ledger, _Transaction, P], R]) -> Callable[Concatenate[Ledger, P], R]:
        def wrapper(self: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return self._database.run(lambda transaction: method(self, transaction, *args, **kwargs), write=write)
            except self._database.error as exc:
                raise _unusable(self.url, exc) from None

        wrapper.__doc__ = method.__doc__
        return wrapper

    return decorate


class Ledger:
    def __init__(self, url: str) -> None:
        self.url = url
        self._database = _database(url)
        for attempt in range(3):
            try:
                self._database.run(_migrate, write=True)
                break
            except self._database.error as exc:
                # Another process created the schema at the same moment: look again.
                raced = isinstance(exc, self._database.raced) or "already exists" in str(exc)
                if not raced or attempt == 2:
                    raise _unusable(url, exc) from None

    def close(self) -> None:
        self._database.close()

    @_transaction(write=True)
    def ensure(self, transaction: _Transaction, delivery: Delivery, now: datetime, origin: str = "schedule") -> Record:
        """The delivery's record, created as pending if the ledger has none yet."""
        row = _row(transaction, delivery)
        if row is None:
            # DO NOTHING when another process created it in the meantime (PostgreSQL waits for that
            # one to commit): the row is read again below either way.
            transaction.execute(
                "INSERT INTO deliveries (post_id, due, account, language, state, origin, attempts, memo, parts,"
                " created_at, updated_at) VALUES (:post_id, :due, :account, :language, :state, :origin, 0, '{}', '[]',"
                " :now, :now) ON CONFLICT (post_id, due, account, language) DO NOTHING",
                **_key(delivery),
                state=PENDING,
                origin=origin,
                now=stamp(now),
            )
            row = _row(transaction, delivery)
        assert row is not None
        return _record(row)

    @_transaction(write=False)
    def get(self, transaction: _Transaction, delivery: Delivery) -> Record | None:
        row = _row(transaction, delivery)
        return _record(row) if row is not None else None

    @_transaction(write=True)
    def claim(
        self,
        transaction: _Transaction,
        delivery: Delivery,
        token: str,
        now: datetime,
        lease: timedelta,
        *,
        take_over: str | None = None,
        fingerprint: str | None = None,
    ) -> Record | None:
        """Claim a pending delivery that is ready (or, with `take_over`, the stale claim of that
        token); None when another claimer holds it or it is finished."""
        if take_over is not None:
            condition = "state = :claimed AND claim = :take_over"
        else:
            condition = "state = :pending AND (retry_at IS NULL OR retry_at <= :now)"
        changed = _update(
            transaction,
            delivery,
            "state = :claimed, claim = :token, owner = :owner, lease_until = :lease_until,"
            " attempts = attempts + 1, updated_at = :now, fingerprint = COALESCE(:fingerprint, fingerprint)",
            condition,
            claimed=CLAIMED,
            pending=PENDING,
            take_over=take_over,
            token=token,
            owner=this_process(),
            lease_until=stamp(now + lease),
            now=stamp(now),
            fingerprint=fingerprint or None,
        )
        if not changed:
            return None
        row = _row(transaction, delivery)
        assert row is not None
        return _record(row)

    @_transaction(write=True)
    def save_progress(
        self,
        transaction: _Transaction,
        delivery: Delivery,
        token: str,
        memo: dict[str, Any],
        parts: list[dict[str, str]],
        now: datetime,
        lease: timedelta,
    ) -> None:
        """Record what an attempt did so far (and renew its lease); fails if the claim was lost."""
        changed = _update(
            transaction,
            delivery,
            "memo = :memo, parts = :parts, lease_until = :lease_until, updated_at = :now",
            "state = :claimed AND claim = :token",
            claimed=CLAIMED,
            token=token,
            memo=json.dumps(memo),
            parts=json.dumps(parts),
            lease_until=stamp(now + lease),
            now=stamp(now),
        )
        if not changed:
            raise SchedulerError(f"the claim on {delivery.key} was lost to another process")

    @_transaction(write=True)
    def finish(
        self,
        transaction: _Transaction,
        delivery: Delivery,
        token: str,
        state: str,
        now: datetime,
        *,
        parts: list[dict[str, str]] | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """End a claim: published, failed or unconfirmed, or back to pending for a retry."""
        changed = _update(
            transaction,
            delivery,
            "state = :state, claim = NULL, lease_until = NULL, error = :error,"
            " retry_at = :retry_at, updated_at = :now, parts = COALESCE(:parts, parts)",
            "state = :claimed AND claim = :token",
            claimed=CLAIMED,
            token=token,
            state=state,
            error=error,
            # Rounded up: a retry is never made before its time (a platform's reset time included).
            retry_at=stamp(retry_at + timedelta(microseconds=999_999)) if retry_at else None,
            now=stamp(now),
            parts=json.dumps(parts) if parts is not None else None,
        )
        if not changed:
            raise SchedulerError(f"the claim on {delivery.key} was lost to another process")

    @_transaction(write=True)
    def reopen(self, transaction: _Transaction, delivery: Delivery, now: datetime) -> bool:
        """Make a failed, expired, held or removed delivery pending again, for a person posting it by hand."""
        return _update(
            transaction,
            delivery,
            "state = :pending, retry_at = NULL, updated_at = :now",
            "state IN (:failed, :expired, :held, :removed)",
            failed=FAILED,
            expired=EXPIRED,
            held=HELD,
            removed=REMOVED,
            pending=PENDING,
            now=stamp(now),
        )

    @_transaction(write=True)
    def expire(
        self, transaction: _Transaction, delivery: Delivery, reason: str, now: datetime, state: str = EXPIRED
    ) -> bool:
        """End a pending delivery that will not go out (expired, held or removed); False if it was not pending."""
        return _update(
            transaction,
            delivery,
            "state = :state, error = :reason, updated_at = :now",
            "state = :pending",
            pending=PENDING,
            state=state,
            reason=reason,
            now=stamp(now),
        )

    @_transaction(write=False)
    def records(
        self,
        transaction: _Transaction,
        *,
        post_id: str | None = None,
        account: str | None = None,
        language: str | None = None,
        states: tuple[str, ...] = (),
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[Record]:
        given = (("post_id", post_id), ("account", account), ("language", language))
        params: dict[str, object] = {name: value for name, value in given if value is not None}
        conditions = [f"{name} = :{name}" for name in params]
        if states:
            condition, values = _one_of("state", states)
            conditions.append(condition)
            params.update(values)
        sql = f"SELECT {_COLUMNS} FROM deliveries"  # noqa: S608 (constant column names)
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY updated_at DESC, id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        return [_record(row) for row in transaction.execute(sql, **params).fetchall()]

    @_transaction(write=False)
    def held_slots(self, transaction: _Transaction, post_ids: list[str]) -> dict[str, datetime]:
        """The queue slot each of these posts already took (whatever became of it): it keeps it, whatever
        the file says now."""
        if not post_ids:
            return {}
        condition, params = _one_of("post_id", post_ids)
        held: dict[str, datetime] = {}
        for post_id, due in transaction.execute(
            f"SELECT post_id, due FROM deliveries WHERE {condition} ORDER BY due",  # noqa: S608 (parameters only)
            **params,
        ).fetchall():
            held.setdefault(post_id, parse_stamp(due))
        return held

    @_transaction(write=False)
    def setting(self, transaction: _Transaction, name: str) -> str | None:
        row = transaction.execute("SELECT value FROM settings WHERE name = :name", name=name).fetchone()
        return str(row[0]) if row is not None else None

    @_transaction(write=True)
    def set_setting(self, transaction: _Transaction, name: str, value: str | None) -> None:
        """Set (or, with None, remove) a setting every process sharing this ledger sees."""
        if value is None:
            transaction.execute("DELETE FROM settings WHERE name = :name", name=name)
            return
        # One atomic upsert: daemons setting it at the same moment must not collide.
        transaction.execute(
            "INSERT INTO settings (name, value) VALUES (:name, :value)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            name=name,
            value=value,
        )

    @_transaction(write=False)
    def settings_named(self, transaction: _Transaction, prefix: str) -> dict[str, str]:
        # The prefix is literal: LIKE's wildcards in it, and the escape character, are escaped. SQLite's
        # LIKE ignores the case of ASCII letters, PostgreSQL's does not: startswith makes both exact.
        pattern = re.sub(r"([/%_])", r"/\1", prefix) + "%"
        rows = transaction.execute(
            "SELECT name, value FROM settings WHERE name LIKE :pattern ESCAPE '/'", pattern=pattern
        ).fetchall()
        return {str(name): str(value) for name, value in rows if str(name).startswith(prefix)}

    @_transaction(write=False)
    def published_with_last_fetch(self, transaction: _Transaction) -> list[tuple[Record, datetime | None]]:
        """Every published delivery, oldest first, with when its counts were last fetched (None: never)."""
        rows = transaction.execute(
            f"SELECT {_COLUMNS}, (SELECT MAX(fetched_at) FROM snapshots WHERE delivery_id = deliveries.id)"  # noqa: S608
            " FROM deliveries WHERE state = :published ORDER BY updated_at, id",
            published=PUBLISHED,
        ).fetchall()
        return [(_record(row[:-1]), parse_stamp(row[-1]) if row[-1] else None) for row in rows]

    @_transaction(write=True)
    def add_snapshots(self, transaction: _Transaction, counts: list[tuple[Delivery, Counts]], now: datetime) -> None:
        """Store the counts fetched for these deliveries at `now`, in one transaction."""
        for delivery, found in counts:
            transaction.execute(
                "INSERT INTO snapshots (delivery_id, fetched_at, likes, reposts, replies, quotes, impressions)"  # noqa: S608
                f" SELECT id, :now, :likes, :reposts, :replies, :quotes, :impressions FROM deliveries{_BY_KEY}",
                **_key(delivery),
                now=stamp(now),
                **dataclasses.asdict(found),
            )

    @_transaction(write=False)
    def snapshots(self, transaction: _Transaction) -> dict[str, list[tuple[datetime, Counts]]]:
        """Every stored fetch of counts, oldest first, by delivery key."""
        found: dict[str, list[tuple[datetime, Counts]]] = {}
        for key, fetched in _snapshot_rows(transaction, ""):
            found.setdefault(key, []).append(fetched)
        return found

    @_transaction(write=False)
    def latest_counts(self, transaction: _Transaction) -> dict[str, tuple[datetime, Counts]]:
        """The last fetch of counts of each delivery, by delivery key (what `status` shows), without the history."""
        newer = (
            " WHERE NOT EXISTS (SELECT 1 FROM snapshots n WHERE n.delivery_id = s.delivery_id"
            " AND (n.fetched_at > s.fetched_at OR (n.fetched_at = s.fetched_at AND n.id > s.id)))"
        )
        return dict(_snapshot_rows(transaction, newer))

    @_transaction(write=True)
    def spend(self, transaction: _Transaction, name: str, wanted: int, budget: int) -> int:
        """Take up to `wanted` from the budget counted in setting `name` (a negative `wanted` gives back);
        how much was taken. Daemons sharing the ledger take turns: the write lock, or the row's."""
        if transaction.dialect == "postgresql":
            transaction.execute(
                "INSERT INTO settings (name, value) VALUES (:name, '0') ON CONFLICT (name) DO NOTHING", name=name
            )
            row = transaction.execute("SELECT value FROM settings WHERE name = :name FOR UPDATE", name=name).fetchone()
        else:
            row = transaction.execute("SELECT value FROM settings WHERE name = :name", name=name).fetchone()
        used = int(row[0]) if row is not None else 0
        taken = max(min(wanted, budget - used), -used)
        transaction.execute(
            "INSERT INTO settings (name, value) VALUES (:name, :value)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            name=name,
            value=str(used + taken),
        )
        return taken


_BY_KEY = " WHERE post_id = :post_id AND due = :due AND account = :account AND language = :language"


def _update(transaction: _Transaction, delivery: Delivery, assignments: str, condition: str, **params: object) -> bool:
    """Change the delivery's row if `condition` still holds (a compare-and-set); whether it did."""
    sql = f"UPDATE deliveries SET {assignments}{_BY_KEY} AND {condition}"  # noqa: S608 (constant text)
    return transaction.execute(sql, **_key(delivery), **params).rowcount == 1


def _snapshot_rows(transaction: _Transaction, where: str) -> Iterator[tuple[str, tuple[datetime, Counts]]]:
    """The snapshots `where` picks, oldest first: each delivery's key, when it was fetched, and the counts."""
    for post_id, due, account, language, fetched_at, *counts in transaction.execute(
        "SELECT d.post_id, d.due, d.account, d.language, s.fetched_at, s.likes, s.reposts, s.replies, s.quotes,"  # noqa: S608 (constant text)
        f" s.impressions FROM snapshots s JOIN deliveries d ON d.id = s.delivery_id{where} ORDER BY s.fetched_at, s.id"
    ).fetchall():
        delivery = Delivery(parse_stamp(due), post_id, account, language)
        yield delivery.key, (parse_stamp(fetched_at), Counts(*counts))


def _key(delivery: Delivery) -> dict[str, str]:
    """The parameters naming the delivery's row: post_id, due, account and language."""
    return {
        "post_id": delivery.post_id,
        "due": stamp(delivery.due),
        "account": delivery.account,
        "language": delivery.language,
    }


def _one_of(column: str, values: Iterable[str]) -> tuple[str, dict[str, str]]:
    """`column IN (...)`, one parameter per value, and those parameters."""
    params = {f"{column}{index}": value for index, value in enumerate(values)}
    return f"{column} IN ({', '.join(':' + name for name in params)})", params


def _row(transaction: _Transaction, delivery: Delivery) -> tuple[Any, ...] | None:
    return transaction.execute(
        f"SELECT {_COLUMNS} FROM deliveries{_BY_KEY}",  # noqa: S608 (constant text)
        **_key(delivery),
    ).fetchone()


def _record(row: tuple[Any, ...]) -> Record:
    (
        post_id,
        due,
        account,
        language,
        state,
        origin,
        attempts,
        owner,
        claim,
        lease_until,
        retry_at,
        memo,
        parts,
        error,
        updated_at,
        fingerprint,
    ) = row
    return Record(
        delivery=Delivery(parse_stamp(due), post_id, account, language),
        state=state,
        origin=origin,
        attempts=attempts,
        owner=owner,
        claim=claim,
        lease_until=parse_stamp(lease_until) if lease_until else None,
        retry_at=parse_stamp(retry_at) if retry_at else None,
        memo=json.loads(memo),
        parts=json.loads(parts),
        error=error,
        updated_at=parse_stamp(updated_at),
        fingerprint=fingerprint,
    )


def _migrate(transaction: _Transaction) -> None:
    """Bring the schema up to SCHEMA_VERSION, one numbered step at a time."""
    if transaction.dialect == "postgresql":
        # Daemons starting together on a new ledger: one migrates, the others wait for it.
        transaction.execute("SELECT pg_advisory_xact_lock(7301862450)")
    transaction.execute(_VERSION_TABLE)
    row = transaction.execute("SELECT version FROM schema_version").fetchone()
    id_type = "SERIAL" if transaction.dialect == "postgresql" else "INTEGER"
    if row is None:
        for statement in _TABLES:
            transaction.execute(statement.format(id_type=id_type))
        transaction.execute("INSERT INTO schema_version (version) VALUES (:version)", version=SCHEMA_VERSION)
        return
    (current,) = row
    if current > SCHEMA_VERSION:
        raise SchedulerError(
            f"the ledger has schema version {current}, newer than this program "
            f"({SCHEMA_VERSION}); upgrade slogan-scheduler"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS.get(version, ()):
            transaction.execute(statement.format(id_type=id_type))
        transaction.execute("UPDATE schema_version SET version = :version", version=version)


class LedgerBusyError(SchedulerError):
    """Another process holds the ledger for longer than a command waits: try again."""


class LedgerDamagedError(SchedulerError):
    """The ledger file is not a readable database: a person must restore it (never reset it)."""


def describe(url: str) -> str:
    """The ledger's URL as it may be shown: never a password."""
    return url.split("@")[-1] if "://" in url else url


def _unusable(url: str, exc: Exception) -> SchedulerError:
    where = describe(url)
    reason = str(exc).partition("\n")[0]
    lowered = reason.lower()
    if "locked" in lowered or "busy" in lowered:
        return LedgerBusyError(
            f"the ledger {where} is in use by another process{_holder(url)}; try again in a moment "
            "(it was left as it is)"
        )
    if any(word in lowered for word in ("not a database", "malformed", "corrupt", "file is encrypted")):
        return LedgerDamagedError(
            f"the ledger {where} is damaged ({reason}). It was left exactly as it is: stop every daemon, "
            "then restore the latest copy made by `run.py backup` (see README, Backups); "
            "never delete it, or everything in it would be posted again"
        )
    return SchedulerError(f"the ledger {where} cannot be used ({reason}); it was left as it is")


def _holder(url: str) -> str:
    """Who holds a SQLite ledger, when a daemon advertised itself beside it."""
    if not url.startswith("sqlite:///"):
        return ""
    from scheduler import presence

    folder = Path(url.removeprefix("sqlite:///")).parent
    for state in (folder, folder.parent / "state"):
        advert = presence.read(state)
        if advert is not None:
            return f" (the daemon {advert.describe()})"
    return ""


def backup(url: str, destination: Path) -> tuple[Path, int]:
    """A consistent copy of a SQLite ledger, whatever is writing to it (SQLite's backup API, which
    includes what is still in the write-ahead log); returns the file written and its size."""
    if not url.startswith("sqlite:///"):
        raise SchedulerError(
            f"the ledger {describe(url)} is a PostgreSQL database: back it up with PostgreSQL's own tool, "
            "e.g. pg_dump --format=custom --file ledger.dump DBNAME (restore with pg_restore)"
        )
    source = Path(url.removeprefix("sqlite:///"))
    if not source.is_file():
        raise SchedulerError(f"there is no ledger at {source} to back up")
    if destination.is_dir():
        destination = destination / f"ledger-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.sqlite3"
    if destination.exists():
        raise SchedulerError(f"{destination} already exists; give a new file name")
    if not destination.parent.is_dir():
        raise SchedulerError(f"there is no folder {destination.parent} to write {destination.name} in")
    partial = destination.with_name(f".{destination.name}.partial")
    partial.touch(mode=0o600)  # private from the first byte: it holds the whole history
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30)) as reading,
            contextlib.closing(sqlite3.connect(partial)) as writing,
        ):
            reading.backup(writing)
            (found,) = writing.execute("PRAGMA integrity_check").fetchone()
        if found != "ok":
            raise SchedulerError(f"the ledger {source} failed its integrity check ({found}); nothing was written")
        partial.replace(destination)
    except sqlite3.Error as exc:
        raise _unusable(url, exc) from None
    finally:
        partial.unlink(missing_ok=True)
    destination.chmod(0o600)
    return destination, destination.stat().st_size
