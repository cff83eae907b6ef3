"""The payer in a real browser: never pay twice, never show what is not true; no PIN at or below
the member's no-PIN threshold; a wrong PIN says the tries left and when a lock lifts.

A lost answer is made with playwright's routing: the payment POST goes to the gateway (the
payment is made) and its answer is thrown away, or the POST is dropped before it leaves. Every
check of the outcome is made on the live ledger. Screenshots: tests/e2e/screenshots/payer-*.png;
figures: tests/e2e/results/payer.json.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from e2e.pwa_helpers import log_in, screenshot

RESULTS = Path(__file__).resolve().parent / "results" / "payer.json"
PENDING = "interkop.pending-payments"


# --- Helpers of this file -----------------------------------------------------------------------


def record(name: str, value) -> None:
    """Print a measured figure and keep it in tests/e2e/results/payer.json."""
    print(f"payer figure: {name} = {value}")
    RESULTS.parent.mkdir(exist_ok=True)
    figures = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    figures[name] = value
    RESULTS.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


def sticker(gateway, merchant: dict) -> dict:
    status, code = gateway.call(
        "GET", f"/api/v1/merchants/{merchant['id']}/static-qr", token=gateway.login(merchant)
    )
    assert status == 200, code
    return code


def payments_at(gateway, merchant: dict) -> list[dict]:
    status, body = gateway.call(
        "GET", f"/api/v1/merchants/{merchant['id']}/payments", token=gateway.login(merchant)
    )
    assert status == 200, body
    return body["items"]


def wallet(gateway, member: dict) -> int:
    """The balance, as the member's cooperative admin reads it (a locked member cannot log in)."""
    status, body = gateway.call(
        "GET", f"/api/v1/members/{member['id']}/wallet", token=gateway.login(gateway.admin("KSM"))
    )
    assert status == 200, body
    return body["balance"]


def open_confirm(page, url: str) -> None:
    """From the member's home to the confirm screen of the QR at `url` (pasted, as the camera
    would read it)."""
    page.click(".pay-button")
    page.fill(".pay-scan-paste textarea", url)
    page.click(".pay-scan-paste button")
    page.wait_for_selector(".pay-confirm .merchant-name")


def type_fare(page, amount: int) -> int:
    """Type `amount` on the keypad, thousands with the 000 key; return the taps it took."""
    digits = str(amount)
    keys = [*digits[:-3], "000"] if digits.endswith("000") else list(digits)
    for key in keys:
        page.click(f".keypad-key[data-key='{key}']")
    return len(keys)


def clear_fare(page) -> None:
    while page.inner_text(".keypad-amount") != "Rp 0":
        page.click(".keypad-key[data-key='back']")


def pay_button(page):
    return page.locator(".pay-confirm button[type=submit]")


def pending_kept(page) -> list[dict]:
    return json.loads(page.evaluate(f"localStorage.getItem('{PENDING}')") or "[]")


class LostAnswers:
    """Route the payment POSTs: `reach` sends each to the gateway before its answer is lost
    (the payment is made); otherwise it is dropped before it leaves the phone."""

    def __init__(self, page, *, reach: bool):
        self.page = page
        self.reach = reach
        self.requests: list[dict] = []
        page.route("**/api/v1/payments", self.handle)

    def handle(self, route):
        request = route.request
        self.requests.append(
            {"key": request.headers.get("idempotency-key"), "body": request.post_data_json}
        )
        if self.reach:
            response = route.fetch()  # the gateway answers: the payment is made …
            assert response.status in (201,), response.text()
        route.abort()  # … and the answer never arrives

    def stop(self) -> None:
        self.page.unroute("**/api/v1/payments", self.handle)


def lose_the_answer(page, gateway, *, fare: int, reach: bool, pin: str | None = None):
    """Pay `fare` on a new driver's sticker as a new member, losing every answer. Returns
    (member, driver, routing) with the confirm screen locked."""
    driver = gateway.new_merchant(kind="angkot")
    member = gateway.new_member(balance=100_000)
    code = sticker(gateway, driver)
    log_in(page, member)
    open_confirm(page, code["url"])
    type_fare(page, fare)
    if pin is not None:
        page.fill(".pay-confirm input[name=pin]", pin)
    routing = LostAnswers(page, reach=reach)
    started = time.monotonic()
    pay_button(page).click()
    page.wait_for_selector(".pay-confirm button[type=submit]:has-text('Coba lagi'):enabled")
    routing.seconds_to_unknown = round(time.monotonic() - started, 2)
    return member, driver, routing


