"""The app's shell in a real browser: a fresh load that logs no error, the phone's back button
walking back through the app and never out of it, a reload that keeps the screen, a language
switch that keeps it too, the install button, and the QR decoder precached after login."""

from __future__ import annotations

import re
import time
from pathlib import Path

from e2e.pwa_helpers import log_in, screenshot, wait_for_image

ROOT = Path(__file__).resolve().parents[2]
DECODER_CACHE = "interkop-decoder-barcode-detector-3.2.2"


def watch(page) -> dict:
    """Record the page's console errors, failed requests, error answers and refresh calls."""
    seen = {"console": [], "failed": [], "refused": [], "refresh": []}
    page.on(
        "console", lambda m: m.type == "error" and seen["console"].append(f"{m.text} {m.location}")
    )
    page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url} {r.failure}"))

    def answered(response):
        if response.status >= 400:
            seen["refused"].append(f"{response.status} {response.url}")
        if response.url.endswith("/api/v1/auth/refresh"):
            seen["refresh"].append(response.status)

    page.on("response", answered)
    return seen


def settle(page) -> None:
    """Let the service worker install and the network go quiet."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_load_state("networkidle")


def until(page, script: str, timeout_seconds: float = 10) -> None:
    """Wait until `script` (evaluated through the DevTools protocol, which the app's CSP allows,
    unlike wait_for_function's) is true."""
    deadline = time.monotonic() + timeout_seconds
    while not page.evaluate(script):
        assert time.monotonic() < deadline, script
        time.sleep(0.05)


def sticker_url(gateway) -> str:
    driver = gateway.new_merchant(code="KPP", kind="angkot", name="Angkot Uji Kembali")
    _, sticker = gateway.call(
        "GET", f"/api/v1/merchants/{driver['id']}/static-qr", token=gateway.login(driver)
    )
    return sticker["url"]


def open_sticker(page, url: str) -> None:
    """From the member's home: the scan screen, the sticker's link pasted, its confirm screen."""
    page.click(".pay-button")
    page.fill(".pay-scan-paste textarea", url)
    page.click(".pay-scan-paste button")
    page.wait_for_selector(".pay-confirm .merchant-name:has-text('Angkot Uji Kembali')")


def test_a_fresh_load_logs_no_error_and_asks_for_a_session_only_after_a_login(page, gateway):
    seen = watch(page)
    page.goto("/")
    page.wait_for_selector(".login-screen")
    settle(page)
    assert seen == {"console": [], "failed": [], "refused": [], "refresh": []}

    # After a login a reload resumes the session; after a logout a reload does not ask again.
    # (Each time home's figures are awaited: a reload would cut a request still in flight.)
    log_in(page, gateway.new_member())
    page.wait_for_selector(".member-limits dd")
    page.reload()
    page.wait_for_selector(".member-limits dd")
    assert seen["refresh"] == [200]
    page.click(".logout-button")
    page.wait_for_selector(".login-screen")
    page.reload()
    page.wait_for_selector(".login-screen")
    settle(page)
    assert seen == {"console": [], "failed": [], "refused": [], "refresh": [200]}


def test_the_back_button_walks_back_through_the_app_and_never_out_of_it(page, gateway):
    url = sticker_url(gateway)
    log_in(page, gateway.new_member(balance=20_000))
    assert page.locator(".back-button").is_hidden()
    open_sticker(page, url)
    assert page.locator(".back-button").is_visible()
    screenshot(page, "shell-1-confirm-with-back")

    page.go_back()
    page.wait_for_selector(".pay-scan")
    page.go_back()
    page.wait_for_selector(".member-home")
    for _ in range(3):  # back from home: still home, still the app
        page.go_back()
        until(page, "history.state?.depth === 1")
        page.wait_for_selector(".member-home")
        assert page.url.rstrip("/") == gateway.url
    assert page.locator(".back-button").is_hidden()

    # The header's back button is the same step back; Batal goes home, not one step forward.
    page.click(".member-home .actions .secondary")
    page.wait_for_selector(".history")
    page.click(".back-button")
    page.wait_for_selector(".member-home")
    open_sticker(page, url)
    page.click(".pay-confirm .actions .secondary")
    page.wait_for_selector(".member-home")
    assert page.evaluate("history.state.depth") == 1
    page.go_back()
    until(page, "history.state?.depth === 1")
    page.wait_for_selector(".member-home")


def test_a_reload_keeps_the_screen_and_a_receipt_from_its_params(page, gateway):
    url = sticker_url(gateway)
    member = gateway.new_member(balance=20_000)
    log_in(page, member)
    open_sticker(page, url)
    page.reload()
    page.wait_for_selector(".pay-confirm .merchant-name:has-text('Angkot Uji Kembali')")

    for key in ("4", "000"):
        page.click(f".keypad-key[data-key='{key}']")
    page.click(".pay-confirm button[type=submit]")  # Rp 4.000: below the no-PIN threshold
    page.wait_for_selector(".receipt")
    receipt = page.inner_text(".receipt-lines")
    page.reload()
    page.wait_for_selector(".receipt")
    assert page.inner_text(".receipt .amount-big") == "Rp 4.000"
    assert page.inner_text(".receipt-lines") == receipt
    screenshot(page, "shell-2-receipt-after-reload")

    # The receipt took the confirm screen's place: back goes to the scanner, not to pay again.
    page.go_back()
    page.wait_for_selector(".pay-scan")
    page.go_back()
    page.wait_for_selector(".member-home")
    assert gateway.ledger_problems() == []


def test_a_driver_receiving_who_reloads_is_back_on_the_receive_screen(page, gateway):
    driver = gateway.new_merchant(code="KPP", kind="angkot", name="Angkot Uji Muat Ulang")
    log_in(page, driver)
    page.click(".receive-button")
    wait_for_image(page, ".receive-qr-image")
    page.click(".start-receiving")
    page.reload()
    wait_for_image(page, ".receive-qr-image")
    assert page.inner_text(".receive-qr-name") == "Angkot Uji Muat Ulang"
    page.go_back()
    page.wait_for_selector(".merchant-home")


def test_switching_language_keeps_the_screen_and_switches_the_header(page, gateway):
    url = sticker_url(gateway)
    log_in(page, gateway.new_member(balance=20_000))
    open_sticker(page, url)
    page.click(".language-button")
    page.wait_for_selector(".pay-confirm h1:has-text('Confirm payment')")
    assert page.inner_text(".pay-confirm .merchant-name") == "Angkot Uji Kembali"
    assert page.inner_text(".language-button") == "Bahasa Indonesia"
    assert page.inner_text(".logout-button") == "Log out"
    assert page.get_attribute(".back-button", "aria-label") == "Back"
    assert page.get_attribute("html", "lang") == "en"
    screenshot(page, "shell-3-confirm-in-english")

    # A switch is no step: back still goes to the scanner, in English now.
    page.go_back()
    page.wait_for_selector(".pay-scan h1:has-text('Scan a QR code')")
    page.click(".language-button")
    page.wait_for_selector(".pay-scan h1:has-text('Pindai kode QR')")
    assert page.inner_text(".logout-button") == "Keluar"
    page.reload()
    page.wait_for_selector(".pay-scan h1:has-text('Pindai kode QR')")


def test_the_install_button_shows_only_while_the_browser_offers_installation(page, gateway):
    page.goto("/")
    page.wait_for_selector(".login-screen")
    assert page.locator(".install-button").is_hidden()  # headless Chromium offers nothing
    offer = """() => {
      const event = new Event("beforeinstallprompt", {cancelable: true});
      event.prompt = async () => { window.prompted = (window.prompted ?? 0) + 1; };
      event.userChoice = Promise.resolve({outcome: "accepted", platform: "web"});
      dispatchEvent(event);
      return event.defaultPrevented;
    }"""
    assert page.evaluate(offer)  # the app keeps the prompt (no mini-infobar of its own)
    page.wait_for_selector(".install-button:visible")
    assert page.inner_text(".install-button") == "Pasang"
    assert page.get_attribute(".install-button", "aria-label") == "Pasang Interkop di ponsel ini"
    screenshot(page, "shell-4-install-button")
    page.click(".install-button")
    page.wait_for_selector(".install-button", state="hidden")
    assert page.evaluate("window.prompted") == 1

    page.evaluate(offer)
    page.wait_for_selector(".install-button:visible")
    page.evaluate("dispatchEvent(new Event('appinstalled'))")
    page.wait_for_selector(".install-button", state="hidden")


def test_the_decoder_is_precached_after_a_members_login(page, gateway):
    page.goto("/")
    page.wait_for_selector(".login-screen")
    settle(page)
    assert DECODER_CACHE not in page.evaluate("caches.keys()")  # not with the first screen
    log_in(page, gateway.new_member())
    until(
        page,
        f"caches.open({DECODER_CACHE!r}).then((cache) => cache.keys()).then((k) => k.length === 3)",
        timeout_seconds=20,
    )


def test_the_share_of_the_decoder_counted_is_the_files_size():
    scanner = (ROOT / "pwa" / "scripts" / "scanner.js").read_text()
    size = int(re.search(r"WASM_BYTES = ([\d_]+);", scanner)[1].replace("_", ""))
    wasm = ROOT / "pwa" / "vendor" / "barcode-detector-3.2.2" / "zxing_reader.wasm"
    assert size == wasm.stat().st_size
