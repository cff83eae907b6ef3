"""Webhook endpoints: a cooperative's admin manages their cooperative's, the network admin the
network-wide ones (`coop_id` = `network`). Every change is audited like every staff change
(gateway.api.audit_staff_actions).
"""

from flask import Blueprint, current_app, jsonify, request

from gateway import registry, webhooks
from gateway.api.openapi import route
from gateway.api.schemas import (
    WebhookDeliveryDetail,
    WebhookDeliveryList,
    WebhookEndpointCreated,
    WebhookEndpointList,
    WebhookEndpointRequest,
    WebhookEndpointResponse,
    WebhookEndpointUpdate,
    WebhookEventResponse,
    WebhookReplayRequest,
    WebhookReplayResponse,
)
from gateway.api.support import page_limit, parse, principal
from gateway.db import db, transaction
from gateway.errors import Forbidden, ValidationFailed
from gateway.models import DeliveryStatus, EndpointStatus

blueprint = Blueprint("webhooks", __name__, url_prefix="/api/v1")

NETWORK = "network"
BASE = "/api/v1/cooperatives/{coop_id}/webhooks"
ONE = BASE + "/{webhook_id}"
PROBLEMS = {
    403: "not this cooperative's admin (or, for `network`, not the network admin)",
    404: "no such cooperative, endpoint or event",
}


def _owner(coop_id: str) -> int | None:
    """Return whose endpoints these are (a cooperative's id, None for the network's) if the
    caller may manage them; 404 for an unknown cooperative, 403 for another's."""
    caller = principal()
    if coop_id == NETWORK:
        if not caller.network_admin:
            raise Forbidden(
                "Only the network admin manages network-wide webhooks.",
                "Hanya admin jaringan yang mengelola webhook seluruh jaringan.",
            )
        return None
    cooperative = registry.get_cooperative(db.session, coop_id)
    if not caller.administers(cooperative.id):
        raise Forbidden(
            "Only this cooperative's own admins manage its webhooks.",
            "Hanya admin koperasi ini yang mengelola webhook-nya.",
        )
    return cooperative.id


def _allow_private() -> bool:
    return bool(current_app.config["WEBHOOK_ALLOW_PRIVATE"])


def _changed(coop_id: str, webhook_id: str, change):
    """Run `change(session, endpoint)` in a transaction and answer with the endpoint."""
    owner = _owner(coop_id)

    def work(session):
        endpoint = webhooks.get_endpoint(session, owner, webhook_id)
        change(session, endpoint)
        return webhooks.endpoint_json(session, endpoint)

    return jsonify(transaction(db.session, work))


@route(
    blueprint,
    "POST",
    BASE,
    summary="Register a webhook endpoint (the cooperative's admin; `network`: the network admin);"
    " the secret is shown once",
    request=WebhookEndpointRequest,
    response=WebhookEndpointCreated,
    status=201,
    problems={**PROBLEMS, 422: "the URL is not http(s) or not on a public address"},
)
def create_endpoint(coop_id):
    owner = _owner(coop_id)
    body = parse(WebhookEndpointRequest)
    actor = principal().user_id

    def work(session):
        endpoint, secret = webhooks.create_endpoint(
            session,
            cooperative_id=owner,
            url=body.url,
            events=[str(event) for event in body.events],
            allow_private=_allow_private(),
            actor_user_id=actor,
        )
        return {**webhooks.endpoint_json(session, endpoint), "secret": secret}

    return jsonify(transaction(db.session, work)), 201


@route(
    blueprint,
    "GET",
    BASE,
    summary="The webhook endpoints (no secrets)",
    response=WebhookEndpointList,
    problems=PROBLEMS,
)
def list_endpoints(coop_id):
    owner = _owner(coop_id)
    endpoints = webhooks.list_endpoints(db.session, owner)
    return jsonify(items=webhooks.endpoints_json(db.session, endpoints))


@route(
    blueprint,
    "GET",
    ONE,
    summary="One webhook endpoint",
    response=WebhookEndpointResponse,
    problems=PROBLEMS,
)
def get_endpoint(coop_id, webhook_id):
    owner = _owner(coop_id)
    endpoint = webhooks.get_endpoint(db.session, owner, webhook_id)
    return jsonify(webhooks.endpoint_json(db.session, endpoint))


@route(
    blueprint,
    "PATCH",
    ONE,
    summary="Change a webhook endpoint's URL or event types",
    request=WebhookEndpointUpdate,
    response=WebhookEndpointResponse,
    problems={**PROBLEMS, 422: "the URL is not http(s) or not on a public address"},
)
def update_endpoint(coop_id, webhook_id):
    body = parse(WebhookEndpointUpdate)
    events = None if body.events is None else [str(event) for event in body.events]
    return _changed(
        coop_id,
        webhook_id,
        lambda session, endpoint: webhooks.update_endpoint(
            session, endpoint, url=body.url, events=events, allow_private=_allow_private()
        ),
    )


