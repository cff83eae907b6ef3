"""Issue, render and verify signed QR tokens.

A QR code holds `{PUBLIC_URL}/pay#<token>`; the token is a compact JWS signed by the key ring
(`alg` EdDSA, header `kid` and `typ` "interkop-qr+jwt", `aud` "interkop-qr"). Dynamic QR codes
carry the amount and expire; static stickers carry neither. Verification pins the algorithm,
finds the key by `kid`, checks `typ`, `aud`, `iss`, the expiry (none from `exp` on: what the
merchant's screen says must be true), the issue time (with a few seconds' leeway for clock skew
between gateway machines), the lifetime, and then the QR's state in the database. An access token is never accepted here (other `typ` and
`aud`), nor a QR token as an access token.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from xml.sax.saxutils import escape

import jwt
import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import states
from gateway.db import insert_or_find, new_public_id, utcnow
from gateway.errors import GatewayError, NotFound
from gateway.keys import KeyRing
from gateway.models import Cooperative, Merchant, QrCode, QrKind, QrStatus

QR_TOKEN_TYPE = "interkop-qr+jwt"
QR_AUDIENCE = "interkop-qr"
CURRENCY = "IDR"


class QrError(GatewayError):
    status = 422
    slug = "qr-invalid"
    title = "QR code not valid"
    message_id = "Kode QR ini tidak sah."
    message_en = "This QR code is not valid."


class QrMalformed(QrError):
    slug = "qr-malformed"
    title = "Not an Interkop QR code"
    message_id = "Ini bukan kode QR Interkop."
    message_en = "This is not an Interkop QR code."


class QrBadSignature(QrError):
    slug = "qr-bad-signature"
    title = "QR signature does not verify"
    message_id = "Tanda tangan kode QR tidak sah. Jangan bayar; laporkan ke koperasi."
    message_en = (
        "The QR code's signature does not verify. Do not pay; report it to the cooperative."
    )


class QrUnknownKey(QrError):
    slug = "qr-unknown-key"
    title = "QR signed by an unknown key"
    message_id = "Kode QR ditandatangani kunci yang tidak dikenal. Jangan bayar."
    message_en = "The QR code was signed by a key we do not know. Do not pay."


class QrExpired(QrError):
    slug = "qr-expired"
    title = "QR code expired"
    message_id = "Kode QR sudah kedaluwarsa. Minta kasir membuat kode baru."
    message_en = "The QR code has expired. Ask the cashier for a new one."


class QrAlreadyPaid(QrError):
    status = 409
    slug = "qr-already-paid"
    title = "QR code already paid"
    message_id = "Kode QR ini sudah dibayar."
    message_en = "This QR code has already been paid."


class QrCancelled(QrError):
    slug = "qr-cancelled"
    title = "QR code cancelled"
    message_id = "Kode QR ini sudah dibatalkan oleh merchant."
    message_en = "The merchant cancelled this QR code."


class QrRevoked(QrError):
    slug = "qr-revoked"
    title = "QR sticker revoked"
    message_id = "Stiker QR ini sudah tidak berlaku. Minta stiker yang baru."
    message_en = "This QR sticker is no longer valid. Ask for the new one."


@dataclass(frozen=True)
class QrSettings:
    issuer: str
    public_url: str
    ttl_default_seconds: int
    ttl_max_seconds: int
    leeway_seconds: int


def url_for_token(settings: QrSettings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/pay#{token}"


def _sign(ring: KeyRing, claims: dict) -> tuple[str, str]:
    key = ring.signing_key()
    token = jwt.encode(
        claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, "typ": QR_TOKEN_TYPE}
    )
    return token, key.kid


def _claims(
    settings: QrSettings,
    merchant: Merchant,
    cooperative: Cooperative,
    qr_public_id: str,
    now: datetime,
) -> dict:
    return {
        "iss": settings.issuer,
        "aud": QR_AUDIENCE,
        "sub": merchant.public_id,
        "coop": cooperative.public_id,
        "name": merchant.name,
        "jti": qr_public_id,
        "iat": int(now.timestamp()),
    }


def _issue(
    session: Session,
    ring: KeyRing,
    settings: QrSettings,
    merchant: Merchant,
    *,
    amount: int | None = None,
    reference: str | None = None,
    ttl_seconds: int | None = None,
) -> QrCode:
    """Sign and store a QR: dynamic when it has an amount (and then it expires), else static."""
    now = utcnow().replace(microsecond=0)
    public_id = new_public_id("qr")
    claims = _claims(settings, merchant, merchant.cooperative, public_id, now)
    expires_at = None
    if amount is not None:
        expires_at = now + timedelta(seconds=ttl_seconds or settings.ttl_default_seconds)
        claims.update({"amt": amount, "cur": CURRENCY, "exp": int(expires_at.timestamp())})
        if reference:
            claims["ref"] = reference
    token, kid = _sign(ring, claims)
    qr = QrCode(
        public_id=public_id,
        merchant_id=merchant.id,
        kind=QrKind.STATIC if amount is None else QrKind.DYNAMIC,
        status=QrStatus.ACTIVE,
        amount=amount,
        reference=reference,
        token=token,
        kid=kid,
        issued_at=now,
        expires_at=expires_at,
    )
    session.add(qr)
    session.flush()
    return qr


def issue_dynamic(
    session: Session,
    ring: KeyRing,
    settings: QrSettings,
    merchant: Merchant,
    amount: int,
    reference: str | None,
    ttl_seconds: int | None,
) -> QrCode:
    """Issue a one-sale QR for an exact amount that expires after `ttl_seconds`."""
    return _issue(
        session,
        ring,
        settings,
        merchant,
        amount=amount,
        reference=reference,
        ttl_seconds=ttl_seconds,
    )


def static_for(session: Session, ring: KeyRing, settings: QrSettings, merchant: Merchant) -> QrCode:
    """Return the merchant's active sticker, issuing one if it has none.

    One active sticker per merchant is held by the database (a partial unique index): of first
    requests racing to issue it, one does, and the others return that same sticker.
    """

    def find() -> QrCode | None:
        return session.scalar(
            select(QrCode)
            .where(
                QrCode.merchant_id == merchant.id,
                QrCode.kind == QrKind.STATIC,
                QrCode.status == QrStatus.ACTIVE,
            )
            .order_by(QrCode.id.desc())
            .limit(1)
        )

    qr = find()
    if qr is None:
        qr, _ = insert_or_find(session, lambda: _issue(session, ring, settings, merchant), find)
    return qr


def transition(session: Session, qr_id: int, kind: str, to_status: str) -> bool:
    """Move a QR code to `to_status` through its state machine (gateway.states); return True if
    this call made the change, False on a repeat.

    One conditional UPDATE on the pay path: two concurrent callers cannot both move it. A change
    the machine forbids is refused with the QR's own error (already paid, cancelled, revoked).
    """
    machine = states.DYNAMIC_QR if kind == QrKind.DYNAMIC else states.STATIC_QR
    try:
        return states.transition(session, machine, qr_id, to_status)
    except states.TransitionRefused as refused:
        raise _REFUSED_BECAUSE[refused.current]() from None


# Why a QR code cannot move on, by the state it is in.
_REFUSED_BECAUSE = {
    QrStatus.PAID: QrAlreadyPaid,
    QrStatus.CANCELLED: QrCancelled,
    QrStatus.REVOKED: QrRevoked,
}


def rotate_static(
    session: Session, ring: KeyRing, settings: QrSettings, merchant: Merchant
) -> QrCode:
    """Revoke the merchant's sticker and issue a new one."""
    for qr_id in session.scalars(
        select(QrCode.id).where(
            QrCode.merchant_id == merchant.id,
            QrCode.kind == QrKind.STATIC,
            QrCode.status == QrStatus.ACTIVE,
        )
    ):
        transition(session, qr_id, QrKind.STATIC, QrStatus.REVOKED)
    session.expire_all()
    return static_for(session, ring, settings, merchant)


