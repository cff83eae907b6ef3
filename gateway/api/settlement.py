"""Settlement windows, merchant days, cooperative reports, observer figures and audit."""

from datetime import date, datetime

from flask import Blueprint, Response, current_app, jsonify, request

from gateway import audit, registry, reports, settlement
from gateway.api import export
from gateway.api.openapi import route
from gateway.api.qr import owned_merchant
from gateway.api.support import page_limit, principal, whole_number_arg
from gateway.db import db, transaction, utcnow
from gateway.errors import Forbidden, ValidationFailed
from gateway.limits import JAKARTA
from gateway.models import SettlementWindow

blueprint = Blueprint("settlement", __name__, url_prefix="/api/v1")


def _network_admin():
    caller = principal()
    if not caller.network_admin:
        raise Forbidden(
            "Only the network operator may do this.",
            "Hanya operator jaringan yang boleh melakukan ini.",
        )
    return caller


def _wants_csv(path_suffix: bool) -> bool:
    return path_suffix or request.accept_mimetypes.best == "text/csv"


def _csv(text: str, name: str) -> Response:
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _remote() -> str | None:
    return request.remote_addr


@route(
    blueprint,
    "POST",
    "/api/v1/settlement/windows/{window_id}/close",
    summary="Close and seal the open window (`current`) or a named one, once (network admin)",
    status=201,
)
def close_window(window_id):
    caller = _network_admin()
    window = settlement.close(
        db.session,
        lambda work: transaction(db.session, work),
        None if window_id == "current" else window_id,
    )
    transaction(
        db.session,
        lambda s: audit.record(
            s,
            "settlement.close",
            actor_user_id=caller.user.id,
            target=window.public_id,
            remote_address=_remote(),
        ),
    )
    return jsonify(settlement.window_json(window)), 201


def _visible_scope():
    """Return None for the network admin (everything) or the coop admin's cooperative public id."""
    caller = principal()
    if caller.network_admin:
        return None
    if len(caller.admin_cooperative_ids) == 1:
        (cooperative_id,) = caller.admin_cooperative_ids
        return registry.get_cooperative_by_id(db.session, cooperative_id).public_id
    raise Forbidden()


@route(
    blueprint,
    "GET",
    "/api/v1/settlement/windows",
    client_scope="reports:read",
    summary="Settlement windows (a coop admin sees only its own lines)",
)
def list_windows():
    scope = _visible_scope()
    windows = db.session.scalars(
        db.select(SettlementWindow).order_by(SettlementWindow.id.desc()).limit(page_limit())
    )
    return jsonify(items=[settlement.window_json(w, scope) for w in windows])


@route(
    blueprint,
    "GET",
    "/api/v1/settlement/windows/{window_id}",
    client_scope="reports:read",
    summary="A window's statement, per cooperative and per pair: JSON, CSV or XLSX (a .csv or"
    " .xlsx suffix, ?format=, or Accept)",
    query={"format": export.FORMAT_QUERY},
    media_types=export.REPORT_MEDIA_TYPES,
)
def get_window(window_id):
    scope = _visible_scope()
    window_id, suffix = export.split_suffix(window_id)
    fmt = export.report_format(suffix)
    window = settlement.get_window(db.session, window_id)
    if fmt != "json":
        name = window.public_id if scope is None else f"{window.public_id}-{scope}"
        return export.table_response(settlement.window_tables(window, scope), fmt, name)
    return jsonify(settlement.window_json(window, scope))


@route(
    blueprint,
    "POST",
    "/api/v1/settlement/windows/{window_id}/settle",
    summary="Mark a closed window settled: write its settlement transfers once (network admin)",
)
def settle_window(window_id):
    caller = _network_admin()
    window = settlement.get_window(db.session, window_id)
    actor = caller.user.id
    settled = transaction(db.session, lambda s: settlement.mark_settled(s, window, actor))
    transaction(
        db.session,
        lambda s: audit.record(
            s, "settlement.settle", actor_user_id=actor, target=window_id, remote_address=_remote()
        ),
    )
    return jsonify(settlement.window_json(settled))


@route(
    blueprint,
    "GET",
    "/api/v1/settlement/windows/{window_id}/verify",
    summary="Recompute a sealed window's digest and positions against its seal (network admin)",
    problems={409: "not closed yet, or its transfers changed since the seal (window-tampered)"},
)
def verify_window(window_id):
    _network_admin()
    window = settlement.get_window(db.session, window_id)
    settlement.verify(db.session, window)
    return jsonify(
        id=window.public_id,
        verified=True,
        digest=window.digest,
        transfer_count=window.transfer_count,
    )


