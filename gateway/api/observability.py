"""Every request's id (echoed as X-Request-Id), its access line and its metrics; /metrics for
those allowed to read it.

/metrics is not for the world: it says how much money moves and how the database is doing. It
answers a scraper that sends `Authorization: Bearer <METRICS_TOKEN>`, or one whose address is in
METRICS_ALLOW_NETWORKS and that came to the gateway directly (a request carrying
X-Forwarded-For came through a proxy, whose own address says nothing about the client). With
neither configured it is not served at all (404).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time

from flask import Blueprint, Response, current_app, g, request

from gateway import logs, metrics
from gateway.api import openapi
from gateway.db import db
from gateway.errors import AuthenticationRequired, NotFound

blueprint = Blueprint("observability", __name__)

access_log = logging.getLogger("gateway.access")

# Methods counted by name; any other a client makes up is counted as "other" (no new series).
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
PATH_LOGGED_MAX = 200


def start_request() -> None:
    """Take the load balancer's request id (if sane) or make one, and start the clock."""
    g.request_started = time.perf_counter()
    g.request_id = logs.new_request_id(request.headers.get("X-Request-Id"))
    g.request_id_token = logs.request_id.set(g.request_id)


def finish_request(response):
    """Echo the request id, count the request and write its access line."""
    request_id = g.get("request_id")
    if request_id is None:  # a request that failed before start_request ran
        return response
    response.headers["X-Request-Id"] = request_id
    duration_seconds = time.perf_counter() - g.request_started
    endpoint = request.endpoint or "unmatched"
    method = request.method if request.method in KNOWN_METHODS else "other"
    status = response.status_code
    metrics.http_requests.labels(method, endpoint, str(status)).inc()
    metrics.http_request_duration.labels(method, endpoint).observe(duration_seconds)
    operation = openapi.operation_for(request.endpoint)
    if operation is not None and operation.idempotent:
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        metrics.money_requests.labels(endpoint, metrics.outcome_of(status, replayed)).inc()
    if current_app.config["ACCESS_LOG"]:
        access_log.info(
            "%s %s %s",
            method,
            request.path[:PATH_LOGGED_MAX],
            status,
            extra={
                "method": method,
                "path": request.path[:PATH_LOGGED_MAX],
                "endpoint": endpoint,
                "status": status,
                "duration_ms": round(duration_seconds * 1000, 2),
                "remote_address": request.remote_addr,
            },
        )
    return response


def end_request(exception=None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        logs.request_id.reset(token)


def _admitted() -> bool:
    token = current_app.config["METRICS_TOKEN"]
    networks = current_app.config["METRICS_ALLOW_NETWORKS"]
    if not token and not networks:
        raise NotFound()
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), str(token).encode()):
            return True
    if networks and "X-Forwarded-For" not in request.headers:
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(network) for network in networks)
    return False


@blueprint.get("/metrics")
def metrics_endpoint():
    """Answer the metrics of every worker process in the Prometheus text format."""
    if not _admitted():
        refusal = AuthenticationRequired(
            "The metrics are for the operator's scraper: send its token.",
            "Metrik hanya untuk pemantau milik operator: kirim tokennya.",
        )
        refusal.headers = {"WWW-Authenticate": 'Bearer realm="metrics"'}
        raise refusal
    body, content_type = metrics.exposition(db.engine)
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
