"""Reports told in rupiah: a merchant's Jakarta day, a cooperative's period, the observer's city
figures (no personal data); SHU is in tests/test_shu.py."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from freezegun import freeze_time
from problems import assert_problem

from gateway.limits import JAKARTA
from gateway.reports import day_bounds

# --- helpers -----------------------------------------------------------------------------------


def pay_ok(city, member, merchant, amount) -> dict:
    response = city.pay_sticker(member, merchant, amount)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def refund(city, merchant, payment_id, amount):
    response = city.post(merchant, f"/api/v1/payments/{payment_id}/refunds", {"amount": amount})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def merchant_day(city, merchant, day: str, caller=None):
    return city.get(caller or merchant, f"/api/v1/merchants/{merchant.id}/settlement?date={day}")


# --- Merchant day ------------------------------------------------------------------------------

# 03:00 UTC is 10:00 in Jakarta: well inside 20 May 2026 there.
MIDDAY = datetime(2026, 5, 20, 3, 0, 0, tzinfo=UTC)


def test_a_merchant_day_in_rupiah_gross_refunds_fees_net_paid_out_balance(city):
    with freeze_time(MIDDAY, tick=False):
        coop = city.make_cooperative("KSM")
        admin = city.make_admin(coop)
        siti = city.make_member(coop)
        budi = city.make_member(coop)
        assert city.cash_in(admin, siti, 500_000).status_code == 201
        assert city.cash_in(admin, budi, 500_000).status_code == 201
        shop = city.make_merchant(coop, kind="shop", category="small")  # 0,70%

        big = pay_ok(city, siti, shop, 100_000)  # fee 700: 245 / 350 / 105
        pay_ok(city, budi, shop, 27_500)  # fee 193: 68 / 96 / 29
        # 40% of the big one back: the fee shares go back in proportion, 98 + 140 + 42 = 280.
        refund(city, shop, big["id"], 40_000)
        payout = city.payout(admin, shop, 50_000)
        assert payout.status_code == 201, payout.get_json()

        response = merchant_day(city, shop, "2026-05-20")
        assert response.status_code == 200, response.get_json()
        day = response.get_json()
    assert day == {
        "merchant_id": shop.id,
        "date": "2026-05-20",
        "timezone": "Asia/Jakarta",
        "count": 2,
        "gross": 127_500,
        "refund_count": 1,
        "refunds": 40_000,
        "fees": 700 + 193 - 280,
        "net": 127_500 - 40_000 - 613,
        "paid_out": 50_000,
        # 100.000 - 700 + 27.500 - 193 - 40.000 + 280 - 50.000: the whole day is in the balance.
        "balance": 36_887,
    }
    assert day["net"] - day["paid_out"] == day["balance"] == city.balance_of_merchant(shop)


def test_a_merchant_reads_only_its_own_day(city):
    with freeze_time(MIDDAY, tick=False):
        coop = city.make_cooperative("KSM")
        admin = city.make_admin(coop)
        siti = city.make_member(coop)
        assert city.cash_in(admin, siti, 100_000).status_code == 201
        shop = city.make_merchant(coop, kind="shop")
        rival = city.make_merchant(coop, kind="shop")
        pay_ok(city, siti, shop, 10_000)

        # Another merchant, the cooperative's admin and the payer: 404, as for an unknown id.
        for stranger in (rival, admin, siti):
            assert_problem(
                merchant_day(city, shop, "2026-05-20", caller=stranger), 404, "not-found"
            )
        assert_problem(
            city.get(rival, "/api/v1/merchants/mer_nosuchmerchant00/settlement?date=2026-05-20"),
            404,
            "not-found",
        )
        assert_problem(merchant_day(city, shop, "2026-05-32"), 422, "validation-failed")
        for bad in ("20-05-2026", "0001-01-01", "9999-12-31", "1999-12-31"):
            assert_problem(merchant_day(city, shop, bad), 422, "validation-failed")
        # Without a date: today in Jakarta.
        today = city.get(shop, f"/api/v1/merchants/{shop.id}/settlement").get_json()
        assert (today["date"], today["gross"]) == ("2026-05-20", 10_000)


def test_a_full_refund_the_same_day_leaves_a_net_of_zero_and_gives_every_fee_share_back(city):
    # The PWA's own arithmetic said -Rp 193 here (it kept the fee of a refunded payment).
    with freeze_time(MIDDAY, tick=False):
        coop = city.make_cooperative("KSM")
        admin = city.make_admin(coop)
        siti = city.make_member(coop)
        assert city.cash_in(admin, siti, 100_000).status_code == 201
        shop = city.make_merchant(coop, kind="shop", category="small")  # 0,70%
        paid = pay_ok(city, siti, shop, 27_500)  # fee 193: 68 / 96 / 29
        first = refund(city, shop, paid["id"], 5_000)
        rest = refund(city, shop, paid["id"], 22_500)
        day = merchant_day(city, shop, "2026-05-20").get_json()
    # 5.000 of 27.500 gives back 12 + 17 + 5; the rest gives back what is left of each share.
    assert first["fees_returned"] == {"issuer": 12, "acquirer": 17, "network": 5}
    assert rest["fees_returned"] == {"issuer": 56, "acquirer": 79, "network": 24}
    assert {key: day[key] for key in ("count", "gross", "refund_count", "refunds")} == {
        "count": 1,
        "gross": 27_500,
        "refund_count": 2,
        "refunds": 27_500,
    }
    assert (day["fees"], day["net"], day["paid_out"], day["balance"]) == (0, 0, 0, 0)
    assert city.balance_of_merchant(shop) == 0
    assert city.ledger_problems() == []


def test_a_refund_counts_on_the_day_it_is_made_not_on_the_day_of_its_payment(city):
    with freeze_time(MIDDAY, tick=False) as frozen:
        coop = city.make_cooperative("KSM")
        admin = city.make_admin(coop)
        siti = city.make_member(coop)
        assert city.cash_in(admin, siti, 200_000).status_code == 201
        shop = city.make_merchant(coop, kind="shop", category="small")  # 0,70%
        paid = pay_ok(city, siti, shop, 100_000)  # fee 700: 245 / 350 / 105

        frozen.move_to(MIDDAY + timedelta(days=1))
        city._tokens.clear()  # log in again inside the new instant
        refund(city, shop, paid["id"], 40_000)  # gives back 98 + 140 + 42 = 280
        refund(city, shop, paid["id"], 60_000)  # the rest: 147 + 210 + 63 = 420
        first = merchant_day(city, shop, "2026-05-20").get_json()
        second = merchant_day(city, shop, "2026-05-21").get_json()
    figures = ("count", "gross", "refund_count", "refunds", "fees", "net", "paid_out")
    # The payment's day stays as it was: its figures never change after the day.
    assert {key: first[key] for key in figures} == {
        "count": 1,
        "gross": 100_000,
        "refund_count": 0,
        "refunds": 0,
        "fees": 700,
        "net": 99_300,
        "paid_out": 0,
    }
    # The refunds' day: no payment, 100.000 given back and the 700 of fees returned with it.
    assert {key: second[key] for key in figures} == {
        "count": 0,
        "gross": 0,
        "refund_count": 2,
        "refunds": 100_000,
        "fees": -700,
        "net": -99_300,
        "paid_out": 0,
    }
    # The balance is the account's, now, whichever day is asked: the days' nets add up to it.
    assert first["balance"] == second["balance"] == first["net"] + second["net"] == 0
    assert city.ledger_problems() == []


# 23:59:59 in Jakarta (UTC+7) on 10 March 2026, then midnight.
BEFORE_MIDNIGHT = datetime(2026, 3, 10, 16, 59, 59, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 10, 17, 0, 0, tzinfo=UTC)


def test_23_59_59_and_00_00_00_jakarta_are_different_days_for_the_report_and_the_limits(city):
    with freeze_time(BEFORE_MIDNIGHT, tick=False) as frozen:
        coop = city.make_cooperative("KSM")
        admin = city.make_admin(coop)
        siti = city.make_member(coop)
        shop = city.make_merchant(coop, kind="shop", category="small")
        assert city.cash_in(admin, siti, 200_000).status_code == 201
        limits = {
            "payment_max": 2_000_000,
            "balance_max": 2_000_000,
            "incoming_monthly_max": 20_000_000,
            "daily_max": 30_000,
            "monthly_max": 20_000_000,
            "payments_per_minute": 10,
            "no_pin_max": 50_000,
        }
        put = city.client.put(
            f"/api/v1/limit-policies/{coop}/basic", json=limits, headers=city.headers(admin)
        )
        assert put.status_code == 200, put.get_json()

        def remaining_today() -> int:
            response = city.get(siti, f"/api/v1/members/{siti.id}/limits")
            assert response.status_code == 200, response.get_json()
            return response.get_json()["daily_remaining"]

        pay_ok(city, siti, shop, 20_000)
        assert remaining_today() == 10_000
        # A second 20.000 the same Jakarta day passes the daily limit.
        refused = assert_problem(city.pay_sticker(siti, shop, 20_000), 422, "limit-exceeded")
        assert (refused["limit"], refused["remaining"]) == ("daily_max", 10_000)

        frozen.move_to(MIDNIGHT)
        city._tokens.clear()  # log in again inside the new instant
        assert remaining_today() == 30_000  # a new Jakarta day
        pay_ok(city, siti, shop, 20_000)
        assert remaining_today() == 10_000

        first = merchant_day(city, shop, "2026-03-10").get_json()
        second = merchant_day(city, shop, "2026-03-11").get_json()
        before = merchant_day(city, shop, "2026-03-09").get_json()
    assert (first["count"], first["gross"], first["fees"], first["net"]) == (1, 20_000, 140, 19_860)
    assert (second["count"], second["gross"], second["fees"], second["net"]) == (
        1,
        20_000,
        140,
        19_860,
    )
    assert (before["count"], before["gross"]) == (0, 0)


# --- Cooperative report ------------------------------------------------------------------------


def cooperative_scene(city):
    """KSM with Ani and Dewi, KPP with Bayu; a shop in each. KSM's counter takes cash for its own
    members and for Bayu; KPP's counter takes cash for Dewi."""
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    ksm_admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    ani, dewi = city.make_member(ksm), city.make_member(ksm)
    bayu = city.make_member(kpp)
    ksm_shop = city.make_merchant(ksm, kind="shop", category="small")
    kpp_shop = city.make_merchant(kpp, kind="shop", category="small")

    assert city.cash_in(ksm_admin, ani, 500_000).status_code == 201  # own
    assert city.cash_in(ksm_admin, dewi, 200_000).status_code == 201  # own
    assert city.cash_in(ksm_admin, bayu, 300_000).status_code == 201  # partner
    assert city.cash_in(kpp_admin, dewi, 100_000).status_code == 201  # at the partner's counter
    assert city.cash_out(ksm_admin, ani, 50_000).status_code == 201  # own
    assert city.cash_out(ksm_admin, bayu, 20_000).status_code == 201  # partner

    pay_ok(city, ani, ksm_shop, 100_000)  # on-us: fee 700 = 245 issuer + 350 acquirer + 105
    pay_ok(city, ani, kpp_shop, 27_500)  # KSM issues: 68 as issuer from KPP
    pay_ok(city, bayu, ksm_shop, 10_000)  # KSM acquires: fee 70 = 25 / 35 / 10, 35 from KPP
    pay_ok(city, bayu, kpp_shop, 5_000)  # nothing to do with KSM
    return ksm, kpp, ksm_admin, kpp_admin, ani, dewi, bayu