@route(
    blueprint,
    "DELETE",
    ONE,
    summary="Delete a webhook endpoint: nothing more is sent to it (its history is kept)",
    response=WebhookEndpointResponse,
    problems=PROBLEMS,
)
def delete_endpoint(coop_id, webhook_id):
    return _changed(
        coop_id,
        webhook_id,
        lambda session, endpoint: webhooks.set_status(
            session, endpoint, EndpointStatus.DELETED, "deleted"
        ),
    )


@route(
    blueprint,
    "POST",
    ONE + "/disable",
    summary="Disable a webhook endpoint: its events wait, undelivered, until it is enabled",
    response=WebhookEndpointResponse,
    problems=PROBLEMS,
)
def disable_endpoint(coop_id, webhook_id):
    return _changed(
        coop_id,
        webhook_id,
        lambda session, endpoint: webhooks.set_status(
            session, endpoint, EndpointStatus.DISABLED, "disabled by an admin"
        ),
    )


@route(
    blueprint,
    "POST",
    ONE + "/enable",
    summary="Enable a webhook endpoint again: what waited is sent",
    response=WebhookEndpointResponse,
    problems=PROBLEMS,
)
def enable_endpoint(coop_id, webhook_id):
    return _changed(
        coop_id,
        webhook_id,
        lambda session, endpoint: webhooks.set_status(session, endpoint, EndpointStatus.ENABLED),
    )


@route(
    blueprint,
    "POST",
    ONE + "/rotate-secret",
    summary="Give the endpoint a new secret (shown once); the old one signs beside it for a day",
    response=WebhookEndpointCreated,
    problems=PROBLEMS,
)
def rotate_secret(coop_id, webhook_id):
    owner = _owner(coop_id)
    overlap = current_app.config["WEBHOOK_SECRET_OVERLAP_SECONDS"]

    def work(session):
        endpoint = webhooks.get_endpoint(session, owner, webhook_id)
        endpoint, secret = webhooks.rotate_secret(session, endpoint, overlap)
        return {**webhooks.endpoint_json(session, endpoint), "secret": secret}

    return jsonify(transaction(db.session, work))


@route(
    blueprint,
    "GET",
    ONE + "/deliveries",
    summary="The endpoint's events and how their delivery went, newest first",
    response=WebhookDeliveryList,
    query={
        "status": "pending, delivered or failed",
        "cursor": "next_cursor of the previous page",
        "limit": "page size, 1 to 200",
    },
    problems=PROBLEMS,
)
def list_deliveries(coop_id, webhook_id):
    owner = _owner(coop_id)
    status = request.args.get("status")
    if status is not None and status not in set(DeliveryStatus):
        raise ValidationFailed(
            "status must be pending, delivered or failed.",
            "status harus pending, delivered atau failed.",
        )
    endpoint = webhooks.get_endpoint(db.session, owner, webhook_id)
    items, next_cursor = webhooks.list_deliveries(
        db.session,
        endpoint,
        status=status,
        cursor=request.args.get("cursor"),
        limit=page_limit(),
    )
    return jsonify(items=items, next_cursor=next_cursor)


@route(
    blueprint,
    "GET",
    ONE + "/deliveries/{event_id}",
    summary="One event's delivery to the endpoint, with every attempt (time, status, error)",
    response=WebhookDeliveryDetail,
    problems=PROBLEMS,
)
def get_delivery(coop_id, webhook_id, event_id):
    owner = _owner(coop_id)
    endpoint = webhooks.get_endpoint(db.session, owner, webhook_id)
    return jsonify(webhooks.delivery_detail(db.session, endpoint, event_id))


@route(
    blueprint,
    "POST",
    ONE + "/replay",
    summary="Resend one event (`event_id`) or every failed one (optionally `since` a time)",
    request=WebhookReplayRequest,
    response=WebhookReplayResponse,
    problems={**PROBLEMS, 409: "the endpoint is disabled"},
)
def replay(coop_id, webhook_id):
    owner = _owner(coop_id)
    body = parse(WebhookReplayRequest)

    def work(session):
        endpoint = webhooks.get_endpoint(session, owner, webhook_id)
        return webhooks.replay(session, endpoint, since=body.since, message_public_id=body.event_id)

    return jsonify(replayed=transaction(db.session, work))


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/webhook-events/{event_id}",
    summary="An event by its webhook-id, as it was sent (one addressed to this cooperative)",
    response=WebhookEventResponse,
    problems=PROBLEMS,
)
def get_event(coop_id, event_id):
    owner = _owner(coop_id)
    return jsonify(webhooks.get_message(db.session, owner, event_id))
