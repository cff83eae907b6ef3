"""Limit policies: the city's defaults (network admin) and a cooperative's own (its admin)."""

from flask import Blueprint, jsonify
from sqlalchemy import select

from gateway import limits, registry
from gateway.api.openapi import route
from gateway.api.support import parse, principal
from gateway.db import db, transaction
from gateway.errors import Forbidden, NotFound
from gateway.models import Cooperative, LimitPolicy, MemberTier

blueprint = Blueprint("limits", __name__, url_prefix="/api/v1")


@route(
    blueprint,
    "PUT",
    "/api/v1/limit-policies/{coop_id}/{tier}",
    summary="Set the limits of a tier for a cooperative (its admin) or for the city (coop_id"
    " 'default', network admin)",
    request=limits.Limits,
)
def put_policy(coop_id, tier):
    caller = principal()
    if tier not in {t.value for t in MemberTier}:
        raise NotFound("No such member tier.", "Tingkat anggota tidak ditemukan.")
    policy = parse(limits.Limits)
    if coop_id == "default":
        if not caller.network_admin:
            raise Forbidden(
                "Only the network operator sets the city's limits.",
                "Hanya operator jaringan yang mengatur batas kota.",
            )
        cooperative_id = None
    else:
        cooperative = registry.get_cooperative(db.session, coop_id)
        if not (caller.administers(cooperative.id) or caller.network_admin):
            raise Forbidden()
        cooperative_id = cooperative.id
    transaction(db.session, lambda s: limits.put_policy(s, cooperative_id, tier, policy))
    return jsonify(cooperative_id=coop_id, tier=tier, limits=policy.model_dump())


def readable_policies(caller):
    """Which limit policies the caller may read: the network admin and observers all of them; a
    cooperative's admin the city's and their own cooperative's (what applies to their members);
    anyone else none (403: a member reads their own limits at /members/{id}/limits)."""
    if caller.network_admin or caller.observer:
        return select(LimitPolicy)
    if caller.admin_cooperative_ids:
        return select(LimitPolicy).where(
            LimitPolicy.cooperative_id.is_(None)
            | LimitPolicy.cooperative_id.in_(caller.admin_cooperative_ids)
        )
    raise Forbidden(
        "Only the network operator, observers and cooperative admins may read limit policies;"
        " your own limits are under your wallet.",
        "Hanya operator jaringan, pengamat dan admin koperasi yang boleh melihat kebijakan batas;"
        " batas Anda sendiri ada di dompet Anda.",
    )


@route(
    blueprint,
    "GET",
    "/api/v1/limit-policies",
    summary="The limit policies the caller may read (network admin and observers: all; a"
    " cooperative admin: the city's and their own), and the built-in defaults",
    problems={403: "a member or merchant: members read their own limits"},
)
def list_policies():
    statement = readable_policies(principal())
    public_ids = dict(db.session.execute(select(Cooperative.id, Cooperative.public_id)).all())
    rows = db.session.scalars(statement.order_by(LimitPolicy.id))
    return jsonify(
        items=[
            {
                "cooperative_id": public_ids.get(row.cooperative_id, "default"),
                "tier": row.tier,
                "limits": row.limits,
            }
            for row in rows
        ],
        built_in_defaults={
            tier: value.model_dump() for tier, value in limits.DEFAULT_LIMITS.items()
        },
    )