def test_a_cooperative_report_in_rupiah(city):
    ksm, kpp, ksm_admin, kpp_admin, *_ = cooperative_scene(city)
    network = city.make_staff("network_admin")
    today = datetime.now(JAKARTA).date()
    period = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    response = city.get(ksm_admin, f"/api/v1/cooperatives/{ksm}/report?{period}")
    assert response.status_code == 200, response.get_json()
    report = response.get_json()

    by_partner = {row["partner_cooperative_id"]: row for row in report["fee_income_by_partner"]}
    assert by_partner[ksm] == {
        "partner_cooperative_id": ksm,
        "as_issuer": 245,
        "as_acquirer": 350,
        "total": 595,
    }
    assert by_partner[kpp] == {
        "partner_cooperative_id": kpp,
        "as_issuer": 68,
        "as_acquirer": 35,
        "total": 103,
    }
    assert report["fee_income_total"] == 698 == city.balance_of_system(ksm, "fees")
    assert report["payments_made_by_members"] == {
        "on_us": {"count": 1, "volume": 100_000},
        "cross_cooperative": {"count": 1, "volume": 27_500},
    }
    assert report["payments_received_by_merchants"] == {
        "on_us": {"count": 1, "volume": 100_000},
        "cross_cooperative": {"count": 1, "volume": 10_000},
    }
    assert report["counter"] == {
        "cash_in": {
            "own_members": {"count": 2, "amount": 700_000},
            "partner_members": {"count": 1, "amount": 300_000},
        },
        "cash_out": {
            "own_members": {"count": 1, "amount": 50_000},
            "partner_members": {"count": 1, "amount": 20_000},
        },
    }
    assert (report["active_members"], report["members"]) == (1, 2)  # Ani paid, Dewi did not

    # The partner sees its side: Dewi's cash at its counter is partner cash there.
    kpp_report = city.get(kpp_admin, f"/api/v1/cooperatives/{kpp}/report?{period}").get_json()
    assert kpp_report["counter"]["cash_in"] == {
        "own_members": {"count": 0, "amount": 0},
        "partner_members": {"count": 1, "amount": 100_000},
    }
    assert kpp_report["payments_received_by_merchants"]["cross_cooperative"] == {
        "count": 1,
        "volume": 27_500,
    }
    # The network operator may read it too.
    assert city.get(network, f"/api/v1/cooperatives/{ksm}/report?{period}").get_json() == report

    # CSV, with format=csv or Accept: text/csv.
    rows = csv_rows(city.get(ksm_admin, f"/api/v1/cooperatives/{ksm}/report?{period}&format=csv"))
    assert rows[0] == ["figure", "detail", "count", "amount"]
    for row in (
        ["fee_income", ksm, "", "595"],
        ["fee_income", kpp, "", "103"],
        ["payments_made_by_members", "on_us", "1", "100000"],
        ["payments_made_by_members", "cross_cooperative", "1", "27500"],
        ["payments_received_by_merchants", "cross_cooperative", "1", "10000"],
        ["cash_in", "own_members", "2", "700000"],
        ["cash_in", "partner_members", "1", "300000"],
        ["cash_out", "own_members", "1", "50000"],
        ["cash_out", "partner_members", "1", "20000"],
        ["active_members", "", "1", ""],
    ):
        assert row in rows, row
    accepted = city.client.get(
        f"/api/v1/cooperatives/{ksm}/report?{period}",
        headers={**city.headers(ksm_admin), "Accept": "text/csv"},
    )
    assert csv_rows(accepted) == rows

    # A period before any of it is all zeros.
    empty = city.get(
        ksm_admin, f"/api/v1/cooperatives/{ksm}/report?from=2020-01-01&to=2020-12-31"
    ).get_json()
    assert empty["fee_income_by_partner"] == [] and empty["fee_income_total"] == 0
    assert empty["payments_made_by_members"]["on_us"] == {"count": 0, "volume": 0}
    assert empty["counter"]["cash_in"]["own_members"] == {"count": 0, "amount": 0}
    assert empty["active_members"] == 0


