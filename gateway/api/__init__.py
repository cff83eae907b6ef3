"""The HTTP API: thin blueprints under /api/v1, problem+json errors, the OpenAPI document."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, Flask, current_app, g, jsonify, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from gateway import audit, availability
from gateway.api import openapi
from gateway.api.support import caller_subject, keyring, problem_response
from gateway.db import db, transaction, unique_violation_table
from gateway.errors import Conflict, GatewayError, NotFound, ValidationFailed

log = logging.getLogger(__name__)

API_VERSION = "0.1.0"

BODY_SIZE_MAX = 64 * 1024

HTTP_PROBLEM_SLUGS = {
    404: ("not-found", "Alamat ini tidak ada.", "There is nothing at this address."),
    405: (
        "method-not-allowed",
        "Metode HTTP ini tidak didukung di sini.",
        "This HTTP method is not supported here.",
    ),
    413: ("payload-too-large", "Isi permintaan terlalu besar.", "The request body is too large."),
    415: (
        "unsupported-media-type",
        "Kirim isi permintaan sebagai JSON, dengan Content-Type: application/json.",
        "Send the request body as JSON, with Content-Type: application/json.",
    ),
}

# What a unique violation means to the client, by the table whose unique index refused the row.
# Two requests raced to create the same thing; one won, and this answer goes to the others (and to
# any later request that passed the use case's own check). Tables not named here get the general
# sentence. English first, then Bahasa Indonesia, as GatewayError takes them.
UNIQUE_CONFLICTS = {
    "users": (
        "This phone number has just been registered.",
        "Nomor HP ini baru saja didaftarkan.",
    ),
    "members": (
        "This person is already a member.",
        "Orang ini sudah menjadi anggota.",
    ),
    "cooperatives": (
        "A cooperative with this code already exists.",
        "Koperasi dengan kode ini sudah ada.",
    ),
    "staff_roles": (
        "This person already has this role.",
        "Orang ini sudah memiliki peran ini.",
    ),
}
UNIQUE_CONFLICT_DEFAULT = (
    "This was just created by another request. Reload and try again if needed.",
    "Data ini baru saja dibuat oleh permintaan lain. Muat ulang dan coba lagi bila perlu.",
)

root = Blueprint("root", __name__)


@root.get("/healthz")
def healthz():
    """Answer while the process is up."""
    return jsonify(status="ok")


@root.get("/readyz")
def readyz():
    """Answer 200 when the database answers and can be written, 503 when it cannot (unreachable,
    a standby, read-only), within READINESS_TIMEOUT_SECONDS: the load balancer's health check."""
    problem = availability.readiness(db.engine, current_app.config["READINESS_TIMEOUT_SECONDS"])
    if problem is not None:
        raise problem
    return jsonify(status="ready")


