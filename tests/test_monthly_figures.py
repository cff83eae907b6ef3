"""The observer's monthly figures: the numbers are the ledger's, Jakarta months, small counts
withheld (and not given back by the city's total), observers and the operator only, bad months
refused, CSV and XLSX carrying the same numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import openpyxl
import sqlalchemy as sa
from freezegun import freeze_time
from problems import assert_problem

from gateway import registry
from gateway.db import db
from gateway.models import Account, AccountKind, Transfer
from gateway.models.ledger import TransferCode
from gateway.monthly_figures import PAYMENT_FIGURES, SMALL_COUNT_MIN
from gateway.tables import RUPIAH_FORMAT

MONTHS = "/api/v1/observer/months"
# 10:00 in Jakarta on 15 January 2026; 00:30 on 1 February in Jakarta is still 31 January in UTC.
MID_JANUARY = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
FIRST_OF_FEBRUARY_IN_JAKARTA = datetime(2026, 1, 31, 17, 30, tzinfo=UTC)
MID_FEBRUARY = datetime(2026, 2, 14, 3, 0, tzinfo=UTC)
# Where the Jakarta months start, in UTC (Jakarta is UTC+7, no daylight saving).
JAKARTA_OFFSET = datetime(2026, 1, 1, 7, tzinfo=UTC) - datetime(2026, 1, 1, tzinfo=UTC)
JANUARY_START = datetime(2026, 1, 1, tzinfo=UTC) - JAKARTA_OFFSET
FEBRUARY_START = datetime(2026, 2, 1, tzinfo=UTC) - JAKARTA_OFFSET
MARCH_START = datetime(2026, 3, 1, tzinfo=UTC) - JAKARTA_OFFSET
PUBLISHED_KEYS = {
    "month",
    "members",
    "active_members",
    *PAYMENT_FIGURES,
    "payments_withheld",
    "active_members_withheld",
}


def pay(city, member, merchant, amount):
    response = city.pay_sticker(member, merchant, amount)
    assert response.status_code == 201, response.get_json()


def at(city, moment):
    """Freeze the clock at `moment` with fresh logins (a token of another month has expired)."""
    city._tokens.clear()
    return freeze_time(moment, tick=False)


def ledger_payments(app, merchant_ids, start, end) -> tuple[int, int]:
    """The count and sum of PAYMENT transfers into these merchants' accounts in [start, end)."""
    with app.app_context():
        accounts = [registry.get_merchant(db.session, m.id).account_id for m in merchant_ids]
        count, total = db.session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Transfer.amount), 0)).where(
                Transfer.code == TransferCode.PAYMENT,
                Transfer.credit_account_id.in_(accounts),
                Transfer.created_at >= start,
                Transfer.created_at < end,
            )
        ).one()
        db.session.rollback()
        return int(count), int(total)


def ledger_payers(app, coop_public_id, start, end) -> int:
    """How many of the cooperative's wallets a PAYMENT transfer debited in [start, end)."""
    with app.app_context():
        cooperative = registry.get_cooperative(db.session, coop_public_id)
        wallets = sa.select(Account.id).where(
            Account.cooperative_id == cooperative.id, Account.kind == AccountKind.WALLET
        )
        payers = db.session.scalar(
            sa.select(sa.func.count(sa.distinct(Transfer.debit_account_id))).where(
                Transfer.code == TransferCode.PAYMENT,
                Transfer.debit_account_id.in_(wallets),
                Transfer.created_at >= start,
                Transfer.created_at < end,
            )
        )
        db.session.rollback()
        return int(payers)


def by_code(figures: dict) -> dict[str, dict[str, dict]]:
    return {
        cooperative["code"]: {cell["month"]: cell for cell in cooperative["months"]}
        for cooperative in figures["cooperatives"]
    }


def two_cooperatives(city):
    """KSM's three members pay at home and at KPP's shop; KPP's three members pay at home."""
    ksm, kpp = city.make_cooperative("KSM"), city.make_cooperative("KPP")
    ksm_admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    ksm_members = [city.make_member(ksm) for _ in range(3)]
    kpp_members = [city.make_member(kpp) for _ in range(3)]
    for member in ksm_members:
        assert city.cash_in(ksm_admin, member, 500_000).status_code == 201
    for member in kpp_members:
        assert city.cash_in(kpp_admin, member, 500_000).status_code == 201
    return ksm, kpp, ksm_members, kpp_members, city.make_merchant(ksm), city.make_merchant(kpp)


