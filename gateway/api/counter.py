"""The counter: cash in, cash out and merchant payouts, by a cooperative's admin or teller."""

from flask import Blueprint

from gateway import counter, registry
from gateway.api.openapi import route
from gateway.api.schemas import CashInRequest, CashOutRequest, CounterReceipt, PayoutRequest
from gateway.api.support import money_request, parse, pin_policy, principal
from gateway.auth import Principal
from gateway.db import db
from gateway.errors import Forbidden, ValidationFailed
from gateway.models import Cooperative

blueprint = Blueprint("counter", __name__, url_prefix="/api/v1/counter")


def _counter_of(caller: Principal, requested_id: str | None) -> Cooperative:
    """Return the cooperative whose counter the caller works at."""
    if not caller.admin_cooperative_ids:
        raise Forbidden(
            "Only a cooperative's admin or teller works at its counter.",
            "Hanya admin atau teller koperasi yang dapat melayani di loket.",
        )
    if requested_id is None:
        if len(caller.admin_cooperative_ids) > 1:
            raise ValidationFailed(
                "Say which cooperative's counter this is (counter_cooperative_id).",
                "Sebutkan loket koperasi yang mana (counter_cooperative_id).",
            )
        (cooperative_id,) = caller.admin_cooperative_ids
        return db.session.get(Cooperative, cooperative_id)
    cooperative = registry.get_cooperative(db.session, requested_id)
    if not caller.administers(cooperative.id):
        raise Forbidden()
    return cooperative


@route(
    blueprint,
    "POST",
    "/api/v1/counter/cash-in",
    summary="Take cash in for a member of any partner cooperative (setor tunai)",
    request=CashInRequest,
    response=CounterReceipt,
    status=201,
    idempotent=True,
)
def cash_in():
    caller = principal()
    body = parse(CashInRequest)
    counter_cooperative = _counter_of(caller, body.counter_cooperative_id)
    actor_user_id = caller.user.id

    def work(session):
        member = registry.get_member(session, body.member_id)
        return counter.cash_in(
            session,
            counter=counter_cooperative,
            member=member,
            amount=body.amount,
            actor_user_id=actor_user_id,
        )

    return money_request(work)


@route(
    blueprint,
    "POST",
    "/api/v1/counter/cash-out",
    summary="Pay cash out to a member of any partner cooperative, on their PIN (tarik tunai)",
    request=CashOutRequest,
    response=CounterReceipt,
    status=201,
    idempotent=True,
)
def cash_out():
    caller = principal()
    body = parse(CashOutRequest)
    counter_cooperative = _counter_of(caller, body.counter_cooperative_id)
    actor_user_id = caller.user.id
    policy = pin_policy()

    def work(session):
        member = registry.get_member(session, body.member_id)
        return counter.cash_out(
            session,
            counter=counter_cooperative,
            member=member,
            amount=body.amount,
            pin=body.pin,
            pin_policy=policy,
            actor_user_id=actor_user_id,
        )

    return money_request(work)


@route(
    blueprint,
    "POST",
    "/api/v1/counter/payouts",
    summary="Pay out a merchant's takings at its own cooperative's counter",
    request=PayoutRequest,
    response=CounterReceipt,
    status=201,
    idempotent=True,
)
def payout():
    caller = principal()
    body = parse(PayoutRequest)
    counter_cooperative = _counter_of(caller, body.counter_cooperative_id)
    actor_user_id = caller.user.id

    def work(session):
        merchant = registry.get_merchant(session, body.merchant_id)
        return counter.payout(
            session,
            counter=counter_cooperative,
            merchant=merchant,
            amount=body.amount,
            actor_user_id=actor_user_id,
        )

    return money_request(work)
