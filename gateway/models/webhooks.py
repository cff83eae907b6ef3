"""Webhooks: the endpoints cooperatives register, the outbox of messages, each message's
delivery to each endpoint, and every attempt at one.

A message is written in the same database transaction as the business event it tells of (the
transactional outbox, gateway/webhooks.py), naming the endpoints that were subscribed at that
moment; the delivery worker (gateway/webhook_worker.py) fans it out into one delivery row per
endpoint, claims due deliveries, sends them and records each attempt.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import db, new_public_id, utcnow
from gateway.models.types import BigId, UTCDateTime, one_of


class WebhookEventType(StrEnum):
    PAYMENT_COMPLETED = "payment.completed"
    PAYMENT_REFUNDED = "payment.refunded"
    COUNTER_CASH_IN = "counter.cash_in"
    COUNTER_CASH_OUT = "counter.cash_out"
    COUNTER_PAYOUT = "counter.payout"
    SETTLEMENT_WINDOW_CLOSED = "settlement.window_closed"
    SETTLEMENT_WINDOW_SETTLED = "settlement.window_settled"


# Which status may follow which: gateway.states.WEBHOOK_ENDPOINT.
class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"


# Which status may follow which: gateway.states.WEBHOOK_DELIVERY.
class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEndpoint(db.Model):
    """A URL that a cooperative's system (or, with no cooperative, the network's) receives
    events at, signed with the endpoint's secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        one_of("status", EndpointStatus, "status"),
        Index("ix_webhook_endpoints_cooperative_status", "cooperative_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("whk")
    )
    # Whose endpoint: a cooperative's (events about it only), or the network's when NULL (all).
    cooperative_id: Mapped[int | None] = mapped_column(ForeignKey("cooperatives.id"))
    url: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default=EndpointStatus.ENABLED)
    # Why it is disabled: by an admin, or by the receiver answering 410 Gone.
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # `whsec_` + base64 of 32 random bytes. HMAC signing needs the secret itself, so it is
    # stored as it is (like a database password), never shown again after it is made.
    secret: Mapped[str] = mapped_column(String(100))
    # During a rotation the previous secret signs too, until it expires.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookSubscription(db.Model):
    """One event type an endpoint receives."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (one_of("event_type", WebhookEventType, "event_type"),)

    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(40), primary_key=True)


# Messages the worker has not yet fanned out into deliveries.
FAN_OUT_WHERE = "endpoint_ids IS NOT NULL"


class WebhookMessage(db.Model):
    """One event as sent: its `webhook-id` (public_id) and the exact JSON body, the same for
    every attempt and every endpoint it goes to."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        one_of("event_type", WebhookEventType, "event_type"),
        Index(
            "ix_webhook_messages_fan_out",
            "id",
            postgresql_where=text(FAN_OUT_WHERE),
            sqlite_where=text(FAN_OUT_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("msg")
    )
    event_type: Mapped[str] = mapped_column(String(40))
    # The ledger event it tells of (none for a window's close).
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("settlement_windows.id"))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The endpoints it goes to ("3,8,12"), as matched in the event's transaction, until the
    # worker has written their deliveries (then NULL): the pay path writes this one row only.
    endpoint_ids: Mapped[str | None] = mapped_column(Text)


# The worker's claim reads due deliveries by time; delivered and failed ones drop out.
DUE_WHERE = "status = 'pending'"


class WebhookDelivery(db.Model):
    """One message to one endpoint: pending until an attempt succeeds (delivered) or the retry
    schedule runs out (failed). A worker holds a claim on it (a lease) while it sends."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        one_of("status", DeliveryStatus, "status"),
        UniqueConstraint(
            "endpoint_id", "message_id", name="uq_webhook_deliveries_endpoint_message"
        ),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text(DUE_WHERE),
            sqlite_where=text(DUE_WHERE),
        ),
        Index("ix_webhook_deliveries_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("webhook_messages.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    # Attempts made (or begun) in the current schedule; a replay starts a new schedule.
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The worker that is sending it, and until when its claim holds.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookAttempt(db.Model):
    """One attempt at a delivery: when, the receiver's HTTP status (if any) or what went wrong."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    attempt_number: Mapped[int] = mapped_column()
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None] = mapped_column()
