"""The observer's figures by month: the city's and each cooperative's, as JSON, CSV or XLSX."""

from flask import Blueprint, jsonify, request

from gateway import monthly_figures
from gateway.api.export import FORMAT_QUERY, REPORT_MEDIA_TYPES, report_format, table_response
from gateway.api.openapi import route
from gateway.api.support import principal
from gateway.db import db, utcnow
from gateway.errors import Forbidden

blueprint = Blueprint("observer", __name__, url_prefix="/api/v1")


@route(
    blueprint,
    "GET",
    "/api/v1/observer/months",
    summary="The city's and each cooperative's figures by Asia/Jakarta month, aggregates only"
    " (observer, network admin); JSON, CSV or XLSX",
    query={
        "from": "YYYY-MM, first month (default: eleven months before `to`)",
        "to": "YYYY-MM, last month, included (default: this month in Asia/Jakarta)",
        "format": FORMAT_QUERY,
    },
    media_types=REPORT_MEDIA_TYPES,
    problems={403: "not an observer or the network operator"},
)
def months():
    caller = principal()
    if not (caller.observer or caller.network_admin):
        raise Forbidden(
            "Only the city's observers and the network operator may read the city's figures.",
            "Hanya pengamat kota dan operator jaringan yang boleh membaca angka kota.",
        )
    fmt = report_format()
    first, last = monthly_figures.default_range(utcnow())
    if request.args.get("to") is not None:
        last = monthly_figures.parse_month(request.args["to"], "to")
        first = monthly_figures.default_range_before(last)
    if request.args.get("from") is not None:
        first = monthly_figures.parse_month(request.args["from"], "from")
    figures = monthly_figures.monthly_figures(db.session, first, last)
    if fmt == "json":
        return jsonify(figures)
    name = f"kota-{figures['from']}-{figures['to']}"
    return table_response(monthly_figures.figures_tables(figures), fmt, name)
