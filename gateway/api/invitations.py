"""My invitations: how a person who already has a login takes on another role.

An admin who registers a phone that already has a login creates an invitation (to be a member
of their cooperative, or the owner of a new merchant) and learns nothing about the person's PIN.
The person sees it here, in their own app, and accepts it with their own PIN (counted like every
PIN) or declines it; only an accepted invitation makes the member or the merchant.
"""

from typing import Literal

from flask import Blueprint, jsonify
from pydantic import BaseModel

from gateway import registry
from gateway.api.openapi import route
from gateway.api.schemas import Pin, Strict
from gateway.api.support import parse, pin_policy, principal
from gateway.db import db, transaction
from gateway.models import Invitation, Member, Merchant

blueprint = Blueprint("invitations", __name__, url_prefix="/api/v1/me/invitations")


class InvitedMerchant(BaseModel):
    name: str
    kind: str
    category: str


class InvitationResponse(BaseModel):
    id: str
    object: Literal["invitation"]
    status: str
    role: str
    phone: str
    cooperative_id: str
    cooperative_name: str
    tier: str | None
    merchant: InvitedMerchant | None
    member_id: str | None
    merchant_id: str | None
    created_at: str
    decided_at: str | None


class InvitationList(BaseModel):
    items: list[InvitationResponse]


class AcceptInvitationRequest(Strict):
    pin: Pin


def invitation_json(invitation: Invitation) -> dict:
    session = db.session
    member_id = (
        session.scalar(db.select(Member.public_id).where(Member.id == invitation.member_id))
        if invitation.member_id
        else None
    )
    merchant_id = (
        session.scalar(db.select(Merchant.public_id).where(Merchant.id == invitation.merchant_id))
        if invitation.merchant_id
        else None
    )
    return {
        "id": invitation.public_id,
        "object": "invitation",
        "status": invitation.status,
        "role": invitation.role,
        "phone": invitation.user.phone,
        "cooperative_id": invitation.cooperative.public_id,
        "cooperative_name": invitation.cooperative.name,
        "tier": invitation.tier,
        "merchant": {
            "name": invitation.merchant_name,
            "kind": invitation.merchant_kind,
            "category": invitation.merchant_category,
        }
        if invitation.merchant_name is not None
        else None,
        "member_id": member_id,
        "merchant_id": merchant_id,
        "created_at": invitation.created_at.isoformat(),
        "decided_at": invitation.decided_at.isoformat() if invitation.decided_at else None,
    }


@route(
    blueprint,
    "GET",
    "/api/v1/me/invitations",
    summary="My invitations waiting for an answer",
    response=InvitationList,
)
def list_invitations():
    caller = principal()
    invitations = registry.pending_invitations(db.session, caller.user_id)
    return jsonify(items=[invitation_json(invitation) for invitation in invitations])


@route(
    blueprint,
    "POST",
    "/api/v1/me/invitations/{invitation_id}/accept",
    summary="Accept one of my invitations with my PIN: become the member or the merchant's owner",
    request=AcceptInvitationRequest,
    response=InvitationResponse,
)
def accept_invitation(invitation_id):
    caller = principal()
    body = parse(AcceptInvitationRequest)
    user_id, policy = caller.user_id, pin_policy()

    def work(session):
        invitation = registry.accept_invitation(
            session, user_id=user_id, invitation_id=invitation_id, pin=body.pin, policy=policy
        )
        return invitation_json(invitation)

    return jsonify(transaction(db.session, work))


@route(
    blueprint,
    "POST",
    "/api/v1/me/invitations/{invitation_id}/decline",
    summary="Decline one of my invitations",
    response=InvitationResponse,
)
def decline_invitation(invitation_id):
    caller = principal()
    user_id = caller.user_id

    def work(session):
        invitation = registry.decline_invitation(
            session, user_id=user_id, invitation_id=invitation_id
        )
        return invitation_json(invitation)

    return jsonify(transaction(db.session, work))
