"""QR codes: a merchant's dynamic QR and static sticker, images, verification, cancelling."""

from flask import Blueprint, Response, current_app, jsonify, request

from gateway import qr, registry, stickers
from gateway.api.openapi import route
from gateway.api.schemas import DynamicQrRequest, QrResponse, QrVerifyRequest, QrVerifyResponse
from gateway.api.support import keyring, money_request, parse, principal, whole_number_arg
from gateway.db import db, transaction
from gateway.errors import Forbidden, NotFound, ValidationFailed
from gateway.models import Cooperative, Merchant

blueprint = Blueprint("qr", __name__, url_prefix="/api/v1")


def qr_settings() -> qr.QrSettings:
    config = current_app.config
    return qr.QrSettings(
        issuer=config["GATEWAY_ID"],
        public_url=config["PUBLIC_URL"],
        ttl_default_seconds=config["QR_TTL_DEFAULT_SECONDS"],
        ttl_max_seconds=config["QR_TTL_MAX_SECONDS"],
        leeway_seconds=config["QR_LEEWAY_SECONDS"],
    )


def qr_json(code) -> dict:
    body = {
        "id": code.public_id,
        "kind": code.kind,
        "status": code.status,
        "token": code.token,
        "url": qr.url_for_token(qr_settings(), code.token),
        "png_url": f"/api/v1/qr/{code.public_id}.png",
        "svg_url": f"/api/v1/qr/{code.public_id}.svg",
    }
    if code.kind == "dynamic":
        body.update(
            amount=code.amount, reference=code.reference, expires_at=qr.iso(code.expires_at)
        )
    return body


def owned_merchant(session, merchant_id: str) -> Merchant:
    """Return the caller's own merchant; any other is 404."""
    caller = principal()
    try:
        merchant = registry.get_merchant(session, merchant_id)
    except NotFound:
        merchant = None
    if merchant is None or not caller.owns_merchant(merchant.id):
        raise NotFound("No such merchant.", "Merchant tidak ditemukan.")
    return merchant


@route(
    blueprint,
    "POST",
    "/api/v1/merchants/{merchant_id}/qr",
    summary="Issue a dynamic QR for one sale (the merchant)",
    request=DynamicQrRequest,
    response=QrResponse,
    status=201,
    idempotent=True,
)
def issue_dynamic(merchant_id):
    body = parse(DynamicQrRequest)
    config = current_app.config
    ttl = body.ttl_seconds
    ttl_min, ttl_max = config["QR_TTL_MIN_SECONDS"], config["QR_TTL_MAX_SECONDS"]
    if ttl is not None and not ttl_min <= ttl <= ttl_max:
        raise ValidationFailed(
            f"ttl_seconds must be from {ttl_min} to {ttl_max}.",
            f"ttl_seconds harus antara {ttl_min} dan {ttl_max}.",
        )
    owned_merchant(db.session, merchant_id)
    ring, settings = keyring(), qr_settings()

    def work(session):
        merchant = registry.get_merchant(session, merchant_id)
        code = qr.issue_dynamic(session, ring, settings, merchant, body.amount, body.reference, ttl)
        return qr_json(code), None

    return money_request(work)


@route(
    blueprint,
    "GET",
    "/api/v1/merchants/{merchant_id}/static-qr",
    summary="The merchant's static sticker QR (issued on first use)",
    response=QrResponse,
)
def static_qr(merchant_id):
    ring, settings = keyring(), qr_settings()

    def work(session):
        return qr_json(qr.static_for(session, ring, settings, owned_merchant(session, merchant_id)))

    return jsonify(transaction(db.session, work))


@route(
    blueprint,
    "POST",
    "/api/v1/merchants/{merchant_id}/static-qr/rotate",
    summary="Revoke the sticker and issue a new one",
    response=QrResponse,
    status=201,
)
def rotate_static_qr(merchant_id):
    ring, settings = keyring(), qr_settings()

    def work(session):
        return qr_json(
            qr.rotate_static(session, ring, settings, owned_merchant(session, merchant_id))
        )

    return jsonify(transaction(db.session, work)), 201


@route(
    blueprint,
    "DELETE",
    "/api/v1/qr/{qr_id}",
    summary="Cancel an unpaid dynamic QR",
    response=QrResponse,
)
def cancel_qr(qr_id):
    caller = principal()

    def work(session):
        code = qr.get(session, qr_id)
        if not caller.owns_merchant(code.merchant_id):
            raise NotFound("No such QR code.", "Kode QR tidak ditemukan.")
        qr.cancel(session, code)
        session.flush()
        session.refresh(code)
        return qr_json(code)

    return jsonify(transaction(db.session, work))


