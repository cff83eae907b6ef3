"""Attack: a client's retries with one Idempotency-Key, racing each other across a connection
that dies at its COMMIT, move the money once and answer nothing but the first answer or a 503.

Eight requests with the same key and body, released together by one barrier, through a TCP
proxy (tests/tcp_proxy.py) that cuts the connection of the first COMMIT it sees: "after" it
reached the server (the commit happened; that request cannot know it) or "before" (it did
not). The others wait on the key's uncommitted claim and then replay the committed answer, or
run the work themselves. On PostgreSQL, where a connection can be lost.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import base_config
from tcp_proxy import TcpProxy

from attacks.burst import burst, statuses
from gateway import create_app
from gateway.db import db
from gateway.models import Transfer

RACERS = 8
CASH_IN = "/api/v1/counter/cash-in"


@pytest.fixture
def proxied(app, database_url, keys_dir, postgresql_only):
    """A TCP proxy in front of the test database (SQLite has no connection to lose)."""
    url = sa.engine.make_url(database_url)
    proxy = TcpProxy(url.port or 5432)
    gateway = create_app(
        base_config(url.set(port=proxy.port).render_as_string(hide_password=False), keys_dir)
    )
    yield proxy, gateway
    proxy.close()
    with gateway.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("cut", ["after", "before"])
def test_racing_retries_across_a_lost_commit_move_the_money_once(city, proxied, cut):
    proxy, gateway = proxied
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    headers = {**city.headers(teller), "Idempotency-Key": "setor-racing"}
    body = {"member_id": siti.id, "amount": 50_000}
    through_proxy = gateway.test_client()

    proxy.cut_at_commit(cut)
    answers = burst(RACERS, lambda index: through_proxy.post(CASH_IN, json=body, headers=headers))
    counted = statuses(answers)
    assert set(counted) <= {201, 503}, counted
    assert proxy.commits_cut == 1
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] == "1"

    final = through_proxy.post(CASH_IN, json=body, headers=headers)
    assert final.status_code == 201, final.get_json()
    bodies = {repr(answer.get_json()) for answer in answers if answer.status_code == 201}
    assert bodies <= {repr(final.get_json())}, "every success is the one answer"
    assert city.count(Transfer) == 1
    assert city.balance_of_member(siti) == 50_000
    assert city.ledger_problems() == []
