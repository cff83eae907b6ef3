"""API clients of a cooperative (its admin), and the OAuth 2.0 token endpoint they use.

`POST /auth/token` is RFC 6749's token endpoint for the client credentials grant (§4.4): a form
body (`application/x-www-form-urlencoded`, the one body in this API that is not JSON), the client
authenticated by HTTP Basic or by `client_id` and `client_secret` in the form (§2.3.1), and
refusals in OAuth's own error format (§5.2), whose bodies are RFC 9457 problems as well (see
`gateway.api_clients.OAuthError`).
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Annotated, Literal
from urllib.parse import unquote_plus

from flask import Blueprint, current_app, g, jsonify, request
from pydantic import BaseModel, Field

from gateway import api_clients, auth
from gateway.api.openapi import FORM, TOKEN_URL, route
from gateway.api.schemas import Name, Strict
from gateway.api.support import administered_cooperative, keyring, parse, principal
from gateway.db import db, transaction
from gateway.models import ApiClient, Cooperative

log = logging.getLogger(__name__)

blueprint = Blueprint("api_clients", __name__, url_prefix="/api/v1")

GRANT_TYPE = "client_credentials"
# The token request's parameters: each may be sent at most once (RFC 6749 §3.2).
TOKEN_PARAMETERS = ("grant_type", "scope", "client_id", "client_secret")

ScopeName = Literal[tuple(api_clients.SCOPES)]


class ApiClientRequest(Strict):
    name: Name
    scopes: Annotated[
        list[ScopeName],
        Field(min_length=1, max_length=len(api_clients.SCOPES), description="what it may do"),
    ]


class ApiClientResponse(BaseModel):
    client_id: str
    name: str
    cooperative_id: str
    scopes: list[str]
    status: str
    created_at: str
    rotated_at: str | None
    revoked_at: str | None


class ApiClientWithSecret(ApiClientResponse):
    client_secret: str = Field(description="shown this once: the gateway keeps only a hash")


class ApiClientList(BaseModel):
    items: list[ApiClientResponse]


class TokenRequest(BaseModel):
    """RFC 6749 §4.4.2, as a form. Unknown parameters are ignored, as §3.2 requires."""

    grant_type: Literal["client_credentials"]
    scope: str | None = Field(
        default=None, description="space-separated scopes, a subset of the client's; none: all"
    )
    client_id: str | None = Field(default=None, description="when not sent by HTTP Basic")
    client_secret: str | None = Field(default=None, description="when not sent by HTTP Basic")


class ClientTokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


def client_json(client: ApiClient, cooperative_id: str, secret: str | None = None) -> dict:
    body = {
        "client_id": client.public_id,
        "name": client.name,
        "cooperative_id": cooperative_id,
        "scopes": api_clients.scope_list(client.scopes),
        "status": client.status,
        "created_at": client.created_at.isoformat(),
        "rotated_at": client.rotated_at.isoformat() if client.rotated_at else None,
        "revoked_at": client.revoked_at.isoformat() if client.revoked_at else None,
    }
    if secret is not None:
        body["client_secret"] = secret
    return body


def _administered(coop_id: str) -> Cooperative:
    return administered_cooperative(
        coop_id,
        "Only this cooperative's own admins manage its API clients.",
        "Hanya admin koperasi ini yang mengelola klien API-nya.",
    )


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives/{coop_id}/api-clients",
    summary="Create an API client of the cooperative for its back office (its admin); the secret"
    " is in this answer only",
    request=ApiClientRequest,
    response=ApiClientWithSecret,
    status=201,
)
def create_client(coop_id):
    cooperative = _administered(coop_id)
    body = parse(ApiClientRequest)
    admin_user_id = principal().user_id

    def work(session):
        return api_clients.create(
            session,
            cooperative_id=cooperative.id,
            name=body.name,
            scopes=list(body.scopes),
            created_by_user_id=admin_user_id,
        )

    client, secret = transaction(db.session, work)
    return jsonify(client_json(client, cooperative.public_id, secret)), 201


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/api-clients",
    summary="The cooperative's API clients, revoked ones too, without secrets (its admin)",
    response=ApiClientList,
)
def list_clients(coop_id):
    cooperative = _administered(coop_id)
    clients = api_clients.of_cooperative(db.session, cooperative.id)
    return jsonify(items=[client_json(client, cooperative.public_id) for client in clients])


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/api-clients/{client_id}",
    summary="One API client of the cooperative, without its secret (its admin)",
    response=ApiClientResponse,
)
def get_client(coop_id, client_id):
    cooperative = _administered(coop_id)
    client = api_clients.get(db.session, cooperative.id, client_id)
    return jsonify(client_json(client, cooperative.public_id))


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives/{coop_id}/api-clients/{client_id}/rotate",
    summary="Give the API client a new secret (in this answer only); the old secret and every"
    " token issued under it stop working at once (its admin)",
    response=ApiClientWithSecret,
    problems={409: "the client is revoked"},
)
def rotate_client(coop_id, client_id):
    cooperative = _administered(coop_id)

    def work(session):
        client = api_clients.get(session, cooperative.id, client_id)
        return client, api_clients.rotate(session, client)

    client, secret = transaction(db.session, work)
    return jsonify(client_json(client, cooperative.public_id, secret))


@route(
    blueprint,
    "DELETE",
    "/api/v1/cooperatives/{coop_id}/api-clients/{client_id}",
    summary="Revoke the API client for good: its secret and tokens stop working at once (its"
    " admin); revoking it again changes nothing",
    response=ApiClientResponse,
)
def revoke_client(coop_id, client_id):
    cooperative = _administered(coop_id)

    def work(session):
        client = api_clients.get(session, cooperative.id, client_id)
        api_clients.revoke(session, client)
        return client

    client = transaction(db.session, work)
    return jsonify(client_json(client, cooperative.public_id))


# --- The token endpoint -------------------------------------------------------------------------


def _parameter(form, name: str) -> str | None:
    """A parameter's value; one sent empty counts as not sent (RFC 6749 §3.1)."""
    return form.get(name) or None