def test_fee_income_is_net_of_the_fee_shares_refunds_gave_back(city):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    ksm_admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    ani = city.make_member(ksm)
    assert city.cash_in(ksm_admin, ani, 500_000).status_code == 201
    kpp_shop = city.make_merchant(kpp, kind="shop", category="small")
    paid = pay_ok(city, ani, kpp_shop, 100_000)  # fee 700: 245 to KSM, 350 to KPP, 105 network
    refund(city, kpp_shop, paid["id"], 40_000)  # gives back 98, 140 and 42

    today = datetime.now(JAKARTA).date()
    period = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    ksm_report = city.get(ksm_admin, f"/api/v1/cooperatives/{ksm}/report?{period}").get_json()
    kpp_report = city.get(kpp_admin, f"/api/v1/cooperatives/{kpp}/report?{period}").get_json()
    assert ksm_report["fee_income_by_partner"] == [
        {"partner_cooperative_id": kpp, "as_issuer": 245 - 98, "as_acquirer": 0, "total": 147}
    ]
    assert kpp_report["fee_income_by_partner"] == [
        {"partner_cooperative_id": ksm, "as_issuer": 0, "as_acquirer": 350 - 140, "total": 210}
    ]
    # What the report calls income is what the cooperatives' fee accounts hold.
    assert ksm_report["fee_income_total"] == city.balance_of_system(ksm, "fees") == 147
    assert kpp_report["fee_income_total"] == city.balance_of_system(kpp, "fees") == 210


