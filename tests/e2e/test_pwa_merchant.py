"""The merchant's screens in a real browser: takings as the gateway's books have them, partial
refunds from a receipt, other days, and "Penjualan baru" after LUNAS.

Every figure on the merchant's home is compared with `GET /merchants/{id}/settlement` for the
same day, after payments, a partial refund and a full refund. Fresh merchants and payers only
(`gateway.new_merchant()`, `gateway.new_member()`). Screenshots: tests/e2e/screenshots/merchant-*;
measured figures: tests/e2e/results/merchant.json.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from e2e.pwa_helpers import log_in, screenshot, wait_for_image
from gateway.limits import JAKARTA

RESULTS = Path(__file__).resolve().parent / "results" / "merchant.json"
FIGURES = ("gross", "refunds", "fees", "net", "count", "paid_out", "balance")
measured: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def write_results():
    yield
    if measured:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(measured, indent=2, sort_keys=True) + "\n")


def record(name: str, value) -> None:
    print(f"merchant: {name} = {value}")
    measured[name] = value


# --- helpers -----------------------------------------------------------------------------------


def rupiah(text: str) -> int:
    """ "Rp 27.500" -> 27500, "-Rp 98" -> -98."""
    match = re.fullmatch(r"(-?)Rp ([\d.]+)", text.strip())
    assert match, f"not rupiah: {text!r}"
    return int(match[2].replace(".", "")) * (-1 if match[1] else 1)


def settlement(gateway, merchant: dict, day: str | None = None) -> dict:
    query = f"?date={day}" if day else ""
    status, body = gateway.call(
        "GET",
        f"/api/v1/merchants/{merchant['id']}/settlement{query}",
        token=gateway.login(merchant),
    )
    assert status == 200, body
    return body


def shown_figures(page) -> dict:
    """The takings card's figures once it has its answer (never while it says "…")."""
    page.wait_for_selector(".takings:not([aria-busy])")
    figures = {}
    for field in FIGURES:
        text = page.inner_text(f".takings-{field.replace('_', '-')}")
        figures[field] = int(text) if field == "count" else rupiah(text)
    return figures


def assert_screen_is_the_ledger(page, gateway, merchant, day: str | None = None) -> dict:
    server = settlement(gateway, merchant, day)
    assert shown_figures(page) == {field: server[field] for field in FIGURES}, server
    return server


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


def refunded(gateway, merchant: dict, payment: dict) -> int:
    """How much of the payment the gateway has refunded."""
    status, body = gateway.call(
        "GET", f"/api/v1/payments/{payment['id']}", token=gateway.login(merchant)
    )
    assert status == 200, body
    return body["refunded_amount"]


def sale_token(gateway, page) -> tuple[str, str]:
    """The QR id and token of the dynamic QR on the sale screen."""
    qr_id = page.get_attribute(".new-sale-qr", "src").rsplit("/", 1)[1].removesuffix(".svg")
    with gateway.app.app_context():
        from gateway import qr as qr_codes
        from gateway.db import db

        token = qr_codes.get(db.session, qr_id).token
        db.session.rollback()
    return qr_id, token


def open_receipt(page, payer_name: str) -> None:
    page.click(f".payment-feed .payment-row:has-text('{payer_name}') button")
    page.wait_for_selector(".receipt .refund")


def refund_in_the_ui(page, amount: str | None) -> None:
    """On an open receipt: type the amount (or keep the default), ask, and say Ya."""
    if amount is not None:
        page.fill(".refund-form input[name=refund_amount]", amount)
    page.click(".refund-button")
    page.wait_for_selector(".refund-confirm:visible")
    page.click(".refund-yes")


def jakarta_today() -> date:
    return datetime.now(JAKARTA).date()


def format_day(page, day: str, language: str = "id") -> str:
    """The day as the app's when.js names it."""
    return page.evaluate(
        "async ([day, language]) => (await import('/scripts/when.js')).formatDay(day, language)",
        [day, language],
    )


# --- takings from the server ------------------------------------------------------------------


