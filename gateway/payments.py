"""The pay and refund use cases, composed from qr, limits, fees and ledger.

`pay` runs inside one database transaction (the caller's, under the Idempotency-Key): verify the
token and the QR's state, mark a dynamic QR paid (a conditional UPDATE, so a QR is paid at most
once whatever the concurrency), lock the payer's wallet, check the PIN and the limits, compute the
fee, write the four transfers, record the payment. Any refusal rolls all of it back.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from gateway import fees, ledger, limits, qr, states, webhooks
from gateway.auth import PinPolicy, check_pin, is_locked
from gateway.db import HotStatement, new_public_id, utcnow
from gateway.errors import GatewayError, NotFound, ValidationFailed
from gateway.keys import KeyRing
from gateway.models import (
    AccountKind,
    Cooperative,
    Member,
    Merchant,
    Payment,
    PaymentStatus,
    QrCode,
    QrKind,
    QrStatus,
    Refund,
    User,
    WebhookEventType,
)
from gateway.models.ledger import EventKind, TransferCode


class AmountMismatch(GatewayError):
    status = 422
    slug = "amount-mismatch"
    title = "Amount differs from the QR code"
    message_id = "Jumlah tidak sama dengan jumlah pada kode QR."
    message_en = "The amount differs from the amount in the QR code."


class AmountRequired(GatewayError):
    status = 422
    slug = "amount-required"
    title = "Amount required"
    message_id = "Masukkan jumlah yang dibayar."
    message_en = "Enter the amount to pay."


class PinRequired(GatewayError):
    status = 422
    releases_idempotency_key = True
    slug = "pin-required"
    title = "PIN required"
    message_id = "Pembayaran ini memerlukan PIN."
    message_en = "This payment needs your PIN."


class SelfPayment(GatewayError):
    status = 422
    slug = "self-payment"
    title = "Cannot pay yourself"
    message_id = "Anda tidak dapat membayar ke merchant milik Anda sendiri."
    message_en = "You cannot pay a merchant you own."


class RefundTooLarge(GatewayError):
    status = 422
    slug = "refund-exceeds-payment"
    title = "Refund larger than what is left"
    message_id = "Jumlah pengembalian melebihi sisa pembayaran."
    message_en = "The refund is larger than what is left of the payment."


# Cooperatives are never renamed through the API, so their public ids and names are cached.
_cooperative_names: dict[tuple[object, int], tuple[str, str]] = {}


def cooperative_names(session: Session, cooperative_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Return (public id, name) for each cooperative id, from a per-process cache."""
    database = session.get_bind().url
    missing = {c for c in cooperative_ids if (database, c) not in _cooperative_names}
    if missing:
        for cooperative_id, public_id, name in session.execute(
            select(Cooperative.id, Cooperative.public_id, Cooperative.name).where(
                Cooperative.id.in_(missing)
            )
        ):
            _cooperative_names[(database, cooperative_id)] = (public_id, name)
    return {c: _cooperative_names[(database, c)] for c in cooperative_ids}


def forget_cached_names() -> None:
    """Forget cached cooperative names (for tests that empty a database and reuse its ids)."""
    _cooperative_names.clear()


def payments_json(session: Session, rows: list[Payment]) -> list[dict]:
    """Render payments as receipts, loading their merchants, payers and cooperatives in batches."""
    if not rows:
        return []
    qr_ids = dict(
        session.execute(
            select(QrCode.id, QrCode.public_id).where(QrCode.id.in_({row.qr_id for row in rows}))
        ).all()
    )
    merchants = {
        merchant_id: (public_id, name, kind)
        for merchant_id, public_id, name, kind in session.execute(
            select(Merchant.id, Merchant.public_id, Merchant.name, Merchant.kind).where(
                Merchant.id.in_({row.merchant_id for row in rows})
            )
        )
    }
    payers = {
        member_id: (public_id, name)
        for member_id, public_id, name in session.execute(
            select(Member.id, Member.public_id, User.name)
            .join(User, User.id == Member.user_id)
            .where(Member.id.in_({row.payer_member_id for row in rows}))
        )
    }
    cooperative_ids = {row.issuer_cooperative_id for row in rows} | {
        row.acquirer_cooperative_id for row in rows
    }
    cooperatives = cooperative_names(session, cooperative_ids)
    return [
        _receipt(
            payment,
            qr_ids[payment.qr_id],
            merchants[payment.merchant_id],
            payers[payment.payer_member_id],
            cooperatives,
        )
        for payment in rows
    ]


