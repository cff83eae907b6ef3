"""The counter in a real browser: a teller finds the member (by phone across the network, by name
in the own cooperative, by scanning the member's card), sees who it is before confirming, and
gets a proof to print; the member's history shows the cash with its date.

Figures (taps, seconds) are printed and written to tests/e2e/results/teller.json, never asserted
against a clock.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from e2e.pwa_helpers import log_in, screenshot, wait_for_image, write_qr_video

RESULTS = Path(__file__).resolve().parent / "results" / "teller.json"
KSM_NAME = "Koperasi Konsumen Sejahtera Mandiri"
KPP_NAME = "Koperasi Pedagang Pasar Baru"
figures: dict = {}
READ_CARD = """async () => {
  const { createDetector } = await import("/scripts/scanner.js");
  const image = document.querySelector(".member-card-qr");
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 640;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, 640, 640);
  context.drawImage(image, 0, 0, 640, 640);
  const found = await (await createDetector()).detect(context.getImageData(0, 0, 640, 640));
  return found[0]?.rawValue ?? null;
}"""


def record(name: str, value) -> None:
    """Print a figure and keep it in results/teller.json (merged with the figures already there)."""
    print(f"{name}: {value}")
    figures[name] = value
    RESULTS.parent.mkdir(exist_ok=True)
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**kept, **figures}, indent=2, sort_keys=True) + "\n")


def log_out(page) -> None:
    page.click(".logout-button")
    page.wait_for_selector(".login-screen")


def search(page, desk: str, typed: str) -> None:
    page.fill(f".{desk} input[name=query]", typed)
    page.click(f".{desk} .finder button[type=submit]")


def pdf_pages(page) -> int:
    """Print the page to PDF as the browser would, and count its pages."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", page.pdf(format="A4")))


def test_teller_finds_a_member_of_another_cooperative_by_phone_and_prints_the_proof(page, gateway):
    teller = gateway.admin("KPP")
    member = gateway.new_member("KSM", balance=20_000, name="Wulan Sekar Arum")
    log_in(page, teller)
    page.wait_for_selector(".counter-desk")
    screenshot(page, "teller-1-counter")
    taps = 0

    page.click(".counter-desk .cash-in summary")
    taps += 1
    # Typed the way people say it; the gateway normalises it as at login.
    typed = "0" + member["phone"].removeprefix("+62")
    started = time.monotonic()
    search(page, "cash-in", f"{typed[:4]}-{typed[4:8]}-{typed[8:]}")
    taps += 1
    row = page.locator(".cash-in .found-row")
    row.wait_for()
    record("search_by_phone_seconds", round(time.monotonic() - started, 3))
    assert row.count() == 1
    assert row.locator(".party-name").inner_text() == "Wulan Sekar Arum"
    assert row.locator(".party-cooperative").inner_text() == KSM_NAME
    detail = row.locator(".party-detail").inner_text()
    assert detail.startswith("Dasar · +62857") and "****" in detail  # the tier translated
    assert member["phone"] not in page.inner_text(".counter-desk")
    screenshot(page, "teller-2-found-by-phone")

    row.click()
    taps += 1
    page.wait_for_selector(".cash-in .party")
    assert page.inner_text(".cash-in .party .party-name") == "Wulan Sekar Arum"
    assert page.inner_text(".cash-in .party .party-cooperative") == KSM_NAME
    page.fill(".cash-in input[name=amount]", "50.000")
    screenshot(page, "teller-3-confirm")

    # The chosen member and the typed amount survive a language switch (the screen's params).
    page.click(".language-button")
    page.wait_for_selector(".cash-in .party:has-text('Wulan Sekar Arum')")
    assert page.input_value(".cash-in input[name=amount]") == "50.000"
    assert page.inner_text(".cash-in .cash-form button[type=submit]") == "Take the deposit"
    page.click(".language-button")
    page.wait_for_selector(".cash-in .cash-form button:has-text('Terima setoran')")

    started = time.monotonic()
    page.click(".cash-in .cash-form button[type=submit]")
    taps += 1
    proof = page.locator(".cash-in .counter-proof")
    proof.wait_for()
    record("confirm_to_proof_seconds", round(time.monotonic() - started, 3))
    record("taps_counter_to_cash_in_proof", taps)
    assert proof.locator(".proof-title").inner_text() == "Bukti setor tunai"
    assert proof.locator(".proof-name").inner_text() == "Wulan Sekar Arum"
    assert proof.locator(".proof-cooperative").inner_text() == KSM_NAME
    assert proof.locator(".proof-amount").inner_text() == "Rp 50.000"
    assert proof.locator(".proof-balance").inner_text() == "Rp 70.000"
    assert re.fullmatch(
        r"\d{1,2} \w{3} \d{4} \d{2}\.\d{2}", proof.locator(".proof-when").inner_text()
    )
    lines = proof.locator(".proof-lines").inner_text()
    assert KPP_NAME in lines and "Admin KPP" in lines and "evt_" in lines
    screenshot(page, "teller-4-cash-in-proof")

    # "Cetak bukti" asks the browser to print; printed, only the proof is on the page, on one.
    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    page.click(".cash-in .print-proof")
    assert page.get_attribute("body", "data-printed") == "yes"
    page.emulate_media(media="print")
    assert proof.is_visible()
    for hidden in (".app-header", ".counter-desk h1", ".cash-out summary", ".proof-actions"):
        assert not page.locator(hidden).first.is_visible(), hidden
    screenshot(page, "teller-5-proof-printed")
    pages = pdf_pages(page)
    record("proof_pdf_pages", pages)
    assert pages == 1
    page.emulate_media(media="screen")

    # The ledger agrees, and the member's history shows the cash-in with its date.
    status, statement = gateway.call(
        "GET", f"/api/v1/members/{member['id']}/statement", token=gateway.login(member)
    )
    assert status == 200
    newest = statement["items"][0]
    assert (newest["kind"], newest["amount"], newest["balance_after"]) == (
        "cash_in",
        50_000,
        70_000,
    )
    assert newest["counter"]["name"] == KPP_NAME
    assert gateway.ledger_problems() == []

    log_out(page)
    log_in(page, member)
    page.click(".member-home .actions button:has-text('Riwayat')")
    row = page.locator(".history .statement-row").first
    row.wait_for()
    assert row.locator(".statement-what").inner_text() == f"Setor tunai · {KPP_NAME}"
    assert row.locator(".statement-amount").inner_text() == "+Rp 50.000"
    assert row.locator(".statement-balance").inner_text() == "Saldo Rp 70.000"
    assert re.fullmatch(
        r"\d{1,2} \w{3} \d{4} \d{2}\.\d{2}", row.locator(".statement-when").inner_text()
    )
    opening = page.locator(".history .statement-row").nth(1)
    assert opening.locator(".statement-amount").inner_text() == "+Rp 20.000"
    assert opening.locator(".statement-balance").inner_text() == "Saldo Rp 20.000"
    screenshot(page, "teller-6-member-history")


