"""Webhooks as Standard Webhooks v1: endpoints, the transactional outbox, claims and attempts.

*Endpoints.* A cooperative's admin registers URLs for their cooperative; the network admin
registers network-wide ones (`cooperative_id` NULL). Each has a secret (`whsec_…`, shown once)
and the event types it receives. A URL must be http(s) and, unless `WEBHOOK_ALLOW_PRIVATE`, its
host must resolve to public addresses only (no loopback, private, link-local or reserved one):
the worker would otherwise be a way into the gateway's own network.

*The outbox.* `emit` runs inside the business event's own transaction: it writes one message (the
exact body every attempt sends, and the `webhook-id`) naming every endpoint (enabled, or disabled:
its deliveries wait until it is enabled) that is subscribed to the event type and entitled to it
— a cooperative's endpoints for events about that cooperative only, network endpoints for all.
If no endpoint matches, nothing is written. On PostgreSQL that is one statement (one round trip,
one row) on the pay path. A committed event therefore always has its message, and a rolled-back
one never has. The worker `fan_out`s each message into one delivery per endpoint it names.

*Deliveries.* The worker (gateway/webhook_worker.py) `claim`s due deliveries: a claim token and a
lease (`claimed_until`) set in a short transaction of its own, with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite's write lock serialises claims), so two workers never hold one delivery at
once. It sends outside any transaction and `record`s the attempt; a result is applied only by the
worker whose claim still holds. A worker that dies mid-attempt leaves its claim to expire, and
the next claim resends (the same `webhook-id`: at least once). Retries follow the spec's schedule.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, or_, select, text, update
from sqlalchemy.orm import Session

from gateway import audit, states
from gateway.db import HotStatement, is_postgresql, new_public_id, utcnow
from gateway.errors import Conflict, GatewayError, NotFound, ValidationFailed
from gateway.models import (
    Cooperative,
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
    WebhookSubscription,
)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
URL_LENGTH_MAX = 2048

# The Standard Webhooks retry schedule: attempt n+1 follows the failure of attempt n after
# RETRY_SCHEDULE[n] (the first attempt is immediate); after the last one the delivery fails.
RETRY_SCHEDULE = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
ATTEMPTS_MAX = len(RETRY_SCHEDULE)

GONE = 410
ERROR_LENGTH_MAX = 500


class WebhookUrlRefused(GatewayError):
    status = 422
    slug = "webhook-url-refused"
    title = "Webhook URL refused"
    message_id = "Alamat webhook ini tidak dapat dipakai."
    message_en = "This webhook URL cannot be used."


class EndpointDisabled(Conflict):
    slug = "webhook-endpoint-disabled"
    title = "Webhook endpoint disabled"
    message_id = "Endpoint webhook ini nonaktif. Aktifkan dulu, lalu kirim ulang."
    message_en = "This webhook endpoint is disabled. Enable it first, then resend."


# --- URLs ---------------------------------------------------------------------------------------


def is_public_address(address: str) -> bool:
    """Whether an IP address is one the worker may send to when private ones are refused."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Return the addresses a host name resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _refused(message_en: str, message_id: str) -> WebhookUrlRefused:
    return WebhookUrlRefused(
        message_en, message_id, errors=[{"field": "url", "message": message_en}]
    )