def test_monthly_figures_are_the_ledgers_by_jakarta_month(app, city):
    with at(city, MID_JANUARY):
        ksm, kpp, ksm_members, kpp_members, ksm_shop, kpp_shop = two_cooperatives(city)
        observer = city.make_staff("observer")
        for member, amount in zip(ksm_members, (10_000, 20_000, 30_000), strict=True):
            pay(city, member, ksm_shop, amount)
        pay(city, ksm_members[0], kpp_shop, 5_000)  # cross-cooperative, at KPP
        for member in kpp_members:
            pay(city, member, kpp_shop, 7_000)
    with at(city, FIRST_OF_FEBRUARY_IN_JAKARTA):
        # 00:30 on 1 February in Jakarta: February's, though UTC still says 31 January.
        for member in ksm_members:
            pay(city, member, kpp_shop, 11_000)
        late_member = city.make_member(kpp)  # registered in February
    with at(city, MID_FEBRUARY):
        for member in kpp_members:
            pay(city, member, kpp_shop, 2_500)
        response = city.get(observer, f"{MONTHS}?from=2026-01&to=2026-02")
        assert response.status_code == 200, response.get_json()
        figures = response.get_json()

    assert figures["months"] == ["2026-01", "2026-02"]
    assert figures["timezone"] == "Asia/Jakarta"
    cells = by_code(figures)
    january, february = cells["KSM"]["2026-01"], cells["KPP"]["2026-02"]
    assert january == {
        "month": "2026-01",
        "members": 3,
        "active_members": 3,
        "payment_count": 3,
        "payment_volume": 60_000,
        "cross_cooperative_volume": 0,
        "cross_cooperative_share_bps": 0,
        "payments_withheld": False,
        "active_members_withheld": False,
    }
    assert cells["KPP"]["2026-01"]["payment_volume"] == 5_000 + 3 * 7_000
    assert cells["KPP"]["2026-01"]["cross_cooperative_volume"] == 5_000
    assert cells["KPP"]["2026-01"]["cross_cooperative_share_bps"] == 5_000 * 10_000 // 26_000
    assert february["payment_count"] == 6
    assert february["payment_volume"] == 3 * 11_000 + 3 * 2_500
    assert february["cross_cooperative_volume"] == 3 * 11_000
    assert february["members"] == 4 and cells["KPP"]["2026-01"]["members"] == 3
    assert cells["KSM"]["2026-02"]["active_members"] == 3  # paid at KPP: still KSM's active
    assert cells["KSM"]["2026-02"]["payment_count"] == 0
    assert late_member.id not in response.get_data(as_text=True)

    # Each figure is what the ledger's payment transfers of that Jakarta month add up to.
    for code, merchant in (("KSM", ksm_shop), ("KPP", kpp_shop)):
        for month, start, end in (
            ("2026-01", JANUARY_START, FEBRUARY_START),
            ("2026-02", FEBRUARY_START, MARCH_START),
        ):
            count, total = ledger_payments(app, [merchant], start, end)
            assert (cells[code][month]["payment_count"], cells[code][month]["payment_volume"]) == (
                count,
                total,
            ), (code, month)
            coop_id = ksm if code == "KSM" else kpp
            assert cells[code][month]["active_members"] == ledger_payers(app, coop_id, start, end)
    for month_index, month in enumerate(figures["months"]):
        line = figures["city"][month_index]
        assert line["payment_volume"] == sum(cells[c][month]["payment_volume"] for c in cells)
        assert line["members"] == sum(cells[c][month]["members"] for c in cells)
    assert figures["city"][1]["members"] == 7
    # Aggregates only: no id, name or phone of a person anywhere in a cell.
    for cooperative in figures["cooperatives"]:
        assert set(cooperative) == {"cooperative_id", "code", "name", "months"}
        for cell in cooperative["months"]:
            assert set(cell) == PUBLISHED_KEYS
    assert {*figures["city"][0]} == PUBLISHED_KEYS
    assert {ksm, kpp} == {c["cooperative_id"] for c in figures["cooperatives"]}


def test_small_counts_are_withheld_and_the_city_total_does_not_give_them_back(city):
    with at(city, MID_JANUARY):
        codes = {code: city.make_cooperative(code) for code in ("KSM", "KPP", "KAM")}
        admins = {code: city.make_admin(coop) for code, coop in codes.items()}
        shops = {code: city.make_merchant(coop) for code, coop in codes.items()}
        sizes = {"KSM": SMALL_COUNT_MIN, "KPP": 1, "KAM": SMALL_COUNT_MIN + 1}
        for code, size in sizes.items():
            for _ in range(size):
                member = city.make_member(codes[code])
                assert city.cash_in(admins[code], member, 100_000).status_code == 201
                pay(city, member, shops[code], 9_000)
        observer = city.make_staff("observer")
        figures = city.get(observer, f"{MONTHS}?from=2026-01&to=2026-01").get_json()

    cells = {code: months["2026-01"] for code, months in by_code(figures).items()}
    # KPP's one payer: withheld. KSM, the next smallest, too: else city minus KSM minus KAM
    # would give KPP's figure back.
    for code in ("KPP", "KSM"):
        assert cells[code]["payments_withheld"] and cells[code]["active_members_withheld"]
        assert all(cells[code][figure] is None for figure in PAYMENT_FIGURES)
        assert cells[code]["active_members"] is None
        assert cells[code]["members"] == sizes[code]  # how many are registered is no secret
    assert cells["KAM"]["payment_volume"] == 9_000 * (SMALL_COUNT_MIN + 1)
    assert cells["KAM"]["active_members"] == SMALL_COUNT_MIN + 1
    assert not cells["KAM"]["payments_withheld"]
    line = figures["city"][0]
    assert line["payment_volume"] == 9_000 * sum(sizes.values())
    assert line["active_members"] == sum(sizes.values())
    assert line["payment_volume"] - cells["KAM"]["payment_volume"] == 9_000 * 4  # two, not one

    # A month with activity in no cooperative withholds nothing, and shows zeros.
    with at(city, MID_FEBRUARY):
        quiet = city.get(observer, f"{MONTHS}?from=2026-02&to=2026-02").get_json()
    assert quiet["city"][0]["payment_volume"] == 0 and not quiet["city"][0]["payments_withheld"]


