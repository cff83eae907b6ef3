"""API clients: a cooperative's back office authenticating with OAuth 2.0 client credentials.

A cooperative's admin creates a client with some of `SCOPES`; its secret is shown once. The back
office trades the client's id and secret for a short-lived access token (RFC 6749 §4.4) and calls
the API with it as its cooperative's admin would, restricted to the endpoints open to API clients
within the token's scopes — never one that moves money (gateway/api/support.py admits a client's
token, in one place).

Secrets are 256 random bits, stored as HMAC-SHA256 keyed with the client's id. A fast hash is the
right one here: a slow one (scrypt, as for PINs) protects a secret a person chose and an attacker
can guess; nobody can guess 256 random bits, fast hash or not, while scrypt on every token
request would hand anyone who can reach /auth/token a way to spend the gateway's CPU. Keying by
the client binds each hash to its row (a hash copied to another client matches nothing). There is
no server-held key ("pepper"): it would add a file whose loss invalidates every client, and
protect nothing that 256 random bits do not already.

Every secret comparison is `hmac.compare_digest`, made exactly once per token request, whether
the client exists or not, so that neither the answer nor its timing tells a wrong secret from an
unknown or revoked client. A wrong secret writes nothing: no lockout (a secret cannot be guessed,
and a lockout would let anyone who knows a client id shut a cooperative's back office out).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import states
from gateway.auth import ClientIdentity
from gateway.db import new_public_id, utcnow
from gateway.errors import Conflict, GatewayError, InvalidToken, NotFound
from gateway.models import ApiClient, ApiClientStatus, Cooperative

# What a client may be granted: each opens a few read endpoints, or registration. None moves
# money. The endpoints say which scope opens them (`route(..., client_scope=...)`).
SCOPES = {
    "reports:read": "Read the cooperative's period reports, SHU basis and settlement statements",
    "members:read": "Read the cooperative's members and merchants",
    "members:write": "Register members and merchants of the cooperative",
    "payments:read": "Read the payments of the cooperative's members and merchants, and its"
    " members' wallets and limits",
}

SECRET_PREFIX = "ics_"  # "Interkop client secret": secret scanners can recognise a leaked one.
CLIENT_ID_FORMAT = re.compile(r"cli_[a-z2-7]{16}")
# RFC 6749 §3.3: scope = scope-token *( SP scope-token ).
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_NO_CLIENT_ID = "cli_" + "a" * 16
_NO_HASH = "0" * 64


# --- Refusals ---------------------------------------------------------------------------------


class OAuthError(GatewayError):
    """Refuse a token request in RFC 6749 §5.2's form, served as application/json.

    The body carries OAuth's `error` (a code an OAuth library switches on) and
    `error_description` (ASCII English, for the developer), and is an RFC 9457 problem as well
    (`type`, `title`, `status`, `detail` in the asked language), so that a client reading the
    gateway's problem documents reads this one alike.
    """

    media_type = "application/json"
    status = 400
    error = "invalid_request"

    def problem(self, language: str = "id") -> dict:
        return {
            "error": self.error,
            "error_description": self.message_en,
            **super().problem(language),
        }


class InvalidRequest(OAuthError):
    error = "invalid_request"
    slug = "oauth-invalid-request"
    title = "Invalid token request"
    message_en = (
        "Send grant_type=client_credentials as application/x-www-form-urlencoded in a POST body,"
        " each parameter once."
    )
    message_id = (
        "Kirim grant_type=client_credentials sebagai application/x-www-form-urlencoded di isi"
        " POST, setiap parameter sekali."
    )


class InvalidClient(OAuthError):
    """One answer for every failed client authentication: unknown client, wrong secret, revoked
    client, none sent. A 401 with the Basic challenge (RFC 6749 §5.2)."""

    error = "invalid_client"
    status = 401
    slug = "oauth-invalid-client"
    title = "Client authentication failed"
    message_en = "The client id or secret is wrong, or the client has been revoked."
    message_id = "ID klien atau rahasia klien salah, atau klien sudah dicabut."
    headers = {"WWW-Authenticate": 'Basic realm="interkop"'}


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"
    slug = "oauth-unsupported-grant-type"
    title = "Unsupported grant type"
    message_en = "The only grant type here is client_credentials."
    message_id = "Satu-satunya grant type di sini adalah client_credentials."


class InvalidScope(OAuthError):
    error = "invalid_scope"
    slug = "oauth-invalid-scope"
    title = "Invalid scope"
    message_en = (
        "Ask for scopes this client was granted, space-separated (or none, for all of them)."
    )
    message_id = (
        "Minta cakupan yang diberikan kepada klien ini, dipisah spasi (atau tanpa scope, untuk"
        " semuanya)."
    )


class ApiClientNotAllowed(GatewayError):
    """Refuse an API client an endpoint not open to API clients: every one that moves money,
    and every other one that no scope opens."""

    status = 403
    slug = "api-client-not-allowed"
    title = "Not open to API clients"
    message_en = (
        "An API client reads reports, members and payments and registers members and merchants"
        " of its own cooperative. It never moves money, and this endpoint is not open to it."
    )
    message_id = (
        "Klien API membaca laporan, anggota dan pembayaran serta mendaftarkan anggota dan merchant"
        " koperasinya sendiri. Klien API tidak pernah memindahkan uang, dan titik akhir ini tidak"
        " terbuka baginya."
    )


class InsufficientScope(GatewayError):
    """Refuse a token without the scope an endpoint needs (RFC 6750 §3.1)."""

    status = 403
    slug = "insufficient-scope"
    title = "Insufficient scope"

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"This needs the scope {scope}, which this token was not granted.",
            f"Ini memerlukan cakupan {scope}, yang tidak diberikan kepada token ini.",
            scope=scope,
        )
        self.headers = {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'}


class TokenRefused(InvalidToken):
    """Refuse an API client's token that is no longer current: the client was revoked, or its
    secret rotated since the token was issued. `client` says whose it was (for the audit)."""

    message_en = (
        "This API client's token is no longer valid: the client was revoked or its secret was"
        " rotated. Get a new token."
    )
    message_id = (
        "Token klien API ini tidak berlaku lagi: klien sudah dicabut atau rahasianya diganti."
        " Minta token baru."
    )
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}

    def __init__(self, client: ClientIdentity | None = None) -> None:
        super().__init__()
        self.client = client


class ApiClientRevoked(Conflict):
    slug = "api-client-revoked"
    title = "API client revoked"
    message_en = "This API client has been revoked; create a new one."
    message_id = "Klien API ini sudah dicabut; buat klien baru."


# --- Secrets ----------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hash(client_id: str, secret: str) -> str:
    """HMAC-SHA256 of a client's secret, keyed with its client id (see the module's docstring)."""
    return hmac.new(client_id.encode(), secret.encode(), hashlib.sha256).hexdigest()


def scope_list(scopes: str) -> list[str]:
    return sorted(set(scopes.split()))


# --- Use cases --------------------------------------------------------------------------------


def create(
    session: Session,
    *,
    cooperative_id: int,
    name: str,
    scopes: list[str],
    created_by_user_id: int | None,
) -> tuple[ApiClient, str]:
    """Create an API client of a cooperative; return it and its secret (never stored)."""
    unknown = set(scopes) - SCOPES.keys()
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}")
    public_id = new_public_id("cli")
    secret = new_secret()
    client = ApiClient(
        public_id=public_id,
        cooperative_id=cooperative_id,
        name=name,
        scopes=" ".join(sorted(set(scopes))),
        secret_hash=secret_hash(public_id, secret),
        created_by_user_id=created_by_user_id,
    )
    session.add(client)
    session.flush()
    return client, secret


def of_cooperative(session: Session, cooperative_id: int) -> list[ApiClient]:
    """Every API client of a cooperative, revoked ones too, oldest first."""
    return list(
        session.scalars(
            select(ApiClient)
            .where(ApiClient.cooperative_id == cooperative_id)
            .order_by(ApiClient.id)
        )
    )


def get(session: Session, cooperative_id: int, client_id: str) -> ApiClient:
    """Return a cooperative's API client; another cooperative's answers as an unknown one."""
    client = session.scalar(
        select(ApiClient).where(
            ApiClient.public_id == client_id, ApiClient.cooperative_id == cooperative_id
        )
    )
    if client is None:
        raise NotFound("No such API client.", "Klien API tidak ditemukan.")
    return client


def rotate(session: Session, client: ApiClient) -> str:
    """Give an active client a new secret; the old one, and every token issued under it, stop
    working when this commits. Return the new secret.

    One conditional UPDATE: of concurrent rotations each moves the generation on and the last
    to commit holds the secret; a revoked client is refused (409), even one revoked meanwhile.
    """
    secret = new_secret()
    changed = session.execute(
        update(ApiClient)
        .where(ApiClient.id == client.id, ApiClient.status == ApiClientStatus.ACTIVE)
        .values(
            secret_hash=secret_hash(client.public_id, secret),
            secret_generation=ApiClient.secret_generation + 1,
            rotated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise ApiClientRevoked()
    session.refresh(client)
    return secret


def revoke(session: Session, client: ApiClient) -> bool:
    """Revoke a client for good; its tokens stop working at once. False if it already was."""
    changed = states.transition(
        session, states.API_CLIENT, client.id, ApiClientStatus.REVOKED, revoked_at=utcnow()
    )
    session.refresh(client)
    return changed


def authenticate(session: Session, client_id: str | None, secret: str | None) -> ApiClient:
    """Return the active client whose id and secret these are, or raise `InvalidClient`.

    One `hmac.compare_digest` whatever was sent (against a stand-in when there is no such
    active client), and one answer for every failure; nothing is written.
    """
    client = None
    if client_id is not None and CLIENT_ID_FORMAT.fullmatch(client_id):
        client = session.scalar(select(ApiClient).where(ApiClient.public_id == client_id))
    usable = client is not None and client.status == ApiClientStatus.ACTIVE
    offered = secret_hash(client.public_id if usable else _NO_CLIENT_ID, secret or "")
    matches = hmac.compare_digest(offered, client.secret_hash if usable else _NO_HASH)
    if not (usable and matches and secret):
        raise InvalidClient()
    return client


def granted_scopes(client: ApiClient, requested: str | None) -> list[str]:
    """The scopes a token gets: those asked for (RFC 6749 §3.3), all of them if none were asked;
    `InvalidScope` for a scope the client was not granted or a malformed scope."""
    allowed = set(scope_list(client.scopes))
    if not requested:
        return sorted(allowed)
    asked = requested.split(" ")
    if not all(SCOPE_TOKEN.fullmatch(scope) for scope in asked) or not set(asked) <= allowed:
        raise InvalidScope()
    return sorted(set(asked))


def cooperative_public_id(session: Session, client: ApiClient) -> str:
    return session.scalar(
        select(Cooperative.public_id).where(Cooperative.id == client.cooperative_id)
    )


def admit(session: Session, claims: dict) -> ClientIdentity:
    """Return the client of a verified client token if the token is still current, else raise
    `TokenRefused` (naming the client, when there is one, for the audit).

    Checked on every use, so a revoked or rotated client's token is refused at once: the client
    must exist and be active, the token of its current secret generation and its cooperative,
    and its scopes are at most the client's.
    """
    row = session.execute(
        select(
            ApiClient.id,
            ApiClient.cooperative_id,
            ApiClient.status,
            ApiClient.secret_generation,
            ApiClient.scopes,
            Cooperative.public_id,
        )
        .join(Cooperative, Cooperative.id == ApiClient.cooperative_id)
        .where(ApiClient.public_id == str(claims.get("sub")))
    ).first()
    if row is None:
        raise TokenRefused()
    client_id, cooperative_id, status, generation, scopes, cooperative = row
    token_scopes = claims.get("scope")
    identity = ClientIdentity(
        id=client_id,
        public_id=str(claims["sub"]),
        cooperative_id=cooperative_id,
        scopes=frozenset(token_scopes.split()) if isinstance(token_scopes, str) else frozenset(),
    )
    if (
        status != ApiClientStatus.ACTIVE
        or claims.get("gen") != generation
        or claims.get("coop") != cooperative
        or claims.get("client_id") != claims.get("sub")
        or not identity.scopes <= set(scopes.split())
    ):
        raise TokenRefused(identity)
    return identity


def refusal(scopes: frozenset[str], client_scope: str | None) -> GatewayError | None:
    """Why an API client holding `scopes` may not call an endpoint opened by `client_scope`
    (None: not open to API clients), or None if it may."""
    if client_scope is None:
        return ApiClientNotAllowed()
    if client_scope not in scopes:
        return InsufficientScope(client_scope)
    return None
