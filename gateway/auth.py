"""Phone + PIN login, access and refresh tokens, PIN lockout, and who may do what.

Access tokens are short-lived JWTs signed by the key ring (`alg` EdDSA, header `typ` "at+jwt",
`aud` "interkop-api"); refresh tokens are random strings stored as SHA-256 hashes and rotated on
every use (reuse of a spent one revokes its whole family). PINs are hashed with scrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jwt
from sqlalchemy import and_, bindparam, case, literal, select, union_all, update
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.errors import InvalidCredentials, InvalidToken, PinLocked, WrongPin
from gateway.keys import KeyRing
from gateway.models import Member, Merchant, RefreshToken, Role, StaffRole, User

ACCESS_TOKEN_TYPE = "at+jwt"
ACCESS_TOKEN_AUDIENCE = "interkop-api"
PIN_LENGTH = 6


# --- PINs -------------------------------------------------------------------------------------


def hash_pin(pin: str, scrypt_n: int) -> str:
    """Hash a PIN with scrypt and a random salt; the cost parameters travel with the hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=scrypt_n, r=8, p=1, dklen=32)
    return f"scrypt${scrypt_n}$8$1${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, pin_hash: str) -> bool:
    """Compare a PIN with its stored hash in constant time."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = pin_hash.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        pin.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(digest.hex(), digest_hex)


def is_valid_pin_format(pin: str) -> bool:
    return len(pin) == PIN_LENGTH and pin.isascii() and pin.isdigit()


@dataclass(frozen=True)
class PinPolicy:
    attempts_max: int
    lockout_seconds: int
    scrypt_n: int


def record_pin_failure(session: Session, user_id: int, policy: PinPolicy) -> None:
    """Count a wrong PIN (atomically) and lock the user once the count reaches the maximum.

    Runs in its own transaction after the request's transaction rolled back, so the count sticks
    although the request failed. A lock that has run out is cleared here and the count starts
    again from this failure: a reset made in the request's own transaction would be rolled back
    with it, and the old count would lock the user again on the first slip.
    """
    now = utcnow()
    locked_until = now + timedelta(seconds=policy.lockout_seconds)
    lock_expired = and_(User.locked_until.is_not(None), User.locked_until <= now)
    attempts = case((lock_expired, 1), else_=User.failed_pin_attempts + 1)
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            failed_pin_attempts=attempts,
            locked_until=case(
                (attempts >= policy.attempts_max, locked_until),
                (lock_expired, None),
                else_=User.locked_until,
            ),
        )
    )


def verify_pin(
    session: Session, user: User, pin: str | None, policy: PinPolicy, *, login: bool = False
) -> None:
    """Check a user's PIN, honouring the lockout. On a wrong PIN raise an error whose follow-up
    counts the failure once the request's transaction has rolled back."""
    if _pin_accepted(
        user.id,
        user.pin_hash,
        user.failed_pin_attempts,
        user.locked_until,
        pin,
        policy,
        login=login,
    ):
        user.failed_pin_attempts = 0
        user.locked_until = None


_CLEAR_PIN_FAILURES = (
    update(User)
    .where(User.id == bindparam("user_id"))
    .values(failed_pin_attempts=0, locked_until=None)
)


def check_pin(
    session: Session,
    user_id: int,
    pin_hash: str,
    failed_pin_attempts: int,
    locked_until: datetime | None,
    pin: str | None,
    policy: PinPolicy,
) -> None:
    """`verify_pin` for a user read as plain values (the pay path loads no ORM objects)."""
    if _pin_accepted(user_id, pin_hash, failed_pin_attempts, locked_until, pin, policy):
        session.connection().execute(_CLEAR_PIN_FAILURES, {"user_id": user_id})


def _pin_accepted(
    user_id: int,
    pin_hash: str,
    failed_pin_attempts: int,
    locked_until: datetime | None,
    pin: str | None,
    policy: PinPolicy,
    *,
    login: bool = False,
) -> bool:
    """Return whether a right PIN leaves failures to clear; raise on a lock or a wrong PIN."""
    now = utcnow()
    if locked_until is not None and locked_until > now:
        raise PinLocked(locked_until=locked_until.isoformat())
    if pin is not None and pin_matches(pin, pin_hash):
        return bool(failed_pin_attempts or locked_until)
    # An expired lock starts a fresh count (record_pin_failure clears it).
    attempts = 0 if locked_until is not None else failed_pin_attempts
    attempts_left = policy.attempts_max - (attempts + 1)
    error = (
        PinLocked(locked_until=(now + timedelta(seconds=policy.lockout_seconds)).isoformat())
        if attempts_left <= 0
        # At login, say nothing an unknown phone would not also get: no attempts_left.
        else (InvalidCredentials() if login else WrongPin(attempts_left=attempts_left))
    )
    error.follow_up = lambda follow_session: record_pin_failure(follow_session, user_id, policy)
    raise error


# --- Access tokens ------------------------------------------------------------------------------


