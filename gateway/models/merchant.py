"""Merchants: shops, market stalls, angkot and taxi drivers, each of one cooperative."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db import db, new_public_id, utcnow
from gateway.models.types import UTCDateTime, one_of


class MerchantKind(StrEnum):
    SHOP = "shop"
    ANGKOT = "angkot"
    TAXI = "taxi"
    OTHER = "other"


class MerchantCategory(StrEnum):
    MICRO = "micro"
    SMALL = "small"
    REGULAR = "regular"


class Merchant(db.Model):
    __tablename__ = "merchants"
    __table_args__ = (
        one_of("kind", MerchantKind, "kind"),
        one_of("category", MerchantCategory, "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("mer")
    )
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"), index=True)
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16), default=MerchantCategory.MICRO)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    # A typo guard: the most one payment may be (NULL: the default for the merchant's kind).
    payment_max: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cooperative: Mapped["Cooperative"] = relationship()  # noqa: F821
    owner: Mapped["User"] = relationship()  # noqa: F821
    account: Mapped["Account"] = relationship()  # noqa: F821
