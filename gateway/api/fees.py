"""The fee schedule per cooperative pair (the network admin)."""

from flask import Blueprint, jsonify
from sqlalchemy import select

from gateway import fees, registry
from gateway.api.openapi import route
from gateway.api.support import parse, principal
from gateway.db import db, transaction
from gateway.errors import Forbidden
from gateway.models import Cooperative, FeeSchedule

blueprint = Blueprint("fees", __name__, url_prefix="/api/v1")

KEYWORDS = {"default": "default", "on-us": "on_us"}


def _require_network_admin():
    if not principal().network_admin:
        raise Forbidden(
            "Only the network operator sets fees.", "Hanya operator jaringan yang mengatur biaya."
        )


def schedule_json(schedule: FeeSchedule, public_ids: dict) -> dict:
    return {
        "scope": schedule.scope,
        "issuer_cooperative_id": public_ids.get(schedule.issuer_cooperative_id),
        "acquirer_cooperative_id": public_ids.get(schedule.acquirer_cooperative_id),
        "rule": schedule.rule,
    }


@route(
    blueprint,
    "PUT",
    "/api/v1/fee-schedules/{issuer_coop_id}/{acquirer_coop_id}",
    summary="Set the fee rule of a pair; use default/default or on-us/on-us for those rules",
    request=fees.FeeRule,
)
def put_schedule(issuer_coop_id, acquirer_coop_id):
    _require_network_admin()
    rule = parse(fees.FeeRule)

    def work(session):
        if issuer_coop_id in KEYWORDS and acquirer_coop_id == issuer_coop_id:
            schedule = fees.put_rule(session, KEYWORDS[issuer_coop_id], None, None, rule)
        else:
            issuer = registry.get_cooperative(session, issuer_coop_id)
            acquirer = registry.get_cooperative(session, acquirer_coop_id)
            schedule = fees.put_rule(session, "pair", issuer.id, acquirer.id, rule)
        public_ids = dict(session.execute(select(Cooperative.id, Cooperative.public_id)).all())
        return schedule_json(schedule, public_ids)

    return jsonify(transaction(db.session, work))


def readable_schedules(caller):
    """Which fee rules the caller may read: the network admin and observers all of them; a
    cooperative's admin the default and on-us rules and every pair their cooperative is a side
    of (what their cooperative earns and is charged); anyone else none (403)."""
    if caller.network_admin or caller.observer:
        return select(FeeSchedule)
    if caller.admin_cooperative_ids:
        own = caller.admin_cooperative_ids
        return select(FeeSchedule).where(
            (FeeSchedule.scope != "pair")
            | FeeSchedule.issuer_cooperative_id.in_(own)
            | FeeSchedule.acquirer_cooperative_id.in_(own)
        )
    raise Forbidden(
        "Only the network operator, observers and cooperative admins may read the fee rules.",
        "Hanya operator jaringan, pengamat dan admin koperasi yang boleh melihat aturan biaya.",
    )


@route(
    blueprint,
    "GET",
    "/api/v1/fee-schedules",
    summary="The fee rules the caller may read (network admin and observers: all; a cooperative"
    " admin: the default, on-us and their own pairs), and the built-in default",
    problems={403: "a member or merchant: the fee rules are for staff"},
)
def list_schedules():
    statement = readable_schedules(principal())
    public_ids = dict(db.session.execute(select(Cooperative.id, Cooperative.public_id)).all())
    schedules = db.session.scalars(statement.order_by(FeeSchedule.id))
    return jsonify(
        items=[schedule_json(s, public_ids) for s in schedules],
        built_in_default=fees.DEFAULT_RULE.model_dump(),
    )