def _receipt(
    payment: Payment,
    qr_public_id: str,
    merchant: tuple[str, str, str],
    payer: tuple[str, str],
    cooperatives: dict[int, tuple[str, str]],
) -> dict:
    """One receipt: the payment, its QR's public id, its merchant (public id, name, kind), its
    payer (public id, name) and the names of the cooperatives by id."""
    merchant_id, merchant_name, merchant_kind = merchant
    payer_id, payer_name = payer
    return {
        "id": payment.public_id,
        "status": payment.status,
        "amount": payment.amount,
        "fee_amount": payment.fee_amount,
        "fees": {
            "issuer": payment.fee_issuer_amount,
            "acquirer": payment.fee_acquirer_amount,
            "network": payment.fee_network_amount,
        },
        "refunded_amount": payment.refunded_amount,
        "qr_id": qr_public_id,
        "merchant": {
            "id": merchant_id,
            "name": merchant_name,
            "kind": merchant_kind,
            "cooperative": cooperatives[payment.acquirer_cooperative_id][1],
        },
        "payer": {"id": payer_id, "name": payer_name},
        "payer_cooperative": cooperatives[payment.issuer_cooperative_id][0],
        "merchant_cooperative": cooperatives[payment.acquirer_cooperative_id][0],
        "created_at": payment.created_at.isoformat(),
    }


def payment_json(session: Session, payment: Payment) -> dict:
    """Render one payment as a receipt."""
    return payments_json(session, [payment])[0]


@dataclass(frozen=True)
class Payer:
    """Who pays: a member and the login behind it, as read once at the start of the request."""

    user_id: int
    user_public_id: str
    name: str
    locked_until: datetime | None
    member_id: int
    member_public_id: str
    cooperative_id: int
    tier: str
    wallet_account_id: int


_PAYER = HotStatement(
    select(
        User.id,
        User.public_id,
        User.name,
        User.locked_until,
        Member.id,
        Member.public_id,
        Member.cooperative_id,
        Member.tier,
        Member.wallet_account_id,
    )
    .outerjoin(Member, Member.user_id == User.id)
    .where(User.public_id == bindparam("user_public_id"))
)


def payer_for(session: Session, user_public_id: str) -> tuple[bool, Payer | None]:
    """Read a user and their member record in one statement: (the user exists, the payer)."""
    row = _PAYER.first(session, {"user_public_id": user_public_id})
    if row is None:
        return False, None
    if row[4] is None:
        return True, None
    payer = Payer(*row)
    if payer.locked_until is not None:
        payer = replace(payer, locked_until=payer.locked_until.astimezone(UTC))
    return True, payer


# Everything a payment reads before it locks the wallet, in one statement: the QR and its
# merchant, and the limits, fee rules and net debit cap that apply (JSON texts, parsed once each).
_ISSUER, _TIER = bindparam("issuer_id"), bindparam("tier")
_SCAN = HotStatement(
    select(
        QrCode.id,
        QrCode.public_id,
        QrCode.kind,
        QrCode.status,
        QrCode.amount,
        QrCode.token,
        QrCode.expires_at,
        Merchant.id,
        Merchant.public_id,
        Merchant.cooperative_id,
        Merchant.owner_user_id,
        Merchant.name,
        Merchant.kind,
        Merchant.category,
        Merchant.account_id,
        Merchant.payment_max,
        *limits.limits_texts(_ISSUER, _TIER),
        *fees.rule_texts(_ISSUER, Merchant.cooperative_id),
        select(Cooperative.net_debit_cap).where(Cooperative.id == _ISSUER).scalar_subquery(),
    )
    .join(Merchant, Merchant.id == QrCode.merchant_id)
    .where(QrCode.public_id == bindparam("qr_public_id"))
)


@dataclass(frozen=True)
class Scanned:
    """What `_SCAN` reads: the QR, its merchant, and what applies to paying it."""

    qr_id: int
    qr_public_id: str
    kind: str
    status: str
    qr_amount: int | None
    token: str
    expires_at: datetime | None
    merchant_id: int
    merchant_public_id: str
    acquirer_id: int
    owner_user_id: int | None
    merchant_name: str
    merchant_kind: str
    category: str
    merchant_account_id: int
    merchant_payment_max: int | None
    own_limits: str | None
    city_limits: str | None
    pair_rule: str | None
    on_us_rule: str | None
    default_rule: str | None
    net_debit_cap: int | None


_INSERT_PAYMENT = HotStatement(insert(Payment))