def _token_form():
    """The token request's form, or `InvalidRequest`: a form body, each parameter at most once,
    and no client secret in the URL (RFC 6749 §2.3.1: the request body only)."""
    if request.mimetype != FORM:
        raise api_clients.InvalidRequest()
    if "client_secret" in request.args:
        raise api_clients.InvalidRequest(
            "Never put client_secret in the URL: send it by HTTP Basic or in the POST body.",
            "Jangan pernah menaruh client_secret di URL: kirim lewat HTTP Basic atau di isi POST.",
        )
    form = request.form
    if any(len(form.getlist(name)) > 1 for name in TOKEN_PARAMETERS):
        raise api_clients.InvalidRequest()
    return form


def _client_credentials(form) -> tuple[str | None, str | None]:
    """The client's id and secret, from HTTP Basic (form-urlencoded inside, RFC 6749 §2.3.1) or
    from the form; one way only. Anything unreadable is a failed client authentication."""
    body_id, body_secret = _parameter(form, "client_id"), _parameter(form, "client_secret")
    header = request.headers.get("Authorization")
    if header is None:
        return body_id, body_secret
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise api_clients.InvalidClient()
    if body_secret is not None:
        raise api_clients.InvalidRequest(
            "Authenticate the client one way: HTTP Basic or the form, not both.",
            "Autentikasi klien dengan satu cara saja: HTTP Basic atau formulir, bukan keduanya.",
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise api_clients.InvalidClient() from None
    user, colon, password = decoded.partition(":")
    if not colon:
        raise api_clients.InvalidClient()
    client_id, secret = unquote_plus(user), unquote_plus(password)
    if body_id is not None and body_id != client_id:
        raise api_clients.InvalidRequest()
    return client_id, secret


@route(
    blueprint,
    "POST",
    TOKEN_URL,
    summary="OAuth 2.0 token endpoint, client credentials grant (RFC 6749 §4.4): an API client's"
    " id and secret (HTTP Basic, or client_id and client_secret in the form) for a short-lived"
    " access token",
    request=TokenRequest,
    response=ClientTokenResponse,
    authenticated=False,
    request_media_type=FORM,
    security=[{"clientBasic": []}, {}],
    oauth_errors=True,
    problems={
        400: "invalid_request, unsupported_grant_type or invalid_scope",
        401: "invalid_client: unknown client, wrong secret or revoked client (one answer)",
    },
)
def token():
    form = _token_form()
    grant_type = _parameter(form, "grant_type")
    if grant_type is None:
        raise api_clients.InvalidRequest()
    if grant_type != GRANT_TYPE:
        raise api_clients.UnsupportedGrantType()
    client_id, secret = _client_credentials(form)
    session = db.session
    try:
        client = api_clients.authenticate(session, client_id, secret)
    except api_clients.InvalidClient:
        # Written nowhere (a burst of wrong secrets changes nothing); the log says who tried.
        log.warning("client authentication failed for %r from %s", client_id, request.remote_addr)
        raise
    # From here the client is known: its token request is audited, granted or refused.
    g.api_client = auth.ClientIdentity(
        id=client.id,
        public_id=client.public_id,
        cooperative_id=client.cooperative_id,
        scopes=frozenset(api_clients.scope_list(client.scopes)),
    )
    scopes = api_clients.granted_scopes(client, _parameter(form, "scope"))
    config = current_app.config
    ttl = config["API_CLIENT_TOKEN_TTL_SECONDS"]
    access_token = auth.issue_client_access_token(
        keyring(),
        client_id=client.public_id,
        cooperative_id=api_clients.cooperative_public_id(session, client),
        scopes=scopes,
        secret_generation=client.secret_generation,
        issuer=config["GATEWAY_ID"],
        ttl_seconds=ttl,
    )
    session.rollback()
    response = jsonify(
        access_token=access_token, token_type="Bearer", expires_in=ttl, scope=" ".join(scopes)
    )
    response.headers["Pragma"] = "no-cache"  # with Cache-Control: no-store (RFC 6749 §5.1)
    return response
