"""Attack: approve a year's SHU many times at once.

A double-click, two admins at two desks, or a script retrying must leave one approved run of the
year: one approval answers 200, every other one a 409 (locked, or the year already approved),
never a 5xx, and the audit trail holds one approval.
"""

from __future__ import annotations

import io

import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst, statuses
from gateway.db import db
from gateway.models import AuditEvent, Member, MemberSavings, ShuRun, ShuRunShare

APPROVERS = 12


def year_with_drafts(city, drafts: int):
    """KSM with two members' 2025 savings imported and `drafts` prepared runs of 2025."""
    ksm = city.make_cooperative("KSM")
    admin = city.make_admin(ksm)
    members = [city.make_member(ksm) for _ in range(2)]
    lines = ["id_anggota;simpanan_pokok;simpanan_wajib;simpanan_sukarela"]
    lines += [f"{m.id};100.000;{index * 50_000};0" for index, m in enumerate(members, 1)]
    imported = city.client.post(
        f"/api/v1/cooperatives/{ksm}/shu/savings/import?year=2025&commit=true",
        data={"file": (io.BytesIO("\r\n".join(lines).encode()), "simpanan.csv")},
        headers=city.headers(admin),
        content_type="multipart/form-data",
    )
    assert imported.status_code == 201, imported.get_json()
    run_ids = []
    for _ in range(drafts):
        run = city.post(admin, f"/api/v1/cooperatives/{ksm}/shu/runs", {"year": 2025, "pool": 1001})
        assert run.status_code == 201, run.get_json()
        run_ids.append(run.get_json()["id"])
    return ksm, admin, run_ids


def approvals(app) -> tuple[list[str], int]:
    with app.app_context():
        approved = db.session.scalars(
            sa.select(ShuRun.public_id).where(ShuRun.status == "approved")
        ).all()
        audited = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "shu.run.approved")
        )
    return list(approved), int(audited)


def approve_in_burst(app, city, ksm, admin, run_ids):
    headers = city.headers(admin)
    body = {"rat_date": "2026-03-14", "rat_reference": "01/RAT/2026"}

    def call(index: int):
        run_id = run_ids[index % len(run_ids)]
        return app.test_client().post(
            f"/api/v1/cooperatives/{ksm}/shu/runs/{run_id}/approve", json=body, headers=headers
        )

    return burst(APPROVERS, call)


def test_concurrent_approvals_of_one_run_approve_it_once(app, city):
    ksm, admin, (run_id,) = year_with_drafts(city, 1)
    responses = approve_in_burst(app, city, ksm, admin, [run_id])
    assert_no_server_error(responses)
    assert statuses(responses) == {200: 1, 409: APPROVERS - 1}, statuses(responses)
    for response in responses:
        if response.status_code == 409:
            assert response.get_json()["type"].endswith("/shu-run-locked")
    assert approvals(app) == ([run_id], 1)


def test_concurrent_approvals_of_two_runs_of_a_year_approve_one(app, city):
    ksm, admin, run_ids = year_with_drafts(city, 2)
    responses = approve_in_burst(app, city, ksm, admin, run_ids)
    assert_no_server_error(responses)
    assert statuses(responses) == {200: 1, 409: APPROVERS - 1}, statuses(responses)
    refusals = {
        response.get_json()["type"].rsplit("/", 1)[1]
        for response in responses
        if response.status_code == 409
    }
    assert refusals <= {"shu-run-locked", "shu-year-approved"}
    approved, audited = approvals(app)
    assert len(approved) == 1 and approved[0] in run_ids and audited == 1


def savings_upload(app, city, ksm, admin, content: bytes):
    return app.test_client().post(
        f"/api/v1/cooperatives/{ksm}/shu/savings/import?year=2025&commit=true",
        data={"file": (io.BytesIO(content), "simpanan.csv")},
        headers=city.headers(admin),
        content_type="multipart/form-data",
    )


def test_concurrent_savings_imports_leave_one_files_savings_whole(app, city):
    ksm = city.make_cooperative("KSM")
    admin = city.make_admin(ksm)
    members = [city.make_member(ksm) for _ in range(3)]
    header = "id_anggota;simpanan_pokok;simpanan_wajib;simpanan_sukarela"
    files = [
        "\r\n".join([header, *(f"{m.id};{pokok};0;0" for m in members)]).encode()
        for pokok in (100_000, 200_000)
    ]
    responses = burst(
        APPROVERS, lambda index: savings_upload(app, city, ksm, admin, files[index % 2])
    )
    assert_no_server_error(responses)
    assert set(statuses(responses)) <= {201, 409}, statuses(responses)
    assert statuses(responses)[201] >= 1
    with app.app_context():
        rows = db.session.execute(
            sa.select(MemberSavings.member_id, MemberSavings.principal_amount)
        ).all()
    # One file's savings, whole: a row per member, all of the same file.
    assert len(rows) == len(members)
    assert len({principal for _, principal in rows}) == 1


def test_an_import_racing_an_approval_never_changes_an_approved_runs_savings(app, city):
    ksm, admin, (run_id,) = year_with_drafts(city, 1)
    lines = ["id_anggota;simpanan_pokok;simpanan_wajib;simpanan_sukarela"]
    with app.app_context():
        member_ids = db.session.scalars(sa.select(Member.public_id)).all()
    changed = "\r\n".join([*lines, *(f"{m};999.000;0;0" for m in member_ids)]).encode()
    approve_body = {"rat_date": "2026-03-14", "rat_reference": "01/RAT/2026"}
    headers = city.headers(admin)

    def call(index: int):
        if index % 2:
            return savings_upload(app, city, ksm, admin, changed)
        return app.test_client().post(
            f"/api/v1/cooperatives/{ksm}/shu/runs/{run_id}/approve",
            json=approve_body,
            headers=headers,
        )

    responses = burst(APPROVERS, call)
    assert_no_server_error(responses)
    with app.app_context():
        status = db.session.scalar(sa.select(ShuRun.status).where(ShuRun.public_id == run_id))
        stored = sorted(db.session.scalars(sa.select(ShuRunShare.principal_savings_amount)).all())
        current = sorted(db.session.scalars(sa.select(MemberSavings.principal_amount)).all())
    if status == "approved":
        # Approved: the year's savings are the ones the run was computed on, locked.
        assert stored == current
    else:
        # An import came first: the draft went stale and was refused, never approved on old data.
        assert current == [999_000] * len(member_ids)
        assert all(
            response.get_json()["type"].endswith("/shu-run-stale")
            for index, response in enumerate(responses)
            if index % 2 == 0
        )
