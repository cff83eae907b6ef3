"""What became of my Idempotency-Keys: look one up, or give it up for good.

A client whose answer to a money-moving request never arrived asks here, with the same key, what
the gateway did (gateway.idempotency `lookup`); a person who gives up abandons the key
(`abandon`), after which no request with it ever runs. Keys are the caller's own (scope: their
public user id, as `money_request` scopes them): another caller's key is simply unknown.
"""

from typing import Literal

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel, Field

from gateway import idempotency
from gateway.api.openapi import route
from gateway.api.support import caller_subject, language
from gateway.db import db

blueprint = Blueprint("idempotency_keys", __name__, url_prefix="/api/v1")


class IdempotencyKeyResponse(BaseModel):
    key: str
    state: Literal["done", "abandoned"] = Field(
        description="done: the answer below is what the request got (and gets on a replay);"
        " abandoned: no request with this key has run or ever will"
    )
    status: int | None = Field(default=None, description="done: the answer's HTTP status")
    response: dict | None = Field(default=None, description="done: the answer's JSON body")


def _answer(key: str, outcome: idempotency.Outcome):
    if outcome.abandoned:
        return jsonify(key=key, state="abandoned")
    return jsonify(key=key, state="done", status=outcome.status, response=outcome.body)


@route(
    blueprint,
    "GET",
    "/api/v1/me/idempotency-keys/{key}",
    summary="What became of a request I sent with this Idempotency-Key: its stored answer",
    response=IdempotencyKeyResponse,
    problems={404: "idempotency-key-unknown: no finished request with this key (yet)"},
)
def lookup(key):
    outcome = idempotency.lookup(db.session, scope=caller_subject(), key=key)
    db.session.rollback()
    return _answer(key, outcome)


@route(
    blueprint,
    "POST",
    "/api/v1/me/idempotency-keys/{key}/abandon",
    summary="Give up a request I sent with this Idempotency-Key: its answer if it has one,"
    " otherwise no request with the key will ever run",
    response=IdempotencyKeyResponse,
)
def abandon(key):
    config = current_app.config
    outcome = idempotency.abandon(
        db.session,
        scope=caller_subject(),
        key=key,
        policy=idempotency.Policy(retention_seconds=config["IDEMPOTENCY_RETENTION_SECONDS"]),
        language=language(),
    )
    return _answer(key, outcome)
