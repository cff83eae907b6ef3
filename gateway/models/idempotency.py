"""Idempotency keys: the first answer to a money-moving request, kept for replays."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import db, utcnow
from gateway.models.types import BigId, UTCDateTime, one_of


class IdempotencyKeyState(StrEnum):
    IN_FLIGHT = "in_flight"
    DONE = "done"


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),
        one_of("state", IdempotencyKeyState, "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The caller (a user's public id): keys never collide between callers.
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and canonical JSON body: the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    # in_flight while the first request runs, done once its answer is stored (gateway.states).
    # The claim commits only with the answer, so a committed row is always done.
    state: Mapped[str] = mapped_column(String(16), default=IdempotencyKeyState.IN_FLIGHT)
    response_status: Mapped[int | None] = mapped_column()
    response_body: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