def issue_access_token(ring: KeyRing, user: User, issuer: str, ttl_seconds: int) -> str:
    key = ring.signing_key()
    now = utcnow()
    claims = {
        "iss": issuer,
        "aud": ACCESS_TOKEN_AUDIENCE,
        "sub": user.public_id,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
        "jti": secrets.token_hex(12),
    }
    return jwt.encode(
        claims,
        key.private_key,
        algorithm="EdDSA",
        headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE},
    )


def decode_access_token(ring: KeyRing, token: str, issuer: str) -> dict:
    """Verify an access token: EdDSA only, a known kid, our `typ`, `aud` and `iss`, not expired."""
    known = ring.verified_claims(ACCESS_TOKEN_TYPE, token)
    if known is not None and known.get("iss") == issuer:
        return known
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken() from error
    if header.get("alg") != "EdDSA" or header.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidToken()
    public_key = ring.public_key(str(header.get("kid")))
    if public_key is None:
        raise InvalidToken()
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["EdDSA"],
            audience=ACCESS_TOKEN_AUDIENCE,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken() from error
    ring.remember_verified(ACCESS_TOKEN_TYPE, token, str(header.get("kid")), claims)
    return dict(claims)


# --- Refresh tokens -----------------------------------------------------------------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_refresh_token(
    session: Session, user: User, ttl_seconds: int, family_id: str | None = None
) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=_hash_token(token),
            family_id=family_id or secrets.token_hex(16),
            expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        )
    )
    return token


def rotate_refresh_token(session: Session, token: str, ttl_seconds: int) -> tuple[User, str]:
    """Spend a refresh token and return its user and a new one of the same family.

    A token presented a second time means it was stolen or replayed: the whole family is revoked
    (committed by the caller through the error's follow-up) and the caller must log in again.
    """
    now = utcnow()
    stored = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _hash_token(token)).with_for_update()
    )
    if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
        raise InvalidToken()
    if stored.used_at is not None:
        family_id = stored.family_id
        error = InvalidToken()
        error.follow_up = lambda follow_session: follow_session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        raise error
    stored.used_at = now
    user = session.get(User, stored.user_id)
    return user, issue_refresh_token(session, user, ttl_seconds, family_id=stored.family_id)


# --- Who is calling -----------------------------------------------------------------------------


@dataclass
class Principal:
    """The caller of a request and every role they hold."""

    user: User
    member: Member | None
    merchant_ids: set[int] = field(default_factory=set)
    admin_cooperative_ids: set[int] = field(default_factory=set)
    network_admin: bool = False
    observer: bool = False

    @property
    def user_id(self) -> int:
        """The caller's user id, read once: safe after the session's objects have expired."""
        return self._user_id

    def __post_init__(self) -> None:
        self._user_id = self.user.id

    @property
    def roles(self) -> list[str]:
        roles = []
        if self.member is not None:
            roles.append(Role.MEMBER.value)
        if self.merchant_ids:
            roles.append(Role.MERCHANT.value)
        if self.admin_cooperative_ids:
            roles.append(Role.COOP_ADMIN.value)
        if self.network_admin:
            roles.append(Role.NETWORK_ADMIN.value)
        if self.observer:
            roles.append(Role.OBSERVER.value)
        return roles

    def administers(self, cooperative_id: int) -> bool:
        return cooperative_id in self.admin_cooperative_ids

    def owns_merchant(self, merchant_id: int) -> bool:
        return merchant_id in self.merchant_ids


def principal_for(session: Session, user_public_id: str) -> Principal | None:
    """Load the caller and every role they hold in two queries (this runs on every request)."""
    row = session.execute(
        select(User, Member)
        .outerjoin(Member, Member.user_id == User.id)
        .where(User.public_id == user_public_id)
    ).first()
    if row is None:
        return None
    user, member = row
    return load_principal(session, user, member)


def load_principal(session: Session, user: User, member: Member | None = None) -> Principal:
    if member is None:
        member = session.scalar(select(Member).where(Member.user_id == user.id))
    grants = union_all(
        select(literal(Role.MERCHANT.value).label("role"), Merchant.id.label("reference")).where(
            Merchant.owner_user_id == user.id
        ),
        select(StaffRole.role.label("role"), StaffRole.cooperative_id.label("reference")).where(
            StaffRole.user_id == user.id
        ),
    )
    principal = Principal(user=user, member=member)
    for role, reference in session.execute(grants):
        if role == Role.MERCHANT:
            principal.merchant_ids.add(reference)
        elif role == Role.COOP_ADMIN and reference is not None:
            principal.admin_cooperative_ids.add(reference)
        elif role == Role.NETWORK_ADMIN:
            principal.network_admin = True
        elif role == Role.OBSERVER:
            principal.observer = True
    return principal


def login(session: Session, phone: str, pin: str, policy: PinPolicy) -> User:
    """Return the user whose phone and PIN these are, or raise (counting the wrong PIN)."""
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None:
        # Spend about as long as a real check so that phone numbers cannot be probed by timing.
        pin_matches(pin, f"scrypt${policy.scrypt_n}$8$1$00$00")
        raise InvalidCredentials()
    verify_pin(session, user, pin, policy, login=True)
    return user