def pay(
    session: Session,
    *,
    ring: KeyRing,
    settings: qr.QrSettings,
    payer: Payer | Member,
    token: str,
    amount: int | None,
    pin: str | None,
    pin_policy: PinPolicy,
) -> tuple[dict, int]:
    """Pay the merchant of a scanned QR from the payer's wallet; return (receipt, event id).

    The hot path: a handful of statements built once, no ORM objects loaded or flushed.
    """
    if isinstance(payer, Member):
        payer = payer_for(session, payer.user.public_id)[1]
    now = utcnow()
    claims = qr.decode(ring, settings, token, now)
    row = _SCAN.first(
        session,
        {"qr_public_id": claims["jti"], "issuer_id": payer.cooperative_id, "tier": payer.tier},
    )
    if row is None or row[5] != token:
        raise qr.QrBadSignature()
    scanned = Scanned(*row)
    if scanned.merchant_public_id != claims["sub"]:
        raise qr.QrBadSignature()
    qr.check_state(scanned.kind, scanned.status, claims)
    if scanned.kind == QrKind.DYNAMIC:
        if amount is not None and amount != scanned.qr_amount:
            raise AmountMismatch(qr_amount=scanned.qr_amount)
        amount = scanned.qr_amount
    elif amount is None:
        raise AmountRequired()
    if scanned.owner_user_id == payer.user_id:
        raise SelfPayment()
    if scanned.kind == QrKind.DYNAMIC:
        if scanned.expires_at is not None and scanned.expires_at <= now:
            raise qr.QrExpired()
        if not qr.transition(session, scanned.qr_id, QrKind.DYNAMIC, QrStatus.PAID):
            raise qr.QrAlreadyPaid()

    locked = ledger.lock_accounts(session, [payer.wallet_account_id])
    policy = limits.choose_limits(scanned.own_limits, scanned.city_limits, payer.tier)
    # While the payer's PIN is locked no money leaves their wallet, with or without a PIN.
    if is_locked(payer.locked_until, now):
        raise pin_policy.locked(payer.locked_until)
    if amount > policy.no_pin_max or pin is not None:
        if pin is None:
            raise PinRequired(no_pin_max=policy.no_pin_max)
        check_pin(session, payer.user_id, pin, pin_policy)
    merchant_max = limits.merchant_payment_max(scanned.merchant_payment_max, scanned.merchant_kind)
    limits.check_payment(session, payer.member_id, merchant_max, amount, now, policy)

    issuer_id, acquirer_id = payer.cooperative_id, scanned.acquirer_id
    rule = fees.choose_rule(
        scanned.pair_rule,
        scanned.on_us_rule,
        scanned.default_rule,
        on_us_payment=issuer_id == acquirer_id,
    )
    fee = fees.compute(rule, amount, scanned.category)
    merchant_account_id = scanned.merchant_account_id
    legs = [ledger.Leg(payer.wallet_account_id, merchant_account_id, amount, TransferCode.PAYMENT)]
    for share, owner, code_name in (
        (fee.issuer, issuer_id, TransferCode.FEE_ISSUER),
        (fee.acquirer, acquirer_id, TransferCode.FEE_ACQUIRER),
        (fee.network, None, TransferCode.FEE_NETWORK),
    ):
        if share:
            fee_account_id = ledger.system_account_id(session, AccountKind.FEES, owner)
            legs.append(ledger.Leg(merchant_account_id, fee_account_id, share, code_name))
    posted = ledger.post(
        session,
        kind=EventKind.PAYMENT,
        legs=legs,
        cooperative_id=acquirer_id,
        actor_user_id=payer.user_id,
        locked=locked,
        net_debit_caps={issuer_id: scanned.net_debit_cap},
    )
    values = {
        "public_id": new_public_id("pay"),
        "event_id": posted.id,
        "qr_id": scanned.qr_id,
        "payer_member_id": payer.member_id,
        "merchant_id": scanned.merchant_id,
        "issuer_cooperative_id": issuer_id,
        "acquirer_cooperative_id": acquirer_id,
        "amount": amount,
        "fee_amount": fee.total,
        "fee_issuer_amount": fee.issuer,
        "fee_acquirer_amount": fee.acquirer,
        "fee_network_amount": fee.network,
        "refunded_amount": 0,
        "status": PaymentStatus.COMPLETED.value,
        "created_at": posted.created_at,
    }
    _INSERT_PAYMENT.run(session, values)
    body = _receipt(
        Payment(**values),  # transient: rendered from the values in hand, never added
        scanned.qr_public_id,
        (scanned.merchant_public_id, scanned.merchant_name, scanned.merchant_kind),
        (payer.member_public_id, payer.name),
        cooperative_names(session, {issuer_id, acquirer_id}),
    )
    # The receipt as GET /payments/{id} renders it (no balance: that is the payer's alone).
    webhooks.emit(
        session,
        WebhookEventType.PAYMENT_COMPLETED,
        body,
        cooperative_ids={issuer_id, acquirer_id},
        event_id=posted.id,
        created_at=posted.created_at,
    )
    body["event_id"] = posted.public_id
    # The wallet was locked at `locked` and only this payment has moved it since.
    body["balance"] = locked[payer.wallet_account_id] - amount
    return body, posted.id


