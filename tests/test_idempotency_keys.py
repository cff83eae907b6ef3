"""What became of my Idempotency-Key: `GET /me/idempotency-keys/{key}` and its `abandon`, on
SQLite and PostgreSQL. A caller learns the stored answer of a request they sent (replayable), or
that the gateway has none; abandoning a key returns its answer if it has one, and otherwise makes
sure no request with it ever runs (a stored 409 `request-abandoned`, whatever the body)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from freezegun import freeze_time
from problems import assert_problem

from gateway import idempotency, payments
from gateway.db import db, transaction
from gateway.models import IdempotencyKey, Payment, Transfer

PAYMENTS = "/api/v1/payments"


def scene(city, balance: int = 100_000):
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    driver = city.make_merchant(coop, kind="angkot")
    assert city.cash_in(teller, siti, balance).status_code == 201
    return siti, driver, city.static_qr(driver)["token"]


def look_up(city, person, key: str, language: str = "id"):
    return city.client.get(
        f"/api/v1/me/idempotency-keys/{quote(key, safe='')}",
        headers={**city.headers(person), "Accept-Language": language},
    )


def abandon(city, person, key: str, language: str = "id"):
    return city.client.post(
        f"/api/v1/me/idempotency-keys/{quote(key, safe='')}/abandon",
        headers={**city.headers(person), "Accept-Language": language},
    )


def stored(app, scope: str, key: str) -> IdempotencyKey | None:
    with app.app_context():
        row = db.session.scalar(
            db.select(IdempotencyKey).where(
                IdempotencyKey.scope == scope, IdempotencyKey.key == key
            )
        )
        if row is not None:
            db.session.expunge(row)
        return row


# --- Looking a key up ---------------------------------------------------------------------------


def test_a_finished_payment_is_found_with_its_answer_which_replays(city):
    siti, _, sticker = scene(city)
    paid = city.pay(siti, sticker, amount=4_000, key="bayar-1")
    assert paid.status_code == 201, paid.get_json()

    found = look_up(city, siti, "bayar-1")
    assert found.status_code == 200, found.get_json()
    assert found.get_json() == {
        "key": "bayar-1",
        "state": "done",
        "status": 201,
        "response": paid.get_json(),
    }
    again = city.pay(siti, sticker, amount=4_000, key="bayar-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == paid.get_json()
    assert city.count(Payment) == 1


def test_a_stored_refusal_is_found_as_done_with_its_problem(city):
    siti, _, sticker = scene(city, balance=1_000)
    refused = assert_problem(
        city.pay(siti, sticker, amount=4_000, key="bayar-1"), 422, "insufficient-funds"
    )
    found = look_up(city, siti, "bayar-1").get_json()
    assert found == {"key": "bayar-1", "state": "done", "status": 422, "response": refused}


def test_a_key_with_no_finished_request_is_unknown_in_both_languages(city):
    siti, _, _ = scene(city)
    body = assert_problem(look_up(city, siti, "never-sent"), 404, "idempotency-key-unknown")
    assert body["detail"].startswith("Gateway tidak punya permintaan yang sudah selesai")
    english = assert_problem(
        look_up(city, siti, "never-sent", language="en"), 404, "idempotency-key-unknown"
    )
    assert english["detail"] == (
        "The gateway has no finished request with this key: it has not arrived, it was rolled"
        " back, or it is still being handled."
    )


def test_a_wrong_pin_leaves_nothing_to_find(city):
    siti, _, sticker = scene(city)
    assert_problem(
        city.pay(siti, sticker, amount=60_000, pin="000000", key="bayar-1"), 403, "wrong-pin"
    )
    assert_problem(look_up(city, siti, "bayar-1"), 404, "idempotency-key-unknown")


def test_another_callers_keys_are_invisible_and_untouched(app, city):
    siti, driver, sticker = scene(city)
    paid = city.pay(siti, sticker, amount=4_000, key="bayar-1")
    assert paid.status_code == 201
    # The driver (another login) asks about, and abandons, the same key: it is not theirs.
    assert_problem(look_up(city, driver, "bayar-1"), 404, "idempotency-key-unknown")
    assert abandon(city, driver, "bayar-1").get_json() == {"key": "bayar-1", "state": "abandoned"}
    # Siti's key is as it was; her request replays its payment.
    assert look_up(city, siti, "bayar-1").get_json()["response"] == paid.get_json()
    again = city.pay(siti, sticker, amount=4_000, key="bayar-1")
    assert again.status_code == 201 and again.get_json() == paid.get_json()
    assert stored(app, siti.user_id, "bayar-1").request_hash != idempotency.ABANDONED


@pytest.mark.parametrize(
    "key",
    ["k" * 256, "kunci-é", "kunci\x7f"],
    ids=["too-long", "not-ascii", "not-printable"],
)
def test_a_bad_key_is_refused(city, key):
    siti, _, _ = scene(city)
    keys = city.count(IdempotencyKey)
    assert_problem(look_up(city, siti, key), 422, "validation-failed")
    assert_problem(abandon(city, siti, key), 422, "validation-failed")
    assert city.count(IdempotencyKey) == keys


def test_asking_needs_a_login(city):
    scene(city)
    response = city.client.get("/api/v1/me/idempotency-keys/bayar-1")
    assert_problem(response, 401, "authentication-required")
    response = city.client.post("/api/v1/me/idempotency-keys/bayar-1/abandon")
    assert_problem(response, 401, "authentication-required")


# --- Abandoning a key ---------------------------------------------------------------------------


def test_an_abandoned_key_never_runs_whatever_the_body(app, city):
    siti, _, sticker = scene(city)
    given_up = abandon(city, siti, "bayar-1")
    assert given_up.status_code == 200
    assert given_up.get_json() == {"key": "bayar-1", "state": "abandoned"}
    transfers = city.count(Transfer)

    late = assert_problem(
        city.pay(siti, sticker, amount=4_000, key="bayar-1"), 409, "request-abandoned"
    )
    assert late["detail"] == (
        "Permintaan ini sudah dibatalkan oleh pengirimnya; tidak ada uang yang berpindah."
    )
    other_body = city.pay(siti, sticker, amount=7_000, pin=None, key="bayar-1")
    assert_problem(other_body, 409, "request-abandoned")
    assert other_body.get_json() == late
    assert other_body.headers["Idempotent-Replayed"] == "true"
    assert city.count(Transfer) == transfers
    assert city.count(Payment) == 0
    assert city.balance_of_member(siti) == 100_000

    # Asking about it says so; abandoning it again is fine and says the same.
    assert look_up(city, siti, "bayar-1").get_json() == {"key": "bayar-1", "state": "abandoned"}
    assert abandon(city, siti, "bayar-1").get_json() == {"key": "bayar-1", "state": "abandoned"}
    # The tombstone is a plain done row: no lease, retained like any key.
    row = stored(app, siti.user_id, "bayar-1")
    assert row.state == "done" and row.request_hash == idempotency.ABANDONED
    assert row.response_status == 409 and row.event_id is None
    retention = timedelta(seconds=app.config["IDEMPOTENCY_RETENTION_SECONDS"])
    assert row.expires_at - row.created_at == retention


def test_abandoning_a_paid_key_returns_the_payment(city):
    siti, _, sticker = scene(city)
    paid = city.pay(siti, sticker, amount=4_000, key="bayar-1")
    assert paid.status_code == 201

    answer = abandon(city, siti, "bayar-1")
    assert answer.status_code == 200
    assert answer.get_json() == {
        "key": "bayar-1",
        "state": "done",
        "status": 201,
        "response": paid.get_json(),
    }
    # Nothing was given up: the key still replays the payment.
    again = city.pay(siti, sticker, amount=4_000, key="bayar-1")
    assert again.status_code == 201 and again.get_json() == paid.get_json()
    assert city.count(Payment) == 1


def test_abandoning_after_a_wrong_pin_buries_the_released_key(city):
    siti, _, sticker = scene(city)
    assert_problem(
        city.pay(siti, sticker, amount=60_000, pin="000000", key="bayar-1"), 403, "wrong-pin"
    )
    assert abandon(city, siti, "bayar-1").get_json()["state"] == "abandoned"
    assert_problem(city.pay(siti, sticker, amount=60_000, key="bayar-1"), 409, "request-abandoned")
    assert city.count(Payment) == 0


def test_the_tombstone_speaks_the_language_of_the_abandon_and_is_purged_after_retention(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        siti, _, sticker = scene(city)
        assert abandon(city, siti, "bayar-1", language="en").status_code == 200
        late = city.pay(siti, sticker, amount=4_000, key="bayar-1")
        assert late.get_json()["detail"] == (
            "This request was abandoned by its sender; no money has moved."
        )
        frozen.move_to(start + timedelta(seconds=app.config["IDEMPOTENCY_RETENTION_SECONDS"] + 1))
        city._tokens.clear()
        with app.app_context():
            assert transaction(db.session, idempotency.purge) >= 1
        assert stored(app, siti.user_id, "bayar-1") is None
        assert_problem(look_up(city, siti, "bayar-1"), 404, "idempotency-key-unknown")


def test_an_answer_past_its_retention_is_found_and_never_buried_until_it_is_purged(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        siti, _, sticker = scene(city)
        paid = city.pay(siti, sticker, amount=4_000, key="bayar-1")
        assert paid.status_code == 201
        frozen.move_to(start + timedelta(seconds=app.config["IDEMPOTENCY_RETENTION_SECONDS"] + 1))
        city._tokens.clear()
        # Not purged yet: the payment is still what became of the key, and abandoning it says so
        # (a tombstone here would tell the app that no money moved).
        assert look_up(city, siti, "bayar-1").get_json()["response"] == paid.get_json()
        answer = abandon(city, siti, "bayar-1").get_json()
        assert answer["state"] == "done" and answer["response"] == paid.get_json()
        with app.app_context():
            assert transaction(db.session, idempotency.purge) >= 1
        assert_problem(look_up(city, siti, "bayar-1"), 404, "idempotency-key-unknown")


def test_abandon_waits_for_the_request_holding_the_key_and_returns_its_payment(
    app, city, monkeypatch, is_postgresql
):
    siti, _, sticker = scene(city)
    headers = city.headers(siti, "bayar-1")
    original = payments.pay
    entered = threading.Event()

    def slow_pay(*args, **kwargs):
        entered.set()
        time.sleep(0.5)  # the key is claimed, uncommitted, while the abandon arrives
        return original(*args, **kwargs)

    monkeypatch.setattr(payments, "pay", slow_pay)
    results = {}

    def pay():
        results["pay"] = app.test_client().post(
            PAYMENTS, json={"token": sticker, "amount": 4_000, "pin": siti.pin}, headers=headers
        )

    def ask():
        results["lookup"] = app.test_client().get(
            "/api/v1/me/idempotency-keys/bayar-1", headers=city.headers(siti)
        )

    thread = threading.Thread(target=pay)
    thread.start()
    assert entered.wait(timeout=30)
    if is_postgresql:
        # A plain read does not wait: the claim is not committed, so nothing is known yet.
        ask()
        assert_problem(results["lookup"], 404, "idempotency-key-unknown")
    answer = abandon(city, siti, "bayar-1")
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert results["pay"].status_code == 201, results["pay"].get_json()
    assert answer.get_json() == {
        "key": "bayar-1",
        "state": "done",
        "status": 201,
        "response": results["pay"].get_json(),
    }
    assert city.count(Payment) == 1


def test_keys_are_looked_up_in_the_callers_scope_only(app):
    """The use case's own contract, without HTTP: scope and key together name a key."""
    with app.app_context():
        outcome = idempotency.abandon(
            db.session,
            scope="usr_a",
            key="k",
            policy=idempotency.Policy(retention_seconds=60),
        )
        assert outcome.abandoned and outcome.status == 409
        assert idempotency.lookup(db.session, scope="usr_a", key="k").abandoned
        with pytest.raises(Exception) as raised:
            idempotency.lookup(db.session, scope="usr_b", key="k")
        assert raised.value.slug == "idempotency-key-unknown"
        db.session.rollback()


def test_a_fresh_key_is_unknown(city):
    siti, _, _ = scene(city)
    assert_problem(look_up(city, siti, uuid.uuid4().hex), 404, "idempotency-key-unknown")