def test_the_cooperative_report_is_for_its_own_admins_and_checks_its_dates(city):
    ksm, kpp, ksm_admin, kpp_admin, ani, dewi, bayu = cooperative_scene(city)
    observer = city.make_staff("observer")
    path = f"/api/v1/cooperatives/{ksm}/report?from=2026-01-01&to=2026-01-31"
    for stranger in (kpp_admin, ani, observer):
        assert_problem(city.get(stranger, path), 403, "forbidden")
    for query in (
        "from=2026-13-01&to=2026-12-31",
        "from=2026-01-01&to=yesterday",
        "from=2026-02-01&to=2026-01-31",  # to before from
        "from=0001-01-01&to=0001-01-02",  # would overflow turning into UTC instants
        "from=2026-01-01&to=9999-12-31",
    ):
        assert_problem(
            city.get(ksm_admin, f"/api/v1/cooperatives/{ksm}/report?{query}"),
            422,
            "validation-failed",
        )
    assert_problem(
        city.get(ksm_admin, "/api/v1/cooperatives/coop_nosuchcoop00000/report"), 404, "not-found"
    )


# --- Observer ----------------------------------------------------------------------------------


def observer_scene(city):
    ksm = city.make_cooperative("KSM")
    kam = city.make_cooperative("KAM", kind="transport")
    ksm_admin, kam_admin = city.make_admin(ksm), city.make_admin(kam)
    members = [city.make_member(ksm) for _ in range(3)] + [city.make_member(kam)]
    ani, dewi, _idle, bayu = members
    for member in (ani, dewi, bayu):
        assert city.cash_in(ksm_admin, member, 200_000).status_code == 201
    ksm_shop = city.make_merchant(ksm, kind="shop", category="small")
    angkots = [city.make_merchant(ksm, kind="angkot"), city.make_merchant(ksm, kind="angkot")]
    kam_taxi = city.make_merchant(kam, kind="taxi", category="regular")
    merchants = [ksm_shop, *angkots, kam_taxi]

    pay_ok(city, ani, ksm_shop, 30_000)
    pay_ok(city, bayu, ksm_shop, 10_000)  # crosses into KSM
    pay_ok(city, ani, kam_taxi, 20_000)  # crosses into KAM
    pay_ok(city, dewi, angkots[0], 5_000)
    return ksm, kam, ksm_admin, kam_admin, members, merchants


