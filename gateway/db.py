"""The SQLAlchemy instance, the transaction helper and the quirks of each database.

SQLite: every transaction starts with BEGIN IMMEDIATE, so it takes the write lock up front and two
requests can never both read a balance and then both write it; WAL lets readers go on meanwhile.
PostgreSQL (and PostgreSQL-compatible distributed engines): READ COMMITTED with row locks
(SELECT ... FOR UPDATE) where money must not go negative; serialization failures and deadlocks
are retried by `transaction`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session

from gateway import availability

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects stay loaded across a commit: after a request's transaction commits, what it loaded (the
# caller, above all) is still there to answer with, without reading it again. Code that needs
# what another transaction wrote reads it again explicitly.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})

T = TypeVar("T")

# SQLSTATEs worth a retry: serialization_failure, deadlock_detected.
RETRYABLE_SQLSTATES = {"40001", "40P01"}


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def new_public_id(prefix: str) -> str:
    """Return an opaque public id such as `mem_k3x9...`: 80 random bits, never sequential."""
    number = secrets.randbits(80)
    characters = []
    for _ in range(16):
        characters.append(_BASE32[number & 31])
        number >>= 5
    return f"{prefix}_{''.join(characters)}"


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def install_dialect_quirks(engine, busy_timeout_seconds: int) -> None:
    """Make SQLite behave for money: foreign keys on, WAL, and BEGIN IMMEDIATE."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record):
        # Take transaction control away from pysqlite so that "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        # The point `commit_alone` goes back to.
        connection.exec_driver_sql(f"SAVEPOINT {TRANSACTION_START}")


TRANSACTION_START = "transaction_start"


def commit_alone(session: Session, statement) -> None:
    """SQLite: undo everything the session's transaction has done, run `statement`, commit it and
    begin a new transaction, all without letting go of the write lock.

    For a write that must outlive the transaction's rollback and that no other request may see
    the database without (a wrong PIN's count): a rollback followed by a transaction of its own
    would let another request take the lock in between and read the old count. The caller raises
    at once; the rollback that follows ends the empty transaction begun here.
    """
    connection = session.connection()
    connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {TRANSACTION_START}")
    connection.execute(statement)
    connection.exec_driver_sql("COMMIT")
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    connection.exec_driver_sql(f"SAVEPOINT {TRANSACTION_START}")


UNIQUE_VIOLATION_SQLSTATE = "23505"
_SQLITE_UNIQUE_FAILED = re.compile(r"^UNIQUE constraint failed: (?:index '[^']*'|(\w+)\.)")


def unique_violation_table(error: IntegrityError) -> str | None:
    """Return the table whose unique index `error` violated, or None if it is no unique violation.

    PostgreSQL (psycopg) says so by SQLSTATE 23505 and names the table; SQLite says "UNIQUE
    constraint failed: users.phone". Any other integrity error (a foreign key, a check) is None:
    that is a bug, not a race a client can cause.
    """
    original = error.orig
    if getattr(original, "sqlstate", None) == UNIQUE_VIOLATION_SQLSTATE:
        diagnostic = getattr(original, "diag", None)
        return getattr(diagnostic, "table_name", None) or ""
    found = _SQLITE_UNIQUE_FAILED.match(str(original))
    if found is None:
        return None
    return found.group(1) or ""


def insert_or_find(
    session: Session, create: Callable[[], T], find: Callable[[], T | None]
) -> tuple[T, bool]:
    """Insert the row `create()` makes, or, if a racing transaction's row already holds its
    unique index, return that row as `find()` reads it; also say whether this call inserted.

    The insert runs in a savepoint, so losing the race rolls back only the insert, not the
    caller's transaction; under READ COMMITTED (and SQLite's write lock) `find()` then sees the
    winner's committed row. For get-or-create and create-or-replace use cases (a sticker, a PUT).
    """
    try:
        with session.begin_nested():
            row = create()
            session.add(row)
        return row, True
    except IntegrityError as error:
        if unique_violation_table(error) is None:
            raise
        found = find()
        if found is None:
            raise
        return found, False