def cancel(session: Session, qr: QrCode) -> None:
    """Cancel an unpaid dynamic QR (a repeat cancel is a no-op)."""
    if qr.kind != QrKind.DYNAMIC:
        raise QrError(
            "Only a dynamic QR code can be cancelled.",
            "Hanya kode QR dinamis yang dapat dibatalkan.",
        )
    transition(session, qr.id, QrKind.DYNAMIC, QrStatus.CANCELLED)


@dataclass
class VerifiedQr:
    qr: QrCode
    merchant: Merchant
    claims: dict


def decode(ring: KeyRing, settings: QrSettings, token: str, now: datetime | None = None) -> dict:
    """Verify a QR token's signature and claims (not yet its state in the database).

    A dynamic QR is expired from its `exp` on, by this machine's clock (`now`), with no leeway.
    """
    if not isinstance(token, str) or token.count(".") != 2:
        raise QrMalformed()
    now = now or utcnow()
    # No leeway for a remembered token: at its `exp` it is refused below, and an `iat` still in
    # the future here is checked in full, with the leeway.
    known = ring.verified_claims(QR_TOKEN_TYPE, token)
    if known is not None and known.get("iss") == settings.issuer:
        return known
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise QrMalformed() from None
    if header.get("typ") != QR_TOKEN_TYPE:
        raise QrMalformed()
    if header.get("alg") != "EdDSA":
        raise QrBadSignature()
    public_key = ring.public_key(str(header.get("kid")))
    if public_key is None:
        raise QrUnknownKey()
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["EdDSA"],
            audience=QR_AUDIENCE,
            issuer=settings.issuer,
            # The leeway applies to `iat` alone (clock skew between gateway machines); `exp` is
            # checked below without one.
            leeway=settings.leeway_seconds,
            options={"require": ["iss", "aud", "sub", "jti", "iat"], "verify_exp": False},
        )
    except jwt.InvalidSignatureError:
        raise QrBadSignature() from None
    except jwt.PyJWTError:
        raise QrMalformed() from None
    if "exp" in claims:
        if type(claims["exp"]) is not int:
            raise QrMalformed()
        if claims["exp"] <= now.timestamp():
            raise QrExpired()
    if "amt" in claims:
        # A dynamic QR must expire, and within the longest TTL we issue.
        amount = claims.get("amt")
        if (
            "exp" not in claims
            or type(amount) is not int
            or amount <= 0
            or claims.get("cur") != CURRENCY
        ):
            raise QrMalformed()
        if claims["exp"] - claims["iat"] > settings.ttl_max_seconds:
            raise QrMalformed()
    ring.remember_verified(QR_TOKEN_TYPE, token, str(header.get("kid")), claims)
    return dict(claims)