def assert_locked_on_the_unknown(page) -> None:
    problem = page.inner_text(".pay-confirm .problem")
    assert problem.startswith("Belum ada jawaban dari server. Pembayaran BELUM tentu berhasil.")
    assert page.locator(".pay-confirm .keypad").evaluate("k => k.closest('[inert]') !== null")
    # Batal does not leave silently: it asks first.
    page.click(".pay-confirm .cancel-button")
    page.wait_for_selector(".pay-confirm-abandon")
    assert page.locator(".pay-confirm").count() == 1
    assert "tidak akan pernah terjadi" in page.inner_text(".pay-confirm-abandon")


# --- (a) A lost answer ---------------------------------------------------------------------------


def test_a_lost_answer_is_found_after_a_reload_and_paid_once(page, gateway):
    member, driver, routing = lose_the_answer(page, gateway, fare=4_000, reach=True)
    record("seconds_tap_to_answer_unknown_after_automatic_retries", routing.seconds_to_unknown)
    record("attempts_sent_before_answer_unknown", len(routing.requests))
    assert len({request["key"] for request in routing.requests}) == 1  # every retry, one key
    assert "pin" not in routing.requests[0]["body"]  # Rp 4.000: no PIN
    assert_locked_on_the_unknown(page)
    page.locator(".pay-confirm-abandon").scroll_into_view_if_needed()
    screenshot(page, "payer-1-answer-lost-cancel-asks")
    page.click(".abandon-no")
    assert page.locator(".pay-confirm-abandon").is_hidden()
    (kept,) = pending_kept(page)
    assert kept["key"] == routing.requests[0]["key"] and kept["amount"] == 4_000
    assert kept["merchant"]["id"] == driver["id"] and "pin" not in json.dumps(kept)
    routing.stop()

    started = time.monotonic()
    page.reload()
    page.wait_for_selector(".receipt")
    record("seconds_reload_to_receipt_after_lost_answer", round(time.monotonic() - started, 2))
    assert page.inner_text(".receipt h1") == "Pembayaran berhasil"
    assert page.inner_text(".receipt .amount-big") == "Rp 4.000"
    assert driver["name"] in page.inner_text(".receipt-merchant")
    screenshot(page, "payer-2-found-after-reload")
    assert pending_kept(page) == []

    (made,) = payments_at(gateway, driver)
    assert made["amount"] == 4_000 and made["payer"]["name"] == member["name"]
    assert wallet(gateway, member) == 96_000
    assert gateway.ledger_problems() == []


def test_coba_lagi_resends_the_same_payment_with_its_pin_and_pays_once(page, gateway):
    member, driver, routing = lose_the_answer(page, gateway, fare=60_000, reach=True, pin="246810")
    assert routing.requests[0]["body"]["pin"] == "246810"
    pin = page.locator(".pay-confirm input[name=pin]")
    assert pin.is_visible() and pin.get_attribute("readonly") is not None
    routing.stop()
    page.click(".pay-confirm button[type=submit]")  # Coba lagi: the same key, the same body
    page.wait_for_selector(".receipt")
    assert page.inner_text(".receipt .amount-big") == "Rp 60.000"
    (made,) = payments_at(gateway, driver)
    assert made["amount"] == 60_000
    assert wallet(gateway, member) == 40_000
    assert pending_kept(page) == []
    assert gateway.ledger_problems() == []


def test_a_payment_that_never_left_is_given_up_and_its_key_never_pays(page, gateway):
    member, driver, routing = lose_the_answer(page, gateway, fare=4_000, reach=False)
    assert_locked_on_the_unknown(page)
    page.click(".abandon-yes")
    page.wait_for_selector(".member-home .member-notice")
    assert page.inner_text(".member-notice") == (
        f"Pembayaran Rp 4.000 ke {driver['name']} dibatalkan. Tidak ada uang yang berpindah."
    )
    assert page.locator(".pending-payment").count() == 0
    screenshot(page, "payer-3-given-up")
    routing.stop()

    assert payments_at(gateway, driver) == []
    assert wallet(gateway, member) == 100_000
    # The request that was lost arrives after all: the gateway refuses it, whatever its body.
    (lost, *_) = routing.requests
    token = gateway.login(member)
    for body in (lost["body"], {**lost["body"], "amount": 5_000}):
        status, answer = gateway.call(
            "POST", "/api/v1/payments", body, token=token, key=lost["key"]
        )
        assert status == 409 and answer["type"].endswith("/request-abandoned"), answer
    assert payments_at(gateway, driver) == []
    assert gateway.ledger_problems() == []