def test_takings_are_the_ledgers_after_payments_a_partial_and_a_full_refund(page, gateway):
    shop = gateway.new_merchant(kind="shop", category="small", name="Warung Uji Takings")
    dewi = gateway.new_member(balance=100_000, name="Dewi Takings")
    agus = gateway.new_member(code="KPP", balance=50_000, name="Agus Takings")
    paid = pay_sticker(gateway, shop, dewi, 27_500)
    assert paid["fee_amount"] > 0  # a fee the refunds must give back

    log_in(page, shop)
    page.wait_for_selector(".payment-feed .payment-row")
    day = assert_screen_is_the_ledger(page, gateway, shop)
    assert (day["count"], day["gross"], day["refunds"]) == (1, 27_500, 0)
    assert page.inner_text(".takings-day").startswith("Hari ini · ")
    assert page.inner_text(".takings-day").endswith(format_day(page, day["date"]))
    assert page.is_disabled(".takings-next")  # never past today
    screenshot(page, "merchant-1-takings")

    # Part of it back, from the receipt.
    open_receipt(page, "Dewi Takings")
    refund_in_the_ui(page, "5000")
    page.wait_for_selector(".refund-status:has-text('Rp 5.000 sudah dikembalikan.')")
    assert rupiah(page.inner_text(".receipt-refunded")) == 5_000
    assert rupiah(page.inner_text(".receipt-left")) == 22_500
    page.click(".receipt-done")
    page.wait_for_selector(".merchant-home")
    day = assert_screen_is_the_ledger(page, gateway, shop)
    assert (day["refund_count"], day["refunds"]) == (1, 5_000)
    # The feed's row is not struck through for a part: it says what went back.
    row = page.locator(".payment-feed .payment-row", has_text="Dewi Takings")
    assert row.locator(".payment-row-amount.refunded").count() == 0
    assert row.locator(".payment-row-refund").inner_text() == "−Rp 5.000"
    screenshot(page, "merchant-5-takings-after-partial-refund")

    # The rest back: the amount field offers what is left.
    open_receipt(page, "Dewi Takings")
    assert page.input_value(".refund-form input[name=refund_amount]") == "22.500"
    refund_in_the_ui(page, None)
    page.wait_for_selector(".refund-status:has-text('Rp 22.500 sudah dikembalikan.')")
    assert page.locator(".refund-form").is_hidden()  # nothing left to refund
    assert rupiah(page.inner_text(".receipt-left")) == 0
    page.click(".receipt-done")
    page.wait_for_selector(".merchant-home")
    day = assert_screen_is_the_ledger(page, gateway, shop)
    # What the ledger says after a full refund: every fee share went back, so nothing is left
    # (the browser's own arithmetic used to say -Rp 193 here).
    assert (day["gross"], day["refunds"], day["fees"], day["net"], day["balance"]) == (
        27_500,
        27_500,
        0,
        0,
        0,
    )
    # All of it back: now the row is struck through, and says no part.
    row = page.locator(".payment-feed .payment-row", has_text="Dewi Takings")
    assert row.locator(".payment-row-amount.refunded").count() == 1
    assert row.locator(".payment-row-refund").count() == 0
    screenshot(page, "merchant-6-takings-after-full-refund")

    # A payment arriving on the feed while the home is open: the card asks the gateway again.
    started = time.monotonic()
    pay_sticker(gateway, shop, agus, 12_000)
    page.wait_for_selector(".payment-feed .payment-row:has-text('Agus Takings')")
    day = assert_screen_is_the_ledger(page, gateway, shop)
    record("seconds_from_payment_to_server_figures_on_screen", round(time.monotonic() - started, 3))
    assert (day["count"], day["gross"]) == (2, 39_500)
    assert day["net"] == day["gross"] - day["refunds"] - day["fees"]
    assert gateway.ledger_problems() == []


def test_loading_and_failure_never_show_a_stale_figure(page, gateway):
    shop = gateway.new_merchant(kind="shop", category="small")
    payer = gateway.new_member(balance=50_000)
    pay_sticker(gateway, shop, payer, 10_000)
    held, hold = [], {"on": True}
    page.route(
        "**/api/v1/merchants/*/settlement*",
        lambda route: held.append(route) if hold["on"] else route.continue_(),
    )
    log_in(page, shop)
    page.wait_for_selector(".payment-feed .payment-row")
    assert page.get_attribute(".takings", "aria-busy") == "true"
    assert {page.inner_text(f".takings-{f.replace('_', '-')}") for f in FIGURES} == {"…"}
    screenshot(page, "merchant-8-takings-loading")
    hold["on"] = False
    for route in held:
        route.continue_()
    page.unroute("**/api/v1/merchants/*/settlement*")
    assert_screen_is_the_ledger(page, gateway, shop)

    # The gateway cannot be reached: the sentence, no figure (not the last one seen).
    page.route("**/api/v1/merchants/*/settlement*", lambda route: route.abort())
    page.click(".takings-previous")
    page.wait_for_selector(".takings .problem:visible")
    assert page.inner_text(".takings .problem") == "Tidak ada koneksi ke server. Coba lagi."
    assert {page.inner_text(f".takings-{f.replace('_', '-')}") for f in FIGURES} == {"—"}
    screenshot(page, "merchant-10-takings-error")
    page.unroute("**/api/v1/merchants/*/settlement*")
    page.click(".takings-retry")
    yesterday = (jakarta_today() - timedelta(days=1)).isoformat()
    assert_screen_is_the_ledger(page, gateway, shop, yesterday)
    assert page.locator(".takings .problem").is_hidden()