def check_url(url: str, *, allow_private: bool, resolver=resolve) -> str:
    """Return the URL if the worker may send to it, else raise `WebhookUrlRefused` (422)."""
    if len(url) > URL_LENGTH_MAX or any(character.isspace() for character in url):
        raise _refused(
            "The URL must be at most 2048 characters, without spaces.",
            "Alamat paling banyak 2048 karakter, tanpa spasi.",
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused(
            "The URL must start with https:// (or http://) and name a host.",
            "Alamat harus diawali https:// (atau http://) dan menyebut nama host.",
        )
    if parts.username is not None or parts.password is not None:
        raise _refused(
            "The URL must not carry a user name or password; the signature proves the sender.",
            "Alamat tidak boleh memuat nama pengguna atau kata sandi; tanda tangan sudah"
            " membuktikan pengirimnya.",
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _refused("The URL's port is not valid.", "Port pada alamat tidak sah.") from None
    if allow_private:
        return url
    try:
        addresses = resolver(parts.hostname, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise _refused(
            f"The host {parts.hostname} cannot be resolved.",
            f"Host {parts.hostname} tidak dapat ditemukan.",
        )
    if not all(is_public_address(address) for address in addresses):
        raise _refused(
            "The URL points at a loopback, private, link-local or reserved address; webhooks"
            " are sent to public addresses only.",
            "Alamat mengarah ke alamat loopback, privat, link-local atau khusus; webhook hanya"
            " dikirim ke alamat publik.",
        )
    return url


# --- endpoints ----------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _events_of(session: Session, endpoint_ids: list[int]) -> dict[int, list[str]]:
    events: dict[int, list[str]] = {endpoint_id: [] for endpoint_id in endpoint_ids}
    for endpoint_id, event_type in session.execute(
        select(WebhookSubscription.endpoint_id, WebhookSubscription.event_type)
        .where(WebhookSubscription.endpoint_id.in_(endpoint_ids))
        .order_by(WebhookSubscription.event_type)
    ):
        events[endpoint_id].append(event_type)
    return events


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def endpoints_json(session: Session, endpoints: list[WebhookEndpoint]) -> list[dict]:
    """Render endpoints (never their secrets)."""
    events = _events_of(session, [endpoint.id for endpoint in endpoints])
    owners = dict(
        session.execute(
            select(Cooperative.id, Cooperative.public_id).where(
                Cooperative.id.in_({e.cooperative_id for e in endpoints if e.cooperative_id})
            )
        ).all()
    )
    now = utcnow()
    return [
        {
            "id": endpoint.public_id,
            "cooperative_id": owners.get(endpoint.cooperative_id),
            "url": endpoint.url,
            "events": events[endpoint.id],
            "status": endpoint.status,
            "disabled_reason": endpoint.disabled_reason,
            "previous_secret_expires_at": _iso(endpoint.previous_secret_expires_at)
            if endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now
            else None,
            "created_at": endpoint.created_at.isoformat(),
            "updated_at": endpoint.updated_at.isoformat(),
        }
        for endpoint in endpoints
    ]


def endpoint_json(session: Session, endpoint: WebhookEndpoint) -> dict:
    return endpoints_json(session, [endpoint])[0]


def _subscribe(session: Session, endpoint_id: int, events: list[str]) -> None:
    session.execute(
        delete(WebhookSubscription).where(WebhookSubscription.endpoint_id == endpoint_id)
    )
    session.execute(
        insert(WebhookSubscription),
        [{"endpoint_id": endpoint_id, "event_type": str(event)} for event in sorted(set(events))],
    )


def create_endpoint(
    session: Session,
    *,
    cooperative_id: int | None,
    url: str,
    events: list[str],
    allow_private: bool,
    actor_user_id: int | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; return it and its secret (which is never shown again)."""
    check_url(url, allow_private=allow_private)
    now = utcnow()
    secret = new_secret()
    endpoint = WebhookEndpoint(
        cooperative_id=cooperative_id,
        url=url,
        status=EndpointStatus.ENABLED,
        secret=secret,
        created_by_user_id=actor_user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    _subscribe(session, endpoint.id, events)
    return endpoint, secret


def list_endpoints(session: Session, cooperative_id: int | None) -> list[WebhookEndpoint]:
    owner = (
        WebhookEndpoint.cooperative_id.is_(None)
        if cooperative_id is None
        else WebhookEndpoint.cooperative_id == cooperative_id
    )
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(owner, WebhookEndpoint.status != EndpointStatus.DELETED)
            .order_by(WebhookEndpoint.id)
        )
    )


def get_endpoint(session: Session, cooperative_id: int | None, public_id: str) -> WebhookEndpoint:
    """Return an owner's endpoint (not deleted) as the database holds it now, or 404."""
    owner = (
        WebhookEndpoint.cooperative_id.is_(None)
        if cooperative_id is None
        else WebhookEndpoint.cooperative_id == cooperative_id
    )
    endpoint = session.scalar(
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.public_id == public_id,
            owner,
            WebhookEndpoint.status != EndpointStatus.DELETED,
        )
        .execution_options(populate_existing=True)
    )
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", "Endpoint webhook tidak ditemukan.")
    return endpoint


def update_endpoint(
    session: Session,
    endpoint: WebhookEndpoint,
    *,
    url: str | None,
    events: list[str] | None,
    allow_private: bool,
) -> WebhookEndpoint:
    """Change an endpoint's URL or event types (deliveries already written keep their URL's
    endpoint: they go to the new URL)."""
    if url is not None:
        endpoint.url = check_url(url, allow_private=allow_private)
    if events is not None:
        _subscribe(session, endpoint.id, events)
    endpoint.updated_at = utcnow()
    session.flush()
    return endpoint


def set_status(
    session: Session, endpoint: WebhookEndpoint, status: str, reason: str | None = None
) -> WebhookEndpoint:
    """Enable, disable or delete an endpoint (a repeat changes nothing)."""
    states.transition(
        session,
        states.WEBHOOK_ENDPOINT,
        endpoint.id,
        status,
        disabled_reason=None if status == EndpointStatus.ENABLED else reason,
        updated_at=utcnow(),
    )
    session.refresh(endpoint)
    return endpoint


def rotate_secret(
    session: Session, endpoint: WebhookEndpoint, overlap_seconds: int
) -> tuple[WebhookEndpoint, str]:
    """Give the endpoint a new secret; the old one goes on signing beside it (both signatures,
    space-separated) for `overlap_seconds`, so the receiver can switch without losing a message."""
    secret = new_secret()
    now = utcnow()
    # Locked: two rotations at once must not both keep the same old secret as "previous".
    session.execute(
        select(WebhookEndpoint.id).where(WebhookEndpoint.id == endpoint.id).with_for_update()
    )
    session.refresh(endpoint)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(seconds=overlap_seconds)
    endpoint.secret = secret
    endpoint.updated_at = now
    session.flush()
    return endpoint, secret


def signing_secrets(
    secret: str, previous_secret: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The secrets a message is signed with now: the current one, and during a rotation the
    previous one too."""
    if previous_secret and previous_expires_at is not None and previous_expires_at > now:
        return [secret, previous_secret]
    return [secret]


# --- the outbox ---------------------------------------------------------------------------------


def body(event_type: str, created_at: datetime, data: dict) -> str:
    """The JSON body of a message: type, timestamp (UTC, as the spec's examples write it), data."""
    timestamp = created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"type": str(event_type), "timestamp": timestamp, "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


# PostgreSQL: find the endpoints and write the message naming them if any match, in one
# statement (the pay path's one added round trip, one row: a delivery row per endpoint and its
# indexes would cost the pay path several times as much, so the worker writes those).
_EMIT_POSTGRESQL = HotStatement(
    text(
        """
WITH targets AS (
    SELECT endpoint.id FROM webhook_endpoints AS endpoint
    JOIN webhook_subscriptions AS subscription
      ON subscription.endpoint_id = endpoint.id
     AND subscription.event_type = CAST(:event_type AS varchar)
    WHERE endpoint.status <> 'deleted'
      AND (endpoint.cooperative_id = ANY(CAST(:cooperative_ids AS integer[]))
           OR (CAST(:network AS boolean) AND endpoint.cooperative_id IS NULL))
)
INSERT INTO webhook_messages (public_id, event_type, event_id, window_id, payload, created_at,
                              endpoint_ids)
SELECT CAST(:public_id AS varchar), CAST(:event_type AS varchar), CAST(:event_id AS bigint),
       CAST(:window_id AS integer), CAST(:payload AS text), CAST(:created_at AS timestamptz),
       string_agg(CAST(targets.id AS text), ',' ORDER BY targets.id)
FROM targets
HAVING count(*) > 0
"""
    )
)


def _targets(session: Session, event_type: str, cooperative_ids: list[int], network: bool):
    owner = WebhookEndpoint.cooperative_id.in_(cooperative_ids)
    if network:
        owner = or_(owner, WebhookEndpoint.cooperative_id.is_(None))
    return list(
        session.scalars(
            select(WebhookEndpoint.id)
            .join(
                WebhookSubscription,
                (WebhookSubscription.endpoint_id == WebhookEndpoint.id)
                & (WebhookSubscription.event_type == str(event_type)),
            )
            .where(WebhookEndpoint.status != EndpointStatus.DELETED, owner)
        )
    )


def emit(
    session: Session,
    event_type: str,
    data: dict,
    *,
    cooperative_ids: set[int] | list[int],
    created_at: datetime,
    network: bool = True,
    event_id: int | None = None,
    window_id: int | None = None,
) -> None:
    """Write a message about the cooperatives `cooperative_ids` (and, with `network`, for the
    network's endpoints) with its deliveries, in the caller's transaction. A deleted endpoint
    gets none; a disabled one's wait until it is enabled. `data` is rendered
    now: a later change to the dict is not sent."""
    ids = sorted(cooperative_ids)
    params = {
        "public_id": new_public_id("msg"),
        "event_type": str(event_type),
        "event_id": event_id,
        "window_id": window_id,
        "payload": body(event_type, created_at, data),
        "created_at": created_at,
    }
    if is_postgresql(session):
        _EMIT_POSTGRESQL.run(session, {**params, "cooperative_ids": ids, "network": network})
        return
    targets = _targets(session, event_type, ids, network)
    if targets:
        endpoint_ids = ",".join(str(endpoint_id) for endpoint_id in sorted(targets))
        session.execute(insert(WebhookMessage).values(**params, endpoint_ids=endpoint_ids))


def has_subscribers(session: Session, event_type: str) -> bool:
    """Whether any endpoint (enabled or disabled) receives `event_type` (so that an event whose
    body is costly to render can skip rendering it)."""
    return (
        session.scalar(
            select(WebhookEndpoint.id)
            .join(WebhookSubscription, WebhookSubscription.endpoint_id == WebhookEndpoint.id)
            .where(
                WebhookEndpoint.status != EndpointStatus.DELETED,
                WebhookSubscription.event_type == str(event_type),
            )
            .limit(1)
        )
        is not None
    )


# --- fan-out, claims and attempts ---------------------------------------------------------------

FAN_OUT_BATCH = 500


def fan_out(session: Session, limit: int = FAN_OUT_BATCH) -> int:
    """Write the deliveries of up to `limit` messages that have none yet, one per endpoint each
    names; return how many messages. Runs in the caller's transaction, which should commit at
    once; concurrent workers skip each other's messages (and SQLite's write lock serialises)."""
    rows = session.execute(
        select(WebhookMessage.id, WebhookMessage.endpoint_ids, WebhookMessage.created_at)
        .where(WebhookMessage.endpoint_ids.is_not(None))
        .order_by(WebhookMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    # An endpoint deleted since the event gets nothing more.
    deleted = set(
        session.scalars(
            select(WebhookEndpoint.id).where(WebhookEndpoint.status == EndpointStatus.DELETED)
        )
    )
    deliveries = [
        {
            "message_id": message_id,
            "endpoint_id": int(endpoint_id),
            "status": DeliveryStatus.PENDING.value,
            "attempt_count": 0,
            "next_attempt_at": created_at,
            "created_at": created_at,
        }
        for message_id, endpoint_ids, created_at in rows
        for endpoint_id in endpoint_ids.split(",")
        if int(endpoint_id) not in deleted
    ]
    if deliveries:
        session.execute(insert(WebhookDelivery), deliveries)
    session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.id.in_([row[0] for row in rows]))
        .values(endpoint_ids=None)
        .execution_options(synchronize_session=False)
    )
    return len(rows)


@dataclass(frozen=True)
class Claim:
    """A delivery a worker holds until `claimed_until`: what it sends and where."""

    delivery_id: int
    token: str
    attempt_number: int
    claimed_until: datetime
    message_public_id: str
    event_type: str
    payload: str
    endpoint_id: int
    url: str
    secrets: tuple[str, ...]


def claim(
    session: Session, *, now: datetime, limit: int, lease_seconds: float, token: str
) -> list[Claim]:
    """Claim up to `limit` due deliveries of enabled endpoints for `lease_seconds`.

    Due: pending, its next attempt's time come, and no claim holding (none, or one whose lease
    ran out: that worker died or hung mid-attempt, and its attempt is recorded as abandoned).
    Runs in the caller's transaction, which should commit at once.
    """
    claimed_until = now + timedelta(seconds=lease_seconds)
    due = (
        select(
            WebhookDelivery.id,
            WebhookDelivery.attempt_count,
            WebhookDelivery.claim_token,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until <= now),
            WebhookEndpoint.status == EndpointStatus.ENABLED,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    rows = session.execute(due).all()
    if not rows:
        return []
    abandoned = [
        {
            "delivery_id": delivery_id,
            "attempt_number": attempt_count,
            "attempted_at": now,
            "error": "no answer recorded: the worker stopped during the attempt (its claim"
            " expired); sent again",
        }
        for delivery_id, attempt_count, held_by in rows
        if held_by is not None
    ]
    if abandoned:
        session.execute(insert(WebhookAttempt), abandoned)
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_([row[0] for row in rows]))
        .values(
            claim_token=token,
            claimed_until=claimed_until,
            attempt_count=WebhookDelivery.attempt_count + 1,
        )
        .execution_options(synchronize_session=False)
    )
    details = session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.attempt_count,
            WebhookMessage.public_id,
            WebhookMessage.event_type,
            WebhookMessage.payload,
            WebhookEndpoint.id,
            WebhookEndpoint.url,
            WebhookEndpoint.secret,
            WebhookEndpoint.previous_secret,
            WebhookEndpoint.previous_secret_expires_at,
        )
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_([row[0] for row in rows]))
        .order_by(WebhookDelivery.id)
    ).all()
    return [
        Claim(
            delivery_id=row[0],
            token=token,
            attempt_number=row[1],
            claimed_until=claimed_until,
            message_public_id=row[2],
            event_type=row[3],
            payload=row[4],
            endpoint_id=row[5],
            url=row[6],
            secrets=tuple(signing_secrets(row[7], row[8], row[9], now)),
        )
        for row in details
    ]


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the receiver's HTTP status, or what went wrong before one."""

    status_code: int | None
    error: str | None = None
    duration_ms: int | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _error_text(outcome: Outcome) -> str | None:
    return outcome.error[:ERROR_LENGTH_MAX] if outcome.error else None


def record(session: Session, held: Claim, outcome: Outcome, now: datetime) -> str:
    """Record an attempt and apply it to the delivery if `held` is still its claim; return what
    became of the delivery: delivered, retry, failed, gone (410: endpoint disabled) or
    superseded (another worker's claim took over; the attempt is recorded all the same)."""
    return record_many(session, [(held, outcome)], now)[0]


def record_many(session: Session, ended: list[tuple[Claim, Outcome]], now: datetime) -> list[str]:
    """`record` for a batch of attempts, in a few statements whatever its size: the attempts in
    one insert, the deliveries locked in one select, the delivered ones moved in one update per
    status code. Return what became of each, in order."""
    if not ended:
        return []
    session.execute(
        insert(WebhookAttempt),
        [
            {
                "delivery_id": held.delivery_id,
                "attempt_number": held.attempt_number,
                "attempted_at": now,
                "status_code": outcome.status_code,
                "error": _error_text(outcome),
                "duration_ms": outcome.duration_ms,
            }
            for held, outcome in ended
        ],
    )
    ids = sorted({held.delivery_id for held, _ in ended})
    tokens = dict(
        session.execute(
            select(WebhookDelivery.id, WebhookDelivery.claim_token)
            .where(WebhookDelivery.id.in_(ids))
            .order_by(WebhookDelivery.id)
            .with_for_update()
        ).all()
    )
    results = []
    delivered: dict[int, list[int]] = {}
    for held, outcome in ended:
        if tokens.get(held.delivery_id) != held.token:
            results.append("superseded")
        elif outcome.delivered:
            delivered.setdefault(outcome.status_code, []).append(held.delivery_id)
            results.append("delivered")
        else:
            results.append(_apply_failure(session, held, outcome, now))
    for status_code, delivery_ids in delivered.items():
        states.transition_many(
            session,
            states.WEBHOOK_DELIVERY,
            delivery_ids,
            DeliveryStatus.DELIVERED,
            delivered_at=now,
            claim_token=None,
            claimed_until=None,
            last_attempt_at=now,
            last_status_code=status_code,
            last_error=None,
        )
    return results


def _apply_failure(session: Session, held: Claim, outcome: Outcome, now: datetime) -> str:
    """A failed attempt of a delivery whose claim `held` is: retry it on the schedule, or fail
    it (410, or the schedule ran out)."""
    error = _error_text(outcome)
    done = {
        "claim_token": None,
        "claimed_until": None,
        "last_attempt_at": now,
        "last_status_code": outcome.status_code,
        "last_error": error,
    }
    if outcome.status_code == GONE:
        states.transition(
            session, states.WEBHOOK_DELIVERY, held.delivery_id, DeliveryStatus.FAILED, **done
        )
        _disable_gone(session, held.endpoint_id)
        return "gone"
    if held.attempt_number >= ATTEMPTS_MAX:
        states.transition(
            session, states.WEBHOOK_DELIVERY, held.delivery_id, DeliveryStatus.FAILED, **done
        )
        return "failed"
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == held.delivery_id)
        .values(next_attempt_at=now + RETRY_SCHEDULE[held.attempt_number], **done)
        .execution_options(synchronize_session=False)
    )
    return "retry"


