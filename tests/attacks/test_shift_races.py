"""Attack: the teller's shift under racing requests, on SQLite and PostgreSQL.

A burst of cash-ins released together with the shift's close: every cash movement belongs to
exactly one shift, none lands in a shift after its count (the totals written at the close are
what the ledger has for the shift afterwards), and the expected cash equals the sum of the
shift's counter transfers. Racing opens of one teller give one shift; racing closes count once.
"""

from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa
from problems import assert_problem

from attacks.burst import assert_no_server_error, burst, statuses
from gateway import shifts
from gateway.db import db
from gateway.models import Event, ShiftStatus, TellerShift, TellerShiftEvent, Transfer
from gateway.models.ledger import EventKind

SHIFTS = "/api/v1/counter/shifts"
CASH_INS = 12


def _open(city, teller, amount: int) -> str:
    response = city.post(teller, SHIFTS, {"opening_cash_amount": amount}, key=None)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


EARLY = 6  # cash-ins released with the close; the close waits until some hold the shift
HELD_BEFORE_CLOSE = 3


def test_a_burst_of_cash_ins_while_the_shift_closes_lands_each_in_exactly_one_open_shift(
    app, city, monkeypatch
):
    """The close is sent once some early cash-ins hold the shift, and the late cash-ins once the
    close has locked it (hooks on `hold_open_shift` and on the totals the close reads under its
    lock): so the close always lands in the middle of the burst, on either database."""
    ksm = city.make_cooperative("KSM")
    teller = city.make_admin(ksm, shift=False)
    members = [city.make_member(ksm) for _ in range(CASH_INS)]
    shift_id = _open(city, teller, 100_000)
    assert city.cash_in(teller, members[0], 1_000).status_code == 201  # before the burst
    headers = [city.headers(teller, uuid.uuid4().hex) for _ in range(CASH_INS)]
    close_headers = city.headers(teller)

    holders: set[int] = set()
    guard = threading.Lock()
    some_hold, close_locked = threading.Event(), threading.Event()
    real_hold, real_totals = shifts.hold_open_shift, shifts.shift_totals

    def hold(session, **arguments):
        held = real_hold(session, **arguments)
        with guard:
            holders.add(threading.get_ident())
            if len(holders) >= HELD_BEFORE_CLOSE:
                some_hold.set()
        return held

    def totals(session, shift_row_id):
        close_locked.set()  # read under the close's lock on the shift
        return real_totals(session, shift_row_id)

    monkeypatch.setattr(shifts, "hold_open_shift", hold)
    monkeypatch.setattr(shifts, "shift_totals", totals)

    def call(index: int):
        client = app.test_client()
        if index == CASH_INS:
            assert some_hold.wait(timeout=30)
            return client.post(
                f"{SHIFTS}/{shift_id}/close",
                json={"counted_cash_amount": 100_000, "pin": teller.pin},
                headers=close_headers,
            )
        if index >= EARLY:
            assert close_locked.wait(timeout=30)
        return client.post(
            "/api/v1/counter/cash-in",
            json={"member_id": members[index].id, "amount": 1_000 * (index + 2)},
            headers=headers[index],
        )

    responses = burst(CASH_INS + 1, call)
    assert_no_server_error(responses)
    closed, cash_ins = responses[CASH_INS], responses[:CASH_INS]
    assert closed.status_code == 200, closed.get_json()
    accepted = [r.get_json()["event_id"] for r in cash_ins if r.status_code == 201]
    for response in cash_ins:
        if response.status_code != 201:
            assert_problem(response, 409, "shift-required")
    # Those that held the shift before the close went in; none sent after the close had locked it.
    assert len(accepted) >= HELD_BEFORE_CLOSE
    assert all(response.status_code == 409 for response in cash_ins[EARLY:])

    with app.app_context():
        session = db.session
        shift = session.scalar(sa.select(TellerShift).where(TellerShift.public_id == shift_id))
        assert shift.status in (ShiftStatus.CLOSED, ShiftStatus.COUNTED)
        linked = dict(
            session.execute(
                sa.select(Event.public_id, TellerShiftEvent.shift_id).join(
                    TellerShiftEvent, TellerShiftEvent.event_id == Event.id
                )
            ).all()
        )
        # Every cash event belongs to exactly one shift (event_id is the link's primary key):
        # the one accepted before the burst and each accepted in it, all to this shift.
        cash_events = session.scalar(
            sa.select(sa.func.count()).select_from(Event).where(Event.kind == EventKind.CASH_IN)
        )
        assert cash_events == len(linked) == len(accepted) + 1
        assert set(accepted) <= linked.keys()
        assert set(linked.values()) == {shift.id}
        # None landed after the count: what the ledger has for the shift now is what the close
        # wrote, and the expected cash is the opening cash plus those transfers.
        in_ledger = session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Transfer.amount), 0))
            .join(TellerShiftEvent, TellerShiftEvent.event_id == Transfer.event_id)
            .where(TellerShiftEvent.shift_id == shift.id)
        )
        answered = sum(r.get_json()["amount"] for r in cash_ins if r.status_code == 201)
        assert shift.cash_in_amount == in_ledger == 1_000 + answered
        assert shift.expected_cash_amount == 100_000 + in_ledger
        assert shift.difference_amount == 100_000 - shift.expected_cash_amount
    assert city.ledger_problems() == []


def test_two_opens_at_once_give_one_shift(app, city):
    ksm = city.make_cooperative("KSM")
    teller = city.make_admin(ksm, shift=False)
    headers = city.headers(teller)

    responses = burst(
        10,
        lambda index: app.test_client().post(
            SHIFTS, json={"opening_cash_amount": 1_000 * index}, headers=headers
        ),
    )
    assert_no_server_error(responses)
    assert statuses(responses) == {201: 1, 409: 9}, statuses(responses)
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "shift-already-open")
    assert city.count(TellerShift) == 1


def test_racing_closes_of_one_shift_count_it_once(app, city):
    ksm = city.make_cooperative("KSM")
    teller = city.make_admin(ksm, shift=False)
    member = city.make_member(ksm)
    shift_id = _open(city, teller, 50_000)
    assert city.cash_in(teller, member, 25_000).status_code == 201
    headers = city.headers(teller)

    responses = burst(
        8,
        lambda index: app.test_client().post(
            f"{SHIFTS}/{shift_id}/close",
            json={"counted_cash_amount": 75_000 + index, "pin": teller.pin},
            headers=headers,
        ),
    )
    assert_no_server_error(responses)
    assert statuses(responses) == {200: 1, 409: 7}, statuses(responses)
    winner = next(r.get_json() for r in responses if r.status_code == 200)
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "transition-refused")
    report = city.get(teller, f"{SHIFTS}/{shift_id}").get_json()
    assert report["counted_cash_amount"] == winner["counted_cash_amount"]
    assert report["expected_cash_amount"] == 75_000
