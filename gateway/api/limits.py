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


@route(
    blueprint,
    "GET",
    "/api/v1/limit-policies",
    summary="Every limit policy and the built-in defaults",
)
def list_policies():
    principal()
    public_ids = dict(db.session.execute(select(Cooperative.id, Cooperative.public_id)).all())
    rows = db.session.scalars(select(LimitPolicy).order_by(LimitPolicy.id))
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