# Report dates stay well inside what a datetime (and its Asia/Jakarta offset) can hold: a day in
# year 1 or 9999 would overflow when turned into UTC bounds.
REPORT_YEARS = range(2000, 2101)


def _parse_date(raw: str | None, name: str) -> date:
    try:
        parsed = date.fromisoformat(raw) if raw else datetime.now(JAKARTA).date()
    except ValueError:
        parsed = None
    if parsed is None or parsed.year not in REPORT_YEARS:
        raise ValidationFailed(
            f"{name} must be a date like 2026-11-22, from 2000 to 2100.",
            f"{name} harus tanggal seperti 2026-11-22, dari 2000 sampai 2100.",
        )
    return parsed


@route(
    blueprint,
    "GET",
    "/api/v1/merchants/{merchant_id}/settlement",
    summary="A merchant's Asia/Jakarta day: gross, refunds, fees, net, count, paid out, balance",
    query={"date": "YYYY-MM-DD (default: today in Asia/Jakarta)"},
)
def merchant_day(merchant_id):
    merchant = owned_merchant(db.session, merchant_id)
    return jsonify(
        reports.merchant_day(db.session, merchant, _parse_date(request.args.get("date"), "date"))
    )


def _parse_month(raw: str | None) -> tuple[int, int]:
    if raw is None:
        today = datetime.now(JAKARTA).date()
        return today.year, today.month
    try:
        parsed = date.fromisoformat(f"{raw}-01") if len(raw) == 7 else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.year not in REPORT_YEARS:
        raise ValidationFailed(
            "month must be a month like 2026-11, from 2000 to 2100.",
            "month harus bulan seperti 2026-11, dari 2000 sampai 2100.",
        )
    return parsed.year, parsed.month


@export.report_route(
    blueprint,
    "/api/v1/merchants/{merchant_id}/month",
    summary="A merchant's month (the merchant): each Asia/Jakarta day's takings, refunds, fees,"
    " net and payouts as the merchant's day computes them, and the totals",
    query={"month": "YYYY-MM (default: this month in Asia/Jakarta)"},
)
def merchant_month(merchant_id, suffix):
    fmt = export.report_format(suffix)
    merchant = owned_merchant(db.session, merchant_id)
    year, month = _parse_month(request.args.get("month"))
    figures = reports.merchant_month(db.session, merchant, year, month)
    if fmt != "json":
        return export.table_response(
            reports.merchant_month_tables(figures), fmt, f"bulan-{figures['month']}"
        )
    return jsonify(figures)


@export.report_route(
    blueprint,
    "/api/v1/cooperatives/{coop_id}/report",
    client_scope="reports:read",
    summary="A cooperative's period report (its admin)",
    query={
        "from": "YYYY-MM-DD, first day",
        "to": "YYYY-MM-DD, last day (inclusive)",
    },
)
def cooperative_report(coop_id, suffix):
    caller = principal()
    fmt = export.report_format(suffix)
    cooperative = registry.get_cooperative(db.session, coop_id)
    if not (caller.administers(cooperative.id) or caller.network_admin):
        raise Forbidden(
            "Only this cooperative's admins may read its report.",
            "Hanya admin koperasi ini yang boleh membaca laporannya.",
        )
    first = _parse_date(request.args.get("from"), "from")
    last = _parse_date(request.args.get("to"), "to")
    if last < first:
        raise ValidationFailed("to must not be before from.", "to tidak boleh sebelum from.")
    start, _ = reports.day_bounds(first)
    _, end = reports.day_bounds(last)
    report = reports.cooperative_report(db.session, cooperative, start, end)
    if fmt != "json":
        return export.table_response(
            reports.cooperative_report_table(report), fmt, f"report-{cooperative.code}"
        )
    return jsonify(report)


@route(
    blueprint,
    "GET",
    "/api/v1/observer/cooperatives",
    summary="City figures per cooperative, no personal data (observer, network admin)",
)
def observer():
    caller = principal()
    if not (caller.observer or caller.network_admin):
        raise Forbidden()
    return jsonify(
        reports.observer_figures(db.session, utcnow(), current_app.config["CITY_POPULATION"])
    )


@route(
    blueprint,
    "GET",
    "/api/v1/audit",
    summary="The audit trail (network admin: all; coop admin: its cooperative)",
    query={"before": "an audit event id: older events", "limit": "page size"},
)
def audit_trail():
    caller = principal()
    before = whole_number_arg("before", 1, 2**62)
    if caller.network_admin:
        scope = None
    elif len(caller.admin_cooperative_ids) == 1:
        (scope,) = caller.admin_cooperative_ids
    else:
        raise Forbidden()
    return jsonify(
        items=audit.events(db.session, cooperative_id=scope, before=before, limit=page_limit())
    )
