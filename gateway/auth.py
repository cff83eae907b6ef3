"""Phone + PIN login, access and refresh tokens, PIN lockout, and who may do what.

Access tokens are short-lived JWTs signed by the key ring (`alg` EdDSA, header `typ` "at+jwt",
`aud` "interkop-api"); refresh tokens are random strings stored as SHA-256 hashes and rotated on
every use (reuse of a spent one revokes its whole family). PINs are hashed with scrypt and
compared in one place, `check_pin`, which counts every attempt before it hashes.

An API client's access token (OAuth 2.0 client credentials, gateway/api_clients.py) is the same
kind of JWT in the shape of RFC 9068: `sub` and `client_id` are the client, `scope` its scopes,
`coop` its cooperative; no user token has a `client_id`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jwt
from sqlalchemy import (
    Engine,
    and_,
    case,
    create_engine,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gateway.availability import watchdog, with_server_settings
from gateway.db import commit_alone, utcnow
from gateway.errors import InvalidCredentials, InvalidToken, PinCheckBusy, PinLocked, WrongPin
from gateway.keys import KeyRing
from gateway.models import (
    Member,
    Merchant,
    PhonePinAttempts,
    RefreshToken,
    Role,
    StaffRole,
    User,
)
from gateway.models.types import UTCDateTime

ACCESS_TOKEN_TYPE = "at+jwt"
ACCESS_TOKEN_AUDIENCE = "interkop-api"
# The claim that makes an access token an API client's (RFC 9068 §2.2).
CLIENT_ID_CLAIM = "client_id"
PIN_LENGTH = 6


# --- PINs -------------------------------------------------------------------------------------


def hash_pin(pin: str, scrypt_n: int) -> str:
    """Hash a PIN with scrypt and a random salt; the cost parameters travel with the hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=scrypt_n, r=8, p=1, dklen=32)
    return f"scrypt${scrypt_n}$8$1${salt.hex()}${digest.hex()}"


def _pin_matches(pin: str, pin_hash: str) -> bool:
    """Compare a PIN with its stored hash in constant time.

    Private: only `check_pin` (which counts) and `login` (for a phone with no login, counted
    likewise) call it, so that no answer anywhere tells whether a PIN was right uncounted.
    """
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

    def locked(self, locked_until: datetime) -> PinLocked:
        """The refusal for a person locked until `locked_until`."""
        return PinLocked(
            locked_until=locked_until.isoformat(),
            attempts_max=self.attempts_max,
            lockout_seconds=self.lockout_seconds,
        )

    def wrong(self, failures: int) -> WrongPin:
        """The refusal of a wrong PIN, the `failures`-th in a row (below `attempts_max`)."""
        return WrongPin(
            attempts_left=self.attempts_max - failures, lockout_seconds=self.lockout_seconds
        )


def is_locked(locked_until: datetime | None, now: datetime | None = None) -> bool:
    """Whether a PIN lock that runs until `locked_until` still holds."""
    return locked_until is not None and locked_until > (now or utcnow())


_USERS = User.__table__
_PHONES = PhonePinAttempts.__table__

# On PostgreSQL an attempt is claimed, compared and settled in a short transaction of its own,
# on an engine beside the application's pool (so that a burst holding every pooled connection
# can still claim). The claim's row lock makes concurrent checks of one person take turns, each
# seeing the settled outcome of the one before: no right PIN in flight is ever mistaken for a
# failure. A check waits at most two seconds for its turn, then answers "busy" (409).
_SIDE_ENGINES: dict[str, Engine] = {}
_SIDE_ENGINES_LOCK = threading.Lock()
LOCK_NOT_AVAILABLE = "55P03"


