"""Attack: settle one window many times at once (issue 10, item 4).

A double-click, a retrying script or a burst of requests marking the same closed window settled
must write its settlement transfers once: one settlement event, every other answer the window as
it now is (200) or a refusal (409), never a 5xx, and the ledger check still clean.
"""

from __future__ import annotations

import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst, statuses
from gateway.db import db
from gateway.models import Event, SettlementWindow, Transfer
from gateway.models.ledger import EventKind, TransferCode

SETTLERS = 12


def closed_window_with_positions(city) -> tuple[dict, object]:
    """A closed window in which two cooperatives owe each other: (the window, the network admin)."""
    consumer = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    teller = city.make_admin(consumer)
    network = city.make_staff("network_admin")
    siti = city.make_member(consumer)
    shop = city.make_merchant(market, kind="shop", category="small")
    assert city.cash_in(teller, siti, 500_000).status_code == 201
    paid = city.pay_sticker(siti, shop, 120_000)
    assert paid.status_code == 201, paid.get_json()
    closed = city.post(network, "/api/v1/settlement/windows/current/close", None, key=None)
    assert closed.status_code == 201, closed.get_json()
    window = closed.get_json()
    assert any(line["position"] for line in window["positions"])
    return window, network


def settlement_events(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(Event).where(Event.kind == EventKind.SETTLEMENT)
        )


def test_concurrent_settles_write_the_window_once(app, city):
    window, network = closed_window_with_positions(city)
    headers = city.headers(network)
    path = f"/api/v1/settlement/windows/{window['id']}/settle"
    legs_expected = sum(1 for line in window["positions"] if line["position"])

    responses = burst(SETTLERS, lambda _: app.test_client().post(path, headers=headers))

    assert_no_server_error(responses)
    assert set(statuses(responses)) <= {200, 409}, statuses(responses)
    assert statuses(responses)[200] >= 1
    for response in responses:
        if response.status_code == 200:
            assert response.get_json()["status"] == "settled"
    assert settlement_events(app) == 1
    with app.app_context():
        settlement_transfers = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Transfer)
            .where(Transfer.code == TransferCode.SETTLEMENT)
        )
        stored = db.session.scalar(
            sa.select(SettlementWindow).where(SettlementWindow.public_id == window["id"])
        )
        assert stored.status == "settled" and stored.settlement_event_id is not None
    assert settlement_transfers == legs_expected
    # Every cooperative's cumulative position is back to zero, once (not minus it ten times).
    assert set(city.positions().values()) == {0}
    assert city.ledger_problems() == []


def test_a_settled_window_settled_again_answers_the_same_window_and_writes_nothing(app, city):
    window, network = closed_window_with_positions(city)
    path = f"/api/v1/settlement/windows/{window['id']}/settle"
    first = city.post(network, path, None, key=None)
    assert first.status_code == 200, first.get_json()
    before = city.count(Transfer)

    again = city.post(network, path, None, key=None)

    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert city.count(Transfer) == before
    assert settlement_events(app) == 1