def test_teller_finds_by_name_only_within_the_own_cooperative(page, gateway):
    own = gateway.new_member("KPP", name="Ratna Kencana Dewi")
    gateway.new_member("KSM", name="Ratna Kencana Sari")  # another cooperative's
    log_in(page, gateway.admin("KPP"))
    page.click(".counter-desk .cash-in summary")
    search(page, "cash-in", "ratna kencana")
    page.wait_for_selector(".cash-in .found-row")
    names = page.locator(".cash-in .found-row .party-name").all_inner_texts()
    assert names == ["Ratna Kencana Dewi"]
    assert page.inner_text(".cash-in .found-row .party-cooperative") == KPP_NAME
    screenshot(page, "teller-7-found-by-name")

    # The other cooperative's Ratna is found by phone or card, never by name: the note says so.
    search(page, "cash-in", "Kencana Sari")
    page.wait_for_selector(".cash-in .found-note:has-text('Tidak ditemukan')")
    assert page.locator(".cash-in .found-row").count() == 0
    assert "nomor HP atau kartunya" in page.inner_text(".cash-in .found-note")
    search(page, "cash-in", "ra")
    page.wait_for_selector(".cash-in .problem:visible")
    assert page.inner_text(".cash-in .problem") == "Ketik nomor HP, atau sedikitnya 3 huruf nama."
    screenshot(page, "teller-8-name-elsewhere")
    assert own["id"] not in page.inner_text(".counter-desk")  # nobody types or sees an id


