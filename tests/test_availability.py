"""A request that cannot reach a writable primary answers 503 with Retry-After, never a 500 and
never a hang; a failover's dead connections are replaced; a commit whose answer was lost is
resolved by the retry with the same Idempotency-Key; /readyz says when not to send work.

The failures are real where PostgreSQL can give them: a database set read-only (SQLSTATE 25006,
what a standby answers), backends terminated by an administrator (57P01, what a failover leaves
in the pool), a TCP proxy (tests/tcp_proxy.py) that cuts or holds the connection, a port nothing
listens on. Elsewhere the real psycopg error classes are raised where the database would.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import sqlalchemy as sa
from conftest import POSTGRES_SERVER_URL, base_config
from problems import assert_problem
from tcp_proxy import TcpProxy

from gateway import availability, counter, create_app
from gateway.db import db, transaction
from gateway.models import IdempotencyKey, Transfer

CASH_IN = "/api/v1/counter/cash-in"


def scene(city):
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    return coop, teller, siti


def stored_key(app, scope: str, key: str) -> IdempotencyKey | None:
    with app.app_context():
        row = db.session.scalar(
            sa.select(IdempotencyKey).where(
                IdempotencyKey.scope == scope, IdempotencyKey.key == key
            )
        )
        db.session.rollback()
        return row


def assert_unavailable(response) -> None:
    assert_problem(response, 503, "service-unavailable")
    assert response.headers["Retry-After"] == "1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_port(url: str, port: int) -> str:
    """The same database reached through another port of 127.0.0.1."""
    parts = urlsplit(url)
    return url.replace(parts.netloc, f"{parts.username}@127.0.0.1:{port}", 1)


@pytest.fixture
def server():
    """A connection to the PostgreSQL server itself, to do to the test database what an
    operator or a failover would."""
    engine = sa.create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def read_only_database(app, server, database_url, postgresql_only):
    """Make the test database answer as a standby does, every new session read-only (True), or
    writable again (False); writable again in the end."""
    name = sa.engine.make_url(database_url).database

    def set_read_only(on: bool) -> None:
        with server.connect() as connection:
            setting = "SET default_transaction_read_only = on" if on else "RESET"
            setting += " default_transaction_read_only" if not on else ""
            connection.execute(sa.text(f"ALTER DATABASE {name} {setting}"))
        with app.app_context():
            db.engine.dispose()
        availability.dispose_readiness_engines()

    yield set_read_only
    set_read_only(False)


@pytest.fixture
def proxied(app, database_url, keys_dir, postgresql_only):
    """A second gateway on the same database, reaching it through a TCP proxy."""
    proxy = TcpProxy(sa.engine.make_url(database_url).port or 5432)
    gateway = create_app(
        {
            **base_config(with_port(database_url, proxy.port), keys_dir),
            "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS": 1,
            "DATABASE_TRANSACTION_DEADLINE_SECONDS": 2,
        }
    )
    yield proxy, gateway
    proxy.close()
    with gateway.app_context():
        db.session.remove()
        db.engine.dispose()


# --- one mapping of database errors -------------------------------------------------------------


def wrapped(error: Exception) -> sa.exc.DBAPIError:
    """Wrap a psycopg error as SQLAlchemy does when a statement raises it."""
    return sa.exc.DBAPIError.instance("INSERT ...", {}, error, psycopg.Error)


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.LockNotAvailable("could not obtain lock"),
        psycopg.errors.TooManyConnections("sorry, too many clients already"),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        psycopg.InterfaceError("the connection is closed"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_that_mean_no_writable_primary_are_unavailable(error):
    assert availability.is_unavailable(wrapped(error))


@pytest.mark.sqlite_only
def test_the_pool_giving_up_is_unavailable():
    assert availability.is_unavailable(sa.exc.TimeoutError("QueuePool limit reached"))


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.UniqueViolation("duplicate key value"),
        psycopg.errors.SyntaxError("syntax error at or near"),
        psycopg.errors.NumericValueOutOfRange("integer out of range"),
        psycopg.errors.UndefinedTable("relation does not exist"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_that_are_bugs_are_not_unavailable(error):
    assert not availability.is_unavailable(wrapped(error))
    assert not availability.is_unavailable(ValueError("not a database error"))


@pytest.mark.sqlite_only
def test_only_errors_after_which_a_connection_cannot_write_count_as_lost():
    assert availability.connection_lost(wrapped(psycopg.errors.ReadOnlySqlTransaction("ro")))
    assert availability.connection_lost(wrapped(psycopg.errors.AdminShutdown("shutdown")))
    assert availability.connection_lost(wrapped(psycopg.errors.ConnectionFailure("gone")))
    assert not availability.connection_lost(wrapped(psycopg.errors.QueryCanceled("timeout")))
    assert not availability.connection_lost(wrapped(psycopg.errors.SerializationFailure("40001")))


def test_a_lost_connection_in_a_use_case_answers_503_writes_nothing_and_the_retry_runs(
    app, city, monkeypatch
):
    """On both databases: the use case writes, then the driver reports the connection gone (as
    psycopg would); the work runs once more on a fresh connection, fails again, and the client
    gets a 503 with Retry-After, nothing written, the key free for the retry."""
    _, teller, siti = scene(city)
    original = counter.cash_in
    attempts = []

    def cash_in_then_lose_the_connection(*args, **kwargs):
        original(*args, **kwargs)
        attempts.append(1)
        raise wrapped(psycopg.errors.AdminShutdown("terminating connection"))

    monkeypatch.setattr(counter, "cash_in", cash_in_then_lose_the_connection)
    assert_unavailable(city.cash_in(teller, siti, 50_000, key="setor-1"))
    assert len(attempts) == 2  # once more on a fresh connection, then the 503
    assert city.count(Transfer) == 0
    assert stored_key(app, teller.user_id, "setor-1") is None

    monkeypatch.setattr(counter, "cash_in", original)
    retried = city.cash_in(teller, siti, 50_000, key="setor-1")
    assert retried.status_code == 201, retried.get_json()
    assert city.count(Transfer) == 1
    assert city.balance_of_member(siti) == 50_000


def test_a_pool_with_no_free_connection_answers_503(app, city, monkeypatch):
    _, teller, siti = scene(city)

    def pool_exhausted(*args, **kwargs):
        raise sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")

    monkeypatch.setattr(counter, "cash_in", pool_exhausted)
    assert_unavailable(city.cash_in(teller, siti, 50_000))
    assert city.count(Transfer) == 0


def test_a_bug_in_the_database_layer_is_still_a_500(app, city, monkeypatch):
    _, teller, siti = scene(city)

    def bug(*args, **kwargs):
        raise wrapped(psycopg.errors.SyntaxError("syntax error at or near"))

    monkeypatch.setattr(counter, "cash_in", bug)
    assert_problem(city.cash_in(teller, siti, 50_000), 500, "internal-error")


# --- real failures on PostgreSQL ----------------------------------------------------------------


def test_a_read_only_database_answers_503_and_writes_nothing(app, city, read_only_database):
    """What a standby (or a primary demoted under the pool) answers: SQLSTATE 25006."""
    _, teller, siti = scene(city)
    city.token(teller)  # logging in writes too
    read_only_database(True)

    started = time.monotonic()
    assert_unavailable(city.cash_in(teller, siti, 50_000, key="setor-1"))
    assert time.monotonic() - started < 5
    read_only_database(False)
    assert city.count(Transfer) == 0
    assert stored_key(app, teller.user_id, "setor-1") is None

    retried = city.cash_in(teller, siti, 50_000, key="setor-1")
    assert retried.status_code == 201, retried.get_json()
    assert city.balance_of_member(siti) == 50_000


def test_connections_a_failover_killed_are_replaced_and_the_money_moves_once(
    app, city, server, database_url, postgresql_only
):
    """Every pooled connection is terminated (57P01, what the pool holds after a failover);
    the next request reconnects by itself and succeeds, no 503 at all."""
    _, teller, siti = scene(city)
    assert city.cash_in(teller, siti, 10_000).status_code == 201  # the pool is warm
    name = sa.engine.make_url(database_url).database
    with server.connect() as connection:
        killed = connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        ).scalar()
    assert killed >= 1

    response = city.cash_in(teller, siti, 50_000, key="after-failover")
    assert response.status_code == 201, response.get_json()
    assert city.balance_of_member(siti) == 60_000
    assert city.ledger_problems() == []


def test_a_commit_whose_answer_is_lost_is_resolved_by_the_retry_without_paying_twice(city, proxied):
    """The connection dies after the COMMIT reached the server, before its answer came back:
    the gateway cannot know the outcome and says 503; the retry with the same key replays the
    committed answer, and the money moved once."""
    proxy, gateway = proxied
    _, teller, siti = scene(city)
    through_proxy = gateway.test_client()
    headers = {**city.headers(teller), "Idempotency-Key": "setor-lost-answer"}
    body = {"member_id": siti.id, "amount": 50_000}

    proxy.cut_at_commit("after")
    assert_unavailable(through_proxy.post(CASH_IN, json=body, headers=headers))
    assert proxy.commits_cut == 1
    time.sleep(0.5)  # the server has committed meanwhile
    assert city.count(Transfer) == 1  # committed, though the gateway could not know

    retried = through_proxy.post(CASH_IN, json=body, headers=headers)
    assert retried.status_code == 201, retried.get_json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert city.count(Transfer) == 1
    assert city.balance_of_member(siti) == 50_000
    assert city.ledger_problems() == []


def test_a_connection_cut_before_the_commit_writes_nothing_and_the_retry_pays_once(
    app, city, proxied
):
    proxy, gateway = proxied
    _, teller, siti = scene(city)
    through_proxy = gateway.test_client()
    headers = {**city.headers(teller), "Idempotency-Key": "setor-cut"}
    body = {"member_id": siti.id, "amount": 50_000}

    proxy.cut_at_commit("before")
    assert_unavailable(through_proxy.post(CASH_IN, json=body, headers=headers))
    assert proxy.commits_cut == 1
    assert city.count(Transfer) == 0
    assert stored_key(app, teller.user_id, "setor-cut") is None

    retried = through_proxy.post(CASH_IN, json=body, headers=headers)
    assert retried.status_code == 201, retried.get_json()
    assert "Idempotent-Replayed" not in retried.headers
    assert city.balance_of_member(siti) == 50_000


def test_a_key_held_by_a_vanished_gateway_does_not_block_its_retry(app, city, proxied):
    """A gateway claims the key, then the network stalls mid-transaction (the proxy holds its
    COMMIT, the connection stays open): that request answers 503 by its deadline (2 s here), the
    server ends its transaction after the idle timeout (1 s here), and the client's retry at
    another gateway moves the money, once."""
    proxy, gateway = proxied
    _, teller, siti = scene(city)
    headers = {**city.headers(teller), "Idempotency-Key": "setor-vanished"}
    body = {"member_id": siti.id, "amount": 50_000}
    answers = []

    def send_then_stall():
        started = time.monotonic()
        answers.append(gateway.test_client().post(CASH_IN, json=body, headers=headers))
        answers.append(time.monotonic() - started)

    proxy.cut_at_commit("hold")
    vanished = threading.Thread(target=send_then_stall, daemon=True)
    vanished.start()
    deadline = time.monotonic() + 5
    while proxy.commits_cut == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proxy.commits_cut == 1  # the claim and the money wait, uncommitted, on the server

    started = time.monotonic()
    retried = city.client.post(CASH_IN, json=body, headers=headers)
    assert retried.status_code == 201, retried.get_json()
    assert "Idempotent-Replayed" not in retried.headers
    assert time.monotonic() - started < 8
    vanished.join(10)
    assert_unavailable(answers[0])
    assert answers[1] < 5
    assert city.balance_of_member(siti) == 50_000
    assert city.count(Transfer) == 1


def test_a_stalled_network_answers_503_by_the_deadline_and_writes_nothing(app, city, proxied):
    """Every byte held both ways, connections open (a stalled network: the server's timeouts
    never hear of it): the request's pooled connection is cut at its deadline (2 s), the new
    one it tries gives up at connect_timeout, and the client has a 503, not a hang."""
    proxy, gateway = proxied
    _, teller, siti = scene(city)
    through_proxy = gateway.test_client()
    body = {"member_id": siti.id, "amount": 50_000}
    headers = {**city.headers(teller), "Idempotency-Key": "setor-stalled"}
    warm = through_proxy.post(
        CASH_IN, json={**body, "amount": 1_000}, headers=city.headers(teller, "warm")
    )
    assert warm.status_code == 201

    proxy.stall()
    started = time.monotonic()
    assert_unavailable(through_proxy.post(CASH_IN, json=body, headers=headers))
    assert time.monotonic() - started < 7
    assert city.balance_of_member(siti) == 1_000
    assert stored_key(app, teller.user_id, "setor-stalled") is None

    proxy.heal()
    retried = through_proxy.post(CASH_IN, json=body, headers=headers)
    assert retried.status_code == 201, retried.get_json()
    assert city.balance_of_member(siti) == 51_000


def test_a_database_nobody_listens_for_answers_503_at_once(keys_dir):
    gateway = create_app(
        base_config(f"postgresql://postgres@127.0.0.1:{free_port()}/interkop", keys_dir)
    )
    client = gateway.test_client()
    started = time.monotonic()
    response = client.post("/api/v1/auth/login", json={"phone": "+6281200000001", "pin": "123456"})
    assert_unavailable(response)
    assert time.monotonic() - started < 3
    assert client.get("/healthz").status_code == 200


# --- /readyz ------------------------------------------------------------------------------------


def test_readyz_is_ready_when_the_database_can_be_written(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}


def test_readyz_is_not_ready_while_the_database_is_read_only(client, read_only_database):
    read_only_database(True)
    response = client.get("/readyz")
    assert_unavailable(response)
    assert (
        "read-only" in client.get("/readyz", headers={"Accept-Language": "en"}).get_json()["detail"]
    )
    assert client.get("/healthz").status_code == 200
    read_only_database(False)
    assert client.get("/readyz").status_code == 200


def test_readyz_is_not_ready_when_the_database_is_unreachable(keys_dir):
    gateway = create_app(
        base_config(f"postgresql://postgres@127.0.0.1:{free_port()}/interkop", keys_dir)
    )
    client = gateway.test_client()
    assert_unavailable(client.get("/readyz"))
    assert client.get("/healthz").status_code == 200


def test_readyz_answers_within_its_timeout_when_the_database_never_answers(keys_dir):
    """A host that accepts the connection and then says nothing (a stalled network)."""
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        port = silent.getsockname()[1]
        gateway = create_app(
            {
                **base_config(f"postgresql://postgres@127.0.0.1:{port}/interkop", keys_dir),
                "READINESS_TIMEOUT_SECONDS": 2,
            }
        )
        started = time.monotonic()
        assert_unavailable(gateway.test_client().get("/readyz"))
        assert time.monotonic() - started < 4
    finally:
        silent.close()


@pytest.mark.postgresql_only  # a multi-host URL is libpq's
def test_readyz_follows_a_multi_host_url_to_the_writable_host(keys_dir, database_url, app):
    """libpq's multi-host form, the first host gone: the gateway finds the one that answers."""
    parts = sa.engine.make_url(database_url)
    url = (
        f"postgresql://{parts.username}@127.0.0.1:{free_port()},127.0.0.1:{parts.port or 5432}"
        f"/{parts.database}?target_session_attrs=read-write"
    )
    gateway = create_app(base_config(url, keys_dir))
    assert gateway.test_client().get("/readyz").status_code == 200
    with gateway.app_context():
        port = db.session.execute(sa.text("SELECT inet_server_port()")).scalar()
        assert port == (parts.port or 5432)
        transaction(db.session, lambda session: None)
        db.engine.dispose()