GONE_REASON = "the receiver answered 410 Gone"


def _disable_gone(session: Session, endpoint_id: int) -> None:
    """A receiver's 410 Gone disables its endpoint (if still enabled), with an audit event."""
    if states.state_of(session, states.WEBHOOK_ENDPOINT, endpoint_id) != EndpointStatus.ENABLED:
        return
    states.transition(
        session,
        states.WEBHOOK_ENDPOINT,
        endpoint_id,
        EndpointStatus.DISABLED,
        disabled_reason=GONE_REASON,
        updated_at=utcnow(),
    )
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    audit.record(
        session,
        "webhooks.disabled_by_receiver",
        cooperative_id=endpoint.cooperative_id,
        target=endpoint.public_id,
        detail={"via": "webhook worker", "reason": GONE_REASON},
    )


# --- what an admin sees and does ----------------------------------------------------------------


def _delivery_json(delivery: WebhookDelivery, message: WebhookMessage) -> dict:
    return {
        "event_id": message.public_id,
        "type": message.event_type,
        "status": delivery.status,
        "attempt_count": delivery.attempt_count,
        "next_attempt_at": _iso(delivery.next_attempt_at)
        if delivery.status == DeliveryStatus.PENDING
        else None,
        "last_attempt_at": _iso(delivery.last_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": _iso(delivery.delivered_at),
        "created_at": delivery.created_at.isoformat(),
    }


def list_deliveries(
    session: Session,
    endpoint: WebhookEndpoint,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict], str | None]:
    """An endpoint's deliveries, newest first (page older with `cursor`, a message id)."""
    statement = (
        select(WebhookDelivery, WebhookMessage)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
    )
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    if cursor is not None:
        position = session.scalar(
            select(WebhookDelivery.id)
            .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
            .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookMessage.public_id == cursor)
        )
        if position is None:
            raise ValidationFailed("The cursor is not valid.", "Kursor tidak sah.")
        statement = statement.where(WebhookDelivery.id < position)
    rows = session.execute(statement.order_by(WebhookDelivery.id.desc()).limit(limit + 1)).all()
    next_cursor = rows[limit - 1][1].public_id if len(rows) > limit else None
    return [_delivery_json(delivery, message) for delivery, message in rows[:limit]], next_cursor