def _share_refunded(share: int, refunded: int, amount: int) -> int:
    """How much of a fee share has been given back once `refunded` of `amount` is refunded."""
    return share * refunded // amount


def refund(
    session: Session, *, payment: Payment, amount: int | None, actor_user_id: int
) -> tuple[dict, int]:
    """Give back all or part of a payment; the fee shares go back in proportion.

    The refund is the payment's transition (gateway.states.PAYMENT), judged on the payment as
    the database holds it under the row's lock: concurrent refunds cannot together give back more
    than was paid, and "the rest" is what is left once the others have committed.
    """
    # Lock the payment and read what is refunded from the database, not from `payment`.
    before = session.scalar(
        select(Payment.refunded_amount).where(Payment.id == payment.id).with_for_update()
    )
    left = payment.amount - before
    amount = left if amount is None else amount
    if amount <= 0 or amount > left:
        raise RefundTooLarge(refundable=left)
    after = before + amount
    target = PaymentStatus.REFUNDED if after == payment.amount else PaymentStatus.PARTIALLY_REFUNDED
    states.transition(session, states.PAYMENT, payment.id, target, refunded_amount=after)
    session.refresh(payment)
    shares = {}
    for name, share in (
        ("issuer", payment.fee_issuer_amount),
        ("acquirer", payment.fee_acquirer_amount),
        ("network", payment.fee_network_amount),
    ):
        if after == payment.amount:
            shares[name] = share - _share_refunded(share, before, payment.amount)
        else:
            shares[name] = _share_refunded(share, after, payment.amount) - _share_refunded(
                share, before, payment.amount
            )
    merchant = session.get(Merchant, payment.merchant_id)
    payer = session.get(Member, payment.payer_member_id)
    legs = [ledger.Leg(merchant.account_id, payer.wallet_account_id, amount, TransferCode.REFUND)]
    for name, owner, code_name in (
        ("issuer", payment.issuer_cooperative_id, TransferCode.FEE_ISSUER_REFUND),
        ("acquirer", payment.acquirer_cooperative_id, TransferCode.FEE_ACQUIRER_REFUND),
        ("network", None, TransferCode.FEE_NETWORK_REFUND),
    ):
        if shares[name]:
            fee_account = ledger.system_account(session, AccountKind.FEES, owner)
            legs.append(ledger.Leg(fee_account.id, merchant.account_id, shares[name], code_name))
    posted = ledger.post(
        session,
        kind=EventKind.REFUND,
        legs=legs,
        cooperative_id=payment.acquirer_cooperative_id,
        actor_user_id=actor_user_id,
    )
    record = Refund(
        payment_id=payment.id,
        event_id=posted.id,
        amount=amount,
        fee_issuer_amount=shares["issuer"],
        fee_acquirer_amount=shares["acquirer"],
        fee_network_amount=shares["network"],
        created_at=posted.created_at,
    )
    session.add(record)
    session.flush()
    body = {
        "id": record.public_id,
        "payment_id": payment.public_id,
        "event_id": posted.public_id,
        "amount": amount,
        "fees_returned": shares,
        "payment": payment_json(session, payment),
        "created_at": posted.created_at.isoformat(),
    }
    webhooks.emit(
        session,
        WebhookEventType.PAYMENT_REFUNDED,
        body,
        cooperative_ids={payment.issuer_cooperative_id, payment.acquirer_cooperative_id},
        event_id=posted.id,
        created_at=posted.created_at,
    )
    return body, posted.id


def get_payment(session: Session, public_id: str) -> Payment:
    payment = session.scalar(select(Payment).where(Payment.public_id == public_id))
    if payment is None:
        raise NotFound("No such payment.", "Pembayaran tidak ditemukan.")
    return payment


# How far back a live feed looks for payments that committed after a later one was shown: a
# payment's created_at is stamped before its transaction commits, and no pay transaction lasts
# anywhere near this long.
FEED_LOOKBACK = timedelta(seconds=30)
FEED_CURSOR_PREFIX = "feed."


