"""The teller's shift (kas loket): open a cash drawer, move cash through it, count and close it.

A teller (a cooperative's admin at its counter) opens a shift with the cash counted into the
drawer. Every cash-in, cash-out and payout at that counter then belongs to the teller's open
shift there: `gateway.ledger.post` holds the shift (`hold_open_shift`) for every event that moves
a counter_cash account and records the event on it (`record_event`), and refuses the event when
there is none (409 `shift-required`), so no counter path can forget it. One open shift per
teller, whatever the counter: a partial unique index holds it when two opens race.

Closing: the teller counts the drawer and signs off with their PIN. The expected cash is the
opening cash plus the cash taken in minus the cash paid out and the payouts, as the ledger has the
shift's transfers; the difference is counted minus expected (a shortage is negative). A difference
past the cooperative's threshold (`cooperatives.shift_difference_threshold`, Rp 50.000 unless it
sets its own) leaves the shift `counted` until a second admin of that cooperative — never its
teller — signs off with their PIN too; otherwise it is `closed` at once. Either way no cash moves
in it after the count.

Why the close cannot miss a cash-in racing it: an event holds its shift's row FOR SHARE (PostgreSQL;
SQLite's write lock does it there) until it commits, and the close first locks the row FOR UPDATE,
which waits for every event holding it, then reads the totals in a statement of its own (READ
COMMITTED: it sees them all), then moves the state. An event that asks for the shift after the
close re-reads the row, finds it no longer open, and is refused.

The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from gateway import states, tables
from gateway.auth import PinPolicy, check_pin
from gateway.db import is_postgresql, unique_violation_table, utcnow
from gateway.errors import (
    Forbidden,
    NotFound,
    SecondAdminRequired,
    ShiftAlreadyOpen,
    ShiftRequired,
    ValidationFailed,
)
from gateway.models import (
    Cooperative,
    Event,
    Member,
    Merchant,
    ShiftStatus,
    TellerShift,
    TellerShiftEvent,
    Transfer,
    User,
)
from gateway.models.ledger import TransferCode
from gateway.money import AMOUNT_MAX

# The transfer codes of counter events, and which way each moves the drawer's cash.
DRAWER_SIGN = {TransferCode.CASH_IN: 1, TransferCode.CASH_OUT: -1, TransferCode.PAYOUT: -1}
LIST_MAX = 100


# --- Cash at the counter (called by gateway.ledger.post) -------------------------------------


def hold_open_shift(session: Session, *, cooperative_id: int, teller_user_id: int) -> int:
    """Return the id of the teller's open shift at `cooperative_id`, held until the transaction
    ends (FOR SHARE: events of one shift go on together, a close waits for them); raise
    `ShiftRequired` if there is none."""
    statement = select(TellerShift.id).where(
        TellerShift.teller_user_id == teller_user_id,
        TellerShift.cooperative_id == cooperative_id,
        TellerShift.status == ShiftStatus.OPEN,
    )
    if is_postgresql(session):
        statement = statement.with_for_update(read=True)
    shift_id = session.execute(statement).scalar()
    if shift_id is None:
        raise ShiftRequired()
    return shift_id


def record_event(session: Session, shift_id: int, event_id: int) -> None:
    """Record that a counter event belongs to a shift (its primary key: to exactly one)."""
    session.execute(insert(TellerShiftEvent).values(event_id=event_id, shift_id=shift_id))


# --- Open, count, sign off --------------------------------------------------------------------


def _check_amount(name: str, amount: int) -> None:
    if type(amount) is not int or not 0 <= amount <= AMOUNT_MAX:
        raise ValidationFailed(
            f"{name} must be a whole number of rupiah from 0 to {AMOUNT_MAX}.",
            f"{name} harus bilangan bulat rupiah dari 0 sampai {AMOUNT_MAX}.",
        )


def open_shift(
    session: Session, *, cooperative: Cooperative, teller_user_id: int, opening_cash_amount: int
) -> TellerShift:
    """Open the teller's shift at `cooperative`'s counter with the cash counted into the drawer.

    `ShiftAlreadyOpen` (409) if the teller has an open shift, here or at another counter: read
    first, and the unique index refuses the one of two racing opens that comes second.
    """
    _check_amount("opening_cash_amount", opening_cash_amount)
    if current_shift(session, teller_user_id) is not None:
        raise ShiftAlreadyOpen()
    shift = TellerShift(
        cooperative_id=cooperative.id,
        teller_user_id=teller_user_id,
        status=ShiftStatus.OPEN,
        opening_cash_amount=opening_cash_amount,
        opened_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(shift)
    except IntegrityError as error:
        if unique_violation_table(error) is None:
            raise
        raise ShiftAlreadyOpen() from None
    return shift


def current_shift(session: Session, teller_user_id: int) -> TellerShift | None:
    """Return the teller's open shift (at whichever counter), or None."""
    return session.scalar(
        select(TellerShift).where(
            TellerShift.teller_user_id == teller_user_id, TellerShift.status == ShiftStatus.OPEN
        )
    )


