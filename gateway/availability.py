"""What the gateway does while its database is away, read-only or changing primaries.

One place for it:
- `database_url_with_timeouts` bounds every wait in libpq's own terms (connecting, a lost peer)
  and in the server's (a statement, a transaction left idle by a dead gateway), so a request
  never hangs on the database past a client's timeout.
- `is_unavailable` is the one mapping from a database error to "no writable primary just now",
  answered 503 with Retry-After (`unavailable`): nothing was written, and a retry will do.
- `connection_lost` says when a connection will never write again (gone, shut down, or landed on
  a read-only server); `install` marks those errors as disconnects, so SQLAlchemy invalidates the
  whole pool and the next checkout connects afresh, where libpq's multi-host URL with
  `target_session_attrs=read-write` finds the new primary by itself.
- `readiness` answers /readyz: not ready when the database is unreachable or read-only.
- `watchdog` bounds a request's hold on a connection from the client side, where no server
  timeout reaches: a stalled network that never answers.

A payment whose commit outcome is unknown (the connection died during COMMIT) is answered 503 like
any other; the client's retry with the same Idempotency-Key replays the answer if the commit
happened and runs the payment if it did not (gateway/idempotency.py: the key commits with the
money). A key claimed by a connection that died uncommitted is never left behind: PostgreSQL
rolls that transaction back when the connection closes, or, if the gateway's machine vanished
without closing it, after `idle_in_transaction_session_timeout`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from urllib.parse import quote

from flask import has_request_context
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gateway.errors import ServiceUnavailable

log = logging.getLogger(__name__)

# After these the connection will never write again: read_only_sql_transaction (a standby, or a
# primary demoted under it), admin_shutdown, crash_shutdown, cannot_connect_now; class 08 is the
# connection exceptions.
CONNECTION_LOST_SQLSTATES = {"25006", "57P01", "57P02", "57P03"}
CONNECTION_LOST_SQLSTATE_CLASSES = {"08"}
# Busy or away just now, on a connection that may still be fine: query_canceled (the statement
# timeout), lock_not_available (a lock timeout); class 53 is insufficient resources (too many
# connections, out of disk or memory).
BUSY_SQLSTATES = {"57014", "55P03"}
BUSY_SQLSTATE_CLASSES = {"53"}


def sqlstate(error: BaseException) -> str | None:
    """Return the SQLSTATE of a database error (wrapped by SQLAlchemy or not), if it has one."""
    original = getattr(error, "orig", None) or error
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


def connection_lost(error: BaseException) -> bool:
    """Say whether the connection that raised `error` can no longer write."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    state = sqlstate(error)
    return state is not None and (
        state in CONNECTION_LOST_SQLSTATES or state[:2] in CONNECTION_LOST_SQLSTATE_CLASSES
    )


def is_unavailable(error: BaseException) -> bool:
    """Say whether `error` means the database cannot be written just now (answer 503).

    The pool's own timeout, any error that lost the connection, the busy SQLSTATEs, and every
    OperationalError and InterfaceError (the driver's words for "cannot talk to the server";
    SQLite's "database is locked"). Any other database error is a bug and stays a 500.
    """
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if connection_lost(error) or isinstance(error, OperationalError | InterfaceError):
        return True
    state = sqlstate(error)
    return state is not None and (state in BUSY_SQLSTATES or state[:2] in BUSY_SQLSTATE_CLASSES)


def unavailable(retry_after_seconds: int) -> ServiceUnavailable:
    """Return the 503 answered when the database cannot be written just now."""
    problem = ServiceUnavailable(
        "The service cannot reach its database just now. Please try again in a moment;"
        " a retry never charges twice.",
        "Layanan sedang tidak dapat menghubungi basis datanya. Coba lagi sebentar lagi;"
        " mencoba ulang tidak akan menagih dua kali.",
    )
    problem.retry_after_seconds = retry_after_seconds
    return problem


# --- the connection's bounds --------------------------------------------------------------------


def _parse_options(options: str) -> dict[str, str]:
    """Read libpq's `options` (`-c name=value`, `-cname=value`, `--name=value`) into a dict."""
    settings: dict[str, str] = {}
    parts = options.split()
    position = 0
    while position < len(parts):
        part = parts[position]
        if part == "-c" and position + 1 < len(parts):
            position += 1
            part = parts[position]
        part = part.removeprefix("--").removeprefix("-c")
        name, equals, value = part.partition("=")
        if equals:
            settings[name.replace("-", "_")] = value
        position += 1
    return settings