def test_the_observer_sees_city_figures_per_cooperative(app, city):
    ksm, kam, ksm_admin, kam_admin, members, merchants = observer_scene(city)
    observer = city.make_staff("observer")
    response = city.get(observer, "/api/v1/observer/cooperatives")
    assert response.status_code == 200, response.get_json()
    figures = response.get_json()
    rows = {row["cooperative_id"]: row for row in figures["cooperatives"]}

    ksm_row, kam_row = rows[ksm], rows[kam]
    assert ksm_row["members"] == 3 and kam_row["members"] == 1
    assert ksm_row["active_members_30_days"] == 2 and kam_row["active_members_30_days"] == 1
    assert ksm_row["merchants_by_kind"] == {"shop": 1, "angkot": 2}
    assert kam_row["merchants_by_kind"] == {"taxi": 1}
    # Count and volume are those received by the cooperative's merchants.
    assert (ksm_row["payment_count_30_days"], ksm_row["payment_volume_30_days"]) == (3, 45_000)
    assert (kam_row["payment_count_30_days"], kam_row["payment_volume_30_days"]) == (1, 20_000)
    assert ksm_row["cross_cooperative_volume_30_days"] == 10_000
    assert ksm_row["cross_cooperative_share_bps"] == 2_222  # 10.000 of 45.000, rounded down
    assert kam_row["cross_cooperative_share_bps"] == 10_000
    assert ksm_row["growth_bps"] is None  # nothing in the previous 30 days
    assert figures["period_days"] == 30

    assert figures["city"] == {
        "members": 4,
        "active_members_30_days": 3,
        "payment_count_30_days": 4,
        "payment_volume_30_days": 65_000,
        "cross_cooperative_share_bps": 4_615,  # 30.000 of 65.000
        "population": None,
        "members_share_of_population_bps": None,
    }

    # No personal data: no phone, no member, user or merchant id, no person's name.
    text = response.get_data(as_text=True)
    people = [*members, *merchants, ksm_admin, kam_admin, observer]
    for person in people:
        for needle in (person.phone, person.phone.removeprefix("+"), person.id, person.user_id):
            assert needle not in text, needle
    for name in ("Anggota", "Pemilik", "Admin", "Merchant "):
        assert name not in text
    assert "phone" not in text and "member_id" not in text and "user" not in text

    # With the city's population configured, members as a share of it.
    app.config["CITY_POPULATION"] = 7
    city_figures = city.get(observer, "/api/v1/observer/cooperatives").get_json()["city"]
    assert city_figures["population"] == 7
    assert city_figures["members_share_of_population_bps"] == 5_714  # 4 of 7


