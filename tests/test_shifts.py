"""The teller's shift (gateway/shifts.py): open with the drawer's cash, every counter event in the
open shift, close with a count, a difference and the sign-offs; no cash without a shift; the
report as JSON, CSV and XLSX. Told in rupiah, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import openpyxl
import pytest
import sqlalchemy as sa
from problems import assert_problem

from gateway import ledger, registry, shifts
from gateway.db import db, transaction
from gateway.errors import ShiftRequired
from gateway.models import (
    AccountKind,
    Event,
    ShiftStatus,
    TellerShift,
    TellerShiftEvent,
    Transfer,
    User,
)
from gateway.models.ledger import EventKind, TransferCode
from gateway.tables import RUPIAH_FORMAT

SHIFTS = "/api/v1/counter/shifts"


def open_shift(city, teller, amount, **extra):
    return city.post(teller, SHIFTS, {"opening_cash_amount": amount, **extra}, key=None)


def current(city, teller):
    response = city.get(teller, f"{SHIFTS}/current")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["shift"]


def close(city, teller, shift_id, counted, pin=None):
    body = {"counted_cash_amount": counted, "pin": pin or teller.pin}
    return city.post(teller, f"{SHIFTS}/{shift_id}/close", body, key=None)


def approve(city, admin, shift_id, pin=None):
    return city.post(admin, f"{SHIFTS}/{shift_id}/approve", {"pin": pin or admin.pin}, key=None)


@pytest.fixture
def counter_day(city):
    """KSM's teller with no shift yet, a member of KSM with money, a shop of KSM with takings."""
    ksm = city.make_cooperative("KSM")
    teller = city.make_admin(ksm, pin="222222", shift=False)
    helper = city.make_admin(ksm)  # on a shift of their own: funds the member and the shop
    siti = city.make_member(ksm)
    shop = city.make_merchant(ksm)
    assert city.cash_in(helper, siti, 200_000).status_code == 201
    assert city.pay_sticker(siti, shop, 40_000).status_code == 201
    return ksm, teller, helper, siti, shop


def test_a_shift_opens_takes_every_counter_event_and_closes_with_a_small_difference(
    city, counter_day
):
    ksm, teller, _, siti, shop = counter_day
    opened = open_shift(city, teller, 500_000)
    assert opened.status_code == 201, opened.get_json()
    shift = opened.get_json()
    assert (shift["status"], shift["opening_cash_amount"]) == ("open", 500_000)
    assert shift["expected_cash_amount"] == 500_000
    assert shift["counter"]["id"] == ksm
    assert current(city, teller)["id"] == shift["id"]

    assert city.cash_in(teller, siti, 100_000).status_code == 201
    assert city.cash_out(teller, siti, 30_000).status_code == 201
    assert city.payout(teller, shop, 19_000).status_code == 201
    live = current(city, teller)
    assert (live["cash_in_amount"], live["cash_out_amount"], live["payout_amount"]) == (
        100_000,
        30_000,
        19_000,
    )
    # 500.000 + 100.000 - 30.000 - 19.000
    assert live["expected_cash_amount"] == 551_000

    # Rp 1.000 short: within the Rp 50.000 a teller signs off alone.
    closed = close(city, teller, shift["id"], 550_000)
    assert closed.status_code == 200, closed.get_json()
    body = closed.get_json()
    assert body["status"] == "closed"
    assert (body["expected_cash_amount"], body["counted_cash_amount"]) == (551_000, 550_000)
    assert body["difference_amount"] == -1_000
    assert body["difference_threshold"] == 50_000
    assert body["second_sign_off_required"] is False
    assert body["closed_at"] is not None and body["approved_by"] is None
    assert current(city, teller) is None

    # Closed: the counter refuses the teller's cash until a new shift opens.
    assert_problem(city.cash_in(teller, siti, 1_000), 409, "shift-required")
    assert open_shift(city, teller, 0).status_code == 201
    assert city.cash_in(teller, siti, 1_000).status_code == 201
    assert city.ledger_problems() == []


