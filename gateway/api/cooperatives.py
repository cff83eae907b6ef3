"""Cooperatives and their members and merchants.

Registering a phone that already has a login answers 201 with a pending invitation instead of
a member or merchant (the same whatever PIN was typed): see gateway/api/invitations.py.
"""

from flask import Blueprint, current_app, jsonify, request
from pydantic import RootModel

from gateway import registry
from gateway.api.invitations import InvitationResponse, invitation_json
from gateway.api.openapi import route
from gateway.api.schemas import (
    CooperativeList,
    CooperativeRequest,
    CooperativeResponse,
    MemberList,
    MemberRequest,
    MemberResponse,
    MerchantList,
    MerchantRequest,
    MerchantResponse,
)
from gateway.api.support import administered_cooperative, page_limit, parse, principal
from gateway.db import db, transaction
from gateway.errors import Forbidden
from gateway.models import Cooperative, Invitation, Member, Merchant

blueprint = Blueprint("cooperatives", __name__, url_prefix="/api/v1")


class MemberRegistration(RootModel[MemberResponse | InvitationResponse]):
    """The new member, or the invitation sent to a person who already has a login."""


class MerchantRegistration(RootModel[MerchantResponse | InvitationResponse]):
    """The new merchant, or the invitation sent to its owner, who already has a login."""


def cooperative_json(cooperative: Cooperative) -> dict:
    return {
        "id": cooperative.public_id,
        "code": cooperative.code,
        "name": cooperative.name,
        "kind": cooperative.kind,
    }


def member_json(member: Member) -> dict:
    return {
        "id": member.public_id,
        "name": member.user.name,
        "phone": member.user.phone,
        "tier": member.tier,
        "cooperative_id": member.cooperative.public_id,
        "wallet_account_id": member.wallet.public_id,
        "created_at": member.created_at.isoformat(),
    }


def merchant_json(merchant: Merchant) -> dict:
    return {
        "id": merchant.public_id,
        "name": merchant.name,
        "kind": merchant.kind,
        "category": merchant.category,
        "cooperative_id": merchant.cooperative.public_id,
        "account_id": merchant.account.public_id,
        "owner_phone": merchant.owner.phone,
        "created_at": merchant.created_at.isoformat(),
    }


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives",
    summary="The partner cooperatives",
    response=CooperativeList,
)
def list_cooperatives():
    principal()
    cooperatives = db.session.scalars(db.select(Cooperative).order_by(Cooperative.code))
    return jsonify(items=[cooperative_json(c) for c in cooperatives])


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives",
    summary="Register a cooperative (network admin)",
    request=CooperativeRequest,
    response=CooperativeResponse,
    status=201,
)
def create_cooperative():
    caller = principal()
    body = parse(CooperativeRequest)
    if not caller.network_admin:
        raise Forbidden()
    cooperative = transaction(
        db.session,
        lambda session: registry.create_cooperative(
            session, code=body.code, name=body.name, kind=body.kind
        ),
    )
    return jsonify(cooperative_json(cooperative)), 201


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives/{coop_id}/members",
    client_scope="members:write",
    summary="Register a member (the cooperative's admin); a phone that already has a login gets "
    "an invitation to accept in its own app instead",
    request=MemberRequest,
    response=MemberRegistration,
    status=201,
)
def register_member(coop_id):
    cooperative = administered_cooperative(coop_id)
    body = parse(MemberRequest)
    admin_user_id = principal().user_id
    registered = transaction(
        db.session,
        lambda session: registry.register_member(
            session,
            cooperative=cooperative,
            phone=body.phone,
            name=body.name,
            pin=body.pin,
            tier=body.tier,
            scrypt_n=current_app.config["PIN_SCRYPT_N"],
            invited_by_user_id=admin_user_id,
        ),
    )
    if isinstance(registered, Invitation):
        return jsonify(invitation_json(registered)), 201
    return jsonify(member_json(registered)), 201


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/members",
    client_scope="members:read",
    summary="List a cooperative's members (its admin)",
    response=MemberList,
    query={"cursor": "next_cursor of the previous page", "limit": "page size, 1 to 200"},
)
def list_members(coop_id):
    cooperative = administered_cooperative(coop_id)
    page = registry.list_page(
        db.session, Member, cooperative.id, request.args.get("cursor"), page_limit()
    )
    return jsonify(items=[member_json(m) for m in page.items], next_cursor=page.next_cursor)


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives/{coop_id}/merchants",
    client_scope="members:write",
    summary="Register a merchant (the cooperative's admin); an owner who already has a login gets "
    "an invitation to accept in their own app instead",
    request=MerchantRequest,
    response=MerchantRegistration,
    status=201,
)
def register_merchant(coop_id):
    cooperative = administered_cooperative(coop_id)
    body = parse(MerchantRequest)
    admin_user_id = principal().user_id
    registered = transaction(
        db.session,
        lambda session: registry.register_merchant(
            session,
            cooperative=cooperative,
            name=body.name,
            kind=body.kind,
            category=body.category,
            owner_phone=body.owner_phone,
            owner_name=body.owner_name,
            owner_pin=body.owner_pin,
            scrypt_n=current_app.config["PIN_SCRYPT_N"],
            invited_by_user_id=admin_user_id,
        ),
    )
    if isinstance(registered, Invitation):
        return jsonify(invitation_json(registered)), 201
    return jsonify(merchant_json(registered)), 201


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/merchants",
    client_scope="members:read",
    summary="List a cooperative's merchants (its admin)",
    response=MerchantList,
    query={"cursor": "next_cursor of the previous page", "limit": "page size, 1 to 200"},
)
def list_merchants(coop_id):
    cooperative = administered_cooperative(coop_id)
    page = registry.list_page(
        db.session, Merchant, cooperative.id, request.args.get("cursor"), page_limit()
    )
    return jsonify(items=[merchant_json(m) for m in page.items], next_cursor=page.next_cursor)