def test_growth_against_the_previous_30_days(city):
    start = datetime(2026, 4, 1, 3, 0, 0, tzinfo=UTC)
    with freeze_time(start, tick=False) as frozen:
        ksm = city.make_cooperative("KSM")
        admin = city.make_admin(ksm)
        ani = city.make_member(ksm)
        shop = city.make_merchant(ksm, kind="shop")
        assert city.cash_in(admin, ani, 500_000).status_code == 201
        pay_ok(city, ani, shop, 40_000)
        frozen.move_to(start + timedelta(days=35))
        city._tokens.clear()
        pay_ok(city, ani, shop, 50_000)
        frozen.move_to(start + timedelta(days=35, minutes=1))
        observer = city.make_staff("observer")
        row = city.get(observer, "/api/v1/observer/cooperatives").get_json()["cooperatives"][0]
    assert row["payment_volume_30_days"] == 50_000
    assert row["growth_bps"] == 2_500  # 50.000 against 40.000: +25%


def test_only_the_observer_and_the_network_operator_read_the_city_figures(city):
    ksm = city.make_cooperative("KSM")
    admin = city.make_admin(ksm)
    member = city.make_member(ksm)
    merchant = city.make_merchant(ksm)
    for caller in (admin, member, merchant):
        assert_problem(city.get(caller, "/api/v1/observer/cooperatives"), 403, "forbidden")
    assert city.client.get("/api/v1/observer/cooperatives").status_code == 401
    network = city.make_staff("network_admin")
    assert city.get(network, "/api/v1/observer/cooperatives").status_code == 200
    # Read-only: nothing but GET.
    observer = city.make_staff("observer")
    changed = city.post(observer, "/api/v1/observer/cooperatives", {}, key=None)
    assert changed.status_code == 405


def test_day_bounds_are_jakarta_midnights():
    start, end = day_bounds(date(2026, 3, 11))
    assert start.astimezone(UTC) == MIDNIGHT
    assert end - start == timedelta(days=1)