def test_teller_scans_the_member_card_and_pays_cash_out_on_the_pin(page, gateway, camera_file):
    member = gateway.new_member("KSM", balance=100_000, name="Bayu Saputra")
    log_in(page, member)
    page.click(".member-home .card-button")
    wait_for_image(page, ".member-card-qr")
    assert page.inner_text(".member-card-name") == "Bayu Saputra"
    page.wait_for_selector(f".member-card-cooperative:has-text('{KSM_NAME}')")
    assert "PIN" in page.inner_text(".member-card-note")
    screenshot(page, "teller-9-member-card")

    # What the card's QR says, read from the image on the member's screen by the app's own
    # decoder; the teller's camera then sees that.
    card_text = page.evaluate(READ_CARD)
    assert card_text == f"interkop:member:{member['id']}"
    log_out(page)
    write_qr_video(camera_file, card_text)
    log_in(page, gateway.admin("KPP"))
    page.click(".counter-desk .cash-out summary")
    started = time.monotonic()
    page.click(".cash-out .scan-card")
    page.wait_for_selector(".cash-out .party", timeout=20_000)
    record("card_scan_to_member_seconds", round(time.monotonic() - started, 3))
    assert page.inner_text(".cash-out .party .party-name") == "Bayu Saputra"
    assert page.inner_text(".cash-out .party .party-cooperative") == KSM_NAME
    assert page.locator(".cash-out .finder-video").count() == 0  # the camera is off again
    screenshot(page, "teller-10-card-scanned")

    page.fill(".cash-out input[name=amount]", "30.000")
    page.fill(".cash-out input[name=pin]", "000000")
    page.click(".cash-out .cash-form button[type=submit]")
    page.wait_for_selector(".cash-out .problem:visible")
    assert page.locator(".cash-out .counter-proof").count() == 0
    page.fill(".cash-out input[name=pin]", member["pin"])
    page.click(".cash-out .cash-form button[type=submit]")
    proof = page.locator(".cash-out .counter-proof")
    proof.wait_for()
    assert proof.locator(".proof-title").inner_text() == "Bukti tarik tunai"
    assert proof.locator(".proof-name").inner_text() == "Bayu Saputra"
    assert proof.locator(".proof-amount").inner_text() == "Rp 30.000"
    assert proof.locator(".proof-balance").inner_text() == "Rp 70.000"
    screenshot(page, "teller-11-cash-out-proof")
    write_qr_video(camera_file, "nothing yet")
    assert gateway.ledger_problems() == []


def test_teller_pays_out_a_merchant_found_by_name(page, gateway):
    merchant = gateway.new_merchant("KPP", kind="shop", name="Warung Uji Pencairan")
    payer = gateway.new_member("KPP", balance=50_000)
    _, sticker = gateway.call(
        "GET", f"/api/v1/merchants/{merchant['id']}/static-qr", token=gateway.login(merchant)
    )
    status, paid = gateway.money(
        "/api/v1/payments",
        {"token": sticker["token"], "amount": 30_000, "pin": payer["pin"]},
        gateway.login(payer),
    )
    assert status == 201, paid

    log_in(page, gateway.admin("KPP"))
    assert page.inner_text(".counter-desk .payout summary") == "Pencairan ke merchant"
    page.click(".counter-desk .payout summary")
    search(page, "payout", "uji pencairan")
    page.click(".payout .found-row")
    page.wait_for_selector(".payout .party")
    assert page.inner_text(".payout .party .party-name") == "Warung Uji Pencairan"
    assert "Toko · Pemilik: " + merchant["owner_name"] in page.inner_text(".payout .party-detail")
    page.fill(".payout input[name=amount]", "20.000")
    page.click(".payout .cash-form button[type=submit]")
    proof = page.locator(".payout .counter-proof")
    proof.wait_for()
    assert proof.locator(".proof-title").inner_text() == "Bukti pencairan merchant"
    assert proof.locator(".proof-name").inner_text() == "Warung Uji Pencairan"
    assert proof.locator(".proof-amount").inner_text() == "Rp 20.000"
    _, day = gateway.call(
        "GET", f"/api/v1/merchants/{merchant['id']}/settlement", token=gateway.login(merchant)
    )
    assert proof.locator(".proof-balance").inner_text() == f"Rp {day['balance']:,}".replace(
        ",", "."
    )
    screenshot(page, "teller-12-payout-proof")

    # The registration forms' enum options are in the app's language; the values the API's.
    page.click(".counter-desk .register-merchant summary")
    kinds = page.locator(".register-merchant select[name=kind] option")
    assert kinds.all_inner_texts() == ["Toko", "Angkot", "Taksi", "Lainnya"]
    assert [kinds.nth(i).get_attribute("value") for i in range(4)] == [
        "shop",
        "angkot",
        "taxi",
        "other",
    ]
    categories = page.locator(".register-merchant select[name=category] option").all_inner_texts()
    assert categories == ["Mikro", "Kecil", "Reguler"]
    page.click(".language-button")
    page.wait_for_selector(".register-merchant[open]")
    assert page.locator(".register-member select[name=tier] option").all_text_contents() == [
        "Basic",
        "Verified",
    ]
    assert page.inner_text(".counter-desk .payout summary") == "Merchant payout"
    screenshot(page, "teller-13-register-merchant-en")

    # The payer's history: the payment to the merchant, which opens its receipt.
    page.click(".language-button")
    log_out(page)
    log_in(page, payer)
    page.click(".member-home .actions button:has-text('Riwayat')")
    row = page.locator(".history .statement-row.payment")
    assert row.locator(".statement-what").inner_text() == "Pembayaran · Warung Uji Pencairan"
    assert row.locator(".statement-amount").inner_text() == "-Rp 30.000"
    assert row.locator(".statement-balance").inner_text() == "Saldo Rp 20.000"
    row.locator("button").click()
    page.wait_for_selector(".receipt")
    assert page.inner_text(".receipt-merchant") == "Warung Uji Pencairan"
    assert page.inner_text(".receipt .amount-big") == "Rp 30.000"