def _is_retryable(error: DBAPIError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    # SQLite reports a lock it waited busy_timeout for as "database is locked".
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def transaction(session: Session, work: Callable[[Session], T], attempts: int = 5) -> T:
    """Run `work(session)` in one database transaction and commit; retry it on a serialization
    failure or deadlock, and once on a connection lost before the commit. Any other exception
    rolls back and propagates.

    A connection lost while `work` ran (a pooled connection whose server died or turned
    read-only in a failover) committed nothing, so the work runs again on a fresh connection,
    found by the multi-host URL on whichever host is the writable primary now. A connection lost
    during the commit leaves the outcome unknown: that propagates (a 503), and the client's retry
    with the same Idempotency-Key finds out.
    """
    reconnected = False
    for attempt in range(1, attempts + 1):
        committing = False
        started = time.monotonic()
        try:
            result = work(session)
            committing = True
            session.commit()
            return result
        except DBAPIError as error:
            session.rollback()
            if attempt == attempts:
                raise
            # Once, and only for a connection found dead at once (a stale one after a failover):
            # one that died after a long wait (the deadline watchdog) has used the request's time.
            lost_at_once = time.monotonic() - started < 1 and availability.connection_lost(error)
            if not committing and not reconnected and lost_at_once:
                reconnected = True
                continue
            if not _is_retryable(error):
                raise
            time.sleep(0.005 * 2**attempt * (1 + secrets.randbelow(100) / 100))
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def connection_of(session: Session):
    """Return `session.connection()`, remembered for the session's current transaction (each call
    asks Flask-SQLAlchemy for the bind and walks the session's state machine; the pay path runs a
    hot statement eight times a transaction)."""
    if isinstance(session, scoped_session):
        session = session()
    transaction = session.get_transaction()
    if transaction is not None:
        remembered = session.info.get("connection_of")
        if remembered is not None and remembered[0] is transaction:
            return remembered[1]
    connection = session.connection()
    session.info["connection_of"] = (session.get_transaction(), connection)
    return connection


class HotStatement:
    """A Core statement that the pay path runs on every payment, compiled once per database.

    On PostgreSQL it runs on psycopg's own cursor, in the session's transaction: the SQL is what
    SQLAlchemy would send (compiled once from the same statement), without the work SQLAlchemy
    does again on every execution (cache key, parameter and result processing: about half the
    client CPU of a small statement). psycopg prepares it server-side after a few runs. On SQLite
    it runs through SQLAlchemy as usual, whose type processing SQLite needs.

    So the values bound and read must be ones psycopg and SQLAlchemy treat alike: ints, strings,
    timezone-aware datetimes (read back aware, though not necessarily in UTC), None.
    """

    def __init__(self, statement) -> None:
        self.statement = statement
        self._compiled: dict[tuple, tuple[str, dict]] = {}

    def _sql(self, connection, keys: tuple) -> tuple[str, dict]:
        found = self._compiled.get(keys)
        if found is None:
            compiled = self.statement.compile(dialect=connection.dialect, column_keys=list(keys))
            if (
                compiled.insert_prefetch
                or compiled.update_prefetch
                or "POSTCOMPILE" in (compiled.string)
            ):
                # Python-side column defaults and expanding IN lists are SQLAlchemy's work at
                # execution time: a hot statement must be given every value itself.
                raise TypeError(f"not a statement to run raw: {compiled.string}")
            # Values the statement carries itself (literals, a NULL to set) are bind parameters.
            found = self._compiled[keys] = (compiled.string, dict(compiled.params))
        return found

    def _cursor(self, connection, params, many: bool):
        first = params[0] if many else params
        sql, defaults = self._sql(connection, tuple(sorted(first)))
        cursor = connection.connection.driver_connection.cursor()
        params = [{**defaults, **row} for row in params] if many else {**defaults, **params}
        if connection._has_events or connection.engine._has_events:
            # Listeners of SQLAlchemy's cursor events (bench.capture) still see the statement.
            for listener in connection.dispatch.before_cursor_execute:
                listener(connection, cursor, sql, params, None, many)
        try:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
        except connection.dialect.loaded_dbapi.Error as error:
            self._fail(connection, error, sql, params, cursor)
        return connection, cursor

    @staticmethod
    def _fail(connection, error, sql, params, cursor):
        """Raise a driver error as SQLAlchemy would: wrapped in its exception classes (callers
        retry on them, answer 503 on them), the connection invalidated if the database is gone."""
        cursor.close()
        connection._handle_dbapi_exception(error, sql, params, cursor, None)
        raise AssertionError("unreachable: SQLAlchemy re-raises the error")

    def rows(self, session: Session, params: dict) -> list[tuple]:
        """Run the statement and return every row it gives back."""
        connection = connection_of(session)
        if connection.dialect.name != "postgresql":
            return [tuple(row) for row in connection.execute(self.statement, params)]
        connection, cursor = self._cursor(connection, params, many=False)
        try:
            rows = cursor.fetchall()
        except connection.dialect.loaded_dbapi.Error as error:
            self._fail(connection, error, self.statement, params, cursor)
        cursor.close()
        return rows

    def first(self, session: Session, params: dict) -> tuple | None:
        """Run the statement and return its first row (None if none)."""
        rows = self.rows(session, params)
        return rows[0] if rows else None

    def run(self, session: Session, params: dict | list[dict]) -> int:
        """Run the statement (once per dict in a list) and return how many rows it changed."""
        many = isinstance(params, list)
        connection = connection_of(session)
        if connection.dialect.name != "postgresql":
            return connection.execute(self.statement, params).rowcount
        _, cursor = self._cursor(connection, params, many=many)
        count = cursor.rowcount
        cursor.close()
        return count
