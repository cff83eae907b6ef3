"""What an operator watches: the gateway's metrics in the Prometheus text format.

One registry across gunicorn's worker processes (prometheus_client's multiprocess mode): when
PROMETHEUS_MULTIPROC_DIR is set (docker/gunicorn.conf.py sets it, empties it at start and marks
a dead worker's files in `child_exit`), every process writes its counts there and a scrape of any
worker reads them all; without it (a single process: the tests, `flask run`) the process's own
registry is read.

- `interkop_http_requests_total{method,endpoint,status}` and
  `interkop_http_request_duration_seconds{method,endpoint}`: every request, by its route's
  endpoint name (never the raw path, so a scan of random URLs adds no series).
- `interkop_money_requests_total{operation,outcome}`: the requests that move money (those under
  an Idempotency-Key; `operation="payments.pay"` are the QR payments) by outcome: done,
  replayed, refused (4xx), unavailable (503: no writable primary), error (other 5xx).
- `interkop_database_connections_in_use`: connections the processes' pools have lent out now.
- `interkop_database_server_changes_total` and `interkop_database_server{server}`: a process
  whose new connection landed on another server than its last one (a failover, seen by each
  process once), and the server each process is connected to now.
- `interkop_database_replication_lag_seconds{standby}` and
  `interkop_database_replication_lag_bytes{standby}`: read from pg_stat_replication when a
  scrape comes, so present only while the database is a primary with standbys (the lag in
  seconds needs the pg_monitor role, or is absent).
"""

from __future__ import annotations

import logging
import os
import threading

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

MULTIPROCESS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# A `_created` timestamp beside every counter doubles the series for nothing a rate() needs.
disable_created_metrics()

# Latency buckets for a payment's life: a few milliseconds normally, up to the 15 s a client waits.
LATENCY_BUCKETS_SECONDS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    15.0,
)

http_requests = Counter(
    "interkop_http_requests",
    "HTTP requests answered, by route endpoint and status.",
    ["method", "endpoint", "status"],
)
http_request_duration = Histogram(
    "interkop_http_request_duration_seconds",
    "Time from a request's arrival at the application to its answer.",
    ["method", "endpoint"],
    buckets=LATENCY_BUCKETS_SECONDS,
)
money_requests = Counter(
    "interkop_money_requests",
    "Requests that move money (under an Idempotency-Key), by operation and outcome.",
    ["operation", "outcome"],
)
connections_in_use = Gauge(
    "interkop_database_connections_in_use",
    "Database connections lent out by the processes' pools now.",
    multiprocess_mode="livesum",
)
server_changes = Counter(
    "interkop_database_server_changes",
    "New connections that landed on another database server than the process's last one"
    " (a failover; each process counts it once).",
)
database_server = Gauge(
    "interkop_database_server",
    "1 for the database server (host:port) a process's newest connection reached.",
    ["server"],
    multiprocess_mode="livemax",
)


def outcome_of(status: int, replayed: bool) -> str:
    """Name what became of a money-moving request from its answer."""
    if status == 503:
        return "unavailable"
    if status >= 500:
        return "error"
    if status >= 400:
        return "refused"
    return "replayed" if replayed else "done"


# --- the database pool --------------------------------------------------------------------------

_server_lock = threading.Lock()
_last_server: dict[int, str] = {}  # by process id: a worker forked from a preloaded master


def watch_pool(engine: Engine) -> None:
    """Count the connections `engine` lends out, and the server each new one reached."""

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection, record, proxy):
        connections_in_use.inc()

    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection, record):
        connections_in_use.dec()

    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, record):
        info = getattr(dbapi_connection, "info", None)
        if info is None:
            return
        server = f"{info.host}:{info.port}"  # what libpq knows, no round trip
        note_server(server)


def note_server(server: str) -> None:
    """Record that this process's newest connection reached `server`."""
    with _server_lock:
        previous = _last_server.get(os.getpid())
        if previous == server:
            return
        _last_server[os.getpid()] = server
    if previous is not None:
        server_changes.inc()
        database_server.labels(previous).set(0)
        log.warning("the database server changed from %s to %s", previous, server)
    database_server.labels(server).set(1)


# --- replication, read when a scrape comes -------------------------------------------------------

REPLICATION_QUERY = text(
    "SELECT application_name, host(client_addr),"
    " EXTRACT(EPOCH FROM replay_lag)::float8,"
    " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8"
    " FROM pg_stat_replication"
)


class ReplicationCollector:
    """Read the standbys' lag from the primary at scrape time (nothing when it has none)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self):
        seconds = GaugeMetricFamily(
            "interkop_database_replication_lag_seconds",
            "How far each standby's replay is behind the primary, in time (pg_stat_replication).",
            labels=["standby"],
        )
        size = GaugeMetricFamily(
            "interkop_database_replication_lag_bytes",
            "How far each standby's replay is behind the primary, in WAL bytes.",
            labels=["standby"],
        )
        if self.engine.dialect.name == "postgresql":
            try:
                with self.engine.connect() as connection:
                    rows = connection.execute(REPLICATION_QUERY).all()
            except Exception as error:  # noqa: BLE001 - a scrape still answers
                log.warning("could not read pg_stat_replication: %s", error)
                rows = []
            for name, address, lag_seconds, lag_bytes in rows:
                standby = name or address or "unknown"
                # A standby that has replayed everything shows a NULL replay_lag: no lag.
                seconds.add_metric([standby], lag_seconds or 0.0)
                if lag_bytes is not None:
                    size.add_metric([standby], lag_bytes)
        yield seconds
        yield size


# --- the exposition -----------------------------------------------------------------------------


class _WithReplication:
    """The process's (or every process's) metrics, then the replication lag read now."""

    def __init__(self, source, engine: Engine) -> None:
        self.source, self.engine = source, engine

    def collect(self):
        yield from self.source.collect()
        yield from ReplicationCollector(self.engine).collect()


def exposition(engine: Engine, timeout_seconds: int = 2) -> tuple[bytes, str]:
    """Return every process's metrics and the replication lag, in the text format.

    The lag is read on the readiness check's small engine (gateway/availability.py), so a scrape
    waits no longer than that check and never for a pool busy with payments.
    """
    from gateway import availability

    if os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE):
        from prometheus_client import multiprocess

        source = CollectorRegistry()
        multiprocess.MultiProcessCollector(source)
    else:
        from prometheus_client import REGISTRY as source
    checking = availability.checking_engine(engine, timeout_seconds)
    return generate_latest(_WithReplication(source, checking)), CONTENT_TYPE_LATEST