def test_the_expected_cash_is_what_the_ledger_has_for_the_shift(app, city, counter_day):
    _, teller, helper, siti, shop = counter_day
    shift_id = open_shift(city, teller, 250_000).get_json()["id"]
    for amount in (10_000, 25_000, 7_500):
        assert city.cash_in(teller, siti, amount).status_code == 201
    assert city.cash_out(teller, siti, 12_000).status_code == 201
    assert city.payout(teller, shop, 5_000).status_code == 201
    # Another teller's cash is not in this shift.
    assert city.cash_in(helper, siti, 99_000).status_code == 201
    body = close(city, teller, shift_id, 275_500).get_json()
    with app.app_context():
        shift = db.session.scalar(sa.select(TellerShift).where(TellerShift.public_id == shift_id))
        counter_cash = ledger.system_account(
            db.session, AccountKind.COUNTER_CASH, shift.cooperative_id
        )
        # The drawer gains what the counter_cash account is debited by, and loses what it is
        # credited by, over the shift's events.
        signed = db.session.scalar(
            sa.select(
                sa.func.sum(
                    sa.case(
                        (Transfer.debit_account_id == counter_cash.id, Transfer.amount),
                        (Transfer.credit_account_id == counter_cash.id, -Transfer.amount),
                        else_=0,
                    )
                )
            )
            .join(TellerShiftEvent, TellerShiftEvent.event_id == Transfer.event_id)
            .where(TellerShiftEvent.shift_id == shift.id)
        )
        events = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(TellerShiftEvent)
            .where(TellerShiftEvent.shift_id == shift.id)
        )
    assert signed == 10_000 + 25_000 + 7_500 - 12_000 - 5_000
    assert body["expected_cash_amount"] == 250_000 + signed == 275_500
    assert body["difference_amount"] == 0
    assert events == 5


def test_no_cash_moves_at_a_counter_without_an_open_shift_and_nothing_is_written(city, counter_day):
    _, teller, _, siti, shop = counter_day
    transfers, events = city.count(Transfer), city.count(Event)
    for response in (
        city.cash_in(teller, siti, 10_000),
        city.cash_out(teller, siti, 10_000),
        city.payout(teller, shop, 1_000),
    ):
        body = assert_problem(response, 409, "shift-required")
        assert "shift" in body["detail"]
    english = city.client.post(
        "/api/v1/counter/cash-in",
        json={"member_id": siti.id, "amount": 10_000},
        headers={**city.headers(teller, "english-1"), "Accept-Language": "en"},
    )
    assert assert_problem(english, 409, "shift-required")["detail"].startswith("Open a cash shift")
    # A cash-out without a shift is refused before the member's PIN is looked at: a wrong PIN
    # is not counted against them.
    assert_problem(city.cash_out(teller, siti, 10_000, pin="000000"), 409, "shift-required")
    with city.app.app_context():
        user = registry.get_member(db.session, siti.id).user
        assert user.failed_pin_attempts == 0
    assert (city.count(Transfer), city.count(Event)) == (transfers, events)
    assert city.balance_of_member(siti) == 200_000 - 40_000


def test_a_shift_at_one_counter_moves_no_cash_at_another(city):
    ksm, kpp = city.make_cooperative("KSM"), city.make_cooperative("KPP")
    teller = city.make_admin(ksm)  # on shift at KSM
    with city.app.app_context():

        def grant(session):
            user = session.scalar(sa.select(User).where(User.public_id == teller.user_id))
            registry.grant_staff_role(
                session,
                user=user,
                role="coop_admin",
                cooperative=registry.get_cooperative(session, kpp),
            )

        transaction(db.session, grant)
    siti = city.make_member(ksm)
    at = {"member_id": siti.id, "amount": 5_000}
    at_kpp = city.post(teller, "/api/v1/counter/cash-in", {**at, "counter_cooperative_id": kpp})
    assert_problem(at_kpp, 409, "shift-required")
    # One open shift per teller, whatever the counter.
    assert_problem(
        open_shift(city, teller, 0, counter_cooperative_id=kpp), 409, "shift-already-open"
    )
    at_ksm = city.post(teller, "/api/v1/counter/cash-in", {**at, "counter_cooperative_id": ksm})
    assert at_ksm.status_code == 201


