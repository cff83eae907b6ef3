"""What every blueprint needs: parse a body, know the caller, answer with a problem, run a
money-moving request under its Idempotency-Key. The only module here that reads the request's
plumbing; blueprints call it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from flask import current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from gateway import api_clients, auth, idempotency, registry
from gateway.api.openapi import operation_for
from gateway.api.schemas import RefusedText
from gateway.db import db
from gateway.errors import (
    AuthenticationRequired,
    Forbidden,
    GatewayError,
    IdempotencyKeyMissing,
    MalformedRequest,
    ValidationFailed,
)


def language() -> str:
    """Return "en" if the client prefers English, else "id" (Bahasa Indonesia first)."""
    return request.accept_languages.best_match(["id", "en"], default="id") or "id"


def problem_response(error: GatewayError):
    response = jsonify(error.problem(language()))
    response.status_code = error.status
    response.mimetype = error.media_type
    if error.retry_after_seconds is not None:
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


def parse(model: type[BaseModel]):
    """Validate the JSON body against `model`; malformed JSON is 400, invalid data 422."""
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and len(raw) >= limit:
        # A body without a Content-Length (chunked) is cut at the limit as it is read, not
        # refused: what is left could even parse. Reaching the limit means there was more.
        raise RequestEntityTooLarge()
    if not raw:
        raise MalformedRequest(
            "The request needs a JSON body.", "Permintaan ini memerlukan isi JSON."
        )
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors()):
            raise MalformedRequest() from None
        raise _invalid(error, "body") from None


def parse_query(model: type[BaseModel]):
    """Validate the query string against `model` (one value per name); invalid data is 422."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise _invalid(error, "query") from None


def _invalid(error: ValidationError, whole: str) -> ValidationFailed:
    # A validator that explains itself to a person (schemas.RefusedText): its sentence.
    refusals = [
        item["ctx"]["error"]
        for item in error.errors()
        if isinstance(item.get("ctx", {}).get("error"), RefusedText)
    ]
    sentence = (refusals[0].message_en, refusals[0].message_id) if refusals else ()
    return ValidationFailed(
        *sentence,
        errors=[
            {
                "field": ".".join(str(part) for part in item["loc"]) or whole,
                "message": item["msg"],
            }
            for item in error.errors(include_url=False, include_input=False)
        ],
    )


def pin_policy() -> auth.PinPolicy:
    config = current_app.config
    return auth.PinPolicy(
        attempts_max=config["PIN_ATTEMPTS_MAX"],
        lockout_seconds=config["PIN_LOCKOUT_SECONDS"],
        scrypt_n=config["PIN_SCRYPT_N"],
    )


def keyring():
    return current_app.extensions["keyring"]


def caller_subject() -> str:
    """Return the public id the request's access token was issued to (a user's, or an API
    client's), or raise 401.

    Every authenticated request passes here, the pay path included, so this is where an API
    client's token is admitted or refused (`_admit_api_client`). A person's token is verified
    only (no database): `principal` loads who that is and every role.
    """
    if "subject" in g:
        return g.subject
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationRequired()
    claims = auth.decode_access_token(keyring(), token.strip(), current_app.config["GATEWAY_ID"])
    if auth.CLIENT_ID_CLAIM in claims:
        _admit_api_client(claims)
    g.subject = claims["sub"]
    return g.subject


def _admit_api_client(claims: dict) -> None:
    """Let an API client's token in, or refuse it: the one place that decides, for every
    endpoint, so that no use case can forget.

    The token must be current (its client active, its secret not rotated since: checked in the
    database on every use) and the endpoint open to API clients with a scope the token holds:
    declared by `route(..., client_scope=...)`, which no endpoint that moves money can be. Every
    other endpoint — money, counter, payments, refunds, QR codes, settlement actions, staff
    settings — is a 403, before its view runs. An admitted client is its cooperative's admin
    (`Principal.for_client`): never a user, a member, a merchant or network-wide.
    """
    try:
        client = api_clients.admit(db.session, claims)
    except api_clients.TokenRefused as refused:
        g.api_client = refused.client  # attributable in the audit trail, refused or not
        raise
    g.api_client = client
    operation = operation_for(request.endpoint)
    refusal = api_clients.refusal(client.scopes, operation.client_scope if operation else None)
    if refusal is not None:
        raise refusal
    g.principal = auth.Principal.for_client(client)


def principal() -> auth.Principal:
    """Return the authenticated caller, or raise 401."""
    if "principal" in g:
        return g.principal
    subject = caller_subject()
    if "principal" in g:  # an API client, admitted by caller_subject
        return g.principal
    caller = auth.principal_for(db.session, subject)
    if caller is None:
        raise auth.InvalidToken()
    g.principal = caller
    return caller


def administered_cooperative(
    coop_id: str,
    message_en: str = "Only this cooperative's own admins may do this.",
    message_id: str = "Hanya admin koperasi ini yang boleh melakukan ini.",
):
    """Return the cooperative if the caller administers it; 403 if not, 404 if no such one."""
    cooperative = registry.get_cooperative(db.session, coop_id)
    if not principal().administers(cooperative.id):
        raise Forbidden(message_en, message_id)
    return cooperative


def whole_number_arg(
    name: str, minimum: int, maximum: int, default: int | None = None
) -> int | None:
    """Read a query parameter that must be a whole number from `minimum` to `maximum`.

    ASCII digits only, and few of them: str.isdigit() also accepts "²" and "٣", and int() of
    thousands of digits raises, both of which would be a 500.
    """
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,18}", raw) or not minimum <= int(raw) <= maximum:
        raise ValidationFailed(
            f"{name} must be a whole number from {minimum} to {maximum}.",
            f"{name} harus bilangan bulat {minimum} sampai {maximum}.",
        )
    return int(raw)


def page_limit() -> int:
    config = current_app.config
    return whole_number_arg("limit", 1, config["PAGE_SIZE_MAX"], config["PAGE_SIZE_DEFAULT"])


def money_request(work: Callable[[Session], tuple[dict, int | None]], status: int = 201):
    """Run a money-moving use case once per Idempotency-Key and answer with its result.

    `work(session)` returns (body, event id) without committing; the body and the money commit
    together. A replay answers with the first response and `Idempotent-Replayed: true`.
    """
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise IdempotencyKeyMissing()
    scope = caller_subject()  # keys are scoped to the caller: their public user id
    body = json.loads(request.get_data(cache=True))
    config = current_app.config

    def run(session: Session):
        result, event_id = work(session)
        return status, result, event_id

    outcome = idempotency.execute(
        db.session,
        scope=scope,
        key=key,
        request_hash=idempotency.fingerprint(request.method, request.path, body),
        policy=idempotency.Policy(retention_seconds=config["IDEMPOTENCY_RETENTION_SECONDS"]),
        work=run,
        render_error=lambda error: error.problem(language()),
    )
    response = jsonify(outcome.body)
    response.status_code = outcome.status
    if outcome.status >= 400:
        response.mimetype = "application/problem+json"
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