def get_shift(session: Session, public_id: str) -> TellerShift:
    shift = session.scalar(select(TellerShift).where(TellerShift.public_id == public_id))
    if shift is None:
        raise NotFound("No such shift.", "Shift tidak ditemukan.")
    return shift


@dataclass(frozen=True)
class Totals:
    """What the ledger says moved through a shift's drawer."""

    cash_in_amount: int
    cash_out_amount: int
    payout_amount: int
    event_count: int

    def expected(self, opening_cash_amount: int) -> int:
        return opening_cash_amount + self.cash_in_amount - self.cash_out_amount - self.payout_amount


def shift_totals(session: Session, shift_id: int) -> Totals:
    """Sum the transfers of the shift's counter events, by what they did."""
    sums = {
        code: int(total)
        for code, total in session.execute(
            select(Transfer.code, func.sum(Transfer.amount))
            .join(TellerShiftEvent, TellerShiftEvent.event_id == Transfer.event_id)
            .where(TellerShiftEvent.shift_id == shift_id, Transfer.code.in_(list(DRAWER_SIGN)))
            .group_by(Transfer.code)
        ).all()
    }
    count = session.scalar(
        select(func.count())
        .select_from(TellerShiftEvent)
        .where(TellerShiftEvent.shift_id == shift_id)
    )
    return Totals(
        cash_in_amount=sums.get(TransferCode.CASH_IN, 0),
        cash_out_amount=sums.get(TransferCode.CASH_OUT, 0),
        payout_amount=sums.get(TransferCode.PAYOUT, 0),
        event_count=int(count or 0),
    )


def close_shift(
    session: Session,
    *,
    shift: TellerShift,
    teller_user_id: int,
    counted_cash_amount: int,
    pin: str,
    pin_policy: PinPolicy,
) -> TellerShift:
    """Record the cash counted in the drawer and the teller's sign-off (their PIN); close the
    shift, or leave it `counted` for a second admin when the difference is past the threshold.

    Only the shift's teller closes it. A shift no longer open is refused (409
    `transition-refused`): a count is written once.
    """
    if shift.teller_user_id != teller_user_id:
        raise Forbidden(
            "Only the shift's own teller counts and closes it.",
            "Hanya teller shift ini yang menghitung dan menutupnya.",
        )
    _check_amount("counted_cash_amount", counted_cash_amount)
    check_pin(session, teller_user_id, pin, pin_policy)
    # Lock first: this waits for every cash event holding the shift, so the totals read next
    # include them all, and none can join it after.
    current = states.state_of(session, states.TELLER_SHIFT, shift.id)
    if current != ShiftStatus.OPEN:
        raise states.TransitionRefused(states.TELLER_SHIFT, current, ShiftStatus.CLOSED)
    totals = shift_totals(session, shift.id)
    expected = totals.expected(shift.opening_cash_amount)
    difference = counted_cash_amount - expected
    threshold = session.scalar(
        select(Cooperative.shift_difference_threshold).where(Cooperative.id == shift.cooperative_id)
    )
    now = utcnow()
    needs_second = abs(difference) > threshold
    states.transition(
        session,
        states.TELLER_SHIFT,
        shift.id,
        ShiftStatus.COUNTED if needs_second else ShiftStatus.CLOSED,
        cash_in_amount=totals.cash_in_amount,
        cash_out_amount=totals.cash_out_amount,
        payout_amount=totals.payout_amount,
        expected_cash_amount=expected,
        counted_cash_amount=counted_cash_amount,
        difference_amount=difference,
        difference_threshold=threshold,
        counted_at=now,
        closed_at=None if needs_second else now,
    )
    session.refresh(shift)
    return shift


