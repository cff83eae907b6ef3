"""Settlement windows told in rupiah: close, seal, verify, settle once; payments during a close."""

import threading
import time
import uuid

import sqlalchemy as sa

from gateway import limits, settlement
from gateway.db import db
from gateway.models import SettlementWindow, Transfer


def pay_static(city, member, merchant, amount):
    sticker = city.get(merchant, f"/api/v1/merchants/{merchant.id}/static-qr").get_json()
    body = {"token": sticker["token"], "amount": amount, "pin": member.pin}
    response = city.post(member, "/api/v1/payments", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def four_cooperatives(city):
    codes = {"KSM": "consumer", "KPP": "market_traders", "KAM": "transport", "KTS": "transport"}
    coops = {code: city.make_cooperative(code, kind=kind) for code, kind in codes.items()}
    admins = {code: city.make_admin(coop) for code, coop in coops.items()}
    network = city.make_staff("network_admin")
    return coops, admins, network


def test_a_day_across_four_cooperatives_closes_into_positions_and_pair_figures(city):
    coops, admins, network = four_cooperatives(city)
    siti = city.make_member(coops["KSM"])
    agus = city.make_member(coops["KPP"], tier="verified")
    assert city.cash_in(admins["KSM"], siti, 1_000_000).status_code == 201
    assert city.cash_in(admins["KSM"], agus, 1_000_000).status_code == 201  # at a partner counter
    shop = city.make_merchant(coops["KPP"], kind="shop", category="small")
    angkot = city.make_merchant(coops["KAM"], kind="angkot", category="micro")
    taxi = city.make_merchant(coops["KTS"], kind="taxi", category="regular")

    pay_static(city, siti, shop, 27_500)  # fee 193: 68 / 96 / 29
    pay_static(city, siti, angkot, 5_000)  # micro, free
    pay_static(city, agus, taxi, 100_000)  # fee 700: 245 / 350 / 105
    pay_static(city, agus, shop, 10_000)  # on-us small: fee 70: 25 / 35 / 10, both shares to KPP

    response = city.post(network, "/api/v1/settlement/windows/current/close", None, key=None)
    assert response.status_code == 201, response.get_json()
    window = response.get_json()
    assert window["status"] == "closed"
    assert window["transfer_count"] == 2 + 4 + 1 + 4 + 4
    positions = {line["cooperative_id"]: line["position"] for line in window["positions"]}
    # KSM took Agus's 1.000.000 in cash for KPP (-1.000.000), Siti's cash was on-us (0),
    # Siti paid 32.500 out (+68 fee share as issuer).
    assert positions[coops["KSM"]] == -1_000_000 - 27_500 + 68 - 5_000
    # KPP holds Agus's wallet (+1.000.000 owed by KSM), receives 27.500 - 68 - 29 for the shop,
    # pays 100.000 - 245 for Agus's taxi ride, and owes the network 10 on the on-us sale.
    assert positions[coops["KPP"]] == 1_000_000 + (27_500 - 68 - 29) - 100_000 + 245 - 10
    assert positions[coops["KAM"]] == 5_000
    assert positions[coops["KTS"]] == 100_000 - 245 - 105
    assert window["network_position"] == 29 + 105 + 10
    assert sum(positions.values()) + window["network_position"] == 0

    pairs = {(p["issuer"], p["acquirer"]): p for p in window["pairs"]}
    ksm_kpp = pairs[(coops["KSM"], coops["KPP"])]
    assert (ksm_kpp["count"], ksm_kpp["gross"]) == (1, 27_500)
    assert (ksm_kpp["fee_issuer"], ksm_kpp["fee_acquirer"], ksm_kpp["fee_network"]) == (68, 96, 29)
    assert pairs[(coops["KSM"], coops["KAM"])]["gross"] == 5_000
    assert pairs[(coops["KPP"], coops["KTS"])]["fee_acquirer"] == 350
    assert pairs[(coops["KPP"], coops["KPP"])]["count"] == 1

    # Settling writes the settlement transfers once; a second call changes nothing.
    before = city.count(Transfer)
    first = city.post(network, f"/api/v1/settlement/windows/{window['id']}/settle", None, key=None)
    assert first.status_code == 200, first.get_json()
    after_first = city.count(Transfer)
    assert after_first - before == sum(1 for value in positions.values() if value)
    second = city.post(network, f"/api/v1/settlement/windows/{window['id']}/settle", None, key=None)
    assert second.status_code == 200 and second.get_json()["status"] == "settled"
    assert city.count(Transfer) == after_first
    # Every cooperative's cumulative position is back to zero, the network's too.
    assert set(city.positions().values()) == {0}
    assert city.ledger_problems() == []

    # The CSV statement carries the same lines.
    csv_response = city.client.get(
        f"/api/v1/settlement/windows/{window['id']}.csv", headers=city.headers(network)
    )
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    assert f"{coops['KAM']},KAM,5000" in csv_response.get_data(as_text=True)


def test_tampering_with_a_closed_window_fails_verify_naming_the_window(app, city, runner):
    coops, admins, network = four_cooperatives(city)
    member = city.make_member(coops["KSM"])
    assert city.cash_in(admins["KSM"], member, 300_000).status_code == 201
    window = city.post(
        network, "/api/v1/settlement/windows/current/close", None, key=None
    ).get_json()
    ok = runner.invoke(args=["settle", "verify", window["id"]])
    assert ok.exit_code == 0, ok.output

    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            db.session.execute(sa.text("ALTER TABLE transfers DISABLE TRIGGER transfers_immutable"))
            db.session.execute(sa.text("UPDATE transfers SET amount = amount + 1"))
            db.session.execute(sa.text("ALTER TABLE transfers ENABLE TRIGGER transfers_immutable"))
        else:
            db.session.execute(sa.text("DROP TRIGGER transfers_no_update"))
            db.session.execute(sa.text("UPDATE transfers SET amount = amount + 1"))
        db.session.commit()

    failed = runner.invoke(args=["settle", "verify", window["id"]])
    assert failed.exit_code == 1
    assert window["id"] in failed.output


def test_the_coop_admin_sees_only_its_own_lines(city):
    coops, admins, network = four_cooperatives(city)
    member = city.make_member(coops["KSM"])
    assert city.cash_in(admins["KPP"], member, 200_000).status_code == 201
    window = city.post(
        network, "/api/v1/settlement/windows/current/close", None, key=None
    ).get_json()
    seen = city.get(admins["KAM"], f"/api/v1/settlement/windows/{window['id']}").get_json()
    assert [line["cooperative_id"] for line in seen["positions"]] == [coops["KAM"]]
    assert "network_position" not in seen
    # Only the network admin closes or settles.
    refused = city.post(admins["KAM"], "/api/v1/settlement/windows/current/close", None, key=None)
    assert refused.status_code == 403


def test_payments_written_during_a_close_land_in_exactly_one_window(app, city):
    coops, admins, network = four_cooperatives(city)
    members = [city.make_member(coops["KSM"]) for _ in range(4)]
    for member in members:
        assert city.cash_in(admins["KSM"], member, 1_000_000).status_code == 201
    driver = city.make_merchant(coops["KAM"], kind="angkot")
    sticker = city.get(driver, f"/api/v1/merchants/{driver.id}/static-qr").get_json()
    headers = [city.headers(member) for member in members]
    network_headers = city.headers(network)
    # The payers must be able to pay all through the test: at the default 10 payments a minute,
    # four busy payers are spent in a second, and a later window would wait a minute for one.
    unhurried = {**limits.DEFAULT_LIMITS["basic"].model_dump(), "payments_per_minute": 10_000}
    assert (
        app.test_client()
        .put(
            f"/api/v1/limit-policies/{coops['KSM']}/basic", json=unhurried, headers=network_headers
        )
        .status_code
        == 200
    )
    stop = threading.Event()
    statuses = []

    def keep_paying(member_headers):
        client = app.test_client()
        while not stop.is_set():
            response = client.post(
                "/api/v1/payments",
                json={"token": sticker["token"], "amount": 1_000},
                headers={**member_headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            statuses.append(response.status_code)

    def open_window_has_transfers() -> bool:
        with app.app_context():
            found = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Transfer)
                .join(SettlementWindow, SettlementWindow.id == Transfer.window_id)
                .where(SettlementWindow.status == "open")
            )
            db.session.remove()
            return found > 0

    threads = [threading.Thread(target=keep_paying, args=(h,)) for h in headers]
    for thread in threads:
        thread.start()
    closes = []
    for _ in range(3):
        # A window with no transfers is not closed: let a payment land in this one first. Asked
        # of the database, not of the answers: an answer that arrives after a close may be of a
        # payment that committed before it, into the window just closed.
        deadline = time.monotonic() + 30
        while not open_window_has_transfers():
            assert time.monotonic() < deadline, ("no payment landed in the open window", statuses)
            time.sleep(0.01)
        response = app.test_client().post(
            "/api/v1/settlement/windows/current/close", headers=network_headers
        )
        closes.append(response.status_code)
    stop.set()
    for thread in threads:
        thread.join()

    assert closes == [201, 201, 201]
    assert set(statuses) <= {201, 422}  # 422 only for the per-minute limit
    assert statuses.count(201) > 0
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Transfer))
        windows = db.session.scalars(
            sa.select(SettlementWindow).order_by(SettlementWindow.id)
        ).all()
        in_windows = db.session.scalar(
            sa.select(sa.func.count()).select_from(Transfer).where(Transfer.window_id.is_not(None))
        )
        assert in_windows == total
        # Each sealed window still verifies, and its count is what the table holds for it now:
        # nothing arrived in a window after it was sealed.
        for window in windows:
            if window.status == "closed":
                settlement.verify(db.session, window)
        assert (
            sum(w.transfer_count or 0 for w in windows if w.status == "closed")
            + db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Transfer)
                .join(SettlementWindow)
                .where(SettlementWindow.status == "open")
            )
            == total
        )
    assert city.ledger_problems() == []