def _image(qr_id: str, render, mimetype: str):
    code = qr.get(db.session, qr_id)
    url = qr.url_for_token(qr_settings(), code.token)
    response = Response(render(url), mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=86400, immutable"
    return response


@route(
    blueprint,
    "GET",
    "/api/v1/qr/{qr_id}.png",
    summary="The QR as PNG",
    authenticated=False,
    media_types=("image/png",),
)
def qr_png(qr_id):
    return _image(qr_id, qr.render_png, "image/png")


@route(
    blueprint,
    "GET",
    "/api/v1/qr/{qr_id}.svg",
    summary="The QR as SVG",
    authenticated=False,
    media_types=("image/svg+xml",),
)
def qr_svg(qr_id):
    return _image(qr_id, qr.render_svg, "image/svg+xml")


@route(
    blueprint,
    "GET",
    "/api/v1/merchants/{merchant_id}/sticker.svg",
    summary="A printable A6 sticker with the static QR (the merchant)",
    media_types=("image/svg+xml",),
)
def sticker(merchant_id):
    ring, settings = keyring(), qr_settings()

    def work(session):
        merchant = owned_merchant(session, merchant_id)
        code = qr.static_for(session, ring, settings, merchant)
        cooperative = session.get(Cooperative, merchant.cooperative_id)
        return qr.url_for_token(settings, code.token), merchant.name, cooperative.name

    url, name, cooperative_name = transaction(db.session, work)
    return Response(qr.render_sticker(url, name, cooperative_name), mimetype="image/svg+xml")


@route(
    blueprint,
    "POST",
    "/api/v1/qr/verify",
    summary="Verify a scanned QR: the merchant's verified name and the amount, or exactly why not",
    request=QrVerifyRequest,
    response=QrVerifyResponse,
)
def verify_qr():
    principal()
    body = parse(QrVerifyRequest)
    verified = qr.verify(db.session, keyring(), qr_settings(), body.token)
    merchant = verified.merchant
    cooperative = db.session.get(Cooperative, merchant.cooperative_id)
    result = {
        "id": verified.qr.public_id,
        "kind": verified.qr.kind,
        "merchant": {
            "id": merchant.public_id,
            "name": merchant.name,
            "kind": merchant.kind,
            "cooperative": {"id": cooperative.public_id, "name": cooperative.name},
        },
    }
    if verified.qr.kind == "dynamic":
        result["amount"] = verified.qr.amount
        result["expires_at"] = qr.iso(verified.qr.expires_at)
        result["reference"] = verified.qr.reference
    db.session.rollback()
    return jsonify(result)


# --- The A4 sticker sheet of a cooperative's merchants -------------------------------------------


def _sheet_of(coop_id: str, page: int | None):
    """The cooperative (its own admin only: anyone else 403) and its stickers, issuing the
    sticker of a merchant that has none, once the request is known to be good."""
    caller = principal()
    cooperative = registry.get_cooperative(db.session, coop_id)
    if not caller.administers(cooperative.id):
        raise Forbidden(
            "Only this cooperative's admins may print its merchants' stickers.",
            "Hanya admin koperasi ini yang boleh mencetak stiker merchant-nya.",
        )
    kind = request.args.get("kind")
    stickers.check_page(db.session, cooperative, kind, page)
    ring, settings = keyring(), qr_settings()

    def work(session):
        found = registry.get_cooperative(session, coop_id)
        return stickers.cooperative_stickers(session, ring, settings, found, kind)

    return cooperative, transaction(db.session, work)


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/stickers.svg",
    summary="One A4 page of the cooperative's merchants' stickers, twelve to a page, each with"
    " name, cooperative and the active static QR (its admin); X-Page-Count says how many pages",
    query={"page": "1 to the page count (default 1)", "kind": "shop, angkot, taxi or other"},
    media_types=("image/svg+xml",),
    problems={403: "not this cooperative's admin", 404: "no such page"},
)
def sticker_sheet(coop_id):
    page = whole_number_arg("page", 1, 100_000, default=1)
    cooperative, found = _sheet_of(coop_id, page)
    response = Response(
        stickers.render_page(found, page, cooperative.name), mimetype="image/svg+xml"
    )
    pages = stickers.page_count(found)
    name = stickers.page_file_name(cooperative.code, page, pages)
    response.headers["X-Page-Count"] = str(pages)
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/stickers.zip",
    summary="Every A4 page of the cooperative's merchants' stickers, one SVG each, zipped for the"
    " print shop (its admin)",
    query={"kind": "shop, angkot, taxi or other"},
    media_types=("application/zip",),
    problems={403: "not this cooperative's admin", 404: "no merchants"},
)
def sticker_sheets(coop_id):
    cooperative, found = _sheet_of(coop_id, None)
    response = Response(stickers.render_zip(found, cooperative), mimetype="application/zip")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="stiker-{cooperative.code}.zip"'
    )
    return response
