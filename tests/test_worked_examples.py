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