# --- (b) Before a new payment to the same merchant ----------------------------------------------


def test_a_new_payment_to_the_same_merchant_waits_until_the_unresolved_one_is_checked(
    page, gateway
):
    member, driver, routing = lose_the_answer(page, gateway, fare=4_000, reach=False)
    code = sticker(gateway, driver)
    # The next login (a reload): the gateway has no answer, so home says so.
    page.reload()
    page.wait_for_selector(".member-home .pending-payment")
    assert page.inner_text(".pending-payment-text") == (
        f"Pembayaran Rp 4.000 ke {driver['name']} belum pasti."
    )
    assert page.locator(".pending-check").is_visible()
    assert page.locator(".pending-abandon").is_visible()
    screenshot(page, "payer-4-home-unresolved")

    # A new payment to the same driver: a warning, and Bayar waits.
    open_confirm(page, code["url"])
    page.wait_for_selector(".pay-confirm-warning")
    assert page.inner_text(".pay-confirm-warning-text") == (
        f"Pembayaran Rp 4.000 ke {driver['name']} sebelumnya belum pasti. Periksa dulu agar"
        " tidak membayar dua kali."
    )
    type_fare(page, 4_000)
    assert pay_button(page).is_disabled()
    assert page.inner_text(".blocked-hint").startswith("Periksa dulu pembayaran sebelumnya")
    page.locator(".pay-confirm h1").scroll_into_view_if_needed()
    screenshot(page, "payer-5-warning-before-paying-again")
    pay_button(page).scroll_into_view_if_needed()
    screenshot(page, "payer-5b-bayar-waits")
    page.click(".warning-anyway")  # a second passenger: the person says this one is new
    assert pay_button(page).is_enabled()
    assert page.locator(".blocked-hint").is_hidden()

    # Check the earlier one first: still unknown; resend it with its key (no PIN: Rp 4.000).
    page.click(".warning-check")
    page.wait_for_selector(".pay-confirm .problem:has-text('Server belum punya jawaban')")
    assert page.inner_text(".pay-confirm .amount-big") == "Rp 4.000"
    pay_button(page).scroll_into_view_if_needed()
    screenshot(page, "payer-6-checked-still-unknown")
    routing.stop()
    page.click(".pay-confirm button[type=submit]:has-text('Coba lagi')")
    page.wait_for_selector(".receipt")
    (made,) = payments_at(gateway, driver)
    assert made["amount"] == 4_000
    assert wallet(gateway, member) == 96_000
    assert len({request["key"] for request in routing.requests}) == 1
    assert pending_kept(page) == []
    assert gateway.ledger_problems() == []


# --- (c) No PIN at or below the threshold -------------------------------------------------------


