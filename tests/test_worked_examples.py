"""Stories told in rupiah: every balance and every cooperative's position asserted."""

from gateway.models import Transfer


def test_cash_in_at_a_partner_cooperative_cash_out_and_merchant_payout(city):
    consumer = city.make_cooperative("KSM")
    angkot = city.make_cooperative("KAM", kind="transport")
    consumer_teller = city.make_admin(consumer)
    angkot_teller = city.make_admin(angkot)
    siti = city.make_member(consumer)

    # Siti, a member of the consumer cooperative, tops up Rp 100.000 at the angkot cooperative.
    response = city.cash_in(angkot_teller, siti, 100_000)
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert receipt["balance"] == 100_000
    assert [t["amount"] for t in receipt["transfers"]] == [100_000]
    assert receipt["transfers"][0]["code"] == "cash_in"

    assert city.balance_of_member(siti) == 100_000
    assert city.balance_of_system(angkot, "counter_cash") == -100_000
    # The angkot cooperative holds the cash and owes it to the consumer cooperative.
    assert city.positions() == {consumer: 100_000, angkot: -100_000}

    # She takes Rp 30.000 out at her own cooperative's counter.
    response = city.cash_out(consumer_teller, siti, 30_000)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["balance"] == 70_000
    assert city.balance_of_member(siti) == 70_000
    assert city.balance_of_system(consumer, "counter_cash") == 30_000
    assert city.positions() == {consumer: 100_000, angkot: -100_000}

    # A merchant of the angkot cooperative with takings cannot be paid out more than it holds.
    driver = city.make_merchant(angkot, kind="angkot")
    response = city.payout(angkot_teller, driver, 5_000)
    assert response.status_code == 422
    assert response.get_json()["type"].endswith("/insufficient-funds")
    assert city.balance_of_merchant(driver) == 0

    assert city.ledger_problems() == []
    assert city.count(Transfer) == 2


def test_positions_sum_to_zero_after_cash_in_at_own_cooperative(city):
    coop = city.make_cooperative("KPP", kind="market_traders")
    teller = city.make_admin(coop)
    member = city.make_member(coop)
    assert city.cash_in(teller, member, 250_000).status_code == 201
    # On-us: the cooperative holds the cash and owes it to its own member: position 0.
    assert city.positions() == {coop: 0}
    assert city.balance_of_system(coop, "counter_cash") == -250_000
    assert city.ledger_problems() == []


def test_a_capped_cooperative_that_is_owed_a_window_settles_it_and_then_owes_again(app, city):
    from gateway.db import db
    from gateway.models import Cooperative

    consumer = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    consumer_teller, market_teller = city.make_admin(consumer), city.make_admin(market)
    network = city.make_staff("network_admin")
    siti, budi = city.make_member(consumer), city.make_member(market)
    # Micro shops pay no fee on these amounts: every figure below is a round number.
    consumer_shop = city.make_merchant(consumer, kind="shop", category="micro")
    market_shop = city.make_merchant(market, kind="shop", category="micro")
    assert city.cash_in(consumer_teller, siti, 400_000).status_code == 201
    assert city.cash_in(market_teller, budi, 300_000).status_code == 201
    with app.app_context():
        cooperative = db.session.scalar(
            db.select(Cooperative).where(Cooperative.public_id == consumer)
        )
        cooperative.net_debit_cap = 100_000
        db.session.commit()

    def close():
        path = "/api/v1/settlement/windows/current/close"
        return city.post(network, path, None, key=None).get_json()["id"]

    def settle(window_id):
        return city.post(network, f"/api/v1/settlement/windows/{window_id}/settle", None, key=None)

    # Window 1: Budi (KPP) buys Rp 200.000 at a KSM shop; KSM is owed 200.000.
    assert city.pay_sticker(budi, consumer_shop, 200_000).status_code == 201
    first = close()
    # Window 2: Siti (KSM) buys Rp 250.000 at a KPP shop. KSM's unsettled position counts both
    # windows: 200.000 - 250.000 = -50.000, within its cap of 100.000; 60.000 more is not.
    assert city.pay_sticker(siti, market_shop, 250_000).status_code == 201
    refused = city.pay_sticker(siti, market_shop, 60_000)
    assert refused.status_code == 422 and refused.get_json()["limit"] == "net_debit_cap"
    assert refused.get_json()["remaining"] == 50_000

    # Settling window 1 debits KSM's settlement account 200.000 (KSM receives). The cap never
    # refuses it: settlement transfers are outside every position, and they only pay a window
    # back to zero. Afterwards only window 2 is unsettled: KSM owes 250.000, past its cap...
    assert settle(first).status_code == 200
    assert city.balance_of_system(consumer, "settlement") == -200_000
    # ... so it may owe nothing more until it settles, but may still be paid: Budi's payment
    # and Siti's cash-in at KPP's counter (KPP holds her cash) both bring it back up.
    refused = city.pay_sticker(siti, market_shop, 1_000)
    assert refused.status_code == 422 and refused.get_json()["remaining"] == 0
    assert city.pay_sticker(budi, consumer_shop, 20_000).status_code == 201
    assert city.cash_in(market_teller, siti, 10_000).status_code == 201
    # (Its position over all time, settlement included, is what is unsettled: window 2 and 3.)
    assert city.positions()[consumer] == -250_000 + 20_000 + 10_000
    # The next settlement brings it back: window 2 (and 3) settled, it may owe again.
    assert settle(close()).status_code == 200
    assert city.pay_sticker(siti, market_shop, 60_000).status_code == 201
    assert city.balance_of_member(siti) == 400_000 - 250_000 + 10_000 - 60_000
    assert city.ledger_problems() == []
