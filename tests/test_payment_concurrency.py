"""Payments racing each other on real threads (the Flask test client, one per thread), on SQLite
and PostgreSQL: a dynamic QR is paid once, and a wallet's daily limit holds however many payments
arrive together."""

from __future__ import annotations

import threading
import uuid

from gateway.db import db, transaction
from gateway.errors import PROBLEM_BASE
from gateway.limits import DEFAULT_LIMITS
from gateway.models import LimitPolicy, Payment, Transfer

THREADS = 20


def race(app, requests: list[tuple[dict, dict]]) -> list[tuple[int, dict]]:
    """POST each (headers, body) to /api/v1/payments from its own thread, all released at once;
    return (status, JSON) in the order given."""
    barrier = threading.Barrier(len(requests))
    results: list = [None] * len(requests)

    def run(index, headers, body):
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            response = client.post("/api/v1/payments", json=body, headers=headers)
            results[index] = (response.status_code, response.get_json())
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            results[index] = error

    threads = [
        threading.Thread(target=run, args=(index, headers, body))
        for index, (headers, body) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a payment thread hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def slug(body: dict) -> str:
    return body["type"].removeprefix(PROBLEM_BASE)


def test_twenty_members_paying_one_dynamic_qr_at_once_pay_it_once(app, city):
    consumer = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    teller = city.make_admin(consumer)
    shop = city.make_merchant(market, kind="shop", category="small")
    members = [city.make_member(consumer) for _ in range(THREADS)]
    for member in members:
        assert city.cash_in(teller, member, 200_000).status_code == 201
    amount = 100_000
    qr = city.issue_qr(shop, amount)
    transfers_before = city.count(Transfer)

    # Log everyone in first, so that only the payments race.
    requests = [
        (
            {**city.headers(member), "Idempotency-Key": uuid.uuid4().hex},
            {"token": qr["token"], "pin": member.pin},
        )
        for member in members
    ]
    results = race(app, requests)

    statuses = [status for status, _ in results]
    assert statuses.count(201) == 1, results
    refusals = [(status, slug(body)) for status, body in results if status != 201]
    assert refusals == [(409, "qr-already-paid")] * (THREADS - 1), results
    receipt = next(body for status, body in results if status == 201)
    fee = receipt["fee_amount"]
    assert fee == 700  # 0,7% for a small merchant

    assert city.count(Payment) == 1
    assert city.count(Transfer) == transfers_before + 4  # payment and three fee shares
    assert city.balance_of_merchant(shop) == amount - fee
    balances = [city.balance_of_member(member) for member in members]
    assert sorted(balances) == [200_000 - amount] + [200_000] * (THREADS - 1)
    payer = members[balances.index(200_000 - amount)]
    assert receipt["payer"]["id"] == payer.id and receipt["balance"] == 200_000 - amount
    assert city.ledger_problems() == []


def test_one_member_paying_twenty_merchants_at_once_stays_within_the_daily_limit(app, city):
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    # Let the per-minute limit step aside so that the daily maximum is what binds.
    limits = DEFAULT_LIMITS["basic"].model_dump() | {"payments_per_minute": 1000}
    with app.app_context():
        transaction(
            db.session,
            lambda s: s.add(LimitPolicy(cooperative_id=None, tier="basic", limits=limits)),
        )
    daily_max = limits["daily_max"]
    assert daily_max == 2_000_000 and limits["balance_max"] == 2_000_000

    siti = city.make_member(coop)
    initial = 2_000_000
    assert city.cash_in(teller, siti, initial).status_code == 201
    assert (
        city.get(siti, f"/api/v1/members/{siti.id}/limits").get_json()["payments_per_minute"]
        == 1000
    )
    shops = [city.make_merchant(coop, kind="shop", category="micro") for _ in range(THREADS)]
    stickers = [city.static_qr(shop) for shop in shops]
    transfers_before = city.count(Transfer)

    amount = 150_000  # 20 x 150.000 = 3.000.000; at most 13 fit in the day's 2.000.000
    headers = city.headers(siti)
    requests = [
        (
            {**headers, "Idempotency-Key": uuid.uuid4().hex},
            {"token": sticker["token"], "amount": amount, "pin": siti.pin},
        )
        for sticker in stickers
    ]
    results = race(app, requests)

    successes = [body for status, body in results if status == 201]
    failures = [(status, body) for status, body in results if status != 201]
    assert len(successes) * amount <= daily_max
    # Every payment was decided (none lost to a lock or a retry): exactly as many fit as the
    # limit allows.
    assert len(successes) == daily_max // amount == 13, results
    for status, body in failures:
        assert status == 422, results
        assert slug(body) in ("limit-exceeded", "insufficient-funds"), body
        if slug(body) == "limit-exceeded":
            assert body["limit"] == "daily_max"
            assert body["remaining"] == daily_max - len(successes) * amount
    # The wallet went down one payment at a time, never below zero.
    assert sorted(body["balance"] for body in successes) == [
        initial - paid * amount for paid in range(len(successes), 0, -1)
    ]
    assert city.balance_of_member(siti) == initial - len(successes) * amount >= 0
    assert city.count(Payment) == len(successes)
    assert city.count(Transfer) == transfers_before + len(successes)  # micro merchant: no fee
    paid_shops = {body["merchant"]["id"] for body in successes}
    for shop in shops:
        assert city.balance_of_merchant(shop) == (amount if shop.id in paid_shops else 0)
    left = city.get(siti, f"/api/v1/members/{siti.id}/limits").get_json()
    assert left["daily_remaining"] == daily_max - len(successes) * amount
    assert city.ledger_problems() == []