def _encode_feed_cursor(last: str | None, since: datetime, seen: list[str]) -> str:
    document = {"a": last, "s": since.isoformat(), "k": sorted(seen)}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return FEED_CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_feed_cursor(cursor: str) -> tuple[str | None, datetime | None, list[str]]:
    """Return (last payment id, look-back start, ids already delivered since then)."""
    if not cursor.startswith(FEED_CURSOR_PREFIX):
        return cursor, None, []  # a plain payment id: newer payments only
    try:
        encoded = cursor.removeprefix(FEED_CURSOR_PREFIX)
        document = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        since = datetime.fromisoformat(document["s"])
        seen = [str(public_id) for public_id in document["k"]]
        last = document["a"]
        if since.tzinfo is None or (last is not None and not isinstance(last, str)):
            raise ValueError("bad cursor")
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed("The cursor is not valid.", "Kursor tidak sah.") from None
    return last, since, seen


def _owner_filter(statement, merchant_id, payer_member_id):
    if merchant_id is not None:
        statement = statement.where(Payment.merchant_id == merchant_id)
    if payer_member_id is not None:
        statement = statement.where(Payment.payer_member_id == payer_member_id)
    return statement


def feed_cursor(session: Session, rows: list[Payment], *, merchant_id=None, payer_member_id=None):
    """Return the live-feed cursor for a client that has just been shown `rows` (newest first or
    oldest first) and everything older."""
    now = utcnow()
    since = now - FEED_LOOKBACK
    newest = max(rows, key=lambda row: row.id, default=None)
    recent = _owner_filter(
        select(Payment.public_id).where(Payment.created_at >= since), merchant_id, payer_member_id
    )
    # Nothing shown yet: nothing to remember.
    recent = recent.where(Payment.id <= newest.id) if newest is not None else recent.where(False)
    seen = list(session.scalars(recent))
    return _encode_feed_cursor(newest.public_id if newest else None, since, seen)


def list_payments(
    session: Session, *, merchant_id=None, payer_member_id=None, cursor=None, after=None, limit=50
):
    """Return payments, newest first (page older with `cursor`) or, with `after`, the ones the
    client has not been shown yet, oldest first (for a live feed).

    `after` is a payment id or, better, the feed cursor a previous answer gave: it also remembers
    which recent payments were delivered, so that a payment whose transaction committed after a
    newer one was shown (ids are handed out before commit) is still delivered, once.
    """
    statement = _owner_filter(select(Payment), merchant_id, payer_member_id)

    def position(public_id):
        # Only among the owner's own payments: another's payment id answers as an unknown one.
        found = session.scalar(
            _owner_filter(select(Payment.id), merchant_id, payer_member_id).where(
                Payment.public_id == public_id
            )
        )
        if found is None:
            raise ValidationFailed("The cursor is not valid.", "Kursor tidak sah.")
        return found

    if after is not None:
        last, since, seen = _decode_feed_cursor(after)
        last_id = position(last) if last is not None else 0
        if since is None:
            # A plain payment id: the client has been shown it and everything before it.
            seen = list(
                session.scalars(
                    _owner_filter(select(Payment.public_id), merchant_id, payer_member_id).where(
                        Payment.id <= last_id, Payment.created_at >= utcnow() - FEED_LOOKBACK
                    )
                )
            )
        newer = Payment.id > last_id
        if since is not None:
            late = (Payment.id < last_id) & (Payment.created_at >= since)
            if seen:
                late = late & Payment.public_id.not_in(seen)
            newer = newer | late
        rows = list(session.scalars(statement.where(newer).order_by(Payment.id).limit(limit)))
        if not rows:
            return rows, after
        now = utcnow()
        new_since = now - FEED_LOOKBACK
        newest_id = max([last_id, *(row.id for row in rows)])
        newest = next((row.public_id for row in rows if row.id == newest_id), last)
        delivered = set(seen) | {row.public_id for row in rows}
        # Of the owner's own payments only: a forged cursor's ids must not come back as news of
        # which of them exist.
        still_recent = set(
            session.scalars(
                _owner_filter(select(Payment.public_id), merchant_id, payer_member_id).where(
                    Payment.public_id.in_(delivered), Payment.created_at >= new_since
                )
            )
        )
        return rows, _encode_feed_cursor(newest, new_since, list(still_recent))
    if cursor is not None:
        statement = statement.where(Payment.id < position(cursor))
    rows = list(session.scalars(statement.order_by(Payment.id.desc()).limit(limit + 1)))
    next_cursor = rows[limit - 1].public_id if len(rows) > limit else None
    return rows[:limit], next_cursor
