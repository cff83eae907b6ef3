"""A cooperative admin moves a member list in from the counter desk, in a real browser: choose the
CSV, see the dry run's counts and bad rows, import, print the PIN slips; then a member logs in
with the slip's PIN, is asked to set their own, and gets in only with it."""

from __future__ import annotations

import itertools
import os
import re

from e2e.pwa_helpers import log_in, screenshot

_numbers = itertools.count(1)
# Counts window.print() instead of opening the browser's print dialog (an init script: the
# app's CSP forbids the page's own string evaluation, not the driver's).
COUNT_PRINTS = "window.print = () => { window.printed = (window.printed || 0) + 1; };"


def fresh_phone() -> str:
    return f"0859{os.getpid() % 10_000:04d}{next(_numbers):04d}"


def log_out(page) -> None:
    page.click(".logout-button")
    page.wait_for_selector(".login-screen")


def test_an_admin_imports_members_and_prints_their_pin_slips_and_a_member_sets_a_pin(
    page, gateway, tmp_path
):
    page.add_init_script(COUNT_PRINTS)
    phones = [fresh_phone() for _ in range(3)]
    sheet = tmp_path / "anggota.csv"
    sheet.write_text(
        "Nama;Nomor HP;Tingkat\n"
        f"Sari Wulandari;{phones[0]};\n"
        f"Agus Salim;{phones[1]};verified\n"
        f"Rina Kartika;{phones[2]};\n"
        "Tanpa Nomor;12345;\n",
        encoding="utf-8",
    )
    log_in(page, gateway.admin("KSM"))
    page.click(".counter-desk .import-link")
    page.wait_for_selector(".import-screen")

    page.set_input_files(".import-screen input[type=file]", str(sheet))
    page.click(".import-screen button:has-text('Periksa berkas')")
    page.wait_for_selector(".import-counts")

    def count(name: str) -> str:
        return page.inner_text(f".import-counts [data-count={name}]")

    assert [count(name) for name in ("rows", "new", "bad")] == ["4", "3", "1"]
    bad_row = page.locator(".import-problems tbody tr")
    assert bad_row.count() == 1
    cells = bad_row.locator("td").all_inner_texts()
    assert cells[:2] == ["5", "nomor_hp"] and "bukan nomor seluler" in cells[2]
    assert "belum disimpan" in page.inner_text(".import-result h2")
    screenshot(page, "import-1-dry-run")
    # Nothing is written by the check: the phones have no login yet.
    admin_token = gateway.login(gateway.admin("KSM"))
    coop_id = gateway.admin("KSM")["cooperative_id"]
    status, waiting = gateway.call(
        "POST", f"/api/v1/cooperatives/{coop_id}/pin-slips?limit=1", token=admin_token
    )
    assert status == 200 and waiting["slips"] == []  # also no slip of an earlier test waiting

    page.click(".import-commit")
    page.wait_for_selector(".import-result h2:has-text('Sudah diimpor')")
    assert count("new") == "3"
    page.click(".slips-issue")
    page.wait_for_selector(".pin-slip")
    slips = page.locator(".pin-slip")
    assert slips.count() == 3
    assert page.evaluate("window.printed") == 1
    screenshot(page, "import-2-slips")
    found = {}
    for index in range(3):
        who = slips.nth(index).locator(".pin-slip-who").inner_text()
        pin = slips.nth(index).locator(".pin-slip-pin").inner_text()
        assert re.fullmatch(r"[0-9]{6}", pin)
        found[who.split(" · ")[1]] = pin
    assert sorted(found) == sorted("+62" + phone[1:] for phone in phones)
    # Printed, only the slips: two to a row on an A4 page.
    page.emulate_media(media="print")
    screenshot(page, "import-3-slips-printed")
    page.emulate_media(media="screen")
    page.click(".import-slips button:has-text('hapus dari layar')")
    assert page.locator(".pin-slip").count() == 0
    log_out(page)

    phone = "+62" + phones[0][1:]
    page.fill("input[name=phone]", phone)
    page.fill("input[name=pin]", found[phone])
    page.click(".login-screen button[type=submit]")
    page.wait_for_selector(".pin-change")
    screenshot(page, "import-4-set-your-pin")
    page.fill("input[name=new_pin]", "135790")
    page.fill("input[name=new_pin_again]", "135799")
    page.click(".pin-change button[type=submit]")
    assert "tidak sama" in page.inner_text(".pin-change .problem")
    page.fill("input[name=new_pin]", "135790")
    page.fill("input[name=new_pin_again]", "135790")
    page.click(".pin-change button[type=submit]")
    page.wait_for_selector(".member-home")
    log_out(page)

    log_in(page, {"phone": phone, "pin": "135790"})
    page.wait_for_selector(".member-home")
    status, _ = gateway.call("POST", "/api/v1/auth/login", {"phone": phone, "pin": found[phone]})
    assert status == 401  # the slip's PIN is gone
