"""SHU: the cooperative's split and weights, the savings import, the simulation, runs and their
approval after the RAT (gateway/shu.py). Only the cooperative's own admins."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, jsonify, request
from pydantic import Field

from gateway import shu
from gateway.api.export import report_format, split_suffix, table_response
from gateway.api.openapi import route
from gateway.api.schemas import Name, Strict
from gateway.api.support import administered_cooperative, parse, principal, whole_number_arg
from gateway.db import db, transaction, utcnow
from gateway.errors import GatewayError, ValidationFailed
from gateway.limits import JAKARTA
from gateway.models import Cooperative
from gateway.money import AMOUNT_MAX
from gateway.uploads import UPLOAD_BYTES_MAX, UploadRefused

blueprint = Blueprint("shu", __name__, url_prefix="/api/v1")

REPORT_MEDIA = (
    "application/json",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
BasisPoints = Field(ge=0, le=shu.WEIGHT_MAX_BPS, description="basis points: 10000 is 100%")


class NotMultipart(GatewayError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported Media Type"
    message_id = "Kirim berkas sebagai multipart/form-data, di kolom file."
    message_en = "Send the file as multipart/form-data, in the field file."


class ShuPolicyRequest(Strict):
    """The cooperative's AD/ART: the pool's split (summing to 10000) and the business weights."""

    jasa_usaha_bps: int = BasisPoints
    jasa_modal_bps: int = BasisPoints
    wallet_payments_weight_bps: int = BasisPoints
    own_merchant_purchases_weight_bps: int = BasisPoints
    merchant_takings_weight_bps: int = BasisPoints


class ShuRunRequest(Strict):
    year: int = Field(ge=shu.YEAR_MIN, le=shu.YEAR_MAX, description="the book year")
    pool: int = Field(ge=0, le=AMOUNT_MAX, description="whole rupiah the RAT gives members")


class ShuApprovalRequest(Strict):
    rat_date: date = Field(description="the day of the RAT, YYYY-MM-DD")
    rat_reference: Name = Field(description="the RAT's decision number, e.g. 03/RAT/2027")


def _administered(coop_id: str) -> Cooperative:
    return administered_cooperative(
        coop_id,
        "Only this cooperative's own admins may work on its SHU.",
        "Hanya admin koperasi ini yang boleh mengolah SHU-nya.",
    )


def _year_and_pool() -> tuple[int, int]:
    year = whole_number_arg("year", shu.YEAR_MIN, shu.YEAR_MAX)
    pool = whole_number_arg("pool", 0, AMOUNT_MAX)
    if year is None or pool is None:
        raise ValidationFailed(
            "Give year and pool (whole rupiah).", "Isi year dan pool (rupiah bulat)."
        )
    return year, pool


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/shu",
    client_scope="reports:read",
    summary="Simulate the year's SHU under the cooperative's policy: each member's jasa usaha "
    "and jasa modal of a pool; writes nothing (its admin); JSON, CSV or XLSX",
    query={
        "year": "the book year, e.g. 2026",
        "pool": "whole rupiah the RAT gives members",
        "format": "json, csv or xlsx",
    },
    media_types=REPORT_MEDIA,
)
def simulate(coop_id):
    cooperative = _administered(coop_id)
    year, pool = _year_and_pool()
    fmt = report_format()
    basis = shu.simulate(db.session, cooperative, year, pool)
    if fmt != "json":
        return table_response(
            shu.basis_tables(basis), fmt, f"shu-simulasi-{cooperative.code}-{year}"
        )
    return jsonify(shu.basis_json(basis))


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/shu/policy",
    summary="The cooperative's SHU split and business weights (its admin)",
)
def get_policy(coop_id):
    cooperative = _administered(coop_id)
    return jsonify(shu.policy_of(db.session, cooperative).as_json())


@route(
    blueprint,
    "PUT",
    "/api/v1/cooperatives/{coop_id}/shu/policy",
    summary="Set the cooperative's SHU split and business weights, as its AD/ART says",
    request=ShuPolicyRequest,
)
def put_policy(coop_id):
    cooperative = _administered(coop_id)
    body = parse(ShuPolicyRequest)
    user_id = principal().user_id
    policy = shu.Policy(**body.model_dump())
    transaction(
        db.session,
        lambda session: shu.set_policy(session, cooperative, policy, user_id=user_id),
    )
    return jsonify(policy.as_json())


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives/{coop_id}/shu/savings/import",
    summary="Import members' savings (simpanan pokok, wajib, sukarela) for a year from CSV or "
    "XLSX (multipart field `file`): a dry run, or with commit=true the year's savings replaced",
    query={"year": "the book year", "commit": "true to write (default: a dry run)"},
    request_media_type="multipart/form-data",
    problems={415: "the file was not sent as multipart/form-data"},
)
def import_savings(coop_id):
    cooperative = _administered(coop_id)
    year = whole_number_arg("year", shu.YEAR_MIN, shu.YEAR_MAX)
    if year is None:
        raise ValidationFailed("Give the book year (year).", "Isi tahun buku (year).")
    commit = request.args.get("commit", "false")
    if commit not in ("true", "false"):
        raise ValidationFailed("commit must be true or false.", "commit harus true atau false.")
    if request.mimetype != "multipart/form-data":
        raise NotMultipart()
    request.max_content_length = UPLOAD_BYTES_MAX + 64 * 1024
    upload = request.files.get("file")
    if upload is None:
        raise UploadRefused("The form has no field file.", "Formulir tidak punya kolom file.")
    data = upload.read()
    user_id = principal().user_id
    report = transaction(
        db.session,
        lambda session: shu.import_savings(
            session,
            cooperative,
            year=year,
            data=data,
            filename=upload.filename or "",
            commit=commit == "true",
            user_id=user_id,
        ),
    )
    return jsonify(report), 201 if report["committed"] else 200


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/shu/savings",
    summary="The savings imported for a year, per member (its admin)",
    query={"year": "the book year"},
)
def list_savings(coop_id):
    cooperative = _administered(coop_id)
    year = whole_number_arg("year", shu.YEAR_MIN, shu.YEAR_MAX)
    if year is None:
        raise ValidationFailed("Give the book year (year).", "Isi tahun buku (year).")
    return jsonify(shu.savings_of(db.session, cooperative, year))


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives/{coop_id}/shu/runs",
    summary="Prepare a run: the year's SHU under the current policy, its figures stored (draft)",
    request=ShuRunRequest,
    status=201,
)
def prepare_run(coop_id):
    cooperative = _administered(coop_id)
    body = parse(ShuRunRequest)
    user_id = principal().user_id
    run = transaction(
        db.session,
        lambda session: shu.prepare_run(
            session, cooperative, year=body.year, pool=body.pool, user_id=user_id
        ),
    )
    return jsonify(shu.run_json(db.session, run, cooperative)), 201


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/shu/runs",
    summary="The cooperative's SHU runs, newest first (its admin)",
)
def list_runs(coop_id):
    cooperative = _administered(coop_id)
    return jsonify(items=shu.list_runs(db.session, cooperative))


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/shu/runs/{run_id}",
    summary="A run with its stored figures (its admin); JSON, CSV or XLSX (`.csv`, `.xlsx`)",
    query={"format": "json, csv or xlsx"},
    media_types=REPORT_MEDIA,
)
def get_run(coop_id, run_id):
    cooperative = _administered(coop_id)
    run_id, suffix = split_suffix(run_id)
    fmt = report_format(suffix)
    run = shu.get_run(db.session, cooperative, run_id)
    if fmt != "json":
        summary = shu.run_summary(run)
        basis = shu.run_basis(db.session, run, cooperative)
        return table_response(
            shu.basis_tables(basis, summary), fmt, f"shu-{cooperative.code}-{run.year}-{run.status}"
        )
    return jsonify(shu.run_json(db.session, run, cooperative))


@route(
    blueprint,
    "POST",
    "/api/v1/cooperatives/{coop_id}/shu/runs/{run_id}/approve",
    summary="Approve a run after the RAT (its date and decision number): once, then locked",
    request=ShuApprovalRequest,
)
def approve_run(coop_id, run_id):
    cooperative = _administered(coop_id)
    body = parse(ShuApprovalRequest)
    run = shu.approve_run(
        db.session,
        cooperative,
        run_id,
        rat_date=body.rat_date,
        rat_reference=body.rat_reference,
        user_id=principal().user_id,
        today=utcnow().astimezone(JAKARTA).date(),
    )
    return jsonify(shu.run_json(db.session, run, cooperative))