def _side_engine(session: Session) -> Engine | None:
    """The engine beside the session's, on PostgreSQL; None on SQLite.

    SQLite has one write lock for the whole database and a request holds it from its first
    statement, so there a claim is made in the request's own transaction (no other PIN check can
    run until it ends) and a wrong PIN's count is committed alone by `db.commit_alone`.
    """
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    if engine.dialect.name != "postgresql":
        return None
    key = engine.url.render_as_string(hide_password=False)
    with _SIDE_ENGINES_LOCK:
        side = _SIDE_ENGINES.get(key)
        if side is None:
            # The URL's own bounds (gateway/availability.py) stay; a claim waits 2 s at most.
            side = _SIDE_ENGINES[key] = create_engine(
                with_server_settings(engine.url, replace=True, lock_timeout=2000),
                pool_size=5,
                max_overflow=20,
            )
            # Pinged at checkout and timed like the request's own connections.
            watchdog.watch(side, ping=True)
    return side


def _claim_person(user_id: int, policy: PinPolicy, now: datetime):
    """Add one failure to a person who is not locked (locking them on reaching the maximum);
    return (pin_hash, failures, locked_until), or no row if they are locked."""
    expired = and_(_USERS.c.locked_until.is_not(None), _USERS.c.locked_until <= now)
    failures = case((expired, 0), else_=_USERS.c.failed_pin_attempts) + 1
    return (
        update(_USERS)
        .where(_USERS.c.id == user_id, or_(_USERS.c.locked_until.is_(None), expired))
        .values(
            failed_pin_attempts=failures,
            locked_until=case(
                (failures >= policy.attempts_max, _at(now + _lockout(policy))),
                else_=null(),
            ),
        )
        .returning(_USERS.c.pin_hash, _USERS.c.failed_pin_attempts, _USERS.c.locked_until)
    )