@root.get("/.well-known/jwks.json")
def jwks():
    """Publish the public keys that verify QR and access tokens."""
    response = jsonify(keyring().jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@root.get("/api/v1/openapi.json")
def openapi_document():
    return jsonify(openapi.document("Interkop gateway", API_VERSION))


def handle_gateway_error(error: GatewayError):
    rollback_quietly()
    if error.follow_up is not None:
        try:
            transaction(db.session, error.follow_up)
        except Exception as follow_up_error:
            if not availability.is_unavailable(follow_up_error):
                raise
            # The refusal's own record (a wrong PIN's count) could not be written: say so.
            return handle_unexpected(follow_up_error)
    return problem_response(error)


def rollback_quietly() -> None:
    """Roll the request's session back; a connection gone with the database is no new error."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone with the database
        log.warning("rollback failed", exc_info=True)


def handle_http_exception(error: HTTPException):
    slug, message_id, message_en = HTTP_PROBLEM_SLUGS.get(
        error.code, ("http-error", error.description or "", error.description or "")
    )
    problem = GatewayError(message_en, message_id)
    problem.status = error.code or 500
    problem.slug = slug
    problem.title = error.name
    response = problem_response(problem)
    # Keep what the exception says beyond its HTML body: a 405's Allow header, above all.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_integrity_error(error: IntegrityError):
    """Answer a unique violation (two requests racing to create one thing) with a 409 problem.

    The one place where a database's refusal of a duplicate becomes an answer: use cases check
    for a duplicate first, but only the unique index sees a racing transaction's row. Any other
    integrity error is a bug and stays a 500.
    """
    table = unique_violation_table(error)
    if table is None:
        return handle_unexpected(error)
    rollback_quietly()
    log.info("unique violation on %s answered 409", table or "an unnamed index")
    return problem_response(Conflict(*UNIQUE_CONFLICTS.get(table, UNIQUE_CONFLICT_DEFAULT)))


def handle_unexpected(error: Exception):
    rollback_quietly()
    if availability.is_unavailable(error):
        # No writable primary just now (unreachable, restarting, read-only in a failover, a
        # timeout): nothing was committed, or, if the connection died during the commit, the
        # retry with the same Idempotency-Key finds out which. A retry will do.
        log.warning("database unavailable: %s", error)
        return problem_response(
            availability.unavailable(current_app.config["DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS"])
        )
    log.exception("unhandled error", exc_info=error)
    problem = GatewayError(
        "Something went wrong on our side. Please try again; a retry never charges twice.",
        "Terjadi kesalahan di sisi kami. Silakan coba lagi; mencoba ulang tidak akan menagih"
        " dua kali.",
    )
    problem.status = 500
    problem.slug = "internal-error"
    problem.title = "Internal error"
    return problem_response(problem)


def refuse_nul_bytes():
    """Answer a NUL byte in the path or query before it reaches PostgreSQL, which cannot compare
    text holding one (a 500). No id, cursor or other parameter of ours contains one."""
    if any("\x00" in str(value) for value in (request.view_args or {}).values()):
        raise NotFound()
    if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        raise ValidationFailed(
            "The query string must not contain NUL characters.",
            "Parameter alamat tidak boleh berisi karakter NUL.",
        )


def authenticate_declared():
    """Authenticate every operation declared `authenticated` before its view runs (401 without a
    valid token), and so admit or refuse an API client there (`support.caller_subject`): a view
    that parses its body first still never runs for a client it is not open to."""
    operation = openapi.operation_for(request.endpoint)
    if operation is not None and operation.authenticated:
        caller_subject()


def require_json_bodies():
    """Refuse a request body under /api/ that is not sent as `application/json` (415).

    Every body the API reads is JSON (but the OAuth token endpoint's, a form as RFC 6749
    requires); one sent as text/plain, as a form or with no Content-Type is refused before any
    view reads it. That also closes the cross-site form: a browser sends
    text/plain or a form cross-site without asking, but application/json only after a CORS
    preflight, which this gateway never grants.
    """
    if request.routing_exception is not None or not request.path.startswith("/api/"):
        return
    operation = openapi.operation_for(request.endpoint)
    if operation is not None and operation.request_media_type != openapi.JSON:
        return  # the OAuth token endpoint reads a form, and refuses anything else its own way
    has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    ).lower()
    if has_body and request.mimetype != "application/json":
        raise UnsupportedMediaType()


def audit_staff_actions(response):
    """Append an audit event for every change a staff member asks for, and for every request of
    an API client, reads too, refused or not (and each token it is issued): whatever the outcome.

    A client is attributable from the moment its token verified (`g.api_client`, set where the
    token is admitted or refused, and by the token endpoint once the client authenticated).
    """
    client = g.get("api_client")
    if client is not None:
        actor_user_id, actor_client_id, cooperative_id = None, client.id, client.cooperative_id
    else:
        if request.method in ("GET", "HEAD", "OPTIONS") or "principal" not in g:
            return response
        caller = g.principal
        if not (caller.admin_cooperative_ids or caller.network_admin):
            return response
        actor_user_id, actor_client_id = caller.user_id, None
        cooperative_id = (
            next(iter(caller.admin_cooperative_ids))
            if len(caller.admin_cooperative_ids) == 1
            else None
        )
    target = ",".join(str(value) for value in (request.view_args or {}).values()) or None
    outcome = "ok" if response.status_code < 400 else f"refused {response.status_code}"
    try:
        transaction(
            db.session,
            lambda session: audit.record(
                session,
                request.endpoint or request.path,
                actor_user_id=actor_user_id,
                actor_client_id=actor_client_id,
                cooperative_id=cooperative_id,
                target=target,
                outcome=outcome,
                remote_address=request.remote_addr,
                detail={"method": request.method, "path": request.path},
            ),
        )
    except Exception:  # noqa: BLE001 - the answer stands; the failure is logged
        db.session.rollback()
        log.exception("could not write the audit event")
    return response


def security_headers(response):
    """Headers every answer gets: no sniffing, no referrer, and no caching of anything under /api/
    that has not said it is public (QR images do; JWKS sits outside /api/): balances, receipts,
    CSV reports and stickers stay off shared caches and the phone's disk."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/") or response.mimetype in (
        "application/json",
        "application/problem+json",
    ):
        response.headers.setdefault("Cache-Control", "no-store")
    relative_location(response)
    return response


def relative_location(response) -> None:
    """Make a redirect's Location a path on this site, never the Host header a client sent.

    Werkzeug's own redirects (merging `//` in a path, a missing trailing slash) build an absolute
    URL from the request's Host: a forged Host would send the client, or a cache, elsewhere.
    """
    location = response.headers.get("Location")
    if not location:
        return
    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc:
        return
    # "//" would make the path a network-path reference: another host again.
    path = "/" + parts.path.lstrip("/")
    response.headers["Location"] = urlunsplit(("", "", path, parts.query, parts.fragment))


def init_app(app: Flask) -> None:
    from gateway.api import (
        api_clients,
        auth,
        cooperatives,
        counter,
        fees,
        idempotency_keys,
        invitations,
        limits,
        members,
        observability,
        payments,
        pwa,
        qr,
        settlement,
        webhooks,
    )

    # Flask's own default for MAX_CONTENT_LENGTH is None (no limit), so a `setdefault` on the
    # config never applies one; set it here unless a deployment chose its own.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = BODY_SIZE_MAX
    app.register_blueprint(root)
    for module in (
        auth,
        api_clients,
        cooperatives,
        counter,
        members,
        invitations,
        qr,
        payments,
        fees,
        limits,
        settlement,
        idempotency_keys,
        webhooks,
        pwa,
        observability,
    ):
        app.register_blueprint(module.blueprint)
    app.register_error_handler(GatewayError, handle_gateway_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(Exception, handle_unexpected)
    # First, so that every answer, refusals before any view included, carries its request id.
    app.before_request(observability.start_request)
    app.before_request(refuse_nul_bytes)
    app.before_request(authenticate_declared)
    app.before_request(require_json_bodies)
    # Registered first, so it runs last (Flask runs them last-registered first): the time counted
    # includes the audit write.
    app.after_request(observability.finish_request)
    app.after_request(security_headers)
    app.after_request(audit_staff_actions)
    app.teardown_request(observability.end_request)
