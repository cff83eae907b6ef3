"""SHU (sisa hasil usaha): a cooperative's split of the pool as its AD/ART says, its members'
savings imported from the office's books, and the runs whose figures the RAT approved.

A run is prepared (draft, its figures stored), then approved once after the RAT: the figures of
an approved run never change (gateway.states.SHU_RUN; `approved_year` is set only on approval,
so the unique index allows one approved run per cooperative and year).
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db import db, new_public_id, utcnow
from gateway.models.types import UTCDateTime, one_of

BASIS_POINTS_WHOLE = 10_000


class ShuPolicy(db.Model):
    """How a cooperative's AD/ART splits the members' part of SHU, in basis points.

    `jasa_usaha_bps + jasa_modal_bps` is the whole pool (10.000). A member's business score is
    the sum of each component times its weight (10.000 = counted once)."""

    __tablename__ = "shu_policies"
    __table_args__ = (
        CheckConstraint(
            f"jasa_usaha_bps >= 0 AND jasa_modal_bps >= 0"
            f" AND jasa_usaha_bps + jasa_modal_bps = {BASIS_POINTS_WHOLE}",
            name="parts_make_the_whole",
        ),
        CheckConstraint(
            "wallet_payments_weight_bps >= 0 AND own_merchant_purchases_weight_bps >= 0"
            " AND merchant_takings_weight_bps >= 0",
            name="weights_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"), unique=True)
    jasa_usaha_bps: Mapped[int] = mapped_column(Integer)
    jasa_modal_bps: Mapped[int] = mapped_column(Integer)
    wallet_payments_weight_bps: Mapped[int] = mapped_column(Integer)
    own_merchant_purchases_weight_bps: Mapped[int] = mapped_column(Integer)
    merchant_takings_weight_bps: Mapped[int] = mapped_column(Integer)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberSavings(db.Model):
    """A member's savings (simpanan) at the end of a book year, as the office's books hold them."""

    __tablename__ = "shu_member_savings"
    __table_args__ = (
        UniqueConstraint("member_id", "year", name="uq_shu_member_savings_member_year"),
        CheckConstraint(
            "principal_amount >= 0 AND mandatory_amount >= 0 AND voluntary_amount >= 0",
            name="amounts_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    year: Mapped[int] = mapped_column(Integer)
    principal_amount: Mapped[int] = mapped_column(BigInteger)  # simpanan pokok
    mandatory_amount: Mapped[int] = mapped_column(BigInteger)  # simpanan wajib
    voluntary_amount: Mapped[int] = mapped_column(BigInteger)  # simpanan sukarela
    imported_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Which status may follow which: gateway.states.SHU_RUN.
class ShuRunStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


class ShuRun(db.Model):
    """One computation of a year's SHU, with the policy it used; approved once after the RAT."""

    __tablename__ = "shu_runs"
    __table_args__ = (
        one_of("status", ShuRunStatus, "status"),
        UniqueConstraint(
            "cooperative_id", "approved_year", name="uq_shu_runs_one_approved_per_year"
        ),
        CheckConstraint("pool_amount >= 0", name="pool_not_negative"),
        CheckConstraint(
            "(status = 'approved') = (approved_year IS NOT NULL)", name="approved_has_year"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("shu")
    )
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ShuRunStatus.DRAFT)
    pool_amount: Mapped[int] = mapped_column(BigInteger)
    jasa_usaha_amount: Mapped[int] = mapped_column(BigInteger)
    jasa_modal_amount: Mapped[int] = mapped_column(BigInteger)
    distributed_amount: Mapped[int] = mapped_column(BigInteger)
    # The policy as it was when the run was prepared.
    jasa_usaha_bps: Mapped[int] = mapped_column(Integer)
    jasa_modal_bps: Mapped[int] = mapped_column(Integer)
    wallet_payments_weight_bps: Mapped[int] = mapped_column(Integer)
    own_merchant_purchases_weight_bps: Mapped[int] = mapped_column(Integer)
    merchant_takings_weight_bps: Mapped[int] = mapped_column(Integer)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by the approval, after the RAT (rapat anggota tahunan).
    approved_year: Mapped[int | None] = mapped_column(Integer)
    approved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rat_date: Mapped[date | None] = mapped_column(Date)
    rat_reference: Mapped[str | None] = mapped_column(String(120))

    shares: Mapped[list["ShuRunShare"]] = relationship(
        back_populates="run", order_by="ShuRunShare.id"
    )


class ShuRunShare(db.Model):
    """One member's figures in a run: the basis and the share of each part. Never updated."""

    __tablename__ = "shu_run_shares"
    __table_args__ = (UniqueConstraint("run_id", "member_id", name="uq_shu_run_shares_run_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("shu_runs.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    wallet_payments_amount: Mapped[int] = mapped_column(BigInteger)
    own_merchant_purchases_amount: Mapped[int] = mapped_column(BigInteger)
    merchant_takings_amount: Mapped[int] = mapped_column(BigInteger)
    business_score: Mapped[int] = mapped_column(BigInteger)
    principal_savings_amount: Mapped[int] = mapped_column(BigInteger)
    mandatory_savings_amount: Mapped[int] = mapped_column(BigInteger)
    voluntary_savings_amount: Mapped[int] = mapped_column(BigInteger)
    jasa_usaha_share: Mapped[int] = mapped_column(BigInteger)
    jasa_modal_share: Mapped[int] = mapped_column(BigInteger)

    run: Mapped[ShuRun] = relationship(back_populates="shares")
