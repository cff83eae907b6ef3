"""Members and merchants imported in bulk from a sheet, and the PIN slips of those imported.

Each upload is multipart/form-data with the sheet in the field `file` (CSV or XLSX, at most
`uploads.UPLOAD_BYTES_MAX`); without `?commit=true` it is a dry run. The cooperative's own admins
only (not API clients: the slips carry clear PINs). See gateway/imports.py for what each row
becomes and where the clear PINs live.
"""

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel

from gateway import imports, uploads
from gateway.api.openapi import route
from gateway.api.support import administered_cooperative, principal, whole_number_arg
from gateway.db import db, transaction
from gateway.errors import Forbidden, ValidationFailed

blueprint = Blueprint("imports", __name__, url_prefix="/api/v1")

MULTIPART = "multipart/form-data"
# The sheet and the multipart envelope around it.
UPLOAD_REQUEST_BYTES_MAX = uploads.UPLOAD_BYTES_MAX + 64 * 1024


class ImportNote(BaseModel):
    row: int
    column: str
    reason_id: str
    reason_en: str


class ImportReport(BaseModel):
    kind: str
    committed: bool
    rows: int
    counts: dict[str, int]
    problems: list[ImportNote]
    notes: list[ImportNote]
    pins_to_issue: int


class PinSlip(BaseModel):
    name: str
    phone: str
    pin: str


class PinSlipSheet(BaseModel):
    slips: list[PinSlip]
    remaining: int


def _admin_cooperative(coop_id: str):
    cooperative = administered_cooperative(coop_id)
    if principal().client is not None:
        raise Forbidden(
            "Imports and PIN slips are for the cooperative's admins in person.",
            "Impor dan slip PIN hanya untuk admin koperasi secara langsung.",
        )
    return cooperative


def _commit_requested() -> bool:
    raw = request.args.get("commit", "false").strip().lower()
    if raw not in ("true", "false"):
        raise ValidationFailed("commit must be true or false.", "commit harus true atau false.")
    return raw == "true"


def _uploaded_sheet() -> uploads.Sheet:
    request.max_content_length = UPLOAD_REQUEST_BYTES_MAX
    if request.mimetype != MULTIPART:
        raise ValidationFailed(
            "Send the sheet as multipart/form-data in the field file.",
            "Kirim berkas sebagai multipart/form-data di kolom file.",
        )
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed(
            "The request has no file field with the sheet.",
            "Permintaan tidak berisi kolom file dengan berkasnya.",
        )
    data = upload.read(uploads.UPLOAD_BYTES_MAX + 1)
    return uploads.read_sheet(data, upload.filename or "")


def _import(coop_id: str, kind: str):
    cooperative = _admin_cooperative(coop_id)
    commit = _commit_requested()
    sheet = _uploaded_sheet()
    if not commit:
        report = imports.check(db.session, cooperative, sheet, kind)
        db.session.rollback()
        return jsonify(report.json())
    admin_user_id = principal().user_id
    report = transaction(
        db.session,
        lambda session: imports.commit(
            session, cooperative, sheet, kind, invited_by_user_id=admin_user_id
        ),
    )
    return jsonify(report.json())


IMPORT_QUERY = {"commit": "true to write every valid row in one transaction; else a dry run"}
IMPORT_PROBLEMS = {
    403: "not this cooperative's admin",
    413: "the upload is too large",
    422: "no file, or a file that cannot be read (no header, a missing column, a PIN column)",
}


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives/{coop_id}/members/import",
    summary="Import members from a CSV or XLSX sheet (columns phone/nomor_hp, name/nama, tier):"
    " a dry run, or with commit=true every valid row at once; a report per row",
    response=ImportReport,
    query=IMPORT_QUERY,
    request_media_type=MULTIPART,
    problems=IMPORT_PROBLEMS,
)
def import_members(coop_id):
    return _import(coop_id, "members")


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives/{coop_id}/merchants/import",
    summary="Import merchants with their owners from a CSV or XLSX sheet (columns name/nama,"
    " kind/jenis, category/kategori, owner_phone/nomor_hp_pemilik, owner_name/nama_pemilik)",
    response=ImportReport,
    query=IMPORT_QUERY,
    request_media_type=MULTIPART,
    problems=IMPORT_PROBLEMS,
)
def import_merchants(coop_id):
    return _import(coop_id, "merchants")


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives/{coop_id}/pin-slips",
    summary="Issue PINs to the next imported logins waiting for one and answer with their slips,"
    " once: the clear PINs are in this answer only (print it, then discard it)",
    response=PinSlipSheet,
    query={"limit": f"slips on this sheet, 1 to {imports.SLIPS_PER_SHEET_MAX}"},
    problems={403: "not this cooperative's admin"},
)
def issue_pin_slips(coop_id):
    cooperative = _admin_cooperative(coop_id)
    limit = whole_number_arg(
        "limit", 1, imports.SLIPS_PER_SHEET_MAX, imports.SLIPS_PER_SHEET_DEFAULT
    )
    slips, remaining = imports.issue_pin_slips(
        db.session, cooperative, limit=limit, scrypt_n=current_app.config["PIN_SCRYPT_N"]
    )
    return jsonify(slips=[slip.json() for slip in slips], remaining=remaining)
