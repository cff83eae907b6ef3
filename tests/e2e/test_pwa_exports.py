"""Excel out of the PWA, in a real browser: the merchant's takings card downloads the shown day's
month ("Unduh Excel · Desember 2026"), the member's history downloads the mutasi. Each file is
read back with openpyxl and compared with what the gateway's API says. Screenshots:
tests/e2e/screenshots/exports-*.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import openpyxl

from e2e.pwa_helpers import log_in, screenshot
from gateway.limits import JAKARTA


def pay_sticker(gateway, merchant: dict, payer: dict, amount: int) -> dict:
    _, sticker = gateway.call(
        "GET", f"/api/v1/merchants/{merchant['id']}/static-qr", token=gateway.login(merchant)
    )
    status, paid = gateway.money(
        "/api/v1/payments",
        {"token": sticker["token"], "amount": amount, "pin": payer["pin"]},
        gateway.login(payer),
    )
    assert status == 201, paid
    return paid


def downloaded_book(page, selector: str) -> tuple[str, openpyxl.Workbook]:
    """Press the download button and return the file's name and workbook."""
    with page.expect_download() as caught:
        page.click(selector)
    download = caught.value
    with open(download.path(), "rb") as file:
        return download.suggested_filename, openpyxl.load_workbook(io.BytesIO(file.read()))


def month_name(page, day: str) -> str:
    return page.evaluate(
        "async (day) => (await import('/scripts/when.js')).formatMonth(day, 'id')", day
    )


def test_the_takings_card_downloads_the_month_as_the_gateway_counts_it(page, gateway):
    shop = gateway.new_merchant(kind="shop", category="small", name="Warung Uji Excel")
    dewi = gateway.new_member(balance=100_000, name="Dewi Excel")
    pay_sticker(gateway, shop, dewi, 27_500)
    pay_sticker(gateway, shop, dewi, 10_000)
    today = datetime.now(JAKARTA).date()

    log_in(page, shop)
    page.wait_for_selector(".takings:not([aria-busy])")
    button = page.locator(".takings-month-file button")
    assert button.inner_text() == f"Unduh Excel · {month_name(page, today.isoformat())}"
    page.wait_for_selector(".takings:not([aria-busy])")  # the feed's arrivals ask again
    screenshot(page, "exports-1-takings-month-button")
    name, book = downloaded_book(page, ".takings-month-file button")
    assert name == f"bulan-{today:%Y-%m}.xlsx"
    status, month = gateway.call(
        "GET",
        f"/api/v1/merchants/{shop['id']}/month?month={today:%Y-%m}",
        token=gateway.login(shop),
    )
    assert status == 200, month
    daily = book["Harian - Daily"]
    header = [cell.value for cell in daily[1]]
    rows = [dict(zip(header, row, strict=True)) for row in daily.iter_rows(min_row=2)]
    (shown_day,) = [
        r for r in rows if r["Tanggal / Date"].value == datetime(*today.timetuple()[:3])
    ]
    assert shown_day["Penjualan / Gross"].value == 37_500
    assert shown_day["Transaksi / Payments"].value == 2
    assert rows[-1]["Bersih / Net"].value == month["totals"]["net"]
    assert "Rp" in shown_day["Penjualan / Gross"].number_format
    assert book["Jumlah - Total"]["A2"].value == "Warung Uji Excel"

    # The day before names its own month (another one on the first of a month).
    page.click(".takings-previous")
    page.wait_for_selector(".takings:not([aria-busy])")
    yesterday = (today - timedelta(days=1)).isoformat()
    assert button.inner_text() == f"Unduh Excel · {month_name(page, yesterday)}"


def test_the_history_downloads_the_mutasi_from_the_opening_to_the_ledgers_balance(page, gateway):
    shop = gateway.new_merchant(kind="shop", name="Warung Uji Mutasi")
    siti = gateway.new_member(balance=80_000, name="Siti Mutasi")
    pay_sticker(gateway, shop, siti, 12_500)

    log_in(page, siti)
    page.click(".member-home .actions button:has-text('Riwayat')")
    page.locator(".history .statement-row").first.wait_for()
    assert page.inner_text(".history-file button") == "Unduh mutasi (Excel)"
    screenshot(page, "exports-2-history-mutasi-button")
    name, book = downloaded_book(page, ".history-file button")
    assert name == f"mutasi-{siti['id']}.xlsx"
    sheet = book["Mutasi"]
    header = [cell.value for cell in sheet[1]]
    rows = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert [r["Jenis / Kind"].value for r in rows] == [
        "Saldo awal / Opening balance",
        "Setor tunai / Cash in",
        "Pembayaran / Payment",
        "Saldo akhir / Closing balance",
    ]
    assert [r["Saldo / Balance"].value for r in rows] == [0, 80_000, 67_500, 67_500]
    status, wallet = gateway.call(
        "GET", f"/api/v1/members/{siti['id']}/wallet", token=gateway.login(siti)
    )
    assert status == 200 and wallet["balance"] == rows[-1]["Saldo / Balance"].value
    assert rows[2]["Keterangan / Description"].value.startswith("Warung Uji Mutasi (")
