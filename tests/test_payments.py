"""Worked examples in rupiah for QR payments and refunds, on SQLite and PostgreSQL."""

from gateway.models import Payment, Transfer


def test_cross_cooperative_payment_splits_the_fee_and_moves_positions(city):
    consumer = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    consumer_teller = city.make_admin(consumer)
    siti = city.make_member(consumer)
    assert city.cash_in(consumer_teller, siti, 1_000_000).status_code == 201
    shop = city.make_merchant(market, kind="shop", category="small")

    qr = city.issue_qr(shop, 27_500, reference="INV-1")
    assert qr["amount"] == 27_500 and qr["url"].endswith("/pay#" + qr["token"])
    verified = city.post(siti, "/api/v1/qr/verify", {"token": qr["token"]}, key=None)
    assert verified.status_code == 200, verified.get_json()
    assert verified.get_json()["merchant"]["id"] == shop.id
    assert verified.get_json()["amount"] == 27_500

    response = city.pay(siti, qr["token"])
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    # Small merchant: 0,7% of 27.500 = 192,5 -> 193 rupiah, split 35/50/15 by largest remainder.
    assert receipt["fee_amount"] == 193
    assert receipt["fees"] == {"issuer": 68, "acquirer": 96, "network": 29}
    assert sum(receipt["fees"].values()) == 193
    assert receipt["payer_cooperative"] == consumer and receipt["merchant_cooperative"] == market
    assert receipt["balance"] == 972_500
    assert receipt["qr_id"] == qr["id"]

    assert city.balance_of_member(siti) == 972_500
    assert city.balance_of_merchant(shop) == 27_500 - 193
    assert city.balance_of_system(consumer, "fees") == 68
    assert city.balance_of_system(market, "fees") == 96
    assert city.balance_of_system(None, "fees") == 29
    # Positions: the cash-in was on-us (0); the payment moves -A + Fi to the issuer,
    # A - Fi - Fn to the acquirer and Fn to the network.
    assert city.positions() == {consumer: -27_500 + 68, market: 27_500 - 68 - 29, None: 29}
    assert city.count(Transfer) == 1 + 4
    assert city.ledger_problems() == []

    # The same QR cannot be paid twice.
    again = city.pay(siti, qr["token"])
    assert again.status_code == 409
    assert again.get_json()["type"].endswith("/qr-already-paid")


def test_on_us_angkot_fare_on_a_static_sticker_is_free_for_a_micro_merchant(city):
    transport = city.make_cooperative("KAM", kind="transport")
    teller = city.make_admin(transport)
    rider = city.make_member(transport)
    assert city.cash_in(teller, rider, 100_000).status_code == 201
    driver = city.make_merchant(transport, kind="angkot", category="micro")
    sticker = city.static_qr(driver)
    assert sticker["kind"] == "static"

    # Below the no-PIN threshold the fare needs no PIN.
    response = city.pay(rider, sticker["token"], amount=5_000, pin=None)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["fee_amount"] == 0
    assert city.balance_of_member(rider) == 95_000
    assert city.balance_of_merchant(driver) == 5_000
    assert city.positions() == {transport: 0}

    # A static QR needs the amount; the angkot typo guard refuses Rp 150.000.
    assert (
        city.pay(rider, sticker["token"], pin=None).get_json()["type"].endswith("/amount-required")
    )
    refused = city.pay(rider, sticker["token"], amount=150_000)
    assert refused.status_code == 422
    assert refused.get_json()["limit"] == "merchant_payment_max"
    assert city.ledger_problems() == []


def test_partial_then_full_refund_gives_fees_back_in_proportion(city):
    consumer = city.make_cooperative("KSM")
    taxi_coop = city.make_cooperative("KTS", kind="transport")
    teller = city.make_admin(consumer)
    maya = city.make_member(consumer, tier="verified")
    assert city.cash_in(teller, maya, 2_000_000).status_code == 201
    taxi = city.make_merchant(taxi_coop, kind="taxi", category="regular")
    qr = city.issue_qr(taxi, 100_000)
    receipt = city.pay(maya, qr["token"]).get_json()
    assert receipt["fee_amount"] == 700
    assert receipt["fees"] == {"issuer": 245, "acquirer": 350, "network": 105}

    first = city.post(taxi, f"/api/v1/payments/{receipt['id']}/refunds", {"amount": 30_000})
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["fees_returned"] == {"issuer": 73, "acquirer": 105, "network": 31}
    assert first.get_json()["payment"]["status"] == "partially_refunded"
    assert city.balance_of_member(maya) == 2_000_000 - 100_000 + 30_000

    too_much = city.post(taxi, f"/api/v1/payments/{receipt['id']}/refunds", {"amount": 70_001})
    assert too_much.status_code == 422

    rest = city.post(taxi, f"/api/v1/payments/{receipt['id']}/refunds", {})
    assert rest.status_code == 201, rest.get_json()
    assert rest.get_json()["amount"] == 70_000
    assert rest.get_json()["payment"]["status"] == "refunded"
    # Every rupiah is back where it started.
    assert city.balance_of_member(maya) == 2_000_000
    assert city.balance_of_merchant(taxi) == 0
    assert city.balance_of_system(consumer, "fees") == 0
    assert city.balance_of_system(taxi_coop, "fees") == 0
    assert city.balance_of_system(None, "fees") == 0
    assert city.count(Payment) == 1
    assert city.ledger_problems() == []


def test_a_cooperative_net_debit_cap_refuses_what_would_pass_it_until_settlement(app, city):
    from gateway.db import db
    from gateway.models import Cooperative

    consumer = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    teller = city.make_admin(consumer)
    network = city.make_staff("network_admin")
    siti = city.make_member(consumer)
    assert city.cash_in(teller, siti, 500_000).status_code == 201
    shop = city.make_merchant(market, kind="shop", category="micro")
    with app.app_context():
        cooperative = db.session.scalar(
            db.select(Cooperative).where(Cooperative.public_id == consumer)
        )
        cooperative.net_debit_cap = 100_000
        db.session.commit()
    sticker = city.static_qr(shop)

    assert city.pay(siti, sticker["token"], amount=60_000).status_code == 201
    refused = city.pay(siti, sticker["token"], amount=45_000)
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["limit"] == "net_debit_cap"
    assert refused.get_json()["remaining"] == 40_000
    assert city.pay(siti, sticker["token"], amount=40_000).status_code == 201

    # Once the window is closed and settled, the cooperative may owe again.
    window = city.post(
        network, "/api/v1/settlement/windows/current/close", None, key=None
    ).get_json()
    assert (
        city.post(
            network, f"/api/v1/settlement/windows/{window['id']}/settle", None, key=None
        ).status_code
        == 200
    )
    assert city.pay(siti, sticker["token"], amount=45_000).status_code == 201
    assert city.ledger_problems() == []