def verify(
    session: Session, ring: KeyRing, settings: QrSettings, token: str, *, lock: bool = False
) -> VerifiedQr:
    """Verify a token and the QR's state: return the QR and its merchant, or say exactly why not."""
    claims = decode(ring, settings, token)
    statement = select(QrCode).where(QrCode.public_id == claims["jti"])
    qr = session.scalar(statement)
    if qr is None or qr.token != token:
        raise QrBadSignature()
    merchant = session.get(Merchant, qr.merchant_id)
    if merchant is None or merchant.public_id != claims["sub"]:
        raise QrBadSignature()
    check_state(qr.kind, qr.status, claims)
    return VerifiedQr(qr=qr, merchant=merchant, claims=claims)


def check_state(kind: str, status: str, claims: dict) -> None:
    """Refuse a QR whose stored kind does not match its token, or that can no longer be paid."""
    if (kind == QrKind.DYNAMIC) != ("amt" in claims):
        raise QrMalformed()
    if status == QrStatus.PAID:
        raise QrAlreadyPaid()
    if status == QrStatus.CANCELLED:
        raise QrCancelled()
    if status == QrStatus.REVOKED:
        raise QrRevoked()


def get(session: Session, public_id: str) -> QrCode:
    qr = session.scalar(select(QrCode).where(QrCode.public_id == public_id))
    if qr is None:
        raise NotFound("No such QR code.", "Kode QR tidak ditemukan.")
    return qr


# --- Rendering: once per QR and format, cached (about 15 ms each, never on the pay path) ---------


@lru_cache(maxsize=2048)
def render_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


@lru_cache(maxsize=2048)
def render_svg(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        buffer, kind="svg", scale=8, border=4, xmldecl=True
    )
    return buffer.getvalue()


@lru_cache(maxsize=512)
def render_sticker(url: str, merchant_name: str, cooperative_name: str) -> bytes:
    """Render a printable A6 sticker (105 x 148 mm): name, cooperative, "Scan untuk bayar", QR."""
    code = segno.make(url, error="m", micro=False)
    size = code.symbol_size(border=4)[0]
    module_mm = 80 / size
    paths = []
    for row_index, row in enumerate(code.matrix_iter(border=4)):
        for column_index, dark in enumerate(row):
            if dark:
                x = 12.5 + column_index * module_mm
                y = 38 + row_index * module_mm
                paths.append(f"M{x:.3f} {y:.3f}h{module_mm:.3f}v{module_mm:.3f}h-{module_mm:.3f}z")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="105mm" height="148mm" viewBox="0 0 105 148">'
        '<rect width="105" height="148" fill="#fff"/>'
        '<rect x="2" y="2" width="101" height="144" rx="4" fill="none" stroke="#0b6e4f" stroke-width="1"/>'
        f'<text x="52.5" y="16" font-family="sans-serif" font-size="8" font-weight="bold" text-anchor="middle">{escape(merchant_name)}</text>'
        f'<text x="52.5" y="25" font-family="sans-serif" font-size="5" text-anchor="middle">{escape(cooperative_name)}</text>'
        '<text x="52.5" y="34" font-family="sans-serif" font-size="6" text-anchor="middle" fill="#0b6e4f">Scan untuk bayar</text>'
        f'<path fill="#000" d="{"".join(paths)}"/>'
        '<text x="52.5" y="136" font-family="sans-serif" font-size="4" text-anchor="middle">Interkop · pembayaran antar koperasi</text>'
        "</svg>\n"
    ).encode()


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None
