"""/metrics: the Prometheus text format, one registry across gunicorn's workers, and only for
whom it is meant (a bearer token, or a direct scraper on an allowed network)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from problems import assert_problem
from prometheus_client.parser import text_string_to_metric_families

from gateway import counter, metrics
from gateway.db import db

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "scraper-token-for-the-tests"


def samples(text: str) -> dict[tuple, float]:
    """Every sample of an exposition by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def scraped(app):
    app.config["METRICS_TOKEN"] = TOKEN
    return app


# --- who may read it ----------------------------------------------------------------------------


def test_metrics_are_not_served_when_nobody_is_allowed_to_read_them(client):
    assert_problem(client.get("/metrics"), 404, "not-found")
    assert_problem(
        client.get("/metrics", headers={"Authorization": "Bearer anything"}), 404, "not-found"
    )


def test_metrics_refuse_a_missing_or_wrong_token(app, client):
    app.config["METRICS_TOKEN"] = TOKEN
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.get("/metrics", headers=headers)
        assert_problem(response, 401, "authentication-required")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_allow_list_admits_a_direct_scraper_and_not_one_behind_a_proxy(app, client):
    app.config["METRICS_ALLOW_NETWORKS"] = ["127.0.0.0/8"]
    assert client.get("/metrics").status_code == 200
    behind = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert_problem(behind, 401, "authentication-required")
    app.config["METRICS_ALLOW_NETWORKS"] = ["10.0.0.0/8"]
    assert_problem(client.get("/metrics"), 401, "authentication-required")


# --- what it counts -----------------------------------------------------------------------------


def test_money_requests_are_counted_by_operation_and_outcome(scraped, city, monkeypatch):
    client = city.client
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    before = scrape(client)

    assert city.cash_in(teller, siti, 50_000, key="setor-1").status_code == 201
    assert city.cash_in(teller, siti, 50_000, key="setor-1").status_code == 201  # replayed
    assert city.cash_out(teller, siti, 900_000).status_code == 422  # not enough money

    def database_gone(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, psycopg.OperationalError("server closed"))

    monkeypatch.setattr(counter, "cash_in", database_gone)
    assert city.cash_in(teller, siti, 50_000).status_code == 503
    after = scrape(client)

    def delta(outcome, operation="counter.cash_in"):
        name = "interkop_money_requests_total"
        return value(after, name, operation=operation, outcome=outcome) - value(
            before, name, operation=operation, outcome=outcome
        )

    assert delta("done") == 1
    assert delta("replayed") == 1
    assert delta("unavailable") == 1
    assert delta("refused", "counter.cash_out") == 1
    assert delta("error") == 0

    requests = "interkop_http_requests_total"
    labels = {"method": "POST", "endpoint": "counter.cash_in"}
    assert (
        value(after, requests, **labels, status="201")
        - value(before, requests, **labels, status="201")
        == 2
    )
    latency = "interkop_http_request_duration_seconds_count"
    assert value(after, latency, **labels) - value(before, latency, **labels) == 3


