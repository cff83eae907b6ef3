"""Login, token refresh, logout and "who am I".

Two ways to hold a session. An API client keeps the refresh token from the JSON body. A browser
(the PWA) asks for the cookie session with the header `Interkop-Session: cookie`: the refresh
token then travels only in an httpOnly, SameSite=Strict cookie scoped to /api/v1/auth (Secure
except on localhost), never in a body that script could read, and the access token lives in the
page's memory. POST /auth/refresh with no refresh_token in the body reads the cookie.
"""

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel

from gateway import auth, ledger
from gateway.api.openapi import route
from gateway.api.schemas import LoginRequest, MeResponse, RefreshRequest
from gateway.api.support import keyring, parse, pin_policy, principal
from gateway.db import db, transaction
from gateway.errors import AuthenticationRequired, MalformedRequest
from gateway.models import Cooperative, Merchant

blueprint = Blueprint("auth", __name__, url_prefix="/api/v1")

REFRESH_COOKIE = "interkop_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"
SESSION_HEADER = "Interkop-Session"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


class TokenResponse(BaseModel):
    """Tokens; a cookie session gets no refresh_token here (it is in the cookie)."""

    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None = None


class LogoutResponse(BaseModel):
    status: str


def _wants_cookie() -> bool:
    return request.headers.get(SESSION_HEADER, "").strip().lower() == "cookie"


def _cookie_is_secure() -> bool:
    """Secure everywhere but on localhost, where a developer serves plain HTTP."""
    return request.host.rsplit(":", 1)[0].lower() not in LOCAL_HOSTS or request.is_secure


def _answer(tokens: dict, cookie: bool):
    if not cookie:
        return jsonify(tokens)
    refresh_token = tokens.pop("refresh_token")
    response = jsonify(tokens)
    response.set_cookie(
        REFRESH_COOKIE,
        refresh_token,
        max_age=current_app.config["REFRESH_TOKEN_TTL_SECONDS"],
        path=REFRESH_COOKIE_PATH,
        secure=_cookie_is_secure(),
        httponly=True,
        samesite="Strict",
    )
    return response


def _require_json_request() -> None:
    """Refuse a cookie-authenticated call that is not JSON.

    SameSite=Strict already keeps the cookie off every cross-site request; this is the second
    lock: a cross-site HTML form cannot send `Content-Type: application/json`, and a script on
    another origin cannot either without a CORS preflight, which this gateway never grants.
    """
    if not request.is_json:
        raise MalformedRequest("Send the request as JSON.", "Kirim permintaan sebagai JSON.")


def _body_is_empty() -> bool:
    raw = request.get_data(cache=True).strip()
    return raw in (b"", b"{}")


def _tokens(session, user, refresh_token: str) -> dict:
    config = current_app.config
    return {
        "access_token": auth.issue_access_token(
            keyring(), user, config["GATEWAY_ID"], config["ACCESS_TOKEN_TTL_SECONDS"]
        ),
        "token_type": "Bearer",
        "expires_in": config["ACCESS_TOKEN_TTL_SECONDS"],
        "refresh_token": refresh_token,
    }


@route(
    blueprint,
    "POST",
    "/api/v1/auth/login",
    summary="Log in with phone and PIN",
    request=LoginRequest,
    response=TokenResponse,
    authenticated=False,
)
def login():
    body = parse(LoginRequest)
    ttl = current_app.config["REFRESH_TOKEN_TTL_SECONDS"]

    def work(session):
        user = auth.login(session, body.phone, body.pin, pin_policy())
        return _tokens(session, user, auth.issue_refresh_token(session, user, ttl))

    return _answer(transaction(db.session, work), _wants_cookie())


@route(
    blueprint,
    "POST",
    "/api/v1/auth/refresh",
    summary="Trade a refresh token (body, or the session cookie when the body has none) for new "
    "tokens; the old one is spent",
    request=RefreshRequest,
    response=TokenResponse,
    authenticated=False,
)
def refresh():
    ttl = current_app.config["REFRESH_TOKEN_TTL_SECONDS"]
    from_cookie = _body_is_empty()
    if from_cookie:
        _require_json_request()
        token = request.cookies.get(REFRESH_COOKIE)
        if not token:
            raise AuthenticationRequired()
    else:
        token = parse(RefreshRequest).refresh_token
    policy = pin_policy()

    def work(session):
        user, new_refresh_token = auth.rotate_refresh_token(session, token, ttl, policy)
        return _tokens(session, user, new_refresh_token)

    return _answer(transaction(db.session, work), from_cookie or _wants_cookie())


@route(
    blueprint,
    "POST",
    "/api/v1/auth/logout",
    summary="End a session: revoke the refresh token family of the token in the body (or, with "
    "an empty body, of the session cookie) and clear the cookie",
    request=RefreshRequest,
    response=LogoutResponse,
    authenticated=False,
)
def logout():
    _require_json_request()
    token = request.cookies.get(REFRESH_COOKIE) if _body_is_empty() else None
    if not _body_is_empty():
        token = parse(RefreshRequest).refresh_token
    if token:
        transaction(db.session, lambda session: auth.revoke_refresh_family(session, token))
    response = jsonify(status="logged-out")
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_COOKIE_PATH,
        secure=_cookie_is_secure(),
        httponly=True,
        samesite="Strict",
    )
    return response


@route(blueprint, "GET", "/api/v1/me", summary="Who I am", response=MeResponse)
def me():
    caller = principal()
    session = db.session
    member = caller.member
    merchant_ids = sorted(
        session.scalars(db.select(Merchant.public_id).where(Merchant.id.in_(caller.merchant_ids)))
    )
    admin_ids = sorted(
        session.scalars(
            db.select(Cooperative.public_id).where(Cooperative.id.in_(caller.admin_cooperative_ids))
        )
    )
    return jsonify(
        id=caller.user.public_id,
        name=caller.user.name,
        phone=caller.user.phone,
        roles=caller.roles,
        cooperative_id=member.cooperative.public_id if member else None,
        member_id=member.public_id if member else None,
        merchant_ids=merchant_ids,
        admin_cooperative_ids=admin_ids,
        wallet_balance=ledger.balance(session, member.wallet_account_id) if member else None,
    )
