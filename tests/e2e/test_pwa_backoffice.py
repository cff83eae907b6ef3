"""The back office in a real browser at 360×740: the city office's figures as charts with tables
and an XLSX export, the network operator's settlement windows (close, verify the seal, positions
and pairs, mark settled, the statement as a file) and fee rules, and the cooperative admin's
report with links only to the screens the app has. Every figure on a screen is checked against
the gateway's own answer for the same question. Screenshots: tests/e2e/screenshots/backoffice-*.
"""

from __future__ import annotations

import csv
import io
import re
import urllib.request
from datetime import datetime
from pathlib import Path

import openpyxl

from e2e.pwa_helpers import screenshot
from gateway.limits import JAKARTA

HOMES = ".member-home, .merchant-home, .counter-desk, .observer-home, .operator-home"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GROUPS = re.compile(r"\B(?=(\d{3})+(?!\d))")


def rupiah(amount: int) -> str:
    return ("-" if amount < 0 else "") + "Rp " + GROUPS.sub(".", str(abs(amount)))


def count(value: int) -> str:
    return GROUPS.sub(".", str(value))


def log_in(page, person: dict) -> None:
    page.goto("/")
    page.fill("input[name=phone]", person["phone"])
    page.fill("input[name=pin]", person["pin"])
    page.click(".login-screen button[type=submit]")
    page.wait_for_selector(HOMES)


def staff(gateway, role: str) -> dict:
    return next(admin for admin in gateway.city["admins"] if admin["role"] == role)


def pay_sticker(gateway, merchant: dict, payer: dict, amount: int) -> None:
    _, sticker = gateway.call(
        "GET", f"/api/v1/merchants/{merchant['id']}/static-qr", token=gateway.login(merchant)
    )
    status, paid = gateway.money(
        "/api/v1/payments",
        {"token": sticker["token"], "amount": amount, "pin": payer["pin"]},
        gateway.login(payer),
    )
    assert status == 201, paid


