"""Cooperatives (koperasi): the members' and merchants' home institutions."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import db, new_public_id, utcnow
from gateway.models.shift import SHIFT_DIFFERENCE_THRESHOLD_DEFAULT
from gateway.models.types import UTCDateTime, one_of


class CooperativeKind(StrEnum):
    CONSUMER = "consumer"
    MARKET_TRADERS = "market_traders"
    TRANSPORT = "transport"
    SAVINGS_AND_LOAN = "savings_and_loan"
    OTHER = "other"


class Cooperative(db.Model):
    __tablename__ = "cooperatives"
    __table_args__ = (one_of("kind", CooperativeKind, "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("coop")
    )
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(24))
    # How far the cooperative's net position may fall below zero before settlement (NULL: no cap).
    net_debit_cap: Mapped[int | None] = mapped_column(BigInteger)
    # The difference between a teller's counted and expected cash (either way, in rupiah) past
    # which a second admin signs the shift off (gateway/shifts.py).
    shift_difference_threshold: Mapped[int] = mapped_column(
        BigInteger,
        default=SHIFT_DIFFERENCE_THRESHOLD_DEFAULT,
        server_default=str(SHIFT_DIFFERENCE_THRESHOLD_DEFAULT),
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