def _claim_phone(phone: str, policy: PinPolicy, now: datetime, dialect: str):
    """`_claim_person` for a phone number that has no login: (None, failures, locked_until)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    expired = and_(_PHONES.c.locked_until.is_not(None), _PHONES.c.locked_until <= now)
    failures = case((expired, 0), else_=_PHONES.c.failed_pin_attempts) + 1
    first_lock = _at(now + _lockout(policy)) if policy.attempts_max <= 1 else None
    return (
        insert(_PHONES)
        .values(phone=phone, failed_pin_attempts=1, locked_until=first_lock)
        .on_conflict_do_update(
            index_elements=[_PHONES.c.phone],
            set_={
                "failed_pin_attempts": failures,
                "locked_until": case(
                    (failures >= policy.attempts_max, _at(now + _lockout(policy))),
                    else_=null(),
                ),
            },
            where=or_(_PHONES.c.locked_until.is_(None), expired),
        )
        .returning(null(), _PHONES.c.failed_pin_attempts, _PHONES.c.locked_until)
    )


def _lockout(policy: PinPolicy) -> timedelta:
    return timedelta(seconds=policy.lockout_seconds)


def _at(moment: datetime):
    return literal(moment, UTCDateTime())


def _forgive(user_id: int, count: int, policy: PinPolicy):
    """Take `count` failures off a person (and their lock, if what is left is under the
    maximum): a right PIN's own attempt, or the failures counted before it. Never a plain reset
    to zero, which would also wipe wrong PINs claimed meanwhile by concurrent requests."""
    failures = case(
        (_USERS.c.failed_pin_attempts > count, _USERS.c.failed_pin_attempts - count), else_=0
    )
    return (
        update(_USERS)
        .where(_USERS.c.id == user_id)
        .values(
            failed_pin_attempts=failures,
            locked_until=case(
                (failures >= policy.attempts_max, _USERS.c.locked_until), else_=null()
            ),
        )
    )


def _compare(connection, claim, locked_until_query, pin, policy, *, user_id, own_transaction):
    """Claim an attempt on `connection`, then compare; return ("locked", locked_until),
    ("right", failures) or ("wrong", failures, locked_until). Raises nothing, so that a
    transaction of its own commits the claim whatever the outcome."""
    claimed = connection.execute(claim).first()
    if claimed is None:
        row = connection.execute(locked_until_query).first()
        return "locked", (row[0] if row and row[0] else utcnow())
    pin_hash, failures, locked_until = claimed
    dummy_hash = f"scrypt${policy.scrypt_n}$8$1$00$00"
    matches = _pin_matches(pin or "", pin_hash or dummy_hash)
    if matches and pin is not None and pin_hash is not None:
        if own_transaction:
            connection.execute(_forgive(user_id, 1, policy))  # this PIN's own attempt
        return "right", failures
    return "wrong", failures, locked_until


def _checked(
    session: Session,
    claim,
    locked_until_query,
    pin: str | None,
    policy: PinPolicy,
    *,
    login: bool,
    user_id: int | None = None,
) -> None:
    """Claim an attempt, then compare; raise unless the PIN is right (see `check_pin`)."""
    side = _side_engine(session)
    arguments = (claim, locked_until_query, pin, policy)
    if side is None:
        outcome = _compare(session.connection(), *arguments, user_id=user_id, own_transaction=False)
    else:
        try:
            with side.begin() as connection:
                outcome = _compare(connection, *arguments, user_id=user_id, own_transaction=True)
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise PinCheckBusy() from None
            raise
    if outcome[0] == "locked":
        raise policy.locked(outcome[1])
    if outcome[0] == "right":
        # On PostgreSQL the claim was handed back in its own transaction; on SQLite the claim
        # is part of the request's transaction, so it is forgiven with the earlier failures.
        earlier = outcome[1] - 1 if side is not None else outcome[1]
        if earlier:
            # Earlier failures are forgiven with the request's work: if it fails (not enough
            # money), they stand, as they would have without this PIN.
            session.connection().execute(_forgive(user_id, earlier, policy))
        return
    _, failures, locked_until = outcome
    if side is None:
        commit_alone(session, claim)
    if failures >= policy.attempts_max:
        raise policy.locked(locked_until)
    # At login, say nothing an unknown phone would not also get: no attempts_left.
    raise InvalidCredentials() if login else policy.wrong(failures)


def check_pin(
    session: Session, user_id: int, pin: str | None, policy: PinPolicy, *, login: bool = False
) -> None:
    """Check a person's PIN, whatever asks (login, payment, cash-out, accepting an invitation):
    the one function that compares a PIN with its hash. Return if it is right; raise otherwise.

    The attempt is claimed BEFORE hashing, atomically: a conditional UPDATE adds one failure
    unless the person is locked, and locks them when the count reaches `attempts_max`. On
    PostgreSQL claim, comparison and outcome are one short transaction on a connection of its
    own, committed before the request goes on, whose row lock makes a person's concurrent checks
    take turns; on SQLite the request holds the database's single write lock throughout. So at
    most `attempts_max` wrong PINs are ever compared per lock period, under any concurrency; a
    locked person is refused without a comparison, whether the PIN is right or not.

    A right PIN hands its own attempt back at once and forgives earlier failures with the
    request's work; a wrong one stays counted (on SQLite committed alone before the refusal).
    """
    now = utcnow()
    _checked(
        session,
        _claim_person(user_id, policy, now),
        select(_USERS.c.locked_until).where(_USERS.c.id == user_id),
        pin,
        policy,
        login=login,
        user_id=user_id,
    )


def refuse_if_locked(session: Session, user_id: int, policy: PinPolicy) -> None:
    """Refuse (423) a person whose PIN is locked: no money leaves them, no session is renewed."""
    locked_until = session.scalar(select(_USERS.c.locked_until).where(_USERS.c.id == user_id))
    if is_locked(locked_until):
        raise policy.locked(locked_until)


# --- Access tokens ------------------------------------------------------------------------------


def issue_access_token(ring: KeyRing, user: User, issuer: str, ttl_seconds: int) -> str:
    return _signed_access_token(ring, {"sub": user.public_id}, issuer, ttl_seconds)


def issue_client_access_token(
    ring: KeyRing,
    *,
    client_id: str,
    cooperative_id: str,
    scopes: list[str],
    secret_generation: int,
    issuer: str,
    ttl_seconds: int,
) -> str:
    """Sign an API client's access token: RFC 9068's claims, the client's cooperative (`coop`)
    and the secret generation it was issued under (`gen`: a rotation ends it)."""
    claims = {
        "sub": client_id,
        CLIENT_ID_CLAIM: client_id,
        "coop": cooperative_id,
        "scope": " ".join(scopes),
        "gen": secret_generation,
    }
    return _signed_access_token(ring, claims, issuer, ttl_seconds)


def _signed_access_token(ring: KeyRing, subject_claims: dict, issuer: str, ttl_seconds: int):
    key = ring.signing_key()
    now = utcnow()
    claims = {
        "iss": issuer,
        "aud": ACCESS_TOKEN_AUDIENCE,
        **subject_claims,
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


def rotate_refresh_token(
    session: Session, token: str, ttl_seconds: int, policy: PinPolicy
) -> tuple[User, str]:
    """Spend a refresh token and return its user and a new one of the same family.

    A token presented a second time means it was stolen or replayed: the whole family is revoked
    (committed by the caller through the error's follow-up) and the caller must log in again.
    While the person's PIN is locked no session is renewed (423); the token stays unspent.
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
    user = session.scalar(
        select(User).where(User.id == stored.user_id).execution_options(populate_existing=True)
    )
    if is_locked(user.locked_until, now):
        raise policy.locked(user.locked_until)
    stored.used_at = now
    return user, issue_refresh_token(session, user, ttl_seconds, family_id=stored.family_id)


def revoke_refresh_family(session: Session, token: str) -> None:
    """Revoke every token of the family a refresh token belongs to (logging out); an unknown
    token revokes nothing."""
    family_id = session.scalar(
        select(RefreshToken.family_id).where(RefreshToken.token_hash == _hash_token(token))
    )
    if family_id is not None:
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


# --- Who is calling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientIdentity:
    """An API client admitted with a current token: its ids, cooperative and granted scopes."""

    id: int
    public_id: str
    cooperative_id: int
    scopes: frozenset[str]


@dataclass
class Principal:
    """The caller of a request and every role they hold.

    An API client is a principal with no user, no member, no merchant and no wallet: it acts as
    an admin of its one cooperative (`admin_cooperative_ids`), within the scopes of its token,
    and only on the endpoints open to API clients (gateway/api/support.py admits it).
    """

    user: User | None
    member: Member | None
    merchant_ids: set[int] = field(default_factory=set)
    admin_cooperative_ids: set[int] = field(default_factory=set)
    network_admin: bool = False
    observer: bool = False
    client: ClientIdentity | None = None

    @property
    def user_id(self) -> int | None:
        """The caller's user id, read once: safe after the session's objects have expired.
        None for an API client."""
        return self._user_id

    def __post_init__(self) -> None:
        self._user_id = self.user.id if self.user is not None else None

    @classmethod
    def for_client(cls, client: ClientIdentity) -> Principal:
        """An API client: its cooperative's admin, restricted by scope; never network-wide."""
        return cls(
            user=None, member=None, admin_cooperative_ids={client.cooperative_id}, client=client
        )

    @property
    def roles(self) -> list[str]:
        if self.client is not None:
            return ["api_client"]
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
    """Return the user whose phone and PIN these are, or raise (counting the wrong PIN).

    A phone number with no login is counted and locked in `phone_pin_attempts` exactly as a
    person is, and spends as long on a hash, so no answer tells a registered number apart.
    """
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None:
        now = utcnow()
        dialect = session.get_bind().dialect.name
        _checked(
            session,
            _claim_phone(phone, policy, now, dialect),
            select(_PHONES.c.locked_until).where(_PHONES.c.phone == phone),
            pin,
            policy,
            login=True,
        )
        raise AssertionError("unreachable: a phone without a login never passes")
    check_pin(session, user.id, pin, policy, login=True)
    return user