def test_another_day_shows_that_days_figures_and_never_a_day_past_today(page, gateway):
    shop = gateway.new_merchant(kind="shop", category="small")
    payer = gateway.new_member(balance=50_000)
    pay_sticker(gateway, shop, payer, 20_000)
    log_in(page, shop)
    page.wait_for_selector(".payment-feed .payment-row")
    today = assert_screen_is_the_ledger(page, gateway, shop)

    yesterday = (date.fromisoformat(today["date"]) - timedelta(days=1)).isoformat()
    page.click(".takings-previous")
    before = assert_screen_is_the_ledger(page, gateway, shop, yesterday)
    # Nothing happened that day; the balance still to collect is the account's, now.
    assert {field: before[field] for field in FIGURES if field != "balance"} == dict.fromkeys(
        ("gross", "refunds", "fees", "net", "count", "paid_out"), 0
    )
    assert before["balance"] == today["balance"] > 0
    assert page.inner_text(".takings-day") == format_day(page, yesterday)
    assert page.is_enabled(".takings-next")
    screenshot(page, "merchant-7-other-day")

    # A language switch keeps the day on screen.
    page.click(".language-button")
    page.wait_for_selector(".takings-day:has-text('" + format_day(page, yesterday, "en") + "')")
    assert_screen_is_the_ledger(page, gateway, shop, yesterday)
    page.click(".language-button")

    page.click(".takings-previous")
    two_days_ago = (date.fromisoformat(yesterday) - timedelta(days=1)).isoformat()
    assert_screen_is_the_ledger(page, gateway, shop, two_days_ago)
    assert page.inner_text(".takings-day") == format_day(page, two_days_ago)
    page.click(".takings-next")
    page.click(".takings-next")
    assert_screen_is_the_ledger(page, gateway, shop)
    assert page.inner_text(".takings-day").startswith("Hari ini · ")
    assert page.is_disabled(".takings-next")


# --- refunds from a receipt -------------------------------------------------------------------


def test_partial_refund_asks_first_never_exceeds_what_is_left_and_shows_a_refusal(page, gateway):
    shop = gateway.new_merchant(kind="shop", category="small")
    dewi = gateway.new_member(balance=100_000, name="Dewi Refund")
    paid = pay_sticker(gateway, shop, dewi, 10_000)
    log_in(page, shop)
    page.wait_for_selector(".payment-feed .payment-row")
    taps = 0
    open_receipt(page, "Dewi Refund")
    taps += 1
    field = ".refund-form input[name=refund_amount]"
    assert page.input_value(field) == "10.000"  # all of it, by default
    assert page.inner_text(".refund-max") == "Paling banyak Rp 10.000"
    page.fill(field, "99999999")
    assert page.input_value(field) == "10.000"  # never more than is left
    page.fill(field, "")
    assert page.is_disabled(".refund-button")
    page.fill(field, "4000")
    assert page.input_value(field) == "4.000"
    screenshot(page, "merchant-2-refund-amount")

    # Batal on the question refunds nothing.
    page.click(".refund-button")
    assert page.inner_text(".refund-question") == "Kembalikan Rp 4.000 ke Dewi Refund?"
    page.click(".refund-no")
    assert page.is_visible(field) and page.input_value(field) == "4.000"
    assert refunded(gateway, shop, paid) == 0

    page.click(".refund-button")
    taps += 1
    screenshot(page, "merchant-3-refund-confirm")
    page.click(".refund-yes")
    taps += 1
    page.wait_for_selector(".refund-status:has-text('Rp 4.000 sudah dikembalikan.')")
    record("taps_from_home_to_partial_refund", taps)
    assert rupiah(page.inner_text(".receipt-refunded")) == 4_000
    assert rupiah(page.inner_text(".receipt-left")) == 6_000
    assert page.input_value(field) == "6.000"
    screenshot(page, "merchant-4-refund-done")

    # Someone refunds 3.000 elsewhere meanwhile: asking for the 6.000 this screen still offers is
    # refused by the gateway, in its own words; nothing more is refunded.
    status, body = gateway.money(
        f"/api/v1/payments/{paid['id']}/refunds", {"amount": 3_000}, gateway.login(shop)
    )
    assert status == 201, body
    refund_in_the_ui(page, None)
    page.wait_for_selector(".refund .problem:visible")
    assert page.inner_text(".refund .problem") == "Jumlah pengembalian melebihi sisa pembayaran."
    assert refunded(gateway, shop, paid) == 7_000


