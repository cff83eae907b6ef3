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
from gateway.models import AuditEvent, ShuRun

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