def _delivery_of(session: Session, endpoint: WebhookEndpoint, message_public_id: str):
    row = session.execute(
        select(WebhookDelivery, WebhookMessage)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookMessage.public_id == message_public_id,
        )
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise NotFound(
            "No such event for this endpoint.", "Peristiwa ini tidak ada untuk endpoint ini."
        )
    return row


def delivery_detail(session: Session, endpoint: WebhookEndpoint, message_public_id: str) -> dict:
    """One event's delivery to an endpoint, with every attempt (time, status, error)."""
    delivery, message = _delivery_of(session, endpoint, message_public_id)
    attempts = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery.id)
        .order_by(WebhookAttempt.id)
    )
    return {
        **_delivery_json(delivery, message),
        "attempts": [
            {
                "attempt_number": attempt.attempt_number,
                "attempted_at": attempt.attempted_at.isoformat(),
                "status_code": attempt.status_code,
                "error": attempt.error,
                "duration_ms": attempt.duration_ms,
            }
            for attempt in attempts
        ],
    }


def _resend(session: Session, delivery_id: int, now: datetime) -> bool:
    return states.transition(
        session,
        states.WEBHOOK_DELIVERY,
        delivery_id,
        DeliveryStatus.PENDING,
        attempt_count=0,
        next_attempt_at=now,
        claim_token=None,
        claimed_until=None,
    )


