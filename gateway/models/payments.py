"""QR codes, payments, refunds, fee schedules and limit policies."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import db, new_public_id, utcnow
from gateway.models.types import BigId, UTCDateTime, one_of


class QrKind(StrEnum):
    STATIC = "static"
    DYNAMIC = "dynamic"


# Which status may follow which: gateway.states (DYNAMIC_QR, STATIC_QR).
class QrStatus(StrEnum):
    ACTIVE = "active"
    PAID = "paid"
    CANCELLED = "cancelled"
    REVOKED = "revoked"


ONE_ACTIVE_STICKER_WHERE = "kind = 'static' AND status = 'active'"
# The default and on-us rules, and the city's limit policies, have NULL cooperatives, which a
# plain unique index treats as all different: a partial index holds each to one row.
FEE_RULE_WITHOUT_PAIR_WHERE = "issuer_cooperative_id IS NULL AND acquirer_cooperative_id IS NULL"
CITY_POLICY_WHERE = "cooperative_id IS NULL"


class QrCode(db.Model):
    __tablename__ = "qr_codes"
    __table_args__ = (
        one_of("kind", QrKind, "kind"),
        one_of("status", QrStatus, "status"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        Index("ix_qr_codes_merchant_kind_status", "merchant_id", "kind", "status"),
        # One active sticker per merchant, whoever races to issue it (gateway.qr.static_for).
        Index(
            "uq_qr_codes_one_active_sticker",
            "merchant_id",
            unique=True,
            postgresql_where=text(ONE_ACTIVE_STICKER_WHERE),
            sqlite_where=text(ONE_ACTIVE_STICKER_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("qr")
    )
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=QrStatus.ACTIVE)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    reference: Mapped[str | None] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Which status may follow which: gateway.states.PAYMENT.
class PaymentStatus(StrEnum):
    COMPLETED = "completed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (
        one_of("status", PaymentStatus, "status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "fee_amount = fee_issuer_amount + fee_acquirer_amount + fee_network_amount",
            name="fee_split_sums",
        ),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount", name="refund_bounded"
        ),
        Index("ix_payments_merchant_id_id", "merchant_id", "id"),
        Index("ix_payments_payer_created", "payer_member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("pay")
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), unique=True)
    qr_id: Mapped[int] = mapped_column(ForeignKey("qr_codes.id"), index=True)
    payer_member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    issuer_cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"))
    acquirer_cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee_amount: Mapped[int] = mapped_column(BigInteger)
    fee_issuer_amount: Mapped[int] = mapped_column(BigInteger)
    fee_acquirer_amount: Mapped[int] = mapped_column(BigInteger)
    fee_network_amount: Mapped[int] = mapped_column(BigInteger)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(24), default=PaymentStatus.COMPLETED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("rfd")
    )
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    fee_issuer_amount: Mapped[int] = mapped_column(BigInteger)
    fee_acquirer_amount: Mapped[int] = mapped_column(BigInteger)
    fee_network_amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeeSchedule(db.Model):
    """The fee rule for one (issuer, acquirer) pair, or the default or on-us rule (`scope`)."""

    __tablename__ = "fee_schedules"
    __table_args__ = (
        CheckConstraint("scope IN ('pair', 'default', 'on_us')", name="scope"),
        Index(
            "ix_fee_schedules_pair",
            "scope",
            "issuer_cooperative_id",
            "acquirer_cooperative_id",
            unique=True,
        ),
        Index(
            "uq_fee_schedules_scope_without_pair",
            "scope",
            unique=True,
            postgresql_where=text(FEE_RULE_WITHOUT_PAIR_WHERE),
            sqlite_where=text(FEE_RULE_WITHOUT_PAIR_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    issuer_cooperative_id: Mapped[int | None] = mapped_column(ForeignKey("cooperatives.id"))
    acquirer_cooperative_id: Mapped[int | None] = mapped_column(ForeignKey("cooperatives.id"))
    rule: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LimitPolicy(db.Model):
    """Limits for a cooperative's members of one tier (cooperative NULL: the city's default)."""

    __tablename__ = "limit_policies"
    __table_args__ = (
        Index("ix_limit_policies_scope", "cooperative_id", "tier", unique=True),
        Index(
            "uq_limit_policies_city_tier",
            "tier",
            unique=True,
            postgresql_where=text(CITY_POLICY_WHERE),
            sqlite_where=text(CITY_POLICY_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int | None] = mapped_column(ForeignKey("cooperatives.id"))
    tier: Mapped[str] = mapped_column(String(16))
    limits: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