def test_a_city_of_one_or_two_payers_withholds_the_citys_line(city):
    with at(city, MID_JANUARY):
        coop = city.make_cooperative("KSM")
        admin = city.make_admin(coop)
        shop = city.make_merchant(coop)
        member = city.make_member(coop)
        assert city.cash_in(admin, member, 100_000).status_code == 201
        pay(city, member, shop, 4_000)
        observer = city.make_staff("observer")
        figures = city.get(observer, f"{MONTHS}?from=2026-01&to=2026-01").get_json()
    assert figures["city"][0]["payment_volume"] is None
    assert figures["city"][0]["payments_withheld"] is True
    assert figures["city"][0]["active_members"] is None
    assert figures["cooperatives"][0]["months"][0]["payment_volume"] is None


def test_only_observers_and_the_network_operator_read_the_city_figures(city):
    coop = city.make_cooperative("KSM")
    admin = city.make_admin(coop)
    member = city.make_member(coop)
    merchant = city.make_merchant(coop)
    for stranger in (admin, member, merchant):
        assert_problem(city.get(stranger, MONTHS), 403, "forbidden")
        assert_problem(city.get(stranger, f"{MONTHS}?format=xlsx"), 403, "forbidden")
    assert_problem(city.client.get(MONTHS), 401, "authentication-required")
    for staff in (city.make_staff("observer"), city.make_staff("network_admin")):
        response = city.get(staff, MONTHS)
        assert response.status_code == 200, response.get_json()
        assert len(response.get_json()["months"]) == 12  # the last twelve, this one included


def test_bad_months_are_refused_with_a_problem(city):
    observer = city.make_staff("observer")
    for query in (
        "from=2026-13",
        "from=26-01",
        "to=2026-1",
        "from=1999-12",
        "to=2101-01",
        "from=2026-03&to=2026-02",
        "from=2020-01&to=2026-12",  # 84 months
        "from=%00",
    ):
        problem = assert_problem(city.get(observer, f"{MONTHS}?{query}"), 422, "validation-failed")
        assert problem["detail"]
    assert_problem(city.get(observer, f"{MONTHS}?format=pdf"), 422, "validation-failed")
    assert city.get(observer, f"{MONTHS}?from=2024-01&to=2026-12").status_code == 200  # 36


def test_csv_and_xlsx_carry_the_same_numbers(city):
    with at(city, MID_JANUARY):
        ksm, kpp, ksm_members, kpp_members, ksm_shop, kpp_shop = two_cooperatives(city)
        for member in ksm_members:
            pay(city, member, kpp_shop, 12_345)
        for member in kpp_members:
            pay(city, member, kpp_shop, 1_000)
        observer = city.make_staff("observer")
        query = f"{MONTHS}?from=2026-01&to=2026-02"
        figures = city.get(observer, query).get_json()
        as_csv = city.get(observer, f"{query}&format=csv")
        as_xlsx = city.client.get(
            query,
            headers={
                **city.headers(observer),
                "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            },
        )
    kpp_january = by_code(figures)["KPP"]["2026-01"]
    assert kpp_january["payment_volume"] == 3 * 12_345 + 3 * 1_000

    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert 'filename="kota-2026-01-2026-02.csv"' in as_csv.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    kpp_row = next(row for row in rows if row[:3] == ["KPP", "Koperasi KPP", "2026-01"])
    assert kpp_row[3:9] == ["3", "3", "6", str(3 * 12_345 + 3_000), str(3 * 12_345), "9250"]

    assert as_xlsx.status_code == 200, as_xlsx.get_data(as_text=True)[:300]
    book = openpyxl.load_workbook(io.BytesIO(as_xlsx.get_data()))
    assert book.sheetnames == ["Kota", "Koperasi"]
    sheet = book["Koperasi"]
    found = next(
        r for r in sheet.iter_rows(min_row=2) if r[0].value == "KPP" and r[2].value == "2026-01"
    )
    volume = found[6]
    assert volume.value == 3 * 12_345 + 3_000 and isinstance(volume.value, int)
    assert volume.number_format == RUPIAH_FORMAT
    assert sheet.freeze_panes == "A2"
    city_sheet = book["Kota"]
    assert [c.value for c in city_sheet[2]][:5] == ["2026-01", 6, 6, 6, 3 * 12_345 + 3_000]