REPLAY_MAX = 10_000


def replay(
    session: Session,
    endpoint: WebhookEndpoint,
    *,
    since: datetime | None = None,
    message_public_id: str | None = None,
) -> int:
    """Send again one event (delivered or failed; a pending one is on its way already) or every
    failed one (since a time); each starts the retry schedule afresh, with its `webhook-id`.
    Return how many were queued."""
    if states.state_of(session, states.WEBHOOK_ENDPOINT, endpoint.id) != EndpointStatus.ENABLED:
        raise EndpointDisabled()
    now = utcnow()
    if message_public_id is not None:
        delivery, _ = _delivery_of(session, endpoint, message_public_id)
        if delivery.status == DeliveryStatus.PENDING:
            return 0
        return int(_resend(session, delivery.id, now))
    statement = select(WebhookDelivery.id).where(
        WebhookDelivery.endpoint_id == endpoint.id,
        WebhookDelivery.status == DeliveryStatus.FAILED,
    )
    if since is not None:
        statement = statement.where(WebhookDelivery.created_at >= since)
    ids = list(session.scalars(statement.order_by(WebhookDelivery.id).limit(REPLAY_MAX)))
    # Each a transition: one a worker or another replay moved meanwhile is left as it is.
    replayed = 0
    for delivery_id in ids:
        try:
            replayed += _resend(session, delivery_id, now)
        except states.TransitionRefused:
            continue
    return replayed


def get_message(session: Session, cooperative_id: int | None, public_id: str) -> dict:
    """An event by its `webhook-id`, as it was sent: for a cooperative, only one that was
    addressed to one of its endpoints; the network sees every one."""
    statement = select(WebhookMessage).where(WebhookMessage.public_id == public_id)
    if cooperative_id is not None:
        statement = statement.where(
            select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.message_id == WebhookMessage.id,
                WebhookEndpoint.cooperative_id == cooperative_id,
            )
            .exists()
        )
    message = session.scalar(statement)
    if message is None:
        raise NotFound("No such event.", "Peristiwa tidak ditemukan.")
    return {"id": message.public_id, **json.loads(message.payload)}