def test_a_qr_payment_is_counted_as_a_payment(scraped, city):
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    shop = city.make_merchant(coop)
    assert city.cash_in(teller, siti, 50_000).status_code == 201
    before = scrape(city.client)
    assert city.pay(siti, city.issue_qr(shop, 5_000)["token"]).status_code == 201
    after = scrape(city.client)
    name = "interkop_money_requests_total"
    labels = {"operation": "payments.pay", "outcome": "done"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1


def test_an_unknown_path_or_method_adds_no_new_series(scraped, client):
    for number in range(5):
        client.get(f"/no/such/page/{number}")
        client.open("/healthz", method=f"BREW{number}")
    found = scrape(client)
    endpoints = {dict(labels).get("endpoint") for name, labels in found if "http" in name}
    methods = {dict(labels).get("method") for name, labels in found if "http" in name}
    assert not any(endpoint and "/no/such" in endpoint for endpoint in endpoints)
    assert "unmatched" in endpoints
    assert not any(method and method.startswith("BREW") for method in methods)


def test_the_connections_in_use_follow_the_pool(scraped, client):
    before = value(scrape(client), "interkop_database_connections_in_use")
    with scraped.app_context():
        held = db.engine.connect()
        held.execute(sa.text("SELECT 1"))
        during = value(scrape(client), "interkop_database_connections_in_use")
        held.close()
    after = value(scrape(client), "interkop_database_connections_in_use")
    assert during == before + 1
    assert after == before


@pytest.mark.postgresql_only  # SQLite has no server
def test_the_server_the_pool_reached_is_shown(scraped, city):
    coop = city.make_cooperative("KSM")
    city.make_admin(coop)
    port = sa.engine.make_url(scraped.config["DATABASE_URL"]).port or 5432
    found = scrape(city.client)
    assert value(found, "interkop_database_server", server=f"127.0.0.1:{port}") == 1


@pytest.mark.sqlite_only
def test_a_change_of_server_is_counted_as_a_failover_once():
    metrics.note_server("10.0.0.1:5432")
    before = metrics.server_changes._value.get()
    metrics.note_server("10.0.0.1:5432")
    metrics.note_server("10.0.0.2:5432")
    metrics.note_server("10.0.0.2:5432")
    assert metrics.server_changes._value.get() - before == 1
    assert metrics.database_server.labels("10.0.0.2:5432")._value.get() == 1
    assert metrics.database_server.labels("10.0.0.1:5432")._value.get() == 0


@pytest.mark.postgresql_only  # replication is PostgreSQL's
def test_replication_lag_is_read_from_pg_stat_replication(scraped):
    """No standby here: pg_stat_replication is shadowed by a view of two standbys (the
    search_path puts it before pg_catalog), read by the same collector a scrape uses."""
    url = scraped.config["DATABASE_URL"]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA IF EXISTS fake_replication CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA fake_replication"))
            connection.execute(
                sa.text(
                    "CREATE VIEW fake_replication.pg_stat_replication AS"
                    " SELECT 'standby_a'::text AS application_name,"
                    " '10.0.0.2'::inet AS client_addr, interval '1.5 seconds' AS replay_lag,"
                    " pg_current_wal_lsn() AS replay_lsn"
                    " UNION ALL SELECT '', '10.0.0.3'::inet, NULL, pg_current_wal_lsn()"
                )
            )
        shadowed = sa.create_engine(
            url, connect_args={"options": "-c search_path=fake_replication,pg_catalog"}
        )
        families = {
            family.name: family for family in metrics.ReplicationCollector(shadowed).collect()
        }
        shadowed.dispose()
        lag = {
            s.labels["standby"]: s.value
            for s in families["interkop_database_replication_lag_seconds"].samples
        }
        assert lag == {"standby_a": 1.5, "10.0.0.3": 0.0}
        size = families["interkop_database_replication_lag_bytes"].samples
        assert all(0 <= sample.value < 1_000_000 for sample in size)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA IF EXISTS fake_replication CASCADE"))
        engine.dispose()

    # The real one: a database without standbys shows the metric, without samples.
    found = scrape(scraped.test_client())
    assert not any(name.startswith("interkop_database_replication") for name, _ in found)


# --- one registry across gunicorn's workers ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.mark.sqlite_only
def test_gunicorn_workers_share_one_registry_and_a_dead_workers_counts_stay(tmp_path, keys_dir):
    """docker/gunicorn.conf.py with two workers: every scrape, whichever worker answers it,
    counts every worker's requests; a worker killed with SIGKILL leaves its counts."""
    port = _free_port()
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"left by an earlier run")
    environment = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
        GATEWAY_KEYS_DIR=keys_dir,
        GATEWAY_METRICS_TOKEN=TOKEN,
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="2",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        PROMETHEUS_MULTIPROC_DIR=str(directory),
    )
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "docker" / "gunicorn.conf.py")],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for _ in range(300):
            assert server.poll() is None, log_path.read_text()
            try:
                if _get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not answer /healthz")
        assert not (directory / "counter_999999.db").exists()  # emptied at start

        def healthz_answers() -> list[int]:
            """The workers' access lines for /healthz: the pid of each answer."""
            pids = []
            for line in log_path.read_text().splitlines():
                if line.startswith("{"):
                    entry = json.loads(line)
                    if entry.get("logger") == "gateway.access" and entry["path"] == "/healthz":
                        pids.append(entry["pid"])
            return pids

        for _ in range(400):
            if len(set(healthz_answers())) == 2:
                break
            _get(port, "/healthz")
        answered = set(healthz_answers())
        assert len(answered) == 2, "both workers should have answered by now"
        sent = len(healthz_answers())

        def healthz_count() -> float:
            status, text = _get(port, "/metrics", TOKEN)
            assert status == 200
            return value(
                samples(text),
                "interkop_http_requests_total",
                method="GET",
                endpoint="root.healthz",
                status="200",
            )

        # Every scrape sees all, whichever worker answers it.
        assert {healthz_count() for _ in range(10)} == {sent}

        os.kill(next(iter(answered)), signal.SIGKILL)
        for _ in range(100):  # the master starts another worker
            try:
                assert healthz_count() == sent
                break
            except OSError:
                time.sleep(0.1)
        assert healthz_count() == sent
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        log.close()
