"""Settlement windows and the audit trail."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import db, new_public_id, utcnow
from gateway.models.types import BigId, UTCDateTime, one_of


# Which status may follow which: gateway.states.SETTLEMENT_WINDOW.
class WindowStatus(StrEnum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
    SETTLED = "settled"


class SettlementWindow(db.Model):
    """A period of transfers, closed and sealed together, then settled between cooperatives."""

    __tablename__ = "settlement_windows"
    __table_args__ = (
        one_of("status", WindowStatus, "status"),
        # At most one window is open at a time.
        Index(
            "uq_settlement_windows_one_open",
            "status",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("win")
    )
    status: Mapped[str] = mapped_column(String(16), default=WindowStatus.OPEN)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transfer_count: Mapped[int | None] = mapped_column()
    # SHA-256 over the window's transfers in id order (see gateway.settlement.digest).
    digest: Mapped[str | None] = mapped_column(String(64))
    # The sealed figures: positions per cooperative and per-pair totals.
    report: Mapped[dict | None] = mapped_column(JSON)
    settlement_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))


class AuditEvent(db.Model):
    """Append-only: who did what, when, from where, and how it ended."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_cooperative_id", "cooperative_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # An API client acting for its cooperative (a back office): no person, so no actor_user_id.
    actor_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    cooperative_id: Mapped[int | None] = mapped_column(ForeignKey("cooperatives.id"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    remote_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
