"""Log lines are JSON objects carrying the request id that the response carries as X-Request-Id;
a sane id from the load balancer is kept, anything else replaced."""

from __future__ import annotations

import io
import json
import logging

import psycopg
import pytest
import sqlalchemy as sa

from gateway import counter, logs


@pytest.fixture
def lines():
    """Capture what the root logger writes, formatted as gateway.logs formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.UtcJsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield read
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.sqlite_only
def test_a_line_is_one_json_object_with_time_level_logger_and_no_request_outside_one(lines):
    logging.getLogger("gateway.test").warning('a "quoted" line\nwith a newline')
    (entry,) = lines()
    assert entry["message"] == 'a "quoted" line\nwith a newline'
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "gateway.test"
    assert entry["time"].endswith("Z") and entry["time"][:2] == "20"
    assert entry["request_id"] is None
    assert isinstance(entry["pid"], int)


def test_a_response_carries_a_new_request_id_and_the_access_line_carries_it(client, lines):
    response = client.get("/healthz")
    request_id = response.headers["X-Request-Id"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    (access,) = [entry for entry in lines() if entry["logger"] == "gateway.access"]
    assert access["request_id"] == request_id
    assert (access["method"], access["path"], access["status"]) == ("GET", "/healthz", 200)
    assert access["endpoint"] == "root.healthz"
    assert access["duration_ms"] >= 0
    assert client.get("/healthz").headers["X-Request-Id"] != request_id


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("8f14e45f-ceea-467f-a0e6-7c3b1e2e9a1d", True),
        ("haproxy:7F000001:C350_0A0B0C0D:01BB", True),
        ("short", False),
        ("x" * 129, False),
        ("abc123456 INFO forged line", False),
        ('"},{"level":"ERROR"', False),
        ("<script>alert(1)</script>", False),
    ],
)
def test_a_sane_request_id_from_the_load_balancer_is_kept_and_any_other_replaced(
    client, incoming, kept
):
    response = client.get("/healthz", headers={"X-Request-Id": incoming})
    answered = response.headers["X-Request-Id"]
    assert (answered == incoming) is kept
    if not kept:
        assert len(answered) == 32


def test_refusals_and_unavailability_carry_the_request_id_and_their_lines_too(
    city, lines, monkeypatch
):
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    missing = city.client.get("/api/v1/no-such-thing", headers={"X-Request-Id": "lb-0000404"})
    assert missing.status_code == 404
    assert missing.headers["X-Request-Id"] == "lb-0000404"

    def database_gone(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, psycopg.OperationalError("server closed"))

    monkeypatch.setattr(counter, "cash_in", database_gone)
    headers = {**city.headers(teller, "setor-1"), "X-Request-Id": "lb-0000503"}
    response = city.client.post(
        "/api/v1/counter/cash-in", json={"member_id": siti.id, "amount": 5_000}, headers=headers
    )
    assert response.status_code == 503
    assert response.headers["X-Request-Id"] == "lb-0000503"
    written = [entry for entry in lines() if entry["request_id"] == "lb-0000503"]
    assert {entry["logger"] for entry in written} == {"gateway.api", "gateway.access"}
    warning = next(entry for entry in written if entry["logger"] == "gateway.api")
    assert warning["level"] == "WARNING" and "database unavailable" in warning["message"]
    # After the request, lines carry no request id again.
    logging.getLogger("gateway.test").warning("after")
    assert lines()[-1]["request_id"] is None


@pytest.mark.sqlite_only
def test_configure_installs_one_handler_however_often_it_is_called():
    root = logging.getLogger()
    first = logs.configure()
    second = logs.configure()
    assert first is second
    assert sum(1 for handler in root.handlers if handler is first) == 1