def test_ledger_post_itself_refuses_counter_cash_without_the_tellers_shift(app, city, counter_day):
    ksm, teller, helper, siti, _ = counter_day
    with app.app_context():
        session = db.session
        cooperative = registry.get_cooperative(session, ksm)
        member = registry.get_member(session, siti.id)
        counter_cash = ledger.system_account(session, AccountKind.COUNTER_CASH, cooperative.id)
        legs = [ledger.Leg(counter_cash.id, member.wallet_account_id, 1_000, TransferCode.CASH_IN)]
        no_shift = session.scalar(sa.select(User.id).where(User.public_id == teller.user_id))
        with pytest.raises(ShiftRequired):
            ledger.post(
                session,
                kind=EventKind.CASH_IN,
                legs=legs,
                cooperative_id=cooperative.id,
                actor_user_id=no_shift,
            )
        session.rollback()
        with pytest.raises(ledger.LedgerError, match="counter"):
            ledger.post(session, kind=EventKind.CASH_IN, legs=legs)
        session.rollback()
        # Even a payment-coded leg on counter cash needs the shift: the rule is the account's.
        on_shift = session.scalar(sa.select(User.id).where(User.public_id == helper.user_id))
        posted = transaction(
            session,
            lambda s: ledger.post(
                s,
                kind=EventKind.CASH_IN,
                legs=legs,
                cooperative_id=cooperative.id,
                actor_user_id=on_shift,
            ),
        )
        shift_id = session.scalar(
            sa.select(TellerShiftEvent.shift_id).where(TellerShiftEvent.event_id == posted.id)
        )
        assert shift_id == shifts.current_shift(session, on_shift).id


def test_a_second_open_of_the_same_teller_is_refused(city, counter_day):
    _, teller, *_ = counter_day
    first = open_shift(city, teller, 100_000)
    assert first.status_code == 201
    second = open_shift(city, teller, 100_000)
    assert_problem(second, 409, "shift-already-open")
    assert city.count(TellerShift) == 2  # the helper's and the teller's one


def test_a_difference_past_the_threshold_waits_for_a_second_admin(city, counter_day):
    ksm, teller, helper, siti, _ = counter_day
    policy = f"/api/v1/cooperatives/{ksm}/shift-policy"
    set_policy = city.client.put(
        policy, json={"shift_difference_threshold": 10_000}, headers=city.headers(helper)
    )
    assert set_policy.status_code == 200, set_policy.get_json()
    assert city.get(teller, policy).get_json() == {"shift_difference_threshold": 10_000}

    shift_id = open_shift(city, teller, 300_000).get_json()["id"]
    assert city.cash_in(teller, siti, 50_000).status_code == 201
    # Rp 20.000 short: past KSM's Rp 10.000.
    counted = close(city, teller, shift_id, 330_000).get_json()
    assert counted["status"] == "counted"
    assert counted["difference_amount"] == -20_000
    assert counted["second_sign_off_required"] is True
    assert counted["closed_at"] is None
    # Counted: no cash moves in it any more, and it cannot be counted again.
    assert_problem(city.cash_in(teller, siti, 1_000), 409, "shift-required")
    assert_problem(close(city, teller, shift_id, 350_000), 409, "transition-refused")
    # Its teller cannot give the second sign-off, nor an admin of another cooperative.
    assert_problem(approve(city, teller, shift_id), 403, "second-admin-required")
    other = city.make_admin(city.make_cooperative("KPP"))
    assert_problem(approve(city, other, shift_id), 403, "forbidden")
    assert_problem(approve(city, helper, shift_id, pin="999999"), 403, "wrong-pin")
    waiting = city.get(helper, f"{SHIFTS}?status=counted").get_json()["items"]
    assert [item["id"] for item in waiting] == [shift_id]

    approved = approve(city, helper, shift_id)
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()
    assert body["status"] == "closed" and body["approved_by"] == {"name": "Admin"}
    assert body["counted_cash_amount"] == 330_000 and body["difference_amount"] == -20_000
    # A repeat changes nothing; an open shift has nothing to approve.
    assert approve(city, helper, shift_id).get_json()["approved_at"] == body["approved_at"]
    new_shift = open_shift(city, teller, 0).get_json()["id"]
    assert_problem(approve(city, helper, new_shift), 409, "transition-refused")


def test_only_the_teller_closes_their_shift_on_their_own_pin(city, counter_day):
    _, teller, helper, *_ = counter_day
    shift_id = open_shift(city, teller, 100_000).get_json()["id"]
    assert_problem(close(city, helper, shift_id, 100_000, pin=helper.pin), 403, "forbidden")
    assert_problem(close(city, teller, shift_id, 100_000, pin="999999"), 403, "wrong-pin")
    assert current(city, teller)["status"] == "open"
    outsider = city.make_admin(city.make_cooperative("KPP"))
    assert_problem(city.get(outsider, f"{SHIFTS}/{shift_id}"), 403, "forbidden")
    assert close(city, teller, shift_id, 100_000).get_json()["status"] == "closed"


