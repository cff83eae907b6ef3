"""A member's wallet, statement and card."""

from datetime import date

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import or_, select

from gateway import counter, ledger, qr, registry, reports
from gateway.api import export
from gateway.api.openapi import route
from gateway.api.schemas import StatementResponse, WalletResponse
from gateway.api.support import page_limit, principal
from gateway.db import db
from gateway.errors import NotFound, ValidationFailed
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


# Statement dates stay well inside what a datetime (and its Asia/Jakarta offset) can hold.
STATEMENT_YEARS = range(2000, 2101)


def _jakarta_day(name: str) -> date | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or len(raw) != 10 or day.year not in STATEMENT_YEARS:
        raise ValidationFailed(
            f"{name} must be a date like 2026-11-22, from 2000 to 2100.",
            f"{name} harus tanggal seperti 2026-11-22, dari 2000 sampai 2100.",
        )
    return day


@export.report_route(
    blueprint,
    "/api/v1/members/{member_id}/statement",
    summary="A member's statement (mutasi): every movement of the wallet with the balance after"
    " each, and the period's opening and closing balances (the member or their cooperative's"
    " admin). JSON pages newest first; CSV and XLSX hold the whole period, oldest first, between"
    " an opening and a closing line",
    response=StatementResponse,
    query={
        "cursor": "next_cursor of the previous page (JSON)",
        "limit": "page size, 1 to 200 (JSON)",
        "from": "YYYY-MM-DD, first Asia/Jakarta day",
        "to": "YYYY-MM-DD, last Asia/Jakarta day (inclusive)",
    },
    problems={404: "no such member, or not the caller's to see", 422: "a bad query"},
)
def statement(member_id, suffix):
    fmt = export.report_format(suffix)
    member = visible_member(member_id)
    first, last = _jakarta_day("from"), _jakarta_day("to")
    if first is not None and last is not None and last < first:
        raise ValidationFailed("to must not be before from.", "to tidak boleh sebelum from.")
    start = reports.day_bounds(first)[0] if first else None
    end = reports.day_bounds(last)[1] if last else None
    if fmt != "json":
        period = reports.member_statement_period(db.session, member, start, end)
        name = "-".join(
            ["mutasi", member.public_id] + [day.isoformat() for day in (first, last) if day]
        )
        return export.table_response(reports.member_statement_tables(period), fmt, name)
    return jsonify(
        reports.member_statement(
            db.session,
            member,
            limit=page_limit(),
            cursor=request.args.get("cursor"),
            start=start,
            end=end,
        )
    )


@route(
    blueprint,
    "GET",
    "/api/v1/members/{member_id}/card.svg",
    summary="The member's card: a QR of interkop:member:<id> a teller scans to find them (the"
    " member). It proves nothing by itself: the teller confirms the name and cooperative, and"
    " cash-out still needs the PIN",
    media_types=("image/svg+xml",),
    problems={404: "no such member, or not the caller"},
)
def card(member_id):
    caller = principal()
    if caller.member is None or caller.member.public_id != member_id:
        raise NotFound("No such member.", "Anggota tidak ditemukan.")
    text = counter.member_card_text(caller.member.public_id)
    return Response(qr.render_svg(text), mimetype="image/svg+xml")
