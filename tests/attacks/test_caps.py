"""Attacks on the ledger's balance limits: a cooperative's net debit cap, and wallets and merchant
accounts that never go below zero, whatever use case moves the money and however many at once.

The cap is enforced inside `gateway.ledger.post` (issue 10, item 7): on main (9a406a0) only
cash-in and pay checked it, and a cash-out at a partner's counter took a capped cooperative far
past its cap.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst, statuses
from gateway.db import db
from gateway.errors import PROBLEM_BASE
from gateway.models import Cooperative, Event, Transfer

CAP = 100_000


def problem(response) -> str:
    return response.get_json()["type"].removeprefix(PROBLEM_BASE)


def set_cap(app, coop_id: str, cap: int | None) -> None:
    with app.app_context():
        cooperative = db.session.scalar(
            sa.select(Cooperative).where(Cooperative.public_id == coop_id)
        )
        cooperative.net_debit_cap = cap
        db.session.commit()


def assert_refused_by_cap(response) -> None:
    assert response.status_code == 422, response.get_json()
    assert problem(response) == "limit-exceeded", response.get_json()
    assert response.get_json()["limit"] == "net_debit_cap", response.get_json()


def test_cash_out_at_a_partner_counter_past_the_net_debit_cap_is_refused_and_writes_nothing(
    app, city
):
    capped = city.make_cooperative("KSM")
    partner = city.make_cooperative("KPP", kind="market_traders")
    own_teller, partner_teller = city.make_admin(capped), city.make_admin(partner)
    siti = city.make_member(capped)
    # Cash in at the member's own counter: the cooperative holds the cash, its position stays 0.
    assert city.cash_in(own_teller, siti, 500_000).status_code == 201
    set_cap(app, capped, CAP)

    # At the partner's counter the partner pays the cash and the capped cooperative owes it.
    assert city.cash_out(partner_teller, siti, 60_000).status_code == 201
    transfers, events = city.count(Transfer), city.count(Event)
    refused = city.cash_out(partner_teller, siti, 50_000)
    assert_refused_by_cap(refused)
    assert refused.get_json()["remaining"] == CAP - 60_000
    assert (city.count(Transfer), city.count(Event)) == (transfers, events)
    assert city.balance_of_member(siti) == 500_000 - 60_000
    assert city.positions()[capped] == -60_000

    # Exactly up to the cap is allowed; then not a rupiah more.
    assert city.cash_out(partner_teller, siti, 40_000).status_code == 201
    assert_refused_by_cap(city.cash_out(partner_teller, siti, 1))
    assert city.positions()[capped] == -CAP
    # At its own counter the cooperative owes nobody: the cap does not apply.
    assert city.cash_out(own_teller, siti, 100_000).status_code == 201
    assert city.balance_of_member(siti) == 500_000 - 60_000 - 40_000 - 100_000
    assert city.ledger_problems() == []


def test_a_burst_of_cash_outs_and_payments_never_takes_a_capped_cooperative_past_its_cap(app, city):
    capped = city.make_cooperative("KSM")
    markets = city.make_cooperative("KPP", kind="market_traders")
    transport = city.make_cooperative("KAT", kind="transport")
    own_teller = city.make_admin(capped)
    tellers = [city.make_admin(markets), city.make_admin(transport)]
    shop = city.make_merchant(markets, kind="shop", category="micro")  # fee-free below 500.000
    members = [city.make_member(capped) for _ in range(6)]
    for member in members:
        assert city.cash_in(own_teller, member, 50_000).status_code == 201
    set_cap(app, capped, CAP)
    sticker = city.static_qr(shop)["token"]
    amount, count = 10_000, 24  # 240.000 asked for, 100.000 allowed

    # Log in before the race, so that only the money races.
    requests = []
    for index in range(count):
        member = members[index % len(members)]
        if index % 3 == 2:
            body = {"token": sticker, "amount": amount, "pin": member.pin}
            requests.append(("/api/v1/payments", body, city.headers(member, uuid.uuid4().hex)))
        else:
            teller = tellers[index % 3]  # two counters of two partner cooperatives
            body = {"member_id": member.id, "amount": amount, "pin": member.pin}
            path = "/api/v1/counter/cash-out"
            requests.append((path, body, city.headers(teller, uuid.uuid4().hex)))

    def attack(index):
        path, body, headers = requests[index]
        return app.test_client().post(path, json=body, headers=headers)

    responses = burst(count, attack)

    assert_no_server_error(responses)
    done = [response for response in responses if response.status_code == 201]
    for response in responses:
        if response.status_code == 422:
            assert response.get_json()["limit"] == "net_debit_cap", response.get_json()
        else:
            # A retryable refusal may stand in for a 422 (a client retries it with its key).
            assert response.status_code in (201, 409, 503), response.get_json()
    assert city.positions()[capped] == -len(done) * amount >= -CAP
    if statuses(responses)[422] == count - len(done):
        assert len(done) == CAP // amount
    assert sum(city.balance_of_member(member) for member in members) == 6 * 50_000 - CAP
    assert city.ledger_problems() == []


def test_a_burst_of_payouts_refunds_and_cash_outs_never_takes_an_account_below_zero(app, city):
    consumer = city.make_cooperative("KSM")
    markets = city.make_cooperative("KPP", kind="market_traders")
    consumer_teller, market_teller = city.make_admin(consumer), city.make_admin(markets)
    shop = city.make_merchant(markets, kind="shop", category="micro")
    other_shop = city.make_merchant(markets, kind="shop", category="micro")
    buyers = [city.make_member(consumer) for _ in range(5)]
    sticker = city.static_qr(shop)["token"]
    payment_ids = []
    for buyer in buyers:
        assert city.cash_in(consumer_teller, buyer, 20_000).status_code == 201
        paid = city.pay(buyer, sticker, amount=20_000)
        assert paid.status_code == 201, paid.get_json()
        payment_ids.append(paid.get_json()["id"])
    assert city.balance_of_merchant(shop) == 100_000
    # One wallet with 30.000, asked for 100.000 at once by tellers and by its own payments.
    spender = city.make_member(consumer)
    assert city.cash_in(consumer_teller, spender, 30_000).status_code == 201
    other_sticker = city.static_qr(other_shop)["token"]

    requests = []
    for payment_id in payment_ids:  # 100.000 of refunds out of the shop's account
        path = f"/api/v1/payments/{payment_id}/refunds"
        requests.append((path, {}, city.headers(shop, uuid.uuid4().hex)))
    for _ in range(6):  # 180.000 of payouts out of the same account
        body = {"merchant_id": shop.id, "amount": 30_000}
        requests.append(
            ("/api/v1/counter/payouts", body, city.headers(market_teller, uuid.uuid4().hex))
        )
    for index in range(10):  # 100.000 out of a 30.000 wallet
        if index % 2:
            path, body = "/api/v1/payments", {"token": other_sticker, "amount": 10_000}
            body["pin"] = spender.pin
            requests.append((path, body, city.headers(spender, uuid.uuid4().hex)))
        else:
            path = "/api/v1/counter/cash-out"
            body = {"member_id": spender.id, "amount": 10_000, "pin": spender.pin}
            teller = (consumer_teller, market_teller)[index % 4 // 2]
            requests.append((path, body, city.headers(teller, uuid.uuid4().hex)))

    def attack(index):
        path, body, headers = requests[index]
        return app.test_client().post(path, json=body, headers=headers)

    responses = burst(len(requests), attack)

    assert_no_server_error(responses)
    for response in responses:
        if response.status_code == 422:
            assert problem(response) == "insufficient-funds", response.get_json()
        else:
            assert response.status_code in (201, 409, 503), response.get_json()
    refunds = sum(response.status_code == 201 for response in responses[:5])
    payouts = sum(response.status_code == 201 for response in responses[5:11])
    spent = sum(response.status_code == 201 for response in responses[11:])
    shop_balance = city.balance_of_merchant(shop)
    assert shop_balance == 100_000 - 20_000 * refunds - 30_000 * payouts >= 0
    assert city.balance_of_member(spender) == 30_000 - 10_000 * spent >= 0
    assert spent <= 3
    assert city.ledger_problems() == []


def test_refunds_and_cash_ins_past_the_net_debit_cap_are_refused_too_and_payouts_never(app, city):
    consumer = city.make_cooperative("KSM")
    capped = city.make_cooperative("KPP", kind="market_traders")
    consumer_teller, capped_teller = city.make_admin(consumer), city.make_admin(capped)
    siti, budi = city.make_member(consumer), city.make_member(capped)
    shop = city.make_merchant(capped, kind="shop", category="micro")
    assert city.cash_in(consumer_teller, siti, 100_000).status_code == 201
    paid = city.pay_sticker(siti, shop, 50_000)  # KPP is owed 50.000
    assert paid.status_code == 201, paid.get_json()
    set_cap(app, capped, 10_000)

    # Budi (KPP) takes 55.000 out at KSM's counter: KPP at -5.000, within its cap.
    assert city.cash_in(capped_teller, budi, 60_000).status_code == 201
    assert city.cash_out(consumer_teller, budi, 55_000).status_code == 201
    assert city.positions()[capped] == -5_000
    before = (city.count(Transfer), city.count(Event))
    # The shop's refund of 50.000 would take KPP to -55.000.
    refund = city.post(shop, f"/api/v1/payments/{paid.get_json()['id']}/refunds", {})
    assert_refused_by_cap(refund)
    assert refund.get_json()["remaining"] == 5_000
    # KPP's counter taking 5.001 in cash for Siti would owe KSM that much: -10.001.
    assert_refused_by_cap(city.cash_in(capped_teller, siti, 5_001))
    assert (city.count(Transfer), city.count(Event)) == before
    assert city.balance_of_member(siti) == 50_000
    # A payout moves money within KPP: no position changes, never refused by the cap.
    assert city.payout(capped_teller, shop, 50_000).status_code == 201
    assert city.cash_in(capped_teller, siti, 5_000).status_code == 201
    assert city.positions()[capped] == -10_000  # exactly the cap
    assert city.ledger_problems() == []
