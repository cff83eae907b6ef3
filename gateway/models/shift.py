"""The teller's shift (kas loket): the cash drawer a teller opens, moves cash through and
closes, and the counter events that belong to it."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import db, new_public_id, utcnow
from gateway.models.types import BigId, UTCDateTime, one_of

# The difference between counted and expected cash a teller may sign off alone, unless the
# cooperative sets its own (`cooperatives.shift_difference_threshold`).
SHIFT_DIFFERENCE_THRESHOLD_DEFAULT = 50_000


class ShiftStatus(StrEnum):
    OPEN = "open"
    # Counted and signed by the teller; the difference is past the cooperative's threshold, so
    # a second admin signs it off before it is closed. No cash moves in it any more.
    COUNTED = "counted"
    CLOSED = "closed"


ONE_OPEN_SHIFT_WHERE = "status = 'open'"


class TellerShift(db.Model):
    """One teller's shift at one cooperative's counter: the opening cash counted into the
    drawer, and at the close the cash counted out of it against what the ledger expects."""

    __tablename__ = "teller_shifts"
    __table_args__ = (
        one_of("status", ShiftStatus, "status"),
        CheckConstraint("opening_cash_amount >= 0", name="opening_cash_not_negative"),
        CheckConstraint(
            "counted_cash_amount IS NULL OR counted_cash_amount >= 0",
            name="counted_cash_not_negative",
        ),
        CheckConstraint(
            "approved_by_user_id IS NULL OR approved_by_user_id <> teller_user_id",
            name="approved_by_another",
        ),
        # One open shift per teller, whatever the counter: the database holds it when two
        # opens race.
        Index(
            "uq_teller_shifts_one_open_per_teller",
            "teller_user_id",
            unique=True,
            postgresql_where=text(ONE_OPEN_SHIFT_WHERE),
            sqlite_where=text(ONE_OPEN_SHIFT_WHERE),
        ),
        Index("ix_teller_shifts_cooperative_opened", "cooperative_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("shf")
    )
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"))
    teller_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ShiftStatus.OPEN)
    opening_cash_amount: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written once, when the teller counts the drawer and signs off (open -> counted/closed):
    # what the ledger says the drawer should hold, and what it holds.
    cash_in_amount: Mapped[int | None] = mapped_column(BigInteger)
    cash_out_amount: Mapped[int | None] = mapped_column(BigInteger)
    payout_amount: Mapped[int | None] = mapped_column(BigInteger)
    expected_cash_amount: Mapped[int | None] = mapped_column(BigInteger)
    counted_cash_amount: Mapped[int | None] = mapped_column(BigInteger)
    difference_amount: Mapped[int | None] = mapped_column(BigInteger)
    # The cooperative's threshold when the teller signed off: a difference past it needs a
    # second admin's sign-off.
    difference_threshold: Mapped[int | None] = mapped_column(BigInteger)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TellerShiftEvent(db.Model):
    """A counter event (cash in, cash out, payout) and the one shift it belongs to: written by
    `gateway.ledger.post` with the event's transfers, never changed."""

    __tablename__ = "teller_shift_events"

    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("events.id"), primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("teller_shifts.id"), index=True)