def type_on_keypad(page, scope: str, keys: list[str]) -> None:
    for key in keys:
        page.click(f"{scope} .keypad-key[data-key='{key}']")


def test_a_teller_opens_a_shift_takes_cash_in_and_closes_with_a_difference(page, gateway):
    kasir = next(a for a in gateway.city["admins"] if a["name"] == "Kasir KSM")
    member = gateway.new_member("KSM", name="Sekar Ayu Lestari")
    log_in(page, kasir)
    # No shift yet: the desk asks for one, and shows no cash desk at all.
    page.wait_for_selector(".counter-desk .shift-required")
    assert page.locator(".counter-desk .cash-in").count() == 0
    screenshot(page, "teller-20-shift-required")

    page.click(".counter-desk .open-shift")
    page.wait_for_selector(".shift-screen .keypad")
    type_on_keypad(page, ".shift-screen", ["5", "0", "0", "000"])  # Rp 500.000 in the drawer
    assert page.inner_text(".shift-screen .keypad-amount") == "Rp 500.000"
    screenshot(page, "teller-21-shift-open")
    page.click(".shift-screen .open-shift")
    page.wait_for_selector(".counter-desk .shift-open")
    assert page.inner_text(".counter-desk .shift-expected") == "Rp 500.000"

    page.click(".counter-desk .cash-in summary")
    search(page, "cash-in", member["phone"])
    page.click(".cash-in .found-row")
    page.fill(".cash-in input[name=amount]", "100.000")
    page.click(".cash-in .cash-form button[type=submit]")
    page.wait_for_selector(".cash-in .counter-proof")

    page.click(".counter-desk .next-customer")
    page.click(".counter-desk .manage-shift")
    page.wait_for_selector(".shift-screen .close-form")
    assert page.inner_text(".shift-screen .shift-expected") == "Rp 600.000"
    assert page.inner_text(".shift-screen .shift-cash-in") == "Rp 100.000"
    type_on_keypad(page, ".shift-screen .close-form", ["5", "9", "0", "000"])  # Rp 10.000 short
    preview = page.inner_text(".shift-screen .shift-preview")
    assert "Rp 600.000" in preview and "Rp 590.000" in preview and "−Rp 10.000" in preview
    page.fill(".shift-screen .close-form input[name=pin]", kasir["pin"])
    screenshot(page, "teller-22-shift-count")
    page.click(".shift-screen .close-shift")
    page.wait_for_selector(".shift-screen .shift-report")
    assert page.inner_text(".shift-screen .shift-result") == "Shift ditutup."
    report = page.locator(".shift-screen .shift-report")
    assert report.locator(".shift-expected").inner_text() == "Rp 600.000"
    assert report.locator(".shift-counted").inner_text() == "Rp 590.000"
    assert report.locator(".shift-difference").inner_text() == "−Rp 10.000"
    assert report.locator(".shift-status").inner_text() == "Ditutup"
    rows = report.locator(".shift-movements tbody tr")
    assert rows.count() == 1 and "Sekar Ayu Lestari" in rows.first.inner_text()
    screenshot(page, "teller-23-shift-report")
    assert pdf_pages(page) == 1  # the report alone prints, on one page

    # Closed: the counter asks for a new shift again before any cash.
    page.click(".back-button")
    page.wait_for_selector(".counter-desk .shift-required")
