"""The ledger: the only record of what was posted. SQLite by default, PostgreSQL for several daemons.

Every delivery is one row keyed by (post, due instant, account, language). It moves
pending -> claimed -> published | failed | unconfirmed | expired, and may go back from claimed
to pending for a retry. A claim is a compare-and-set on that row, so of two claimers exactly one
wins; it carries a lease and its owner (host:pid), so a claim whose process died can be taken over.
Every change is one transaction; nothing is ever deleted or silently reset.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    create_engine,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

from scheduler.errors import SchedulerError
from scheduler.files import default_ledger_url
from scheduler.models import Delivery

log = logging.getLogger(__name__)

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
SCHEMA_VERSION = 2
P = ParamSpec("P")
R = TypeVar("R")

metadata = MetaData()
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("post_id", String(64), nullable=False),
    Column("due", String(20), nullable=False),  # UTC, 2026-12-01T14:00:00Z: sorts and compares as text
    Column("account", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("state", String(12), nullable=False),
    Column("origin", String(12), nullable=False),  # schedule | manual
    Column("attempts", Integer, nullable=False),
    Column("owner", String(128)),  # host:pid of the claimer
    Column("claim", String(32)),  # the claimer's token
    Column("lease_until", String(20)),
    Column("retry_at", String(20)),
    Column("memo", Text, nullable=False),  # the platform adapter's own state, JSON
    Column("parts", Text, nullable=False),  # [{"id": ..., "url": ...}] of what was created, JSON
    Column("error", Text),
    Column("fingerprint", String(64)),  # what it publishes (text and card), to recognise a repeat
    Column("created_at", String(20), nullable=False),
    Column("updated_at", String(20), nullable=False),
    UniqueConstraint("post_id", "due", "account", "language", name="delivery_key"),
)
settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
schema = Table("schema_version", metadata, Column("version", Integer, nullable=False))


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


def _transaction(method: Callable[Concatenate[Ledger, Connection, P], R]) -> Callable[Concatenate[Ledger, P], R]:
    """Run a Ledger method in one transaction, turning a damaged database into a clear error."""

    def wrapper(self: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with self.engine.begin() as connection:
                return method(self, connection, *args, **kwargs)
        except (DatabaseError, OperationalError) as exc:
            raise _unusable(self.url, exc) from None

    wrapper.__doc__ = method.__doc__
    return wrapper


class Ledger:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        for attempt in range(3):
            try:
                with self.engine.begin() as connection:
                    _migrate(connection)
                break
            except (DatabaseError, OperationalError) as exc:
                # Another process created the schema at the same moment: look again.
                raced = isinstance(exc, (IntegrityError, ProgrammingError)) or "already exists" in str(exc)
                if not raced or attempt == 2:
                    raise _unusable(url, exc) from None

    def close(self) -> None:
        self.engine.dispose()

    @_transaction
    def ensure(self, connection: Connection, delivery: Delivery, now: datetime, origin: str = "schedule") -> Record:
        """The delivery's record, created as pending if the ledger has none yet."""
        row = self._row(connection, delivery)
        if row is None:
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(deliveries).values(
                            post_id=delivery.post_id,
                            due=stamp(delivery.due),
                            account=delivery.account,
                            language=delivery.language,
                            state=PENDING,
                            origin=origin,
                            attempts=0,
                            memo="{}",
                            parts="[]",
                            created_at=stamp(now),
                            updated_at=stamp(now),
                        )
                    )
            except IntegrityError:
                pass  # created by another process in the meantime
            row = self._row(connection, delivery)
        assert row is not None
        return _record(row)

    @_transaction
    def get(self, connection: Connection, delivery: Delivery) -> Record | None:
        row = self._row(connection, delivery)
        return _record(row) if row is not None else None

    @_transaction
    def claim(
        self,
        connection: Connection,
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
            condition = and_(deliveries.c.state == CLAIMED, deliveries.c.claim == take_over)
        else:
            condition = and_(
                deliveries.c.state == PENDING,
                or_(deliveries.c.retry_at.is_(None), deliveries.c.retry_at <= stamp(now)),
            )
        result = connection.execute(
            update(deliveries)
            .where(_key(delivery), condition)
            .values(
                state=CLAIMED,
                claim=token,
                owner=this_process(),
                lease_until=stamp(now + lease),
                attempts=deliveries.c.attempts + 1,
                updated_at=stamp(now),
                **({"fingerprint": fingerprint} if fingerprint else {}),
            )
        )
        if result.rowcount != 1:
            return None
        row = self._row(connection, delivery)
        assert row is not None
        return _record(row)

    @_transaction
    def save_progress(
        self,
        connection: Connection,
        delivery: Delivery,
        token: str,
        memo: dict[str, Any],
        parts: list[dict[str, str]],
        now: datetime,
        lease: timedelta,
    ) -> None:
        """Record what an attempt did so far (and renew its lease); fails if the claim was lost."""
        result = connection.execute(
            update(deliveries)
            .where(_key(delivery), deliveries.c.state == CLAIMED, deliveries.c.claim == token)
            .values(
                memo=json.dumps(memo), parts=json.dumps(parts), lease_until=stamp(now + lease), updated_at=stamp(now)
            )
        )
        if result.rowcount != 1:
            raise SchedulerError(f"the claim on {delivery.key} was lost to another process")

    @_transaction
    def finish(
        self,
        connection: Connection,
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
        values: dict[str, Any] = {
            "state": state,
            "claim": None,
            "lease_until": None,
            "error": error,
            # Rounded up: a retry is never made before its time (a platform's reset time included).
            "retry_at": stamp(retry_at + timedelta(microseconds=999_999)) if retry_at else None,
            "updated_at": stamp(now),
        }
        if parts is not None:
            values["parts"] = json.dumps(parts)
        result = connection.execute(
            update(deliveries)
            .where(_key(delivery), deliveries.c.state == CLAIMED, deliveries.c.claim == token)
            .values(**values)
        )
        if result.rowcount != 1:
            raise SchedulerError(f"the claim on {delivery.key} was lost to another process")

    @_transaction
    def reopen(self, connection: Connection, delivery: Delivery, now: datetime) -> bool:
        """Make a failed, expired, held or removed delivery pending again, for a person posting it by hand."""
        result = connection.execute(
            update(deliveries)
            .where(_key(delivery), deliveries.c.state.in_((FAILED, EXPIRED, HELD, REMOVED)))
            .values(state=PENDING, retry_at=None, updated_at=stamp(now))
        )
        return result.rowcount == 1

    @_transaction
    def expire(
        self, connection: Connection, delivery: Delivery, reason: str, now: datetime, state: str = EXPIRED
    ) -> bool:
        """End a pending delivery that will not go out (expired, held or removed); False if it was not pending."""
        result = connection.execute(
            update(deliveries)
            .where(_key(delivery), deliveries.c.state == PENDING)
            .values(state=state, error=reason, updated_at=stamp(now))
        )
        return result.rowcount == 1

    @_transaction
    def records(
        self,
        connection: Connection,
        *,
        post_id: str | None = None,
        account: str | None = None,
        language: str | None = None,
        states: tuple[str, ...] = (),
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[Record]:
        query = select(deliveries)
        for column, value in (
            (deliveries.c.post_id, post_id),
            (deliveries.c.account, account),
            (deliveries.c.language, language),
        ):
            if value is not None:
                query = query.where(column == value)
        if states:
            query = query.where(deliveries.c.state.in_(states))
        order = (deliveries.c.updated_at.desc(), deliveries.c.id.desc()) if newest_first else (deliveries.c.id,)
        query = query.order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        return [_record(row) for row in connection.execute(query)]

    @_transaction
    def held_slots(self, connection: Connection, post_ids: list[str]) -> dict[str, datetime]:
        """The queue slot each of these posts already took (whatever became of it): it keeps it, whatever
        the file says now."""
        if not post_ids:
            return {}
        query = (
            select(deliveries.c.post_id, deliveries.c.due)
            .where(deliveries.c.post_id.in_(post_ids))
            .order_by(deliveries.c.due)
        )
        held: dict[str, datetime] = {}
        for post_id, due in connection.execute(query):
            held.setdefault(post_id, parse_stamp(due))
        return held

    @_transaction
    def setting(self, connection: Connection, name: str) -> str | None:
        value = connection.execute(select(settings.c.value).where(settings.c.name == name)).scalar()
        return str(value) if value is not None else None

    @_transaction
    def set_setting(self, connection: Connection, name: str, value: str | None) -> None:
        """Set (or, with None, remove) a setting every process sharing this ledger sees."""
        if value is None:
            connection.execute(settings.delete().where(settings.c.name == name))
            return
        # One atomic upsert: daemons setting it at the same moment must not collide.
        dialect = sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert
        statement = dialect(settings).values(name=name, value=value)
        connection.execute(statement.on_conflict_do_update(index_elements=[settings.c.name], set_={"value": value}))

    @_transaction
    def settings_named(self, connection: Connection, prefix: str) -> dict[str, str]:
        query = select(settings.c.name, settings.c.value).where(settings.c.name.startswith(prefix, autoescape=True))
        return {str(name): str(value) for name, value in connection.execute(query)}

    def _row(self, connection: Connection, delivery: Delivery) -> Any:
        return connection.execute(select(deliveries).where(_key(delivery))).first()


def _key(delivery: Delivery) -> Any:
    return and_(
        deliveries.c.post_id == delivery.post_id,
        deliveries.c.due == stamp(delivery.due),
        deliveries.c.account == delivery.account,
        deliveries.c.language == delivery.language,
    )


def _record(row: Any) -> Record:
    return Record(
        delivery=Delivery(parse_stamp(row.due), row.post_id, row.account, row.language),
        state=row.state,
        origin=row.origin,
        attempts=row.attempts,
        owner=row.owner,
        claim=row.claim,
        lease_until=parse_stamp(row.lease_until) if row.lease_until else None,
        retry_at=parse_stamp(row.retry_at) if row.retry_at else None,
        memo=json.loads(row.memo),
        parts=json.loads(row.parts),
        error=row.error,
        updated_at=parse_stamp(row.updated_at),
        fingerprint=row.fingerprint,
    )


def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A fresh connection per transaction: one kept open would go on with its cached pages after
        # the file was damaged or replaced under it, and record into a write-ahead log nobody reads.
        engine = create_engine(url, connect_args={"timeout": 30}, poolclass=NullPool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _migrate(connection: Connection) -> None:
    """Bring the schema up to SCHEMA_VERSION, one numbered step at a time."""
    if connection.dialect.name == "postgresql":
        # Daemons starting together on a new ledger: one migrates, the others wait for it.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7301862450)")
    schema.create(connection, checkfirst=True)
    current = connection.execute(select(schema.c.version)).scalar()
    if current is None:
        metadata.create_all(connection)
        connection.execute(insert(schema).values(version=SCHEMA_VERSION))
        return
    if current > SCHEMA_VERSION:
        raise SchedulerError(
            f"the ledger has schema version {current}, newer than this program "
            f"({SCHEMA_VERSION}); upgrade slogan-scheduler"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS.get(version, ()):
            connection.exec_driver_sql(statement)
        connection.execute(update(schema).values(version=version))


# Steps from version N-1 to N, as SQL both SQLite and PostgreSQL accept.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE deliveries ADD COLUMN fingerprint VARCHAR(64)",),
}


class LedgerBusyError(SchedulerError):
    """Another process holds the ledger for longer than a command waits: try again."""


class LedgerDamagedError(SchedulerError):
    """The ledger file is not a readable database: a person must restore it (never reset it)."""


def describe(url: str) -> str:
    """The ledger's URL as it may be shown: never a password."""
    return url.split("@")[-1] if "://" in url else url


def _unusable(url: str, exc: Exception) -> SchedulerError:
    where = describe(url)
    reason = str(getattr(exc, "orig", exc)).splitlines()[0]
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
    import sqlite3

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