@pytest.mark.parametrize(
    "body",
    [
        {"opening_cash_amount": -1},
        {"opening_cash_amount": 1.5},
        {"opening_cash_amount": "100000"},
        {"opening_cash_amount": 10**16},
        {},
        {"opening_cash_amount": 0, "extra": 1},
    ],
)
def test_a_bad_opening_cash_is_refused_and_opens_nothing(city, counter_day, body):
    _, teller, *_ = counter_day
    response = city.post(teller, SHIFTS, body, key=None)
    assert_problem(response, 422, "validation-failed")
    assert current(city, teller) is None


def test_a_member_or_merchant_cannot_open_a_shift_or_set_the_threshold(city, counter_day):
    ksm, _, _, siti, shop = counter_day
    for person in (siti, shop):
        assert_problem(open_shift(city, person, 0), 403, "forbidden")
        refused = city.client.put(
            f"/api/v1/cooperatives/{ksm}/shift-policy",
            json={"shift_difference_threshold": 0},
            headers=city.headers(person),
        )
        assert_problem(refused, 403, "forbidden")


def test_the_shift_report_prints_every_movement_and_exports_csv_and_xlsx(city, counter_day):
    _, teller, _, siti, shop = counter_day
    shift_id = open_shift(city, teller, 100_000).get_json()["id"]
    assert city.cash_in(teller, siti, 60_000).status_code == 201
    assert city.cash_out(teller, siti, 15_000).status_code == 201
    assert city.payout(teller, shop, 20_000).status_code == 201
    close(city, teller, shift_id, 124_000)

    report = city.get(teller, f"{SHIFTS}/{shift_id}").get_json()
    assert [(m["kind"], m["amount"], m["drawer_cash_amount"]) for m in report["movements"]] == [
        ("cash_in", 60_000, 160_000),
        ("cash_out", 15_000, 145_000),
        ("payout", 20_000, 125_000),
    ]
    assert [m["party"] for m in report["movements"]] == [
        "Anggota",
        "Anggota",
        report["movements"][2]["party"],
    ]
    assert report["movements"][2]["party"].startswith("Merchant ")
    assert report["difference_amount"] == -1_000

    as_csv = city.get(teller, f"{SHIFTS}/{shift_id}.csv")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert rows[0] == ["Shift"]
    summary = dict(zip(rows[1], rows[2], strict=True))
    assert summary["Kas seharusnya / Expected"] == "125000"
    assert summary["Selisih / Difference"] == "-1000"
    assert summary["Status"] == "Ditutup"

    as_xlsx = city.client.get(
        f"{SHIFTS}/{shift_id}",
        headers={
            **city.headers(teller),
            "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        },
    )
    assert as_xlsx.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(as_xlsx.data))
    assert workbook.sheetnames == ["Shift", "Mutasi kas"]
    sheet = workbook["Shift"]
    headers = [cell.value for cell in sheet[1]]
    expected = sheet.cell(2, headers.index("Kas seharusnya / Expected") + 1)
    assert expected.value == 125_000 and expected.number_format == RUPIAH_FORMAT
    opened = sheet.cell(2, headers.index("Dibuka / Opened") + 1)
    assert isinstance(opened.value, datetime)
    movements = workbook["Mutasi kas"]
    assert [row[1] for row in movements.iter_rows(min_row=2, values_only=True)] == [
        "Setor tunai",
        "Tarik tunai",
        "Pencairan merchant",
    ]
    assert sheet.freeze_panes == "A2"


def test_a_shift_opened_and_closed_through_the_use_cases_keeps_its_status_machine(app, city):
    ksm = city.make_cooperative("KSM")
    teller = city.make_admin(ksm, shift=False)
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.public_id == teller.user_id))
        cooperative = registry.get_cooperative(db.session, ksm)
        shift = transaction(
            db.session,
            lambda s: shifts.open_shift(
                s, cooperative=cooperative, teller_user_id=user_id, opening_cash_amount=0
            ),
        )
        assert shift.status == ShiftStatus.OPEN
        with pytest.raises(sa.exc.IntegrityError):
            # The database itself holds one open shift per teller.
            db.session.add(
                TellerShift(
                    cooperative_id=cooperative.id,
                    teller_user_id=user_id,
                    status=ShiftStatus.OPEN,
                    opening_cash_amount=0,
                )
            )
            db.session.flush()
        db.session.rollback()