def with_server_settings(url: URL | str, *, replace: bool = False, **settings: object) -> URL:
    """Return `url` with PostgreSQL settings in its `options`; those already there win unless
    `replace`. A setting of None is left out.

    The settings travel in the URL, so every engine built from it (the PIN checks' side engine,
    the readiness check's) keeps them.
    """
    url = make_url(url)
    current = _parse_options(str(url.query.get("options", "") or ""))
    for name, value in settings.items():
        if value is not None and (replace or name not in current):
            current[name] = str(value)
    if not current:
        return url
    options = " ".join(f"-c {name}={value}" for name, value in current.items())
    return url.update_query_dict({"options": options})


def database_url_with_timeouts(url: str, config) -> str:
    """Add the bounds of every database wait to a PostgreSQL URL (values already given win).

    libpq: connect_timeout (each host of a multi-host URL in turn), TCP keepalives and
    tcp_user_timeout (a peer that vanished without closing: a lost machine, a cut cable).
    Server: statement_timeout (a lock wait behind a stalled transaction, above all the retry of
    an Idempotency-Key still held uncommitted) and idle_in_transaction_session_timeout (frees a
    key and its row locks held by a gateway that vanished mid-transaction). 0 turns one off.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    libpq = {
        "connect_timeout": config["DATABASE_CONNECT_TIMEOUT_SECONDS"],
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": config["DATABASE_TCP_USER_TIMEOUT_SECONDS"] * 1000,
    }
    parsed = parsed.update_query_dict(
        {name: str(value) for name, value in libpq.items() if name not in parsed.query}
    )
    parsed = with_server_settings(
        parsed,
        statement_timeout=config["DATABASE_STATEMENT_TIMEOUT_SECONDS"] * 1000,
        idle_in_transaction_session_timeout=(
            config["DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS"] * 1000
        ),
    )
    return parsed.render_as_string(hide_password=False)


def multi_host_url(url: str) -> str:
    """Rewrite libpq's multi-host form `postgresql://user@a:5432,b:5433/db?...` as SQLAlchemy's
    `postgresql://user@/db?host=a:5432&host=b:5433&...` (SQLAlchemy cannot parse the first)."""
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme.startswith("postgres"):
        return url
    authority, slash, tail = rest.partition("/")
    credentials, at, hosts = authority.rpartition("@")
    if "," not in hosts:
        return url
    database, question, query = tail.partition("?")
    host_query = "&".join(f"host={quote(host, safe=':[]')}" for host in hosts.split(",") if host)
    query = "&".join(part for part in (host_query, query) if part)
    return f"{scheme}://{credentials}{at}/{database}?{query}"


def install(engine: Engine) -> None:
    """Treat every error after which a connection cannot write as a disconnect: SQLAlchemy then
    invalidates the connection and the pool (`invalidate_pool_on_disconnect`), and the next
    checkout connects afresh to whichever host is the writable primary now."""

    @event.listens_for(engine, "handle_error")
    def on_error(context):
        original = context.original_exception
        if not context.is_disconnect and connection_lost(original):
            context.is_disconnect = True


# --- readiness ------------------------------------------------------------------------------------

_READINESS_ENGINES: dict[str, Engine] = {}
_READINESS_ENGINES_LOCK = threading.Lock()


def checking_engine(engine: Engine, timeout_seconds: int) -> Engine:
    """Return a small engine beside `engine` for checks (readiness, the replication lag): it
    never queues behind busy requests for the pool, pings its connection first, so it sees a
    failover at once, and bounds every wait by `timeout_seconds`."""
    if engine.dialect.name != "postgresql":
        return engine
    key = engine.url.render_as_string(hide_password=False)
    with _READINESS_ENGINES_LOCK:
        found = _READINESS_ENGINES.get(key)
        if found is None:
            url = engine.url.update_query_dict({"connect_timeout": str(max(2, timeout_seconds))})
            url = with_server_settings(url, replace=True, statement_timeout=timeout_seconds * 1000)
            found = _READINESS_ENGINES[key] = create_engine(
                url, pool_size=1, max_overflow=2, pool_timeout=timeout_seconds
            )
            install(found)
            watchdog.watch(found, timeout_seconds + 1, ping=True)
    return found


def dispose_readiness_engines() -> None:
    """Close the readiness checks' connections (a test that changes the database's settings)."""
    with _READINESS_ENGINES_LOCK:
        for engine in _READINESS_ENGINES.values():
            engine.dispose()


def readiness(engine: Engine, timeout_seconds: int) -> ServiceUnavailable | None:
    """Return why the gateway should get no work now (its database unreachable or read-only),
    or None when it is ready. Answers within about `timeout_seconds`."""
    checked = checking_engine(engine, timeout_seconds)
    try:
        with checked.connect() as connection:
            if checked.dialect.name == "postgresql":
                read_only, in_recovery = connection.execute(
                    text("SELECT current_setting('transaction_read_only'), pg_is_in_recovery()")
                ).one()
            else:
                connection.execute(text("SELECT 1"))
                read_only, in_recovery = "off", False
            connection.rollback()
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        problem = ServiceUnavailable(
            "The database is not reachable.", "Basis data tidak dapat dihubungi."
        )
        problem.retry_after_seconds = 1
        log.warning("not ready: the database is not reachable: %s", error)
        return problem
    if read_only == "on" or in_recovery:
        problem = ServiceUnavailable(
            "The database is read-only: it is a standby, or no primary is writable just now.",
            "Basis data hanya dapat dibaca: ini server cadangan, atau belum ada server utama yang"
            " dapat ditulisi.",
        )
        problem.retry_after_seconds = 1
        log.warning("not ready: the database is read-only")
        return problem
    return None


# --- the client side's deadline -----------------------------------------------------------------


class DeadlineWatchdog:
    """Close, from the client side, a connection a request has held past its deadline.

    The server's timeouts cannot end a wait for an answer that never comes: a network that
    stalls (a proxy or a firewall that holds the bytes and still acknowledges them) leaves
    psycopg waiting on its socket forever, tcp_user_timeout never fires, and the request's thread
    with it. So each connection a request checks out is timed, and one held past its deadline has
    its socket shut down under psycopg: the wait ends with "server closed the connection", the
    pool drops the connection, and the request answers 503. Connections outside a request (the
    webhook worker, commands) are not timed.

    It also pings a pooled connection as a request takes it (DATABASE_POOL_PRE_PING), timed
    like the rest: SQLAlchemy's own pre-ping runs before any event could time it.
    """

    def __init__(self) -> None:
        self.deadline_seconds: float = 10
        self.ping = True
        # By connection record (a checkin of an invalidated connection names no connection).
        self._held: dict[int, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def configure(self, deadline_seconds: float, *, ping: bool) -> None:
        """Set the deadline and the ping for engines watched from now on without their own."""
        self.deadline_seconds, self.ping = deadline_seconds, ping

    def watch(
        self, engine: Engine, deadline_seconds: float | None = None, *, ping: bool | None = None
    ) -> None:
        """Time every checkout of `engine`'s pool made during a request (PostgreSQL only)."""
        if engine.dialect.name != "postgresql":
            return
        deadline_seconds = self.deadline_seconds if deadline_seconds is None else deadline_seconds
        ping = self.ping if ping is None else ping

        @event.listens_for(engine, "connect")
        def on_connect(dbapi_connection, record):
            record.info["fresh"] = True

        @event.listens_for(engine, "checkout")
        def on_checkout(dbapi_connection, record, proxy):
            fresh = record.info.pop("fresh", False)
            timed = deadline_seconds > 0 and has_request_context()
            if timed:
                self._hold(record, dbapi_connection, deadline_seconds)
            if ping and not fresh:
                try:
                    engine.dialect.do_ping(dbapi_connection)
                except Exception as error:  # noqa: BLE001 - any failure: a new connection
                    self._release(record)
                    # The pool throws this connection away and checks out another.
                    raise DisconnectionError(f"the pooled connection is gone: {error}") from error

        @event.listens_for(engine, "checkin")
        def on_checkin(dbapi_connection, record):
            self._release(record)

    def _hold(self, record, dbapi_connection, deadline_seconds: float) -> None:
        with self._lock:
            self._held[id(record)] = (
                time.monotonic() + deadline_seconds,
                dbapi_connection,
            )
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="database-deadline", daemon=True
                )
                self._thread.start()

    def _release(self, record) -> None:
        with self._lock:
            self._held.pop(id(record), None)

    def _run(self) -> None:
        while True:
            time.sleep(0.2)
            now = time.monotonic()
            with self._lock:
                for key, (deadline, dbapi_connection) in list(self._held.items()):
                    if deadline <= now:
                        del self._held[key]
                        log.warning("closing a database connection held past its deadline")
                        _shut_down(dbapi_connection)


def _shut_down(dbapi_connection) -> None:
    """Shut the connection's socket down under the thread that waits on it (the descriptor stays
    open, so no other connection can be given its number meanwhile)."""
    try:
        descriptor = dbapi_connection.pgconn.socket
    except Exception:  # noqa: BLE001 - already closed
        return
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(descriptor))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()


watchdog = DeadlineWatchdog()
