"""The SQLAlchemy instance, the transaction helper and the quirks of each database.

SQLite: every transaction starts with BEGIN IMMEDIATE, so it takes the write lock up front and two
requests can never both read a balance and then both write it; WAL lets readers go on meanwhile.
PostgreSQL (and PostgreSQL-compatible distributed engines): READ COMMITTED with row locks
(SELECT ... FOR UPDATE) where money must not go negative; serialization failures and deadlocks
are retried by `transaction`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects stay loaded across a commit: a money request commits its Idempotency-Key claim first and
# then works with the caller it already loaded, without reading it again. Code that needs what
# another transaction wrote reads it again explicitly.
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


def _is_retryable(error: DBAPIError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    # SQLite reports a lock it waited busy_timeout for as "database is locked".
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def transaction(session: Session, work: Callable[[Session], T], attempts: int = 5) -> T:
    """Run `work(session)` in one database transaction and commit; retry it on a serialization
    failure or deadlock. Any other exception rolls back and propagates."""
    for attempt in range(1, attempts + 1):
        try:
            result = work(session)
            session.commit()
            return result
        except DBAPIError as error:
            session.rollback()
            if attempt == attempts or not _is_retryable(error):
                raise
            time.sleep(0.005 * 2**attempt * (1 + secrets.randbelow(100) / 100))
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")