# --- the URL's bounds ---------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_the_libpq_multi_host_form_is_rewritten_for_sqlalchemy():
    rewritten = availability.multi_host_url(
        "postgresql://app:secret@db1:5432,db2:5433/interkop?target_session_attrs=read-write"
    )
    url = sa.engine.make_url(rewritten)
    assert url.host is None
    assert url.query["host"] == ("db1:5432", "db2:5433")
    assert url.query["target_session_attrs"] == "read-write"
    assert (url.username, url.password, url.database) == ("app", "secret", "interkop")
    plain = "postgresql://app@db1:5432/interkop"
    assert availability.multi_host_url(plain) == plain


@pytest.mark.sqlite_only
def test_every_database_wait_is_bounded_and_a_given_value_wins():
    config = {
        "DATABASE_CONNECT_TIMEOUT_SECONDS": 3,
        "DATABASE_TCP_USER_TIMEOUT_SECONDS": 10,
        "DATABASE_STATEMENT_TIMEOUT_SECONDS": 10,
        "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS": 10,
    }
    url = sa.engine.make_url(
        availability.database_url_with_timeouts(
            "postgresql+psycopg://app@db/interkop?connect_timeout=7"
            "&options=-c%20statement_timeout%3D500%20-c%20search_path%3Dinterkop",
            config,
        )
    )
    assert url.query["connect_timeout"] == "7"
    assert url.query["tcp_user_timeout"] == "10000"
    assert url.query["keepalives"] == "1"
    options = url.query["options"]
    assert "statement_timeout=500" in options
    assert "search_path=interkop" in options
    assert "idle_in_transaction_session_timeout=10000" in options
    sqlite = "sqlite:///instance/interkop.sqlite3"
    assert availability.database_url_with_timeouts(sqlite, config) == sqlite


