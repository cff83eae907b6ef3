"""Payments: pay a scanned QR, read receipts, list and live-feed payments, refund, limits left."""

import time

from flask import Blueprint, current_app, jsonify, request

from gateway import ledger, limits, payments
from gateway.api.members import visible_member
from gateway.api.openapi import route
from gateway.api.qr import owned_merchant, qr_settings
from gateway.api.schemas import (
    LimitsResponse,
    PaymentList,
    PaymentRequest,
    PaymentResponse,
    RefundRequest,
    RefundResponse,
)
from gateway.api.support import (
    caller_subject,
    keyring,
    money_request,
    page_limit,
    parse,
    pin_policy,
    principal,
    whole_number_arg,
)
from gateway.db import db, utcnow
from gateway.errors import Forbidden, InvalidToken, NotFound
from gateway.long_polls import LongPollSlots

blueprint = Blueprint("payments", __name__, url_prefix="/api/v1")


@route(
    blueprint,
    "POST",
    "/api/v1/payments",
    summary="Pay a scanned QR from my wallet (a member)",
    request=PaymentRequest,
    response=PaymentResponse,
    status=201,
    idempotent=True,
)
def pay():
    # The hot path: the caller is read in one statement, not as a Principal with every role.
    found, payer = payments.payer_for(db.session, caller_subject())
    body = parse(PaymentRequest)
    if not found:
        raise InvalidToken()
    if payer is None:
        raise Forbidden("Only a member can pay.", "Hanya anggota yang dapat membayar.")
    ring, settings, policy = keyring(), qr_settings(), pin_policy()

    def work(session):
        return payments.pay(
            session,
            ring=ring,
            settings=settings,
            payer=payer,
            token=body.token,
            amount=body.amount,
            pin=body.pin,
            pin_policy=policy,
        )

    return money_request(work)


def visible_payment(payment_id: str):
    """Return the payment if the caller is its payer, its merchant, or an admin of either side."""
    caller = principal()
    try:
        payment = payments.get_payment(db.session, payment_id)
    except NotFound:
        payment = None
    if payment is None or not (
        (caller.member is not None and caller.member.id == payment.payer_member_id)
        or caller.owns_merchant(payment.merchant_id)
        or caller.administers(payment.issuer_cooperative_id)
        or caller.administers(payment.acquirer_cooperative_id)
    ):
        raise NotFound("No such payment.", "Pembayaran tidak ditemukan.")
    return payment


@route(
    blueprint,
    "GET",
    "/api/v1/payments/{payment_id}",
    client_scope="payments:read",
    summary="A payment's receipt",
    response=PaymentResponse,
)
def get_payment(payment_id):
    return jsonify(payments.payment_json(db.session, visible_payment(payment_id)))


@route(
    blueprint,
    "POST",
    "/api/v1/payments/{payment_id}/refunds",
    summary="Refund all or part of a payment (the merchant)",
    request=RefundRequest,
    response=RefundResponse,
    status=201,
    idempotent=True,
)
def refund(payment_id):
    caller = principal()
    body = parse(RefundRequest)
    payment = visible_payment(payment_id)
    if not caller.owns_merchant(payment.merchant_id):
        raise Forbidden(
            "Only the merchant can refund.", "Hanya merchant yang dapat mengembalikan dana."
        )
    actor_user_id = caller.user.id

    def work(session):
        return payments.refund(
            session,
            payment=payments.get_payment(session, payment_id),
            amount=body.amount,
            actor_user_id=actor_user_id,
        )

    return money_request(work)


def _long_poll_slots() -> LongPollSlots:
    """Return this process's long-poll slots, made on first use from the settings."""
    slots = current_app.extensions.get("long_poll_slots")
    if slots is None:
        config = current_app.config
        slots = current_app.extensions.setdefault(
            "long_poll_slots",
            LongPollSlots(
                process_max=config["LONG_POLL_PROCESS_MAX"],
                person_max=config["LONG_POLL_PERSON_MAX"],
                retry_after_seconds=config["LONG_POLL_RETRY_AFTER_SECONDS"],
            ),
        )
    return slots


def _payment_list(**owner):
    limit = page_limit()
    after = request.args.get("after")
    cursor = request.args.get("cursor")
    wait = whole_number_arg("wait", 0, current_app.config["LONG_POLL_MAX_SECONDS"], 0)
    if after is None:
        wait = 0

    def page():
        return payments.list_payments(db.session, cursor=cursor, after=after, limit=limit, **owner)

    rows, next_cursor = page()
    if not rows and wait:
        # Hold no transaction (and on SQLite no lock) while waiting for the next payment, but one
        # of this process's few long-poll slots: a poll beyond them is a 429 (gateway/long_polls).
        db.session.rollback()
        with _long_poll_slots().hold(caller_subject()):
            deadline = time.monotonic() + wait
            while not rows and time.monotonic() < deadline:
                time.sleep(current_app.config["LONG_POLL_INTERVAL_SECONDS"])
                rows, next_cursor = page()
                if not rows:
                    db.session.rollback()
    items = payments.payments_json(db.session, rows)
    body = {"items": items, "next_cursor": next_cursor}
    if after is None and cursor is None:
        # Where a live feed starts: after this page, even if it is empty.
        body["feed_cursor"] = payments.feed_cursor(db.session, rows, **owner)
    db.session.rollback()
    return jsonify(body)


@route(
    blueprint,
    "GET",
    "/api/v1/merchants/{merchant_id}/payments",
    summary="The merchant's payments; with after= and wait= a long-poll live feed",
    response=PaymentList,
    query={
        "cursor": "older page: next_cursor of the previous page",
        "after": "a feed cursor (feed_cursor or next_cursor of a feed answer) or a payment id:"
        " the payments not yet shown, oldest first",
        "wait": "with after: seconds (at most 30) to wait for a new payment; a person's third"
        " waiting poll (or a busy process's) is a 429 with Retry-After",
        "limit": "page size, 1 to 200",
    },
)
def merchant_payments(merchant_id):
    merchant = owned_merchant(db.session, merchant_id)
    return _payment_list(merchant_id=merchant.id)


@route(
    blueprint,
    "GET",
    "/api/v1/members/{member_id}/payments",
    client_scope="payments:read",
    summary="A member's payments, newest first",
    response=PaymentList,
    query={"cursor": "next_cursor of the previous page", "limit": "page size, 1 to 200"},
)
def member_payments(member_id):
    member = visible_member(member_id)
    return _payment_list(payer_member_id=member.id)


@route(
    blueprint,
    "GET",
    "/api/v1/members/{member_id}/limits",
    client_scope="payments:read",
    summary="Each limit and what is left of it",
    response=LimitsResponse,
)
def member_limits(member_id):
    member = visible_member(member_id)
    balance = ledger.balance(db.session, member.wallet_account_id)
    return jsonify(limits.remaining(db.session, member, balance, utcnow()))