def test_a_refund_whose_answer_is_lost_keeps_its_key_across_a_language_switch(page, gateway):
    shop = gateway.new_merchant(kind="shop", category="small")
    dewi = gateway.new_member(balance=100_000, name="Dewi Lost")
    paid = pay_sticker(gateway, shop, dewi, 20_000)
    log_in(page, shop)
    page.wait_for_selector(".payment-feed .payment-row")
    open_receipt(page, "Dewi Lost")

    # The first attempt reaches the gateway (the refund is made) but its answer never comes
    # back, nor does any automatic retry's.
    keys: list[tuple[int, str]] = []
    lose = {"answers": True}

    def refunds(route):
        body = json.loads(route.request.post_data)
        keys.append((body["amount"], route.request.headers["idempotency-key"]))
        if not lose["answers"]:
            route.continue_()
        elif len(keys) == 1:
            route.fetch()
            route.abort()
        else:
            route.abort()

    page.route("**/api/v1/payments/*/refunds", refunds)
    refund_in_the_ui(page, "5000")
    page.wait_for_selector(".refund .problem:has-text('BELUM tentu berhasil')")
    assert page.inner_text(".refund-yes") == "Coba lagi"
    screenshot(page, "merchant-9-refund-unknown")
    assert refunded(gateway, shop, paid) == 5_000  # it was made; the screen cannot know yet

    # The screen is re-created in English from its params: same question, same key.
    page.click(".language-button")
    page.wait_for_selector(".refund .problem:has-text('NOT necessarily')")
    assert page.inner_text(".refund-question") == "Refund Rp 5.000 to Dewi Lost?"
    lose["answers"] = False
    page.click(".refund-yes")  # Try again
    page.wait_for_selector(".refund-status:has-text('Rp 5.000 has been refunded.')")
    assert rupiah(page.inner_text(".receipt-refunded")) == 5_000
    assert len(keys) >= 2 and {key for _, key in keys} == {keys[0][1]}
    record("refund_attempts_with_one_key_after_a_lost_answer", len(keys))
    assert refunded(gateway, shop, paid) == 5_000  # once

    # The next refund (another amount) is a new refund with a new key.
    refund_in_the_ui(page, "2000")
    page.wait_for_selector(".refund-status:has-text('Rp 2.000 has been refunded.')")
    assert keys[-1][0] == 2_000 and keys[-1][1] != keys[0][1]
    assert refunded(gateway, shop, paid) == 7_000
    assert gateway.ledger_problems() == []


# --- Penjualan baru -----------------------------------------------------------------------------


def seconds(countdown: str) -> int:
    minutes, rest = countdown.split(":")
    return int(minutes) * 60 + int(rest)


def start_sale(page, keys: str) -> None:
    for key in keys:
        page.click(f".keypad-key[data-key='{key}']")
    page.click(".new-sale .actions .primary")
    wait_for_image(page, ".new-sale-qr")


def test_penjualan_baru_after_lunas_and_a_language_switch_keeps_the_sale(page, gateway):
    shop = gateway.new_merchant(kind="shop", category="small")
    payer = gateway.new_member(balance=100_000)
    log_in(page, shop)
    page.click(".merchant-home .actions .secondary")
    start_sale(page, "12500")
    qr_id, token = sale_token(gateway, page)
    countdown = page.inner_text(".countdown")

    # A language switch re-creates the screen with the same QR and its countdown running on.
    page.click(".language-button")
    page.wait_for_selector(".new-sale h1:has-text('New sale')")
    wait_for_image(page, ".new-sale-qr")
    assert sale_token(gateway, page)[0] == qr_id
    assert page.inner_text(".new-sale .amount-big") == "Rp 12.500"
    assert 540 <= seconds(page.inner_text(".countdown")) <= seconds(countdown)

    status, paid = gateway.money(
        "/api/v1/payments", {"token": token, "pin": payer["pin"]}, gateway.login(payer)
    )
    assert status == 201, paid
    page.wait_for_selector(".new-sale-status.paid")
    assert page.inner_text(".new-sale-status") == "PAID · Rp 12.500"
    # LUNAS stays LUNAS on a re-created screen.
    page.click(".language-button")
    page.wait_for_selector(".new-sale-status.paid:has-text('LUNAS · Rp 12.500')")
    screenshot(page, "merchant-11-sale-paid-new-sale")

    page.click(".new-sale-again")
    page.wait_for_selector(".new-sale .keypad")
    assert page.inner_text(".keypad-amount") == "Rp 0"
    assert page.is_disabled(".new-sale .actions .primary")
    start_sale(page, "3000")
    assert page.inner_text(".new-sale .amount-big") == "Rp 3.000"
    assert sale_token(gateway, page)[0] != qr_id
    assert page.locator(".new-sale-again").is_hidden()

    # Cancelled is an end too: Penjualan baru again.
    page.click(".new-sale .actions .danger")
    page.wait_for_selector(".new-sale-status:has-text('Kode QR dibatalkan.')")
    page.click(".new-sale-again")
    page.wait_for_selector(".new-sale .keypad")
    screenshot(page, "merchant-12-new-sale-again")
