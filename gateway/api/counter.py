"""The counter: finding the member (or merchant) at the counter, cash in, cash out and merchant
payouts, by a cooperative's admin or teller.

Who may: a person with the coop_admin role of a cooperative works at that cooperative's counter
(an admin of several names the counter with `counter_cooperative_id`). Which members: any of the
network, since every cooperative is a partner of every other (see gateway/counter.py); a name
search covers only the counter's own cooperative.
"""

from flask import Blueprint, jsonify

from gateway import counter, registry
from gateway.api.openapi import route
from gateway.api.schemas import (
    CashInRequest,
    CashOutRequest,
    CounterQuery,
    CounterReceipt,
    FoundMember,
    FoundMemberList,
    FoundMerchantList,
    MemberSearch,
    MerchantSearch,
    PayoutRequest,
)
from gateway.api.support import money_request, parse, parse_query, pin_policy, principal
from gateway.auth import Principal
from gateway.db import db
from gateway.errors import Forbidden, ValidationFailed
from gateway.models import Cooperative

blueprint = Blueprint("counter", __name__, url_prefix="/api/v1/counter")


def counter_of(caller: Principal, requested_id: str | None) -> Cooperative:
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


COUNTER_READ_PROBLEMS = {
    403: "the caller works at no counter, or not at the one named",
    422: "the query is not valid",
}


@route(
    blueprint,
    "GET",
    "/api/v1/counter/members",
    summary="Find the member at the counter: by exact phone (any member of the network) or by"
    " part of the name (the counter's own cooperative; at most 10)",
    response=FoundMemberList,
    query={
        "phone": "08…, 628… or +628…: exact",
        "name": "at least 3 letters of the name, any case",
        "counter_cooperative_id": "the counter's cooperative; needed only by an admin of several",
    },
    problems=COUNTER_READ_PROBLEMS,
)
def find_members():
    caller = principal()
    query = parse_query(MemberSearch)
    counter_cooperative = counter_of(caller, query.counter_cooperative_id)
    if query.phone is not None:
        found, more = counter.find_member_by_phone(db.session, query.phone), False
    else:
        found, more = counter.find_members_by_name(db.session, counter_cooperative, query.name)
    return jsonify(items=found, more=more)


@route(
    blueprint,
    "GET",
    "/api/v1/counter/members/{member_id}",
    summary="The member a scanned card names (any member of the network); 404 if none",
    response=FoundMember,
    query={"counter_cooperative_id": "the counter's cooperative; only an admin of several"},
    problems={**COUNTER_READ_PROBLEMS, 404: "no member has this id"},
)
def find_member_by_card(member_id):
    caller = principal()
    counter_of(caller, parse_query(CounterQuery).counter_cooperative_id)
    found = counter.find_member_by_card(db.session, member_id)
    return jsonify(found)


@route(
    blueprint,
    "GET",
    "/api/v1/counter/merchants",
    summary="Find a merchant to pay out, among the counter's own cooperative's merchants: by the"
    " owner's exact phone or by part of the name (at most 10)",
    response=FoundMerchantList,
    query={
        "phone": "the owner's phone: exact",
        "name": "at least 3 letters of the merchant's name, any case",
        "counter_cooperative_id": "the counter's cooperative; needed only by an admin of several",
    },
    problems=COUNTER_READ_PROBLEMS,
)
def find_merchants():
    caller = principal()
    query = parse_query(MerchantSearch)
    counter_cooperative = counter_of(caller, query.counter_cooperative_id)
    found, more = counter.find_merchants(
        db.session, counter_cooperative, owner_phone=query.phone, text=query.name
    )
    return jsonify(items=found, more=more)


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
    counter_cooperative = counter_of(caller, body.counter_cooperative_id)
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
    counter_cooperative = counter_of(caller, body.counter_cooperative_id)
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
    counter_cooperative = counter_of(caller, body.counter_cooperative_id)
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