def test_a_statement_behind_a_held_lock_gives_up_with_503(app, city, postgresql_only):
    """The statement timeout bounds a wait behind a transaction that does not end (here the
    member's row locked by another session): a 503 within the timeout, not a hang."""
    _, teller, siti = scene(city)
    gateway = create_app(
        {
            **base_config(app.config["DATABASE_URL"], app.config["KEYS_DIR"]),
            "DATABASE_STATEMENT_TIMEOUT_SECONDS": 1,
        }
    )
    holder = psycopg.connect(
        sa.engine.make_url(app.config["DATABASE_URL"])
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    try:
        holder.execute("LOCK TABLE transfers IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        response = gateway.test_client().post(
            CASH_IN,
            json={"member_id": siti.id, "amount": 50_000},
            headers={**city.headers(teller), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert_unavailable(response)
        assert time.monotonic() - started < 4
    finally:
        holder.close()
        with gateway.app_context():
            db.engine.dispose()
    assert city.count(Transfer) == 0


# --- a real failover: a primary, a synchronous standby, a promotion -----------------------------


@pytest.fixture
def primary_and_standby():
    """A throwaway primary (bench/chaos/pg.py) and a synchronous streaming standby of it, each
    on its own port, fsync on. Never the server on 5432. In a folder of /tmp that the postgres
    user can reach (pytest's own are root's alone)."""
    from bench.chaos.pg import TempPostgres

    tmp_path = Path(tempfile.mkdtemp(prefix="interkop-failover-"))
    os.chmod(tmp_path, 0o755)
    primary = TempPostgres(tmp_path / "primary")
    (tmp_path / "primary").mkdir()
    primary.init()
    primary.start()
    primary.create_database()
    standby = TempPostgres(tmp_path / "standby")
    (tmp_path / "standby").mkdir()
    for folder in (standby.data, standby.sockets):
        folder.mkdir(mode=0o700)
    standby.log.touch()
    if standby.as_postgres:
        import pwd

        os.chmod(standby.root, 0o755)
        user = pwd.getpwnam("postgres")
        for path in (standby.data, standby.sockets, standby.log):
            os.chown(path, user.pw_uid, user.pw_gid)
    standby._run(
        "pg_basebackup",
        f"--dbname=host=127.0.0.1 port={primary.port} user=postgres application_name=standby",
        "--pgdata",
        str(standby.data),
        "--wal-method=stream",
        "--write-recovery-conf",
        "--checkpoint=fast",
    )
    with open(standby.data / "postgresql.conf", "a") as conf:
        conf.write(f"port = {standby.port}\nunix_socket_directories = '{standby.sockets}'\n")
    standby.start()
    with psycopg.connect(primary.admin_dsn, autocommit=True) as connection:
        for _ in range(100):
            streaming = connection.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
            ).fetchone()[0]
            if streaming:
                break
            time.sleep(0.1)
        assert streaming == 1
        connection.execute("ALTER SYSTEM SET synchronous_standby_names = 'standby'")
        connection.execute("SELECT pg_reload_conf()")
    try:
        yield primary, standby
    finally:
        standby.stop("immediate")
        primary.stop("immediate")
        shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.sqlite_only  # its own two PostgreSQL servers, not the db fixture's
def test_a_failover_answers_503_until_the_standby_is_promoted_then_pays_once(
    primary_and_standby, keys_dir
):
    from conftest import City
    from flask_migrate import upgrade

    from gateway import ledger, metrics, payments, registry, settlement

    primary, standby = primary_and_standby
    ledger.forget_cached_kinds()
    payments.forget_cached_names()
    url = (
        f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/interkop"
        "?target_session_attrs=read-write"
    )
    gateway = create_app(base_config(url, keys_dir))
    with gateway.app_context():
        upgrade()
        transaction(db.session, registry.ensure_network_accounts)
        transaction(db.session, settlement.ensure_open_window)
    city = City(gateway, gateway.test_client())
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    city.token(teller)
    assert city.cash_in(teller, siti, 50_000, key="before").status_code == 201

    # The standby alone is not ready: it is in recovery.
    standby_only = create_app(
        base_config(f"postgresql://postgres@127.0.0.1:{standby.port}/interkop", keys_dir)
    )
    assert_unavailable(standby_only.test_client().get("/readyz"))
    assert city.client.get("/readyz").status_code == 200

    changes_before = metrics.server_changes._value.get()
    primary.stop("immediate")  # the machine is lost
    started = time.monotonic()
    lost = city.cash_in(teller, siti, 20_000, key="during")
    assert_unavailable(lost)  # no writable primary: refused, not hung
    assert time.monotonic() - started < 10
    assert_unavailable(city.client.get("/readyz"))

    standby._run("pg_ctl", "-D", str(standby.data), "-w", "-t", "60", "promote")
    retried = city.cash_in(teller, siti, 20_000, key="during")
    assert retried.status_code == 201, retried.get_json()
    again = city.cash_in(teller, siti, 20_000, key="during")
    assert again.headers["Idempotent-Replayed"] == "true"
    # The acknowledged cash-in survived the loss of the machine that acknowledged it (the
    # standby was synchronous); the one refused meanwhile ran once, on the retry.
    assert city.balance_of_member(siti) == 70_000
    assert city.ledger_problems() == []
    assert city.client.get("/readyz").status_code == 200
    assert metrics.server_changes._value.get() == changes_before + 1
    with gateway.app_context():
        db.session.remove()
        db.engine.dispose()
    with standby_only.app_context():
        db.engine.dispose()
