"""The teller's shift at the counter: open it, see it, count and close it, a second admin's
sign-off, the shift report (JSON, CSV, XLSX), and the cooperative's sign-off threshold.

Who may: the counter's people (a cooperative's admins, gateway/api/counter.py). A teller opens,
sees and closes their own shift; any admin of the shift's cooperative reads its shifts and their
reports, and another admin than the teller gives the second sign-off.
"""

from flask import Blueprint, jsonify

from gateway import shifts
from gateway.api.counter import counter_of
from gateway.api.export import XLSX, report_format, split_suffix, table_response
from gateway.api.openapi import route
from gateway.api.schemas import (
    CurrentShift,
    ShiftApproveRequest,
    ShiftCloseRequest,
    ShiftList,
    ShiftListQuery,
    ShiftOpenRequest,
    ShiftPolicyRequest,
    ShiftPolicyResponse,
    ShiftReport,
    ShiftResponse,
)
from gateway.api.support import administered_cooperative, parse, parse_query, pin_policy, principal
from gateway.auth import Principal
from gateway.db import db, transaction
from gateway.errors import Forbidden
from gateway.models import TellerShift

blueprint = Blueprint("shifts", __name__)

SHIFTS = "/api/v1/counter/shifts"


def _staff(caller: Principal) -> int:
    """Return the caller's user id: a shift is a person's, never an API client's."""
    if caller.user_id is None or not caller.admin_cooperative_ids:
        raise Forbidden(
            "Only a cooperative's admin or teller works at its counter.",
            "Hanya admin atau teller koperasi yang dapat melayani di loket.",
        )
    return caller.user_id


def _shift_for(caller: Principal, shift_id: str) -> TellerShift:
    """Return a shift the caller may see: their own, or one at a cooperative they administer."""
    shift = shifts.get_shift(db.session, shift_id)
    if shift.teller_user_id != caller.user_id and not caller.administers(shift.cooperative_id):
        raise Forbidden()
    return shift


SHIFT_PROBLEMS = {
    403: "the caller works at no counter, or not at this shift's",
    404: "no such shift",
}


@route(
    blueprint,
    "POST",
    SHIFTS,
    summary="Open the caller's shift at the counter with the opening cash counted in the drawer",
    request=ShiftOpenRequest,
    response=ShiftResponse,
    status=201,
    problems={
        403: "the caller works at no counter, or not at the one named",
        409: "shift-already-open: the caller already has an open shift",
    },
)
def open_shift():
    caller = principal()
    teller_user_id = _staff(caller)
    body = parse(ShiftOpenRequest)
    counter_cooperative = counter_of(caller, body.counter_cooperative_id)

    def work(session):
        shift = shifts.open_shift(
            session,
            cooperative=counter_cooperative,
            teller_user_id=teller_user_id,
            opening_cash_amount=body.opening_cash_amount,
        )
        session.flush()
        return shifts.shift_json(session, shift)

    return jsonify(transaction(db.session, work)), 201


@route(
    blueprint,
    "GET",
    f"{SHIFTS}/current",
    summary="The caller's open shift (with the cash the drawer should hold now), or null",
    response=CurrentShift,
    problems={403: "the caller works at no counter"},
)
def current_shift():
    caller = principal()
    shift = shifts.current_shift(db.session, _staff(caller))
    body = None if shift is None else shifts.shift_json(db.session, shift)
    db.session.rollback()
    return jsonify(shift=body)


@route(
    blueprint,
    "GET",
    SHIFTS,
    summary="The counter's cooperative's latest shifts (at most 100), newest first; counted ones"
    " wait for a second admin",
    response=ShiftList,
    query={
        "status": "open, counted or closed",
        "counter_cooperative_id": "the counter's cooperative; needed only by an admin of several",
    },
    problems={403: "the caller works at no counter, or not at the one named", 422: "bad query"},
)
def list_shifts():
    caller = principal()
    _staff(caller)
    query = parse_query(ShiftListQuery)
    cooperative = counter_of(caller, query.counter_cooperative_id)
    found = shifts.list_shifts(db.session, cooperative, query.status)
    items = [shifts.shift_json(db.session, shift) for shift in found]
    db.session.rollback()
    return jsonify(items=items)


