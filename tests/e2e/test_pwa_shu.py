"""SHU in a real browser: a cooperative admin sets the AD/ART's split, imports the members'
savings (a bad row is told by its row and column), simulates a year's SHU for a pool, downloads
it as XLSX, saves the run for the RAT and approves it, after which it is locked."""

from __future__ import annotations

import io
import time

import openpyxl

from e2e.pwa_helpers import log_in, screenshot

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NAVIGATE_TO_SHU = """() => document.querySelector('.app-main').dispatchEvent(
  new CustomEvent('navigate', {bubbles: true, detail: {screen: 'shu', params: {}}}))"""


def savings_file(*rows: str) -> dict:
    text = "\r\n".join(["nomor_hp;simpanan_pokok;simpanan_wajib;simpanan_sukarela", *rows]) + "\r\n"
    return {"name": "simpanan-2025.csv", "mimeType": "text/csv", "buffer": text.encode()}


def local(person: dict) -> str:
    return "0" + person["phone"].removeprefix("+62")


def downloaded_workbook(page, selector: str):
    with page.expect_download() as info:
        page.click(selector)
    with open(info.value.path(), "rb") as file:
        return openpyxl.load_workbook(io.BytesIO(file.read()))


def test_an_admin_simulates_approves_and_downloads_the_years_shu(page, gateway):
    """KAM's rules 70/30; the RAT gives members Rp 1.000.001 of 2025's SHU: jasa usaha 700.001
    (70% is 700.000,7 and takes the left-over rupiah), jasa modal 300.000. Nobody paid through the
    gateway in 2025, so jasa usaha is not shared and the screen says so. Savings: Sri 100.000,
    Tono 250.000 (total 350.000): 300.000 × 100/350 = 85.714,29 and × 250/350 = 214.285,71;
    the rupiah left goes to Tono: 85.714 and 214.286."""
    admin = gateway.admin("KAM")
    sri = gateway.new_member("KAM", name="Sri Rahayu Lestari")
    tono = gateway.new_member("KAM", name="Tono Wibisono")
    log_in(page, admin)
    page.evaluate(NAVIGATE_TO_SHU)
    page.wait_for_selector(".shu-screen")
    page.fill(".shu-screen input[name=year]", "2025")

    # The rules: loaded from the gateway (60/40 by default); a split that is not 100% is refused.
    jasa_usaha = page.locator(".shu-policy input[name=jasa_usaha_bps]")
    assert _eventually(lambda: jasa_usaha.input_value() == "60")
    jasa_usaha.fill("70")
    page.fill(".shu-policy input[name=jasa_modal_bps]", "20")
    page.click(".shu-policy button[type=submit]")
    assert (
        page.inner_text(".shu-policy .problem") == "Jasa usaha dan jasa modal harus berjumlah 100%."
    )
    page.fill(".shu-policy input[name=jasa_modal_bps]", "30")
    page.click(".shu-policy button[type=submit]")
    page.wait_for_selector(".shu-saved:has-text('Aturan tersimpan.')")
    token = gateway.login(admin)
    base = f"/api/v1/cooperatives/{admin['cooperative_id']}/shu"
    status, policy = gateway.call("GET", f"{base}/policy", token=token)
    assert (status, policy["jasa_usaha_bps"], policy["jasa_modal_bps"]) == (200, 7_000, 3_000)

    # Savings: a file with a stranger's phone is checked, told row by row, and not saved.
    page.set_input_files(
        ".shu-savings input[type=file]",
        savings_file(f"{local(sri)};100.000;0;0", "0899 1111 2222;5;0;0", f"{local(tono)};1;0;0"),
    )
    page.click(".shu-savings .shu-import")
    page.wait_for_selector(".shu-savings .problem:not([hidden])")
    assert "Baris 3, kolom nomor_hp" in page.inner_text(".shu-import-errors")
    screenshot(page, "shu-1-bad-savings-row")
    status, savings = gateway.call("GET", f"{base}/savings?year=2025", token=token)
    assert (status, savings["members"]) == (200, 0)
    page.set_input_files(
        ".shu-savings input[type=file]",
        savings_file(f"{local(sri)};100.000;0;0", f"{local(tono)};100.000;150.000;0"),
    )
    page.click(".shu-savings .shu-check")
    page.wait_for_selector(".shu-import-report:has-text('2 baris benar, 0 baris salah')")
    page.click(".shu-savings .shu-import")
    page.wait_for_selector(".shu-import-report:has-text('Tersimpan: simpanan 2 anggota')")

    # The simulation: the table, the part not shared, the XLSX.
    page.fill(".shu-simulate input[name=pool]", "1.000.001")
    page.click(".shu-simulate button[type=submit]")
    page.wait_for_selector(".shu-table")
    rows = {
        cells[0]: cells[1:]
        for cells in (
            row.locator("td").all_inner_texts() for row in page.locator(".shu-table tbody tr").all()
        )
    }
    assert rows["Sri Rahayu Lestari"] == ["Rp 0", "Rp 85.714", "Rp 85.714"]
    assert rows["Tono Wibisono"] == ["Rp 0", "Rp 214.286", "Rp 214.286"]
    assert page.locator(".shu-table tfoot th").all_inner_texts() == [
        "Jumlah",
        "Rp 0",
        "Rp 300.000",
        "Rp 300.000",
    ]
    assert "Tidak dibagikan: Rp 700.001" in page.inner_text(".shu-undistributed")
    assert "Ini simulasi" in page.inner_text(".shu-simulated")
    page.locator(".shu-table").scroll_into_view_if_needed()
    screenshot(page, "shu-2-simulation")
    workbook = downloaded_workbook(page, ".shu-simulated .shu-download")
    sheet = workbook["SHU anggota"]
    headers = [cell.value for cell in sheet[1]]
    tono_row = next(row for row in sheet.iter_rows(min_row=2) if row[1].value == "Tono Wibisono")
    share = tono_row[headers.index("SHU anggota / Member's SHU")]
    assert (share.value, share.data_type) == (214_286, "n")
    status, runs = gateway.call("GET", f"{base}/runs", token=token)
    assert runs["items"] == []  # the simulation saved nothing

    # Saved for the RAT, then approved: locked.
    page.click(".shu-prepare")
    page.wait_for_selector(".shu-run.draft")
    page.fill(".shu-run input[name=rat_date]", "2026-03-14")
    page.fill(".shu-run input[name=rat_reference]", "05/RAT-KAM/2026")
    page.click(".shu-approve")
    page.wait_for_selector(".shu-run.approved")
    assert "Terkunci" in page.inner_text(".shu-run-status")
    assert page.locator(".shu-approve").count() == 0
    page.locator(".shu-run").scroll_into_view_if_needed()
    screenshot(page, "shu-3-approved")
    workbook = downloaded_workbook(page, ".shu-run .shu-download")
    notes = [row[3].value for row in workbook["Ringkasan"].iter_rows(min_row=2)]
    assert "05/RAT-KAM/2026" in notes and "approved" in notes

    page.click(".language-button")
    page.wait_for_selector(".shu-run.approved:has-text('Locked')")
    status, runs = gateway.call("GET", f"{base}/runs", token=token)
    (run,) = runs["items"]
    assert (run["status"], run["rat_reference"]) == ("approved", "05/RAT-KAM/2026")
    status, again = gateway.call(
        "POST",
        f"{base}/runs/{run['id']}/approve",
        {"rat_date": "2026-03-14", "rat_reference": "06/RAT"},
        token=token,
    )
    assert status == 409 and again["type"].endswith("/shu-run-locked")


def _eventually(check, timeout_seconds: float = 10) -> bool:
    """Poll `check` (the app's CSP forbids the string that page.wait_for_function evaluates)."""
    deadline = time.monotonic() + timeout_seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
