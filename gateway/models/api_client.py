"""API clients: a cooperative's back-office system, which authenticates with OAuth 2.0 client
credentials (RFC 6749 §4.4) and acts for that one cooperative within its scopes."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import db, new_public_id, utcnow
from gateway.models.types import UTCDateTime, one_of


# Which status may follow which: gateway.states.API_CLIENT.
class ApiClientStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class ApiClient(db.Model):
    __tablename__ = "api_clients"
    __table_args__ = (one_of("status", ApiClientStatus, "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The OAuth client_id: public, like a user name; never a secret.
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("cli")
    )
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # Space-separated, sorted (as OAuth writes a scope): see gateway.api_clients.SCOPES.
    scopes: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=ApiClientStatus.ACTIVE)
    # HMAC-SHA256 of the secret, hex (see gateway.api_clients.secret_hash); the secret itself is
    # shown once and never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    # Counts rotations: each access token carries the generation it was issued under, and one of
    # an older generation is refused, so a rotation ends the old secret's tokens too.
    secret_generation: Mapped[int] = mapped_column(default=1)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