def fetch_file(gateway, path: str, token: str) -> tuple[str, bytes]:
    """GET a report as a file from the live gateway: its media type and bytes."""
    request = urllib.request.Request(
        gateway.url + path, headers={"Authorization": f"Bearer {token}", "Accept": "*/*"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers.get_content_type(), response.read()


def fits_the_phone(page) -> None:
    """Nothing is wider than the 360-pixel screen (no sideways scrolling of the page)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    wide = page.evaluate(
        "() => [...document.querySelectorAll('body *')]"
        ".filter((e) => e.getBoundingClientRect().right > 361)"
        ".map((e) => `${e.tagName}.${e.getAttribute('class')}`).slice(0, 8)"
    )
    assert width <= 360, (width, wide)


def downloaded(page, selector: str):
    with page.expect_download() as info:
        page.click(selector)
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_the_observer_sees_the_city_by_month_as_charts_with_tables_and_takes_xlsx(page, gateway):
    shop = gateway.new_merchant("KPP", name="Warung Uji Kota")
    for amount in (12_000, 8_500, 30_000):
        pay_sticker(gateway, shop, gateway.new_member("KSM", balance=50_000), amount)
    taxi = gateway.new_merchant("KTS", kind="taxi", name="Taksi Uji Kota")
    for _ in range(3):
        pay_sticker(gateway, taxi, gateway.new_member("KTS", balance=50_000), 25_000)
    # One payer at an angkot of KAM: withheld (unless other tests' fares this month are more).
    angkot = gateway.new_merchant("KAM", kind="angkot", name="Angkot Uji Kota")
    pay_sticker(gateway, angkot, gateway.new_member("KAM", balance=10_000), 4_000)
    observer = staff(gateway, "observer")
    _, figures = gateway.call("GET", "/api/v1/observer/months", token=gateway.login(observer))
    this_month = datetime.now(JAKARTA).strftime("%Y-%m")
    assert figures["months"][-1] == this_month and len(figures["months"]) == 12

    log_in(page, observer)
    home = page.locator(".observer-home")
    home.wait_for()
    page.wait_for_selector(".observer-home .city-figure .bar-chart")
    assert page.inner_text(".observer-home h1") == "Angka koperasi kota"
    assert page.locator(".role-button").is_hidden()  # one role: nothing to switch to
    fits_the_phone(page)
    screenshot(page, "backoffice-1-observer")

    def last_row(figure: str) -> str:
        return page.locator(f"{figure} .data-table tbody tr").last.locator("td").inner_text()

    def shown(value, format_) -> str:
        return "– ditahan" if value is None else format_(value)

    # Volume first: the city's and each cooperative's last month, as the gateway has them.
    city_now = figures["city"][-1]
    assert city_now["payment_volume"] >= 50_500
    assert last_row(".city-figure") == shown(city_now["payment_volume"], rupiah)
    rows = page.locator(".city-figure .data-table tbody tr")
    assert rows.count() == 12
    chart = page.locator(".city-figure .bar-chart")
    assert chart.get_attribute("role") == "img"
    assert rupiah(city_now["payment_volume"]) in chart.locator("desc").text_content()
    for cooperative in figures["cooperatives"]:
        figure = f".cooperative-{cooperative['code']}"
        assert page.inner_text(f"{figure} h2") == cooperative["name"]
        assert last_row(figure) == shown(cooperative["months"][-1]["payment_volume"], rupiah)
        withheld = cooperative["months"][-1]["payments_withheld"]
        assert page.locator(f"{figure} .bar-chart-withheld").count() == (1 if withheld else 0)
    # Withheld where the gateway withholds, and never drawn as a number.
    for cooperative in figures["cooperatives"]:
        if cooperative["months"][-1]["payments_withheld"]:
            assert last_row(f".cooperative-{cooperative['code']}") == "– ditahan"
    assert any(c["months"][-1]["payments_withheld"] for c in figures["cooperatives"]) == (
        page.locator(".bar-chart-withheld").count() > 0
    )

    # Another figure: the same charts and tables redrawn from the same answer.
    page.click(".metric-active_members")
    assert page.get_attribute(".metric-active_members", "aria-pressed") == "true"
    assert last_row(".city-figure") == shown(city_now["active_members"], count)
    page.click(".metric-cross_cooperative_share_bps")
    for cooperative in figures["cooperatives"]:
        assert last_row(f".cooperative-{cooperative['code']}") == shown(
            cooperative["months"][-1]["cross_cooperative_share_bps"],
            lambda bps: f"{(bps + 5) // 10 // 10},{(bps + 5) // 10 % 10}%",  # half up
        )
    page.locator(".cooperative-KAM").scroll_into_view_if_needed()  # one payer: withheld
    screenshot(page, "backoffice-2-observer-cross-share")

    # In English, the same numbers.
    page.click(".language-button")
    page.wait_for_selector('.observer-home h1:has-text("The city\'s cooperative figures")')
    page.wait_for_selector(".city-figure .bar-chart")
    assert page.get_attribute(".metric-cross_cooperative_share_bps", "aria-pressed") == "true"
    page.click(".language-button")
    page.wait_for_selector(".observer-home h1:has-text('Angka koperasi kota')")

    # The XLSX carries the numbers the screen showed.
    name, body = downloaded(page, ".observer-home .download-xlsx")
    assert name == f"kota-{figures['from']}-{figures['to']}.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["Kota", "Koperasi"]
    last = [cell.value for cell in book["Kota"][13]]
    assert last[0] == this_month
    assert last[4] == city_now["payment_volume"]
    assert last[1] == city_now["members"]


def test_the_operator_closes_verifies_and_settles_a_window_and_takes_its_statement(page, gateway):
    # A cash-in and a payment across cooperatives: the open window has a line and a pair.
    payer = gateway.new_member("KAM", balance=40_000)
    pay_sticker(gateway, gateway.new_merchant("KTS", category="small"), payer, 15_000)
    operator = staff(gateway, "network_admin")
    token = gateway.login(operator)

    log_in(page, operator)
    page.wait_for_selector(".operator-home .settlement-window")
    assert page.inner_text(".operator-home h1") == "Operator jaringan"
    built_in = page.locator(".fee-rule", has_text="Bawaan gateway")
    built_in.wait_for()
    lines = built_in.inner_text()
    assert "0,30% (gratis s.d. Rp 500.000)" in lines and "35% / 50% / 15%" in lines
    fits_the_phone(page)
    screenshot(page, "backoffice-3-operator-windows")

    page.click(".close-action button")
    assert "Tutup jendela yang terbuka?" in page.inner_text(".close-action .confirm-question")
    page.click(".close-action .confirm-yes")
    opened = page.locator(".settlement-window[open]")
    opened.wait_for()
    window_id = opened.get_attribute("data-window")
    _, window = gateway.call("GET", f"/api/v1/settlement/windows/{window_id}", token=token)
    assert window["status"] == "closed"
    assert opened.locator(".window-status").inner_text() == "Ditutup"
    assert opened.locator(".window-transfers").inner_text() == count(window["transfer_count"])
    assert window["digest"] in opened.locator(".window-digest").inner_text()

    # Each cooperative's line, as the statement has it.
    rows = opened.locator(".positions-table tbody tr")
    assert rows.count() == len(window["positions"])
    for index, line in enumerate(window["positions"]):
        cells = rows.nth(index).locator("td")
        assert line["code"] in rows.nth(index).locator("th").inner_text()
        assert cells.nth(0).inner_text() == (rupiah(line["pays"]) if line["pays"] else "–")
        assert cells.nth(1).inner_text() == (rupiah(line["receives"]) if line["receives"] else "–")
    pair_rows = opened.locator(".pairs-table tbody tr")
    assert pair_rows.count() == len(window["pairs"]) >= 1
    for index, pair in enumerate(window["pairs"]):
        row = pair_rows.nth(index)
        assert (
            row.locator("th")
            .inner_text()
            .startswith(f"{pair['issuer_code']} → {pair['acquirer_code']}")
        )
        assert row.locator("td").inner_text() == rupiah(pair["gross"])
        fees = pair["fee_issuer"] + pair["fee_acquirer"] + pair["fee_network"]
        assert (
            row.locator(".pair-detail")
            .inner_text()
            .startswith(f"{count(pair['count'])} pembayaran · Biaya {rupiah(fees)}")
        )

    opened.locator(".verify-button").click()
    verdict = opened.locator(".seal-verdict.ok")
    verdict.wait_for()
    assert verdict.inner_text() == (
        f"Segel cocok: {count(window['transfer_count'])} transfer tidak berubah sejak ditutup."
    )
    screenshot(page, "backoffice-4-operator-sealed")

    # The statement as CSV now; as XLSX where the gateway writes it (the xlsx branch adds it).
    name, body = downloaded(page, f".settlement-window[data-window='{window_id}'] .download-csv")
    assert name == f"{window_id}.csv"
    assert f"position,{window_id}," in body.decode()
    media_type, _ = fetch_file(
        gateway, f"/api/v1/settlement/windows/{window_id}?format=xlsx", token
    )
    if media_type == XLSX:
        name, body = downloaded(
            page, f".settlement-window[data-window='{window_id}'] .download-xlsx"
        )
        assert name == f"{window_id}.xlsx" and body[:2] == b"PK"
    else:
        opened.locator(".download-xlsx").click()
        status_line = opened.locator(".download-status")
        status_line.filter(has_text="belum bisa memberi XLSX").wait_for()

    opened.locator(".settle-action button").click()
    assert (
        "Transfer penyelesaian ditulis sekali" in opened.locator(".confirm-question").inner_text()
    )
    opened.locator(".settle-action .confirm-yes").click()
    settled = page.locator(f".settlement-window[data-window='{window_id}'] .status-settled")
    settled.wait_for()
    assert settled.inner_text() == "Lunas"
    _, window = gateway.call("GET", f"/api/v1/settlement/windows/{window_id}", token=token)
    assert window["status"] == "settled"
    assert (
        page.locator(f".settlement-window[data-window='{window_id}'] .settle-action").count() == 0
    )
    assert gateway.ledger_problems() == []
    screenshot(page, "backoffice-5-operator-settled")


def test_the_operator_sets_a_pairs_fee_rule_and_a_bad_one_changes_nothing(page, gateway):
    operator = staff(gateway, "network_admin")
    token = gateway.login(operator)
    codes = {
        c["code"]: c["id"]
        for c in gateway.call("GET", "/api/v1/cooperatives", token=token)[1]["items"]
    }
    log_in(page, operator)
    form = page.locator(".fee-form")
    form.wait_for()
    # The form starts from the rule in force; this pair gets the same rates with a fee cap far
    # above any fee the other tests pay, so their fees stay as they expect.
    form.locator("select[name=issuer]").select_option(codes["KTS"])
    form.locator("select[name=acquirer]").select_option(codes["KAM"])
    form.locator("input[name=split_network_bps]").fill("1600")  # 3500 + 5000 + 1600 ≠ 10000
    form.locator("button[type=submit]").click()
    problem = form.locator(".problem")
    problem.wait_for()
    assert problem.inner_text()
    _, schedules = gateway.call("GET", "/api/v1/fee-schedules", token=token)
    assert not [s for s in schedules["items"] if s["issuer_cooperative_id"] == codes["KTS"]]

    form.locator("input[name=split_network_bps]").fill("1500")
    form.locator("input[name=fee_max]").fill("1000000000")
    form.locator("button[type=submit]").click()
    card = page.locator(".fee-rule", has_text="KTS → KAM")
    card.wait_for()
    assert "Rp 0 – Rp 1.000.000.000" in card.inner_text()
    page.wait_for_selector(".fee-saved:has-text('Aturan disimpan.')")
    _, schedules = gateway.call("GET", "/api/v1/fee-schedules", token=token)
    (rule,) = [s["rule"] for s in schedules["items"] if s["issuer_cooperative_id"] == codes["KTS"]]
    assert rule["fee_max"] == 1_000_000_000
    assert rule["categories"]["micro"] == schedules["built_in_default"]["categories"]["micro"]
    assert (rule["split_issuer_bps"], rule["split_network_bps"]) == (3_500, 1_500)
    card.scroll_into_view_if_needed()
    screenshot(page, "backoffice-7-operator-fee-rule")


def test_the_cooperative_admin_reads_the_report_and_is_offered_only_screens_the_app_has(
    page, gateway
):
    admin = gateway.admin("KPP")
    shop = gateway.new_merchant("KPP", name="Kios Uji Laporan", category="small")  # 0,70%
    pay_sticker(gateway, shop, gateway.new_member("KSM", balance=30_000), 21_000)
    today = datetime.now(JAKARTA).date()
    first = today.replace(day=1)
    _, report = gateway.call(
        "GET",
        f"/api/v1/cooperatives/{admin['cooperative_id']}/report?from={first}&to={today}",
        token=gateway.login(admin),
    )

    log_in(page, admin)
    page.wait_for_selector(".counter-desk")
    assert page.inner_text(".role-button") == "Laporan"  # the counter's teller is its admin too
    page.click(".role-button")
    page.wait_for_selector(".coop-admin-home .fee-income-table")
    assert page.inner_text(".coop-admin-home h1") == "Laporan koperasi"
    assert page.inner_text(".coop-admin-cooperative") == "Koperasi Pedagang Pasar Baru"
    assert page.input_value(".coop-admin-home input[name=from]") == first.isoformat()
    assert page.inner_text(".fee-income-total") == rupiah(report["fee_income_total"])
    partners = page.locator(".fee-income-table tbody tr")
    assert partners.count() == max(len(report["fee_income_by_partner"]), 1)
    # The payer's cooperative, by id: other tests' payments may have made other partners too.
    ksm_id = gateway.admin("KSM")["cooperative_id"]
    (ksm,) = [r for r in report["fee_income_by_partner"] if r["partner_cooperative_id"] == ksm_id]
    assert ksm["as_acquirer"] >= 74  # 21.000 at 0,70% is 147, half of it KPP's as acquirer
    ksm_row = page.locator(".fee-income-table tbody tr", has_text="KSM")
    assert ksm_row.locator("td").last.inner_text() == rupiah(ksm["total"])
    sides = ksm_row.locator(".fee-income-sides").inner_text()
    assert rupiah(ksm["as_issuer"]) in sides and rupiah(ksm["as_acquirer"]) in sides
    volume = page.locator(".volume-table tbody tr")
    received = report["payments_received_by_merchants"]["cross_cooperative"]
    assert received["volume"] >= 21_000
    assert volume.nth(2).locator("td").nth(1).inner_text() == rupiah(received["volume"])
    cash = page.locator(".counter-cash-table tbody tr")
    own_in = report["counter"]["cash_in"]["own_members"]
    assert cash.nth(0).locator("td").nth(0).inner_text() == count(own_in["count"])
    assert cash.nth(0).locator("td").nth(1).inner_text() == rupiah(own_in["amount"])
    fits_the_phone(page)
    screenshot(page, "backoffice-6-coop-admin-report")

    # A link for each of import, SHU and shift exactly where the app has that screen.
    known = page.evaluate("async () => (await import('/scripts/App.js')).SCREEN_NAMES")
    assert {"counter", "coop-admin", "observer", "operator"} <= set(known)
    for screen in ("import", "shu", "shift"):
        link = page.locator(f".coop-links .link-{screen}")
        assert link.count() == (1 if screen in known else 0), screen
    offered = [s for s in ("import", "shu", "shift") if s in known]
    if offered:
        page.click(f".coop-links .link-{offered[0]}")
        page.wait_for_selector(f"main[data-screen='{offered[0]}']")
        page.go_back()
        page.wait_for_selector(".coop-admin-home")

    # The report as CSV (XLSX arrives with the xlsx branch; the button says so until then).
    name, body = downloaded(page, ".coop-admin-home .download-csv")
    assert name == "report-KPP.csv"
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert ["payments_received_by_merchants", "cross_cooperative"] in [row[:2] for row in rows]
    line = next(
        row for row in rows if row[:2] == ["payments_received_by_merchants", "cross_cooperative"]
    )
    assert line[3] == str(received["volume"])
    report_path = f"/api/v1/cooperatives/{admin['cooperative_id']}/report?from={first}&to={today}"
    media_type, _ = fetch_file(gateway, f"{report_path}&format=xlsx", gateway.login(admin))
    if media_type == XLSX:  # the xlsx branch writes it
        name, body = downloaded(page, ".coop-admin-home .download-xlsx")
        assert name.endswith(".xlsx")
        openpyxl.load_workbook(io.BytesIO(body))
    else:  # until then the screen says so, and saves no file that is not one
        page.click(".coop-admin-home .download-xlsx")
        page.locator(".coop-admin-home .download-status").filter(
            has_text="belum bisa memberi XLSX"
        ).wait_for()

    # The role button goes on to the counter again, and the report is Bahasa Indonesia first.
    page.click(".language-button")
    page.wait_for_selector(".coop-admin-home h1:has-text('Cooperative report')")
    assert page.inner_text(".volume-table caption") == "Payments"
    page.click(".language-button")
    page.click(".role-button")
    page.wait_for_selector(".counter-desk")