def approve_shift(
    session: Session,
    *,
    shift: TellerShift,
    approver_user_id: int,
    pin: str,
    pin_policy: PinPolicy,
) -> TellerShift:
    """Sign a counted shift's difference off as a second admin (their PIN) and close it.

    The caller checked that the approver administers the shift's cooperative; the teller
    cannot approve their own shift (`SecondAdminRequired`, 403). A shift still open, or closed
    without needing it, is refused (409 `transition-refused`); a repeat changes nothing.
    """
    if shift.teller_user_id == approver_user_id:
        raise SecondAdminRequired()
    check_pin(session, approver_user_id, pin, pin_policy)
    current = states.state_of(session, states.TELLER_SHIFT, shift.id)
    if current == ShiftStatus.CLOSED and shift.approved_by_user_id is not None:
        return shift
    if current != ShiftStatus.COUNTED:
        raise states.TransitionRefused(states.TELLER_SHIFT, current, ShiftStatus.CLOSED)
    now = utcnow()
    states.transition(
        session,
        states.TELLER_SHIFT,
        shift.id,
        ShiftStatus.CLOSED,
        approved_by_user_id=approver_user_id,
        approved_at=now,
        closed_at=now,
    )
    session.refresh(shift)
    return shift


def set_difference_threshold(session: Session, cooperative: Cooperative, amount: int) -> None:
    """Set the difference past which a second admin signs a shift off at `cooperative`."""
    _check_amount("shift_difference_threshold", amount)
    cooperative.shift_difference_threshold = amount
    session.flush()


def list_shifts(
    session: Session, cooperative: Cooperative, status: str | None = None
) -> list[TellerShift]:
    """Return the cooperative's latest shifts (at most LIST_MAX), newest first."""
    statement = select(TellerShift).where(TellerShift.cooperative_id == cooperative.id)
    if status is not None:
        statement = statement.where(TellerShift.status == status)
    return list(
        session.scalars(
            statement.order_by(TellerShift.opened_at.desc(), TellerShift.id.desc()).limit(LIST_MAX)
        )
    )


# --- What a shift shows and prints -----------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def shift_json(session: Session, shift: TellerShift) -> dict:
    """Render a shift: who, where, when, and the drawer's figures (expected live while open,
    as written at the count after)."""
    names = dict(
        session.execute(
            select(User.id, User.name).where(
                User.id.in_({shift.teller_user_id, shift.approved_by_user_id} - {None})
            )
        ).all()
    )
    cooperative = session.get(Cooperative, shift.cooperative_id)
    if shift.status == ShiftStatus.OPEN:
        totals = shift_totals(session, shift.id)
        cash_in, cash_out, payout = (
            totals.cash_in_amount,
            totals.cash_out_amount,
            totals.payout_amount,
        )
        expected = totals.expected(shift.opening_cash_amount)
        threshold = cooperative.shift_difference_threshold
    else:
        cash_in, cash_out, payout = shift.cash_in_amount, shift.cash_out_amount, shift.payout_amount
        expected = shift.expected_cash_amount
        threshold = shift.difference_threshold
    return {
        "id": shift.public_id,
        "status": shift.status,
        "counter": {"id": cooperative.public_id, "name": cooperative.name},
        "teller": {"name": names[shift.teller_user_id]},
        "opened_at": shift.opened_at.isoformat(),
        "opening_cash_amount": shift.opening_cash_amount,
        "cash_in_amount": cash_in,
        "cash_out_amount": cash_out,
        "payout_amount": payout,
        "expected_cash_amount": expected,
        "counted_cash_amount": shift.counted_cash_amount,
        "difference_amount": shift.difference_amount,
        "difference_threshold": threshold,
        "second_sign_off_required": shift.status == ShiftStatus.COUNTED
        or shift.approved_by_user_id is not None,
        "counted_at": _iso(shift.counted_at),
        "approved_by": (
            None
            if shift.approved_by_user_id is None
            else {"name": names[shift.approved_by_user_id]}
        ),
        "approved_at": _iso(shift.approved_at),
        "closed_at": _iso(shift.closed_at),
    }


