"""A burst of wrong PINs cannot outrun the lockout: at most PIN_ATTEMPTS_MAX wrong PINs are ever
evaluated per lock period, however many arrive at once, at login, at payment and at the
counter; a right PIN sent inside or after the burst is refused while the lock holds.

Evaluated is measured, not inferred: every scrypt computation of the process is counted.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst, statuses
from attacks.pins import Evaluations
from gateway.db import db
from gateway.models import Transfer, User

BURST = 20
WRONG = "000000"


@pytest.fixture
def evaluations(monkeypatch):
    return Evaluations().install(monkeypatch)


def lock_state(app, person) -> tuple[int, object]:
    with app.app_context():
        row = db.session.execute(
            sa.select(User.failed_pin_attempts, User.locked_until).where(
                User.public_id == person.user_id
            )
        ).one()
        db.session.rollback()
        return row


def login(app, person, pin):
    return app.test_client().post("/api/v1/auth/login", json={"phone": person.phone, "pin": pin})


def test_a_burst_of_wrong_pins_at_login_evaluates_at_most_five(app, city, evaluations):
    attempts_max = app.config["PIN_ATTEMPTS_MAX"]
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    evaluations.clear()

    responses = burst(BURST, lambda index: login(app, siti, WRONG))

    assert_no_server_error(responses)
    assert set(statuses(responses)) <= {401, 423}, statuses(responses)
    assert evaluations.of(WRONG) <= attempts_max, evaluations.pins
    failures, locked_until = lock_state(app, siti)
    assert locked_until is not None and failures == attempts_max
    # The right PIN after the burst: refused, and not even compared.
    evaluations.clear()
    assert login(app, siti, siti.pin).status_code == 423
    assert evaluations.pins == []


def test_a_right_pin_inside_a_burst_of_wrong_ones_never_follows_five_wrong(app, city, evaluations):
    attempts_max = app.config["PIN_ATTEMPTS_MAX"]
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    evaluations.clear()
    right_index = BURST // 2

    responses = burst(
        BURST, lambda index: login(app, siti, siti.pin if index == right_index else WRONG)
    )

    assert_no_server_error(responses)
    order = list(evaluations.pins)
    if responses[right_index].status_code == 200:
        # It was let in only because it came before the fifth wrong PIN.
        assert order[: order.index(siti.pin)].count(WRONG) < attempts_max, order
        after = order[order.index(siti.pin) + 1 :]
        assert after.count(WRONG) <= attempts_max, order
    else:
        assert responses[right_index].status_code == 423
        assert siti.pin not in order and order.count(WRONG) <= attempts_max, order


def test_a_burst_of_wrong_pins_at_payment_evaluates_at_most_five(app, city, evaluations):
    attempts_max = app.config["PIN_ATTEMPTS_MAX"]
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    shop = city.make_merchant(coop)
    assert city.cash_in(teller, siti, 500_000).status_code == 201
    sticker = city.static_qr(shop)["token"]
    headers = city.headers(siti)
    evaluations.clear()

    def pay(index, pin=WRONG):
        return app.test_client().post(
            "/api/v1/payments",
            json={"token": sticker, "amount": 50_000, "pin": pin},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )

    responses = burst(BURST, pay)

    assert_no_server_error(responses)
    assert set(statuses(responses)) <= {403, 423}, statuses(responses)
    assert evaluations.of(WRONG) <= attempts_max, evaluations.pins
    evaluations.clear()
    assert pay(0, siti.pin).status_code == 423
    assert evaluations.pins == []
    assert city.balance_of_member(siti) == 500_000
    assert city.ledger_problems() == []


def test_a_burst_of_wrong_pins_at_the_counter_evaluates_at_most_five(app, city, evaluations):
    attempts_max = app.config["PIN_ATTEMPTS_MAX"]
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    assert city.cash_in(teller, siti, 500_000).status_code == 201
    headers = city.headers(teller)
    evaluations.clear()

    def cash_out(index, pin=WRONG):
        return app.test_client().post(
            "/api/v1/counter/cash-out",
            json={"member_id": siti.id, "amount": 100_000, "pin": pin},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )

    responses = burst(BURST, cash_out)

    assert_no_server_error(responses)
    assert set(statuses(responses)) <= {403, 423}, statuses(responses)
    assert evaluations.of(WRONG) <= attempts_max, evaluations.pins
    evaluations.clear()
    assert cash_out(0, siti.pin).status_code == 423
    assert evaluations.pins == []
    assert city.balance_of_member(siti) == 500_000
    assert city.count(Transfer) == 1
