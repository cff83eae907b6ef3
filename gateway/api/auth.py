"""Login, token refresh and "who am I"."""

from flask import Blueprint, current_app, jsonify

from gateway import auth, ledger
from gateway.api.openapi import route
from gateway.api.schemas import LoginRequest, MeResponse, RefreshRequest, TokenResponse
from gateway.api.support import keyring, parse, pin_policy, principal
from gateway.db import db, transaction
from gateway.models import Cooperative, Merchant

blueprint = Blueprint("auth", __name__, url_prefix="/api/v1")


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
    blueprint, "POST", "/api/v1/auth/login",
    summary="Log in with phone and PIN", request=LoginRequest, response=TokenResponse,
    authenticated=False,
)
def login():
    body = parse(LoginRequest)
    ttl = current_app.config["REFRESH_TOKEN_TTL_SECONDS"]

    def work(session):
        user = auth.login(session, body.phone, body.pin, pin_policy())
        return _tokens(session, user, auth.issue_refresh_token(session, user, ttl))

    return jsonify(transaction(db.session, work))


@route(
    blueprint, "POST", "/api/v1/auth/refresh",
    summary="Trade a refresh token for new tokens (the old one is spent)",
    request=RefreshRequest, response=TokenResponse, authenticated=False,
)
def refresh():
    body = parse(RefreshRequest)
    ttl = current_app.config["REFRESH_TOKEN_TTL_SECONDS"]

    def work(session):
        user, new_refresh_token = auth.rotate_refresh_token(session, body.refresh_token, ttl)
        return _tokens(session, user, new_refresh_token)

    return jsonify(transaction(db.session, work))


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
