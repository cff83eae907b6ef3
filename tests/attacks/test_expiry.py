"""Attacks on a dynamic QR's expiry: what the merchant's screen says must be true.

The sale screen says "kedaluwarsa" at the QR's `exp`; on main (9a406a0) the gateway still took
payment for 30 s more (the leeway), through /payments and through /qr/verify alike. Now a dynamic
QR cannot be paid from its `exp` on, by the clock of the gateway asked (issue 10, item 11); the
leeway (a few seconds) only forgives an `iat` that another gateway machine's clock put slightly
in the future.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time

from attacks.burst import assert_no_server_error, burst, statuses
from gateway.errors import PROBLEM_BASE
from gateway.models import Event, Payment, QrCode, Transfer


def problem(response) -> str:
    return response.get_json()["type"].removeprefix(PROBLEM_BASE)


def scene(city):
    consumer = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    teller = city.make_admin(consumer)
    siti = city.make_member(consumer)
    assert city.cash_in(teller, siti, 500_000).status_code == 201
    shop = city.make_merchant(market, kind="shop", category="micro")
    return siti, shop


def written(city, member) -> tuple:
    return (
        city.count(Payment),
        city.count(Transfer),
        city.count(Event),
        city.balance_of_member(member),
    )


def pay(city, member, token):
    return city.post(member, "/api/v1/payments", {"token": token, "pin": member.pin})


def verify(city, member, token):
    return city.post(member, "/api/v1/qr/verify", {"token": token}, key=None)


def test_a_sale_cannot_be_paid_from_the_second_its_screen_says_expired(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        siti, shop = scene(city)
        sales = [city.issue_qr(shop, 20_000, ttl_seconds=60) for _ in range(3)]
        expires_at = datetime.fromisoformat(sales[0]["expires_at"])
        assert expires_at == start + timedelta(seconds=60)

        # One second before `exp`: payable, and the payer's phone has verified the other two
        # (the gateway remembers a verified token: the remembered path must refuse in time too).
        frozen.move_to(expires_at - timedelta(seconds=1))
        for sale in sales:
            assert verify(city, siti, sale["token"]).status_code == 200
        paid = pay(city, siti, sales[0]["token"])
        assert paid.status_code == 201, paid.get_json()

        before = written(city, siti)
        for moment, sale in ((expires_at, sales[1]), (expires_at + timedelta(seconds=1), sales[2])):
            frozen.move_to(moment)
            checked = verify(city, siti, sale["token"])
            assert checked.status_code == 422, (moment, checked.get_json())
            assert problem(checked) == "qr-expired"
            refused = pay(city, siti, sale["token"])
            assert (refused.status_code, problem(refused)) == (422, "qr-expired"), (
                refused.get_json()
            )
            assert written(city, siti) == before
    assert city.count(Payment) == 1
    with app.app_context():
        from gateway.db import db

        statuses = db.session.scalars(
            db.select(QrCode.status).where(QrCode.public_id.in_([s["id"] for s in sales[1:]]))
        ).all()
    assert statuses == ["active", "active"]  # never marked paid
    assert city.balance_of_member(siti) == 500_000 - 20_000
    assert city.ledger_problems() == []


def test_a_burst_of_payers_at_the_stroke_of_exp_pays_nothing(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        siti, shop = scene(city)
        sale = city.issue_qr(shop, 20_000, ttl_seconds=60)
        headers = [city.headers(siti, uuid.uuid4().hex) for _ in range(8)]
        frozen.move_to(datetime.fromisoformat(sale["expires_at"]))
        body = {"token": sale["token"], "pin": siti.pin}
        responses = burst(
            8,
            lambda index: app.test_client().post(
                "/api/v1/payments", json=body, headers=headers[index]
            ),
        )
    assert_no_server_error(responses)
    assert statuses(responses) == {422: 8}
    assert {problem(response) for response in responses} == {"qr-expired"}
    assert city.count(Payment) == 0
    assert city.balance_of_member(siti) == 500_000


def test_the_leeway_forgives_only_an_issue_time_a_few_seconds_ahead(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        siti, shop = scene(city)
        # Signed by gateway machines whose clocks run 3 s and 15 s ahead of this one.
        frozen.move_to(start + timedelta(seconds=3))
        slightly_ahead = city.issue_qr(shop, 20_000, ttl_seconds=60)
        frozen.move_to(start + timedelta(seconds=15))
        far_ahead = city.issue_qr(shop, 20_000, ttl_seconds=60)
        frozen.move_to(start)
        paid = pay(city, siti, slightly_ahead["token"])
        assert paid.status_code == 201, paid.get_json()
        refused = pay(city, siti, far_ahead["token"])
        assert refused.status_code == 422, refused.get_json()
        assert problem(refused) == "qr-malformed"
    assert city.count(Payment) == 1
    assert 3 <= app.config["QR_LEEWAY_SECONDS"] <= 5
