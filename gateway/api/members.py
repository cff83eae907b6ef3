"""A member's wallet."""

from flask import Blueprint, jsonify
from sqlalchemy import or_, select

from gateway import ledger, registry
from gateway.api.openapi import route
from gateway.api.schemas import WalletResponse
from gateway.api.support import principal
from gateway.db import db
from gateway.errors import NotFound
from gateway.models import Account, Event, Member, Transfer

blueprint = Blueprint("members", __name__, url_prefix="/api/v1/members")

RECENT_TRANSFERS = 20


def visible_member(member_id: str) -> Member:
    """Return the member if the caller is that member or an admin of their cooperative.

    Anyone else gets 404, exactly as for an unknown id, so member ids cannot be probed.
    """
    caller = principal()
    try:
        member = registry.get_member(db.session, member_id)
    except NotFound:
        member = None
    if member is None or not (
        (caller.member is not None and caller.member.id == member.id)
        or caller.administers(member.cooperative_id)
    ):
        raise NotFound("No such member.", "Anggota tidak ditemukan.")
    return member


@route(
    blueprint,
    "GET",
    "/api/v1/members/{member_id}/wallet",
    client_scope="payments:read",
    summary="A wallet's balance and last transfers (the member or their cooperative's admin)",
    response=WalletResponse,
)
def wallet(member_id):
    member = visible_member(member_id)
    account_id = member.wallet_account_id
    rows = db.session.execute(
        select(Transfer, Event.public_id)
        .join(Event, Event.id == Transfer.event_id)
        .where(
            or_(Transfer.debit_account_id == account_id, Transfer.credit_account_id == account_id)
        )
        .order_by(Transfer.id.desc())
        .limit(RECENT_TRANSFERS)
    ).all()
    return jsonify(
        member_id=member.public_id,
        account_id=db.session.scalar(select(Account.public_id).where(Account.id == account_id)),
        balance=ledger.balance(db.session, account_id),
        transfers=[
            {
                "id": transfer.public_id,
                "event_id": event_public_id,
                "code": transfer.code,
                "amount": transfer.amount
                if transfer.credit_account_id == account_id
                else -transfer.amount,
                "created_at": transfer.created_at.isoformat(),
            }
            for transfer, event_public_id in rows
        ],
    )