@route(
    blueprint,
    "GET",
    f"{SHIFTS}/{{shift_id}}",
    summary="The shift report: the shift and every cash movement in it; JSON, or CSV / XLSX by a"
    " .csv / .xlsx suffix, ?format= or Accept",
    response=ShiftReport,
    media_types=("application/json", "text/csv", XLSX),
    query={"format": "json, csv or xlsx"},
    problems=SHIFT_PROBLEMS,
)
def shift_report(shift_id):
    caller = principal()
    public_id, suffix = split_suffix(shift_id)
    fmt = report_format(suffix)
    shift = _shift_for(caller, public_id)
    report = shifts.shift_report(db.session, shift)
    db.session.rollback()
    if fmt == "json":
        return jsonify(report)
    return table_response(shifts.report_tables(report), fmt, f"shift-{public_id}")


@route(
    blueprint,
    "POST",
    f"{SHIFTS}/{{shift_id}}/close",
    summary="Count the drawer and sign the shift off with the teller's PIN: closed, or counted"
    " until a second admin signs off when the difference is past the cooperative's threshold",
    request=ShiftCloseRequest,
    response=ShiftResponse,
    problems={
        **SHIFT_PROBLEMS,
        409: "transition-refused: the shift is no longer open",
        423: "the teller's PIN is locked",
    },
)
def close_shift(shift_id):
    caller = principal()
    teller_user_id = _staff(caller)
    body = parse(ShiftCloseRequest)
    policy = pin_policy()

    def work(session):
        shift = _shift_for(caller, shift_id)
        closed = shifts.close_shift(
            session,
            shift=shift,
            teller_user_id=teller_user_id,
            counted_cash_amount=body.counted_cash_amount,
            pin=body.pin,
            pin_policy=policy,
        )
        return shifts.shift_json(session, closed)

    return jsonify(transaction(db.session, work))


@route(
    blueprint,
    "POST",
    f"{SHIFTS}/{{shift_id}}/approve",
    summary="Sign a counted shift's difference off as a second admin of its cooperative (not its"
    " teller), with one's own PIN, and close it",
    request=ShiftApproveRequest,
    response=ShiftResponse,
    problems={
        **SHIFT_PROBLEMS,
        409: "transition-refused: the shift is not waiting for a second sign-off",
        423: "the approver's PIN is locked",
    },
)
def approve_shift(shift_id):
    caller = principal()
    approver_user_id = _staff(caller)
    body = parse(ShiftApproveRequest)
    policy = pin_policy()

    def work(session):
        shift = shifts.get_shift(session, shift_id)
        if not caller.administers(shift.cooperative_id):
            raise Forbidden(
                "Only an admin of the shift's cooperative signs it off.",
                "Hanya admin koperasi shift ini yang dapat menyetujuinya.",
            )
        approved = shifts.approve_shift(
            session, shift=shift, approver_user_id=approver_user_id, pin=body.pin, pin_policy=policy
        )
        return shifts.shift_json(session, approved)

    return jsonify(transaction(db.session, work))


@route(
    blueprint,
    "GET",
    "/api/v1/cooperatives/{coop_id}/shift-policy",
    summary="The cash difference past which a second admin signs a teller's shift off",
    response=ShiftPolicyResponse,
    problems={403: "not an admin of this cooperative", 404: "no such cooperative"},
)
def get_shift_policy(coop_id):
    cooperative = administered_cooperative(coop_id)
    return jsonify(shift_difference_threshold=cooperative.shift_difference_threshold)


@route(
    blueprint,
    "PUT",
    "/api/v1/cooperatives/{coop_id}/shift-policy",
    summary="Set the cash difference past which a second admin signs a teller's shift off",
    request=ShiftPolicyRequest,
    response=ShiftPolicyResponse,
    problems={403: "not an admin of this cooperative", 404: "no such cooperative"},
)
def put_shift_policy(coop_id):
    body = parse(ShiftPolicyRequest)

    def work(session):
        cooperative = administered_cooperative(coop_id)
        shifts.set_difference_threshold(session, cooperative, body.shift_difference_threshold)
        return cooperative.shift_difference_threshold

    return jsonify(shift_difference_threshold=transaction(db.session, work))