def shift_movements(session: Session, shift: TellerShift) -> list[dict]:
    """Return the shift's counter events in order: when, what, for whom, how much, and the
    cash the drawer should hold after each."""
    member_user = aliased(User)
    rows = session.execute(
        select(
            Event.public_id,
            Event.created_at,
            Transfer.code,
            Transfer.amount,
            member_user.name,
            Merchant.name,
        )
        .join(TellerShiftEvent, TellerShiftEvent.event_id == Event.id)
        .join(Transfer, Transfer.event_id == Event.id)
        .outerjoin(
            Member,
            Member.wallet_account_id
            == case(
                (Transfer.code == TransferCode.CASH_IN, Transfer.credit_account_id),
                else_=Transfer.debit_account_id,
            ),
        )
        .outerjoin(member_user, member_user.id == Member.user_id)
        .outerjoin(Merchant, Merchant.account_id == Transfer.debit_account_id)
        .where(TellerShiftEvent.shift_id == shift.id, Transfer.code.in_(list(DRAWER_SIGN)))
        .order_by(Event.id)
    ).all()
    drawer = shift.opening_cash_amount
    movements = []
    for event_id, created_at, code, amount, member_name, merchant_name in rows:
        drawer += DRAWER_SIGN[code] * amount
        movements.append(
            {
                "event_id": event_id,
                "created_at": created_at.isoformat(),
                "kind": str(code),
                "party": member_name or merchant_name or "",
                "amount": int(amount),
                "drawer_cash_amount": drawer,
            }
        )
    return movements


def shift_report(session: Session, shift: TellerShift) -> dict:
    """The shift and its movements: what the printed report and its CSV/XLSX hold."""
    return {**shift_json(session, shift), "movements": shift_movements(session, shift)}


KIND_NAMES = {"cash_in": "Setor tunai", "cash_out": "Tarik tunai", "payout": "Pencairan merchant"}
STATUS_NAMES = {"open": "Terbuka", "counted": "Menunggu persetujuan", "closed": "Ditutup"}


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def report_tables(report: dict) -> list[tables.Table]:
    """Render a shift report as a summary table and a movements table (CSV or XLSX)."""
    summary = tables.Table(
        "Shift",
        [
            tables.Column("shift", "Shift"),
            tables.Column("counter", "Loket / Counter"),
            tables.Column("teller", "Teller"),
            tables.Column("status", "Status"),
            tables.Column("opened_at", "Dibuka / Opened", "datetime"),
            tables.Column("counted_at", "Dihitung / Counted", "datetime"),
            tables.Column("closed_at", "Ditutup / Closed", "datetime"),
            tables.Column("opening", "Kas awal / Opening cash", "rupiah"),
            tables.Column("cash_in", "Setor tunai / Cash in", "rupiah"),
            tables.Column("cash_out", "Tarik tunai / Cash out", "rupiah"),
            tables.Column("payout", "Pencairan / Payouts", "rupiah"),
            tables.Column("expected", "Kas seharusnya / Expected", "rupiah"),
            tables.Column("counted", "Kas dihitung / Counted", "rupiah"),
            tables.Column("difference", "Selisih / Difference", "rupiah"),
            tables.Column("threshold", "Batas selisih / Threshold", "rupiah"),
            tables.Column("approved_by", "Disetujui / Approved by"),
        ],
        [
            {
                "shift": report["id"],
                "counter": report["counter"]["name"],
                "teller": report["teller"]["name"],
                "status": STATUS_NAMES[report["status"]],
                "opened_at": _moment(report["opened_at"]),
                "counted_at": _moment(report["counted_at"]),
                "closed_at": _moment(report["closed_at"]),
                "opening": report["opening_cash_amount"],
                "cash_in": report["cash_in_amount"],
                "cash_out": report["cash_out_amount"],
                "payout": report["payout_amount"],
                "expected": report["expected_cash_amount"],
                "counted": report["counted_cash_amount"],
                "difference": report["difference_amount"],
                "threshold": report["difference_threshold"],
                "approved_by": (report["approved_by"] or {}).get("name"),
            }
        ],
    )
    movements = tables.Table(
        "Mutasi kas",
        [
            tables.Column("created_at", "Waktu / Time", "datetime"),
            tables.Column("kind", "Jenis / Kind"),
            tables.Column("party", "Anggota atau merchant / Member or merchant"),
            tables.Column("amount", "Jumlah / Amount", "rupiah"),
            tables.Column("drawer", "Kas di laci / Drawer cash", "rupiah"),
            tables.Column("event_id", "Bukti / Event"),
        ],
        [
            {
                "created_at": _moment(movement["created_at"]),
                "kind": KIND_NAMES[movement["kind"]],
                "party": movement["party"],
                "amount": movement["amount"],
                "drawer": movement["drawer_cash_amount"],
                "event_id": movement["event_id"],
            }
            for movement in report["movements"]
        ],
    )
    return [summary, movements]
