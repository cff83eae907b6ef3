"""People: one login (user) per phone, whatever roles it holds; members; staff roles; the
invitations by which a person who already has a login takes on another role; and the PIN
failures counted against phone numbers that have no login."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db import db, new_public_id, utcnow
from gateway.models.types import UTCDateTime, one_of


class Role(StrEnum):
    MEMBER = "member"
    MERCHANT = "merchant"
    COOP_ADMIN = "coop_admin"
    NETWORK_ADMIN = "network_admin"
    OBSERVER = "observer"


class MemberTier(StrEnum):
    BASIC = "basic"
    VERIFIED = "verified"


class StaffRoleName(StrEnum):
    COOP_ADMIN = "coop_admin"
    NETWORK_ADMIN = "network_admin"
    OBSERVER = "observer"


class User(db.Model):
    """A person who logs in with phone + PIN. Roles come from what they are linked to: a member
    record (member), merchants they own (merchant) and staff roles."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("usr")
    )
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    pin_hash: Mapped[str] = mapped_column(String(255))
    failed_pin_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member: Mapped["Member | None"] = relationship(back_populates="user", uselist=False)
    staff_roles: Mapped[list["StaffRole"]] = relationship(back_populates="user")


class Member(db.Model):
    """An anggota: belongs to one cooperative and holds one wallet there."""

    __tablename__ = "members"
    __table_args__ = (one_of("tier", MemberTier, "tier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("mem")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"), index=True)
    tier: Mapped[str] = mapped_column(String(16), default=MemberTier.BASIC)
    wallet_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="member")
    cooperative: Mapped["Cooperative"] = relationship()  # noqa: F821
    wallet: Mapped["Account"] = relationship()  # noqa: F821


class StaffRole(db.Model):
    """A staff role: coop_admin of one cooperative, or network_admin / observer of the city."""

    __tablename__ = "staff_roles"
    __table_args__ = (
        one_of("role", StaffRoleName, "role"),
        UniqueConstraint("user_id", "role", "cooperative_id", name="uq_staff_roles_grant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(24))
    cooperative_id: Mapped[int | None] = mapped_column(ForeignKey("cooperatives.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="staff_roles")
    cooperative: Mapped["Cooperative | None"] = relationship()  # noqa: F821


class InvitationRole(StrEnum):
    MEMBER = "member"
    MERCHANT_OWNER = "merchant_owner"


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Invitation(db.Model):
    """A cooperative's offer of a role to a person who already has a login: to become its member,
    or the owner of a new merchant of it. Nothing exists until the person accepts it in their own
    app with their own PIN, so an admin never needs (or learns anything about) that PIN."""

    __tablename__ = "invitations"
    __table_args__ = (
        one_of("role", InvitationRole, "role"),
        one_of("status", InvitationStatus, "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("inv")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"))
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=InvitationStatus.PENDING)
    # A member's tier; a merchant's name, kind and category.
    tier: Mapped[str | None] = mapped_column(String(16))
    merchant_name: Mapped[str | None] = mapped_column(String(120))
    merchant_kind: Mapped[str | None] = mapped_column(String(16))
    merchant_category: Mapped[str | None] = mapped_column(String(16))
    invited_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # What accepting it made.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    cooperative: Mapped["Cooperative"] = relationship()  # noqa: F821


class PhonePinAttempts(db.Model):
    """Wrong PINs typed at login for a phone number that has no login, counted and locked exactly
    as a person's are, so that the answers never tell a registered number from an unknown one."""

    __tablename__ = "phone_pin_attempts"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    failed_pin_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