def test_a_fare_at_or_below_the_no_pin_threshold_asks_no_pin(page, gateway):
    driver = gateway.new_merchant(kind="angkot")
    member = gateway.new_member(balance=100_000)
    code = sticker(gateway, driver)
    log_in(page, member)
    taps = 2  # Bayar on home, Lanjut after the pasted QR (with the camera: Nyalakan kamera)
    open_confirm(page, code["url"])
    pin = page.locator(".pay-confirm input[name=pin]")
    taps += type_fare(page, 3_000)
    assert page.inner_text(".keypad-amount") == "Rp 3.000"
    assert pin.is_hidden()
    assert page.inner_text(".no-pin-note") == (
        "Tanpa PIN: pembayaran sampai Rp 50.000 tidak perlu PIN."
    )
    assert pay_button(page).is_enabled()
    pay_button(page).scroll_into_view_if_needed()
    screenshot(page, "payer-7-no-pin-at-3000")

    # The typed fare survives a language switch (the screen is made again from its params).
    page.click(".language-button")
    page.wait_for_selector(".pay-confirm h1:has-text('Confirm payment')")
    assert page.inner_text(".keypad-amount") == "Rp 3.000"
    assert pin.is_hidden()
    page.click(".language-button")
    page.wait_for_selector(".pay-confirm h1:has-text('Konfirmasi pembayaran')")

    clear_fare(page)
    type_fare(page, 50_000)
    assert pin.is_hidden()  # at the threshold: none
    clear_fare(page)
    type_fare(page, 60_000)
    assert pin.is_visible()  # the moment the fare goes above it
    assert page.locator(".no-pin-note").is_hidden()
    pay_button(page).scroll_into_view_if_needed()
    screenshot(page, "payer-8-pin-above-threshold")
    clear_fare(page)
    type_fare(page, 3_000)
    assert pin.is_hidden()

    started = time.monotonic()
    pay_button(page).click()
    taps += 1
    page.wait_for_selector(".receipt")
    record("seconds_bayar_to_receipt_rp3000_no_pin", round(time.monotonic() - started, 2))
    assert page.inner_text(".receipt .amount-big") == "Rp 3.000"
    record("taps_home_to_receipt_rp3000_sticker_no_pin", taps)
    (made,) = payments_at(gateway, driver)
    assert made["amount"] == 3_000

    # Rp 60.000 on the same sticker asks the PIN, and pays with it.
    page.click(".receipt .actions .primary")
    open_confirm(page, code["url"])
    type_fare(page, 60_000)
    page.fill(".pay-confirm input[name=pin]", member["pin"])
    pay_button(page).click()
    page.wait_for_selector(".receipt")
    assert page.inner_text(".receipt .amount-big") == "Rp 60.000"
    assert sorted(item["amount"] for item in payments_at(gateway, driver)) == [3_000, 60_000]
    assert gateway.ledger_problems() == []


# --- (d) Wrong PINs ------------------------------------------------------------------------------


def test_a_wrong_pin_says_the_tries_left_warns_on_the_last_and_says_when_the_lock_lifts(
    page, gateway
):
    driver = gateway.new_merchant(kind="angkot")
    member = gateway.new_member(balance=100_000)
    code = sticker(gateway, driver)
    log_in(page, member)
    open_confirm(page, code["url"])
    type_fare(page, 60_000)

    for tries_left in (4, 3, 2, 1):
        page.fill(".pay-confirm input[name=pin]", "000000")
        pay_button(page).click()
        page.wait_for_selector(f".pay-confirm .problem:has-text('Sisa {tries_left} kali')")
        assert page.inner_text(".pay-confirm .problem") == (
            f"PIN salah. Sisa {tries_left} kali percobaan sebelum PIN dikunci 15 menit."
        )
        if tries_left == 4:
            assert page.locator(".pin-note").is_hidden()
            pay_button(page).scroll_into_view_if_needed()
            screenshot(page, "payer-9-wrong-pin-tries-left")
    assert page.inner_text(".pin-note") == (
        "Percobaan terakhir: jika PIN salah sekali lagi, PIN dikunci."
    )
    pay_button(page).scroll_into_view_if_needed()
    screenshot(page, "payer-10-last-try")

    page.fill(".pay-confirm input[name=pin]", "000000")
    # The answer that locked the PIN, awaited itself: a "response" listener may run after the
    # screen has already shown it.
    with page.expect_response(lambda response: response.url.endswith("/api/v1/payments")) as last:
        pay_button(page).click()
    page.wait_for_selector(".pin-note:has-text('PIN terkunci sampai')")
    locked_until = datetime.fromisoformat(last.value.json()["locked_until"])
    lifts = locked_until.astimezone(ZoneInfo("Asia/Jakarta")).strftime("%H.%M")
    assert (
        page.inner_text(".pin-note") == f"PIN terkunci sampai pukul {lifts}. Coba lagi setelah itu."
    )
    assert page.inner_text(".pay-confirm .problem") == (
        "PIN salah 5 kali berturut-turut. Coba lagi dalam 15 menit."
    )
    pay_button(page).scroll_into_view_if_needed()
    screenshot(page, "payer-11-pin-locked")
    assert payments_at(gateway, driver) == []
    assert pending_kept(page) == []
    assert wallet(gateway, member) == 100_000
