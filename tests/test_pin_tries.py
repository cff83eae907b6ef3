"""A wrong PIN says how many tries are left and how long the lock that follows lasts; the lock says
until when. One place (`auth.PinPolicy`, from the settings in force) for every endpoint that
checks a PIN: payments and the counter alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time
from problems import assert_problem

WRONG = "000000"


def scene(city):
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    driver = city.make_merchant(coop, kind="angkot")
    assert city.cash_in(teller, siti, 100_000).status_code == 201
    return teller, siti, city.static_qr(driver)["token"]


def pay_wrong(city, siti, sticker, language="id"):
    headers = {**city.headers(siti, uuid.uuid4().hex)}
    headers["Accept-Language"] = language
    return city.client.post(
        "/api/v1/payments",
        json={"token": sticker, "amount": 60_000, "pin": WRONG},
        headers=headers,
    )


def test_each_wrong_pin_says_the_tries_left_then_the_lock_says_until_when(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start):
        _, siti, sticker = scene(city)
        city.token(siti)
        first = assert_problem(pay_wrong(city, siti, sticker), 403, "wrong-pin")
        assert first["attempts_left"] == 4
        assert first["detail"] == "PIN salah. Sisa 4 kali percobaan sebelum PIN dikunci 15 menit."
        second = assert_problem(pay_wrong(city, siti, sticker, "en"), 403, "wrong-pin")
        assert second["attempts_left"] == 3
        assert second["detail"] == (
            "Wrong PIN. 3 tries left before the PIN is locked for 15 minutes."
        )
        assert (
            assert_problem(pay_wrong(city, siti, sticker), 403, "wrong-pin")["attempts_left"] == 2
        )
        last = assert_problem(pay_wrong(city, siti, sticker, "en"), 403, "wrong-pin")
        assert last["attempts_left"] == 1
        assert last["detail"] == "Wrong PIN. 1 try left before the PIN is locked for 15 minutes."

        locked = assert_problem(pay_wrong(city, siti, sticker), 423, "pin-locked")
        assert "attempts_left" not in locked
        assert datetime.fromisoformat(locked["locked_until"]) == start + timedelta(minutes=15)
        assert locked["detail"] == "PIN salah 5 kali berturut-turut. Coba lagi dalam 15 menit."
        assert city.balance_of_member(siti) == 100_000


def test_the_sentence_follows_the_settings_in_force(app, city):
    app.config["PIN_ATTEMPTS_MAX"] = 3
    app.config["PIN_LOCKOUT_SECONDS"] = 90
    _, siti, sticker = scene(city)
    city.token(siti)
    body = assert_problem(pay_wrong(city, siti, sticker), 403, "wrong-pin")
    assert body["attempts_left"] == 2
    assert body["detail"] == "PIN salah. Sisa 2 kali percobaan sebelum PIN dikunci 90 detik."
    english = assert_problem(pay_wrong(city, siti, sticker, "en"), 403, "wrong-pin")
    assert english["detail"] == "Wrong PIN. 1 try left before the PIN is locked for 90 seconds."
    locked = assert_problem(pay_wrong(city, siti, sticker), 423, "pin-locked")
    assert locked["detail"] == "PIN salah 3 kali berturut-turut. Coba lagi dalam 90 detik."


def test_the_counter_says_the_same(app, city):
    teller, siti, _ = scene(city)
    body = assert_problem(city.cash_out(teller, siti, 10_000, pin=WRONG), 403, "wrong-pin")
    assert body["attempts_left"] == 4
    assert body["detail"] == "PIN salah. Sisa 4 kali percobaan sebelum PIN dikunci 15 menit."
