"""Attacks on the state machines other than settling (issue 10, item 4).

Refunds of one payment racing each other, a dynamic QR cancelled while members pay it, and a
burst of closes of the open settlement window: each is one state machine moved by many callers at
once, and exactly the changes its table allows happen, once each, with no 5xx.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst, statuses
from gateway import settlement
from gateway.db import db
from gateway.errors import PROBLEM_BASE
from gateway.models import Payment, QrCode, Refund, SettlementWindow, Transfer

REFUNDERS = 12
PAYMENT_AMOUNT = 100_000
REFUND_AMOUNT = 30_000  # three fit in the payment, the fourth does not


def slug(response) -> str:
    return response.get_json()["type"].removeprefix(PROBLEM_BASE)


def shop_and_payer(city, balance: int = 500_000):
    consumer = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    teller = city.make_admin(consumer)
    member = city.make_member(consumer, tier="verified")
    shop = city.make_merchant(market, kind="shop", category="small")
    assert city.cash_in(teller, member, balance).status_code == 201
    return member, shop


def test_concurrent_refunds_never_give_back_more_than_the_payment(app, city):
    member, shop = shop_and_payer(city)
    paid = city.pay_sticker(member, shop, PAYMENT_AMOUNT)
    assert paid.status_code == 201, paid.get_json()
    payment_id = paid.get_json()["id"]
    headers = city.headers(shop)
    path = f"/api/v1/payments/{payment_id}/refunds"
    # Half ask for 30.000, half for whatever is left: together far more than the payment.
    bodies = [{"amount": REFUND_AMOUNT} if index % 2 else {} for index in range(REFUNDERS)]

    responses = burst(
        REFUNDERS,
        lambda index: app.test_client().post(
            path,
            json=bodies[index],
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        ),
    )

    assert_no_server_error(responses)
    assert set(statuses(responses)) <= {201, 422}, statuses(responses)
    for response in responses:
        if response.status_code == 422:
            assert slug(response) == "refund-exceeds-payment"
    refunded = sum(r.get_json()["amount"] for r in responses if r.status_code == 201)
    assert refunded == PAYMENT_AMOUNT  # someone asked for the rest, and got exactly the rest
    with app.app_context():
        payment = db.session.scalar(sa.select(Payment).where(Payment.public_id == payment_id))
        refunds_total = db.session.scalar(
            sa.select(sa.func.sum(Refund.amount)).where(Refund.payment_id == payment.id)
        )
        assert payment.refunded_amount == refunds_total == PAYMENT_AMOUNT
        assert payment.status == "refunded"
    assert city.balance_of_merchant(shop) == 0
    assert city.ledger_problems() == []


def test_a_dynamic_qr_cancelled_while_members_pay_it_ends_paid_or_cancelled_never_both(app, city):
    consumer = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    teller = city.make_admin(consumer)
    shop = city.make_merchant(market, kind="shop", category="small")
    members = [city.make_member(consumer) for _ in range(6)]
    for member in members:
        assert city.cash_in(teller, member, 100_000).status_code == 201
    sale = city.issue_qr(shop, 25_000)
    shop_headers = city.headers(shop)
    member_headers = [city.headers(member) for member in members]
    pins = [member.pin for member in members]

    def attack(index: int):
        client = app.test_client()
        if index % 2 == 0:
            return client.delete(f"/api/v1/qr/{sale['id']}", headers=shop_headers)
        payer = index // 2
        return client.post(
            "/api/v1/payments",
            json={"token": sale["token"], "pin": pins[payer]},
            headers={**member_headers[payer], "Idempotency-Key": uuid.uuid4().hex},
        )

    responses = burst(2 * len(members), attack)

    assert_no_server_error(responses)
    cancels, pays = responses[0::2], responses[1::2]
    with app.app_context():
        code = db.session.scalar(sa.select(QrCode).where(QrCode.public_id == sale["id"]))
        payments_of_qr = db.session.scalar(
            sa.select(sa.func.count()).select_from(Payment).where(Payment.qr_id == code.id)
        )
    if code.status == "paid":
        assert payments_of_qr == 1
        assert statuses(pays)[201] == 1
        assert {slug(r) for r in pays if r.status_code != 201} <= {"qr-already-paid"}
        assert {(r.status_code, slug(r)) for r in cancels} == {(409, "qr-already-paid")}
    else:
        assert code.status == "cancelled"
        assert payments_of_qr == 0
        assert statuses(cancels) == {200: len(cancels)}
        # A payer is told the truth: the sale was cancelled, not paid by someone else.
        assert {(r.status_code, slug(r)) for r in pays} == {(422, "qr-cancelled")}
    assert city.ledger_problems() == []


def test_concurrent_closes_close_the_open_window_once(app, city):
    member, shop = shop_and_payer(city)
    assert city.pay_sticker(member, shop, 40_000).status_code == 201
    network = city.make_staff("network_admin")
    headers = city.headers(network)
    with app.app_context():
        open_window = settlement.ensure_open_window(db.session).public_id
        db.session.rollback()

    responses = burst(
        REFUNDERS,
        lambda _: app.test_client().post(
            "/api/v1/settlement/windows/current/close", headers=headers
        ),
    )

    assert_no_server_error(responses)
    assert set(statuses(responses)) <= {201, 409}, statuses(responses)
    closed = [r.get_json() for r in responses if r.status_code == 201]
    assert closed and {window["id"] for window in closed} == {open_window}
    with app.app_context():
        windows = db.session.scalars(sa.select(SettlementWindow)).all()
        assert sorted(w.status for w in windows) == ["closed", "open"]
        for window in windows:
            if window.status == "closed":
                settlement.verify(db.session, window)
        in_closed = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Transfer)
            .join(SettlementWindow)
            .where(SettlementWindow.status == "closed")
        )
        assert in_closed == db.session.scalar(sa.select(sa.func.count()).select_from(Transfer))
        db.session.rollback()
    assert city.ledger_problems() == []
