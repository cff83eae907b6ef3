"""Attack: the same payment sent many times with one Idempotency-Key while the sender abandons the
key from other threads at the same moment, on SQLite and PostgreSQL.

Abandoning claims the key as a request does (gateway/idempotency.py), so it and the payment take
turns on the key: afterwards either exactly one payment was made and every abandon answered
"done" with it, or none was and every payment answered the stored 409 `request-abandoned`. Never
a payment after an "abandoned" answer, never a 5xx. A refused payment (not enough money) racing
the abandons ends the same way, with no money moved either way.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst
from gateway import payments
from gateway.db import db
from gateway.errors import PROBLEM_BASE
from gateway.models import Member, Payment, Transfer

PAYERS = 6
ABANDONERS = 6
FARE = 4_000
# Which side a round lets go first (by this many seconds), or neither: a plain race.
HEAD_START = 0.2
# How long a payment may hold its claimed key uncommitted, so that abandons arrive meanwhile.
HOLD = 0.3


def payments_of(app, member_id: str) -> int:
    with app.app_context():
        value = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Payment)
            .join(Member, Member.id == Payment.payer_member_id)
            .where(Member.public_id == member_id)
        )
        db.session.rollback()
        return value


def slug(response) -> str:
    return response.get_json().get("type", "").removeprefix(PROBLEM_BASE)


def hold_payments(monkeypatch) -> dict:
    """Make `payments.pay` wait `holding["seconds"]` once it runs: its key is claimed meanwhile."""
    holding = {"seconds": 0.0}
    original = payments.pay

    def held(*args, **kwargs):
        time.sleep(holding["seconds"])
        return original(*args, **kwargs)

    monkeypatch.setattr(payments, "pay", held)
    return holding


def race(app, city, *, balance: int, first: str | None, key: str):
    """One round: a fresh member, PAYERS sending one payment with `key`, ABANDONERS abandoning
    it; `first` ("pay", "abandon" or None) starts that side HEAD_START earlier."""
    coop = city.make_cooperative(f"K{key[-3:]}")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    driver = city.make_merchant(coop, kind="angkot")
    if balance:
        assert city.cash_in(teller, siti, balance).status_code == 201
    sticker = city.static_qr(driver)["token"]
    pay_headers = city.headers(siti, key)
    plain_headers = city.headers(siti)
    body = {"token": sticker, "amount": FARE, "pin": siti.pin}

    def call(index: int):
        paying = index < PAYERS
        if first is not None and (first == "pay") != paying:
            time.sleep(HEAD_START)
        client = app.test_client()
        if paying:
            return "pay", client.post("/api/v1/payments", json=body, headers=pay_headers)
        return "abandon", client.post(
            f"/api/v1/me/idempotency-keys/{key}/abandon", headers=plain_headers
        )

    results = burst(PAYERS + ABANDONERS, call)
    assert_no_server_error([response for _, response in results])
    pays = [response for kind, response in results if kind == "pay"]
    abandons = [response.get_json() for kind, response in results if kind == "abandon"]
    return siti, pays, abandons


def assert_one_outcome(app, city, siti, pays, abandons, *, balance: int) -> str:
    """Every answer tells the same story; return it: "paid", "refused" or "abandoned"."""
    assert all(answer["key"] for answer in abandons), abandons
    made = payments_of(app, siti.id)
    states = Counter(answer["state"] for answer in abandons)
    if states == {"abandoned": ABANDONERS}:
        # Given up before any payment ran: none ever does, every payment got the tombstone.
        assert made == 0
        assert {(r.status_code, slug(r)) for r in pays} == {(409, "request-abandoned")}, [
            r.get_json() for r in pays
        ]
        assert city.balance_of_member(siti) == balance
        return "abandoned"
    # A payment (or its refusal) answered first: every abandon returned that answer.
    assert states == {"done": ABANDONERS}, abandons
    (answer,) = {json.dumps(r.get_json(), sort_keys=True) for r in pays}
    (status,) = {r.status_code for r in pays}
    for given_up in abandons:
        assert given_up["status"] == status
        assert json.dumps(given_up["response"], sort_keys=True) == answer
    if status == 201:
        assert made == 1
        assert city.balance_of_member(siti) == balance - FARE
        return "paid"
    assert status == 422 and {slug(r) for r in pays} == {"insufficient-funds"}
    assert made == 0
    return "refused"


ROUNDS = [  # (who goes first, how long the payment holds its key)
    ("pay", 0.0),
    ("pay", HOLD),  # the abandons wait on the key the payment holds, then get its answer
    ("abandon", 0.0),
    ("abandon", HOLD),
    (None, 0.0),
    (None, HOLD),
]


def test_a_payment_and_its_abandon_never_both_win(app, city, monkeypatch):
    holding = hold_payments(monkeypatch)
    seen = Counter()
    for round_number, (first, hold) in enumerate(ROUNDS):
        holding["seconds"] = hold
        key = f"bayar-{round_number:03d}"
        siti, pays, abandons = race(app, city, balance=100_000, first=first, key=key)
        outcome = assert_one_outcome(app, city, siti, pays, abandons, balance=100_000)
        seen[(first, outcome)] += 1
    print("abandon races (who went first, outcome):", dict(seen))
    # A head start decides: the side let go first claims the key.
    assert seen[("pay", "paid")] == 2 and seen[("abandon", "abandoned")] == 2, seen
    assert city.ledger_problems() == []


def test_a_refused_payment_and_its_abandon_move_no_money(app, city, monkeypatch):
    holding = hold_payments(monkeypatch)
    seen = Counter()
    for round_number, (first, hold) in enumerate(ROUNDS):
        holding["seconds"] = hold
        key = f"tolak-{round_number:03d}"
        siti, pays, abandons = race(app, city, balance=1_000, first=first, key=key)
        outcome = assert_one_outcome(app, city, siti, pays, abandons, balance=1_000)
        assert outcome in {"refused", "abandoned"}
        seen[(first, outcome)] += 1
    print("refused-payment abandon races:", dict(seen))
    assert city.count(Payment) == 0
    assert city.ledger_problems() == []
    assert city.count(Transfer) > 0  # the cash-ins
