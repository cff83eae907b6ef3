"""SHU as the AD/ART says, told in rupiah: jasa usaha and jasa modal of a small cooperative, the
savings import, the simulation that writes nothing, the approved run that is locked."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime

import openpyxl
import sqlalchemy as sa
import xlsxwriter
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import assert_problem

from gateway import registry
from gateway.db import db, transaction
from gateway.models import AuditEvent, MemberSavings, Payment, ShuRun, ShuRunShare
from gateway.money import AMOUNT_MAX, split
from gateway.shu import parse_rupiah

PAID_IN_2026 = datetime(2026, 6, 15, 3, 0, 0, tzinfo=UTC)
AFTER_THE_RAT = datetime(2027, 3, 21, 3, 0, 0, tzinfo=UTC)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
POLICY = {
    "jasa_usaha_bps": 6_000,
    "jasa_modal_bps": 4_000,
    "wallet_payments_weight_bps": 10_000,
    "own_merchant_purchases_weight_bps": 5_000,
    "merchant_takings_weight_bps": 2_000,
}
SAVINGS_HEADER = "nomor_hp;simpanan_pokok;simpanan_wajib;simpanan_sukarela"


def pay_ok(city, member, merchant, amount) -> dict:
    response = city.pay_sticker(member, merchant, amount)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def refund(city, merchant, payment_id, amount) -> None:
    response = city.post(merchant, f"/api/v1/payments/{payment_id}/refunds", {"amount": amount})
    assert response.status_code == 201, response.get_json()


def put(city, person, path, body):
    return city.client.put(path, json=body, headers=city.headers(person))


def upload(city, admin, coop, year, content: bytes, filename="simpanan.csv", commit=False):
    query = f"year={year}" + ("&commit=true" if commit else "")
    return city.client.post(
        f"/api/v1/cooperatives/{coop}/shu/savings/import?{query}",
        data={"file": (io.BytesIO(content), filename)},
        headers=city.headers(admin),
        content_type="multipart/form-data",
    )


def local_phone(person) -> str:
    """The phone as an office writes it: 0812…"""
    return "0" + person.phone.removeprefix("+62")


def member_owns_a_merchant(city, coop_id, member, name="Warung Budi"):
    """Open a merchant of the cooperative owned by the member's own login (a merchant-member)."""
    with city.app.app_context():

        def work(session):
            user = registry.get_member(session, member.id).user
            merchant = registry.open_merchant(
                session,
                cooperative=registry.get_cooperative(session, coop_id),
                owner=user,
                name=name,
                kind="shop",
                category="small",
            )
            return merchant.public_id

        merchant_id = transaction(db.session, work)
    return type(member)(id=merchant_id, phone=member.phone, pin=member.pin, user_id=member.user_id)


def small_cooperative(city):
    """KSM and its four members, a partner KPP and its member Bayu, and a year of business."""
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    ksm_admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    ani, budi, citra, dewi = (city.make_member(ksm) for _ in range(4))
    bayu = city.make_member(kpp)
    for member in (ani, dewi, bayu):
        assert city.cash_in(ksm_admin, member, 300_000).status_code == 201
    ksm_shop = city.make_merchant(ksm, kind="shop", category="small")
    kpp_shop = city.make_merchant(kpp, kind="shop", category="small")
    warung_budi = member_owns_a_merchant(city, ksm, budi)
    with freeze_time(PAID_IN_2026, tick=False):
        pay_ok(city, ani, ksm_shop, 30_000)
        pay_ok(city, ani, kpp_shop, 50_000)  # at a partner's merchant: still Ani's business
        bought = pay_ok(city, dewi, ksm_shop, 10_000)
        refund(city, ksm_shop, bought["id"], 4_000)  # Dewi's business is 6.000, net of it
        first = pay_ok(city, bayu, warung_budi, 20_000)  # Budi's takings, whoever pays
    return {
        "ksm": ksm,
        "kpp": kpp,
        "admin": ksm_admin,
        "kpp_admin": kpp_admin,
        "members": (ani, budi, citra, dewi),
        "bayu": bayu,
        "ksm_shop": ksm_shop,
        "ani_payment": first,
    }


def savings_csv(ani, budi, citra, dewi) -> bytes:
    lines = [
        SAVINGS_HEADER,
        f"{local_phone(ani)};100.000;240.000;0",
        f"{local_phone(budi)};100000;240000;500000",
        f"{local_phone(citra)};Rp 100.000;120.000;1.000.000",
        f"{local_phone(dewi)};100.000;0;500.000",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def simulate(city, admin, coop, year=2026, pool=1_000_001, fmt=""):
    return city.get(admin, f"/api/v1/cooperatives/{coop}/shu?year={year}&pool={pool}{fmt}")


def by_member(basis) -> dict:
    return {row["member_id"]: row for row in basis["members"]}


# --- the worked example --------------------------------------------------------------------


def test_a_small_cooperative_shares_its_shu_by_jasa_usaha_and_jasa_modal(city):
    """KSM's AD/ART: of the members' SHU, 60% jasa usaha and 40% jasa modal; a rupiah paid from a
    member's wallet counts once (10.000 bps), half again at KSM's own merchants (5.000), and a
    merchant-member's takings count a fifth (2.000). The RAT gives members Rp 1.000.001.

    Pool: 1.000.001 × 60% = 600.000,6 and × 40% = 400.000,4; the left-over rupiah goes to the
    larger remainder: jasa usaha 600.001, jasa modal 400.000.

    Jasa usaha (scores in rupiah × bps):
      Ani   paid 30.000 at KSM's shop and 50.000 at KPP's: 80.000 × 10.000 + 30.000 × 5.000
            = 950.000.000
      Budi  owns Warung Budi (a KSM merchant), where Bayu of KPP paid 20.000: 20.000 × 2.000
            = 40.000.000 (Bayu, not a KSM member, gets nothing from KSM)
      Citra did no business: 0
      Dewi  paid 10.000 at KSM's shop, 4.000 refunded: 6.000 × 10.000 + 6.000 × 5.000
            = 90.000.000
      total 1.080.000.000. 600.001 × 950/1080 = 527.778,66; × 40/1080 = 22.222,26;
      × 90/1080 = 50.000,08. Floors sum to 600.000: the one rupiah goes to Ani (,66).
      Ani 527.779, Budi 22.222, Citra 0, Dewi 50.000.

    Jasa modal (savings pokok + wajib + sukarela, imported):
      Ani 100.000 + 240.000 + 0 = 340.000; Budi 100.000 + 240.000 + 500.000 = 840.000;
      Citra 100.000 + 120.000 + 1.000.000 = 1.220.000; Dewi 100.000 + 0 + 500.000 = 600.000;
      total 3.000.000. 400.000 × 340/3000 = 45.333,33; × 840/3000 = 112.000;
      × 1220/3000 = 162.666,67; × 600/3000 = 80.000. Floors sum to 399.999: Citra (,67) gets
      the rupiah. Ani 45.333, Budi 112.000, Citra 162.667, Dewi 80.000.

    SHU per member: Ani 573.112, Budi 134.222, Citra 162.667, Dewi 130.000 = 1.000.001.
    """
    scene = small_cooperative(city)
    ksm, admin = scene["ksm"], scene["admin"]
    ani, budi, citra, dewi = scene["members"]
    assert put(city, admin, f"/api/v1/cooperatives/{ksm}/shu/policy", POLICY).status_code == 200
    imported = upload(city, admin, ksm, 2026, savings_csv(*scene["members"]), commit=True)
    assert imported.status_code == 201, imported.get_json()

    response = simulate(city, admin, ksm)
    assert response.status_code == 200, response.get_json()
    basis = response.get_json()
    assert (basis["jasa_usaha_amount"], basis["jasa_modal_amount"]) == (600_001, 400_000)
    rows = by_member(basis)
    assert set(rows) == {ani.id, budi.id, citra.id, dewi.id}  # Bayu is KPP's
    expected = {
        ani.id: (80_000, 30_000, 0, 950_000_000, 340_000, 527_779, 45_333, 573_112),
        budi.id: (0, 0, 20_000, 40_000_000, 840_000, 22_222, 112_000, 134_222),
        citra.id: (0, 0, 0, 0, 1_220_000, 0, 162_667, 162_667),
        dewi.id: (6_000, 6_000, 0, 90_000_000, 600_000, 50_000, 80_000, 130_000),
    }
    keys = (
        "wallet_payments",
        "own_merchant_purchases",
        "merchant_takings",
        "business_score",
        "savings",
        "jasa_usaha_share",
        "jasa_modal_share",
        "share",
    )
    assert {member: tuple(row[key] for key in keys) for member, row in rows.items()} == expected
    assert (rows[citra.id]["principal_savings"], rows[citra.id]["voluntary_savings"]) == (
        100_000,
        1_000_000,
    )
    assert basis["jasa_usaha_distributed"] == 600_001
    assert basis["jasa_modal_distributed"] == 400_000
    assert (basis["distributed"], basis["undistributed"]) == (1_000_001, 0)

    # KPP's SHU: Bayu's 20.000 at Warung Budi is his business, paid from his KPP wallet.
    kpp_basis = simulate(city, scene["kpp_admin"], scene["kpp"], pool=1_000).get_json()
    (bayu_row,) = kpp_basis["members"]
    assert (bayu_row["member_id"], bayu_row["wallet_payments"]) == (scene["bayu"].id, 20_000)
    assert bayu_row["own_merchant_purchases"] == 0
    # No savings imported for KPP: its jasa modal (400) is not shared, and says so.
    assert (bayu_row["jasa_usaha_share"], bayu_row["jasa_modal_share"]) == (600, 0)
    assert (kpp_basis["distributed"], kpp_basis["undistributed"]) == (600, 400)


def test_the_default_policy_is_60_40_with_every_component_counted_once(city):
    """Without a policy of its own: 60/40, each weight 10.000, so a rupiah paid at home counts
    twice (wallet and own merchant). Pool 100.000: jasa usaha 60.000, jasa modal 40.000.
    Scores: Ani 80.000 + 30.000 = 110.000, Dewi 6.000 + 6.000 = 12.000, Budi's takings 20.000;
    total 142.000. 60.000 × 110/142 = 46.478,87; × 12/142 = 5.070,42; × 20/142 = 8.450,70.
    Floors sum to 59.998: the two rupiah go to Ani (,87) and Budi (,70): 46.479, 5.070, 8.451.
    No savings imported: the 40.000 of jasa modal is not shared, and is shown undistributed."""
    scene = small_cooperative(city)
    ani, budi, citra, dewi = scene["members"]
    basis = simulate(city, scene["admin"], scene["ksm"], pool=100_000).get_json()
    assert basis["policy"] == {
        "jasa_usaha_bps": 6_000,
        "jasa_modal_bps": 4_000,
        "wallet_payments_weight_bps": 10_000,
        "own_merchant_purchases_weight_bps": 10_000,
        "merchant_takings_weight_bps": 10_000,
    }
    shares = {member: row["share"] for member, row in by_member(basis).items()}
    assert shares == {ani.id: 46_479, dewi.id: 5_070, budi.id: 8_451, citra.id: 0}
    assert (basis["distributed"], basis["undistributed"]) == (60_000, 40_000)


def test_the_simulation_writes_nothing_and_comes_as_csv_and_xlsx(city):
    scene = small_cooperative(city)
    ksm, admin = scene["ksm"], scene["admin"]
    ani = scene["members"][0]
    assert put(city, admin, f"/api/v1/cooperatives/{ksm}/shu/policy", POLICY).status_code == 200
    upload(city, admin, ksm, 2026, savings_csv(*scene["members"]), commit=True)
    audit_before = city.count(AuditEvent)
    for fmt in ("", "&format=csv", "&format=xlsx"):
        assert simulate(city, admin, ksm, fmt=fmt).status_code == 200
    assert (city.count(ShuRun), city.count(ShuRunShare)) == (0, 0)
    assert city.count(AuditEvent) == audit_before

    text = simulate(city, admin, ksm, fmt="&format=csv").get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["SHU anggota"]
    header = lines[1]
    ani_line = next(line for line in lines if line and line[0] == ani.id)
    assert ani_line[header.index("SHU anggota / Member's SHU")] == "573112"
    assert ani_line[header.index("Jasa usaha")] == "527779"

    response = city.client.get(
        f"/api/v1/cooperatives/{ksm}/shu?year=2026&pool=1000001",
        headers={**city.headers(admin), "Accept": XLSX},
    )
    assert response.mimetype == XLSX
    workbook = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = workbook["SHU anggota"]
    headers = [cell.value for cell in sheet[1]]
    ani_row = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == ani.id)
    share = ani_row[headers.index("SHU anggota / Member's SHU")]
    assert (share.value, share.data_type) == (573_112, "n")
    assert "Rp" in share.number_format
    assert sheet.freeze_panes == "A2"
    summary = {row[0].value: row[1].value for row in workbook["Ringkasan"].iter_rows(min_row=2)}
    assert summary["Jasa usaha"] == 600_001
    assert summary["Tidak dibagikan / Undistributed"] == 0


def test_the_policy_must_split_the_whole_pool_and_keep_its_weights_in_range(city):
    ksm = city.make_cooperative("KSM")
    admin = city.make_admin(ksm)
    path = f"/api/v1/cooperatives/{ksm}/shu/policy"
    for bad in (
        {**POLICY, "jasa_modal_bps": 3_999},  # 99,99%
        {**POLICY, "jasa_usaha_bps": 10_001, "jasa_modal_bps": -1},
        {**POLICY, "merchant_takings_weight_bps": 100_001},
        {**POLICY, "wallet_payments_weight_bps": 1.5},
        {**POLICY, "wallet_payments_weight_bps": True},
        {**POLICY, "wallet_payments_weight_bps": "10000"},
        {key: value for key, value in POLICY.items() if key != "jasa_modal_bps"},
        {**POLICY, "extra": 1},
    ):
        problem = assert_problem(put(city, admin, path, bad), 422, "validation-failed")
        assert problem["detail"]
    assert city.get(admin, path).get_json()["jasa_usaha_bps"] == 6_000  # unchanged default
    whole = put(city, admin, path, {**POLICY, "jasa_usaha_bps": 10_000, "jasa_modal_bps": 0})
    assert whole.status_code == 200, whole.get_json()
    stored = city.get(admin, path).get_json()
    assert (stored["jasa_usaha_bps"], stored["jasa_modal_bps"]) == (10_000, 0)
    with city.app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert "shu.policy.set" in actions


# --- the savings import --------------------------------------------------------------------


def test_a_savings_import_reports_each_bad_row_in_both_languages_and_writes_nothing(city):
    scene = small_cooperative(city)
    ksm, admin = scene["ksm"], scene["admin"]
    ani, budi, citra, dewi = scene["members"]
    content = "\r\n".join(
        [
            SAVINGS_HEADER,
            f"{local_phone(ani)};100.000;240.000;0",  # row 2: good
            "0899 0000 0000;100.000;0;0",  # row 3: nobody's phone
            f"{local_phone(scene['bayu'])};100.000;0;0",  # row 4: KPP's member
            f"{local_phone(budi)};100.000,50;0;0",  # row 5: not whole rupiah
            f"{local_phone(citra)};-5000;0;0",  # row 6: negative
            f"{local_phone(ani)};1;1;1",  # row 7: Ani again
            ";100.000;0;0",  # row 8: no member
            "12345;100.000;0;0",  # row 9: not a phone
            f"{local_phone(dewi)};100.000;0;",  # row 10: good, sukarela blank is 0
        ]
    ).encode()
    response = upload(city, admin, ksm, 2026, content)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["rows"], report["valid"], report["invalid"], report["committed"]) == (
        9,
        2,
        7,
        False,
    )
    assert [(error["row"], error["column"]) for error in report["errors"]] == [
        (3, "nomor_hp"),
        (4, "nomor_hp"),
        (5, "simpanan_pokok"),
        (6, "simpanan_pokok"),
        (7, "nomor_hp"),
        (8, "nomor_hp"),
        (9, "nomor_hp"),
    ]
    for error in report["errors"]:
        assert (
            error["reason_id"] and error["reason_en"] and error["reason_id"] != error["reason_en"]
        )
    assert "baris 2" in report["errors"][4]["reason_id"]
    assert report["totals"] == {
        "principal_savings": 200_000,
        "mandatory_savings": 240_000,
        "voluntary_savings": 0,
    }
    assert city.count(MemberSavings) == 0

    # With commit and a bad row: refused, nothing saved (the year is replaced whole).
    refused = upload(city, admin, ksm, 2026, content, commit=True)
    problem = assert_problem(refused, 422, "savings-import-refused")
    assert problem["report"]["invalid"] == 7
    assert city.count(MemberSavings) == 0

    # A file without the columns it needs is refused as a whole.
    for header in ("nama;simpanan_pokok;simpanan_wajib", "nomor_hp;simpanan_wajib"):
        missing = upload(city, admin, ksm, 2026, f"{header}\r\n1;2;3\r\n".encode())
        assert_problem(missing, 422, "upload-refused")
    assert_problem(upload(city, admin, ksm, 2026, b""), 422, "upload-refused")
    bad_year = upload(city, admin, ksm, 1999, savings_csv(*scene["members"]))
    assert_problem(bad_year, 422, "validation-failed")


def test_a_savings_workbook_imports_and_a_reimport_replaces_the_year(city):
    """Re-importing a year replaces its savings (the office's list is the whole year's), until
    the year's SHU is approved; other years stay."""
    scene = small_cooperative(city)
    ksm, admin = scene["ksm"], scene["admin"]
    ani, budi, citra, dewi = scene["members"]
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["ID Anggota", "Simpanan Pokok", "Simpanan Wajib", "Simpanan Sukarela"])
    sheet.write_row(1, 0, [ani.id, 100_000, 240_000, 0])
    sheet.write_row(2, 0, [budi.id, 100_000, 240_000, 500_000])
    sheet.write_row(3, 0, [citra.id, 100_000, 120_000, 1_000_000.0])  # a float cell, whole
    workbook.close()
    response = upload(city, admin, ksm, 2026, buffer.getvalue(), "simpanan.xlsx", commit=True)
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["valid"], response.get_json()["replaces"]) == (3, 0)
    upload(city, admin, ksm, 2025, savings_csv(*scene["members"]), commit=True)

    again = upload(city, admin, ksm, 2026, savings_csv(*scene["members"]), commit=True)
    assert again.status_code == 201
    assert (again.get_json()["valid"], again.get_json()["replaces"]) == (4, 3)
    listed = city.get(admin, f"/api/v1/cooperatives/{ksm}/shu/savings?year=2026").get_json()
    assert listed["members"] == 4 and listed["total"] == 3_000_000 and not listed["locked"]
    assert city.count(MemberSavings) == 8  # 2025's four are still there
    assert {item["member_id"] for item in listed["items"]} == {ani.id, budi.id, citra.id, dewi.id}


# --- runs: prepared, approved once, locked ------------------------------------------------


def prepared_run(city, scene, pool=1_000_001) -> dict:
    ksm, admin = scene["ksm"], scene["admin"]
    assert put(city, admin, f"/api/v1/cooperatives/{ksm}/shu/policy", POLICY).status_code == 200
    upload(city, admin, ksm, 2026, savings_csv(*scene["members"]), commit=True)
    response = city.post(
        admin, f"/api/v1/cooperatives/{ksm}/shu/runs", {"year": 2026, "pool": pool}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def approve(city, admin, ksm, run_id, rat_date="2027-03-20", reference="03/RAT/2027"):
    return city.post(
        admin,
        f"/api/v1/cooperatives/{ksm}/shu/runs/{run_id}/approve",
        {"rat_date": rat_date, "rat_reference": reference},
    )


def test_an_approved_run_is_locked_and_a_later_refund_does_not_change_it(city):
    scene = small_cooperative(city)
    ksm, admin = scene["ksm"], scene["admin"]
    ani = scene["members"][0]
    run = prepared_run(city, scene)
    assert run["status"] == "draft" and run["distributed"] == 1_000_001
    assert by_member(run)[ani.id]["share"] == 573_112

    city._tokens.clear()  # the tokens of June 2026 have expired by March 2027
    with freeze_time(AFTER_THE_RAT, tick=False):
        # The RAT's date must be after the book year and not in the future.
        for too_early in ("2026-12-31", "2027-03-22"):
            assert_problem(
                approve(city, admin, ksm, run["id"], too_early), 422, "validation-failed"
            )
        assert_problem(
            approve(city, admin, ksm, run["id"], reference=" "), 422, "validation-failed"
        )
        approved = approve(city, admin, ksm, run["id"])
        assert approved.status_code == 200, approved.get_json()
        body = approved.get_json()
        assert (body["status"], body["rat_date"], body["rat_reference"]) == (
            "approved",
            "2027-03-20",
            "03/RAT/2027",
        )
        # Approved twice: refused, as is another run of the year or a new savings import.
        assert_problem(approve(city, admin, ksm, run["id"]), 409, "shu-run-locked")
        assert_problem(
            city.post(admin, f"/api/v1/cooperatives/{ksm}/shu/runs", {"year": 2026, "pool": 5}),
            409,
            "shu-year-approved",
        )
        reimport = upload(city, admin, ksm, 2026, savings_csv(*scene["members"]), commit=True)
        assert_problem(reimport, 409, "shu-year-approved")

        # A refund in 2027 of Ani's 2026 payment changes the simulation, not the approved run.
        refund(city, scene["ksm_shop"], pay_ok_id(city, scene), 10_000)
        simulated = by_member(simulate(city, admin, ksm).get_json())[ani.id]
        assert simulated["wallet_payments"] == 70_000
        stored = city.get(admin, f"/api/v1/cooperatives/{ksm}/shu/runs/{run['id']}").get_json()
        assert by_member(stored)[ani.id]["wallet_payments"] == 80_000
        assert by_member(stored)[ani.id]["share"] == 573_112
        assert stored["status"] == "approved"

        listed = city.get(admin, f"/api/v1/cooperatives/{ksm}/shu/runs").get_json()["items"]
        assert [(item["id"], item["status"]) for item in listed] == [(run["id"], "approved")]
        xlsx = city.get(admin, f"/api/v1/cooperatives/{ksm}/shu/runs/{run['id']}.xlsx")
        assert xlsx.mimetype == XLSX
        summary = {
            row[0].value: row[3].value
            for row in openpyxl.load_workbook(io.BytesIO(xlsx.data))["Ringkasan"].iter_rows()
        }
        assert summary["Keputusan RAT / RAT decision"] == "03/RAT/2027"
    with city.app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action.like("shu.%"))
        ).all()
        # The database refuses to change a stored share.
        share_id = db.session.scalar(sa.select(ShuRunShare.id).limit(1))
        try:
            db.session.execute(
                sa.update(ShuRunShare).where(ShuRunShare.id == share_id).values(jasa_modal_share=1)
            )
            db.session.commit()
            changed = True
        except sa.exc.DatabaseError:
            db.session.rollback()
            changed = False
    assert not changed
    assert events.count("shu.run.approved") == 1
    assert "shu.run.prepared" in events and "shu.savings.imported" in events


def pay_ok_id(city, scene) -> str:
    """The id of Ani's 30.000 at KSM's shop."""
    with city.app.app_context():
        member = registry.get_member(db.session, scene["members"][0].id)
        return db.session.scalar(
            sa.select(Payment.public_id).where(
                Payment.payer_member_id == member.id, Payment.amount == 30_000
            )
        )


def test_a_draft_whose_figures_changed_is_not_approved(city):
    scene = small_cooperative(city)
    ksm, admin = scene["ksm"], scene["admin"]
    run = prepared_run(city, scene)
    city._tokens.clear()
    with freeze_time(AFTER_THE_RAT, tick=False):
        refund(city, scene["ksm_shop"], pay_ok_id(city, scene), 1_000)
        assert_problem(approve(city, admin, ksm, run["id"]), 409, "shu-run-stale")
        fresh = city.post(admin, f"/api/v1/cooperatives/{ksm}/shu/runs", {"year": 2026, "pool": 7})
        assert approve(city, admin, ksm, fresh.get_json()["id"]).status_code == 200
        # The stale draft can no longer be approved: the year has its approved run.
        assert_problem(approve(city, admin, ksm, run["id"]), 409, "shu-year-approved")
    with city.app.app_context():
        statuses = db.session.scalars(sa.select(ShuRun.status).order_by(ShuRun.id)).all()
    assert statuses == ["draft", "approved"]


def test_only_the_cooperatives_own_admins_work_on_its_shu(city):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP")
    admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    member = city.make_member(ksm)
    observer, network = city.make_staff("observer"), city.make_staff("network_admin")
    run = city.post(admin, f"/api/v1/cooperatives/{ksm}/shu/runs", {"year": 2025, "pool": 10})
    assert run.status_code == 201, run.get_json()
    run_id = run.get_json()["id"]
    base = f"/api/v1/cooperatives/{ksm}/shu"
    for stranger in (kpp_admin, member, observer, network):
        for response in (
            city.get(stranger, f"{base}?year=2025&pool=1000"),
            city.get(stranger, f"{base}/policy"),
            put(city, stranger, f"{base}/policy", POLICY),
            upload(city, stranger, ksm, 2025, savings_csv(member, member, member, member)),
            city.get(stranger, f"{base}/savings?year=2025"),
            city.post(stranger, f"{base}/runs", {"year": 2025, "pool": 10}),
            city.get(stranger, f"{base}/runs"),
            city.get(stranger, f"{base}/runs/{run_id}"),
            approve(city, stranger, ksm, run_id, "2026-03-01"),
        ):
            assert_problem(response, 403, "forbidden")
    # Another cooperative's run is not found through one's own cooperative.
    assert_problem(
        city.get(kpp_admin, f"/api/v1/cooperatives/{kpp}/shu/runs/{run_id}"), 404, "not-found"
    )
    assert city.count(ShuRun) == 1


def test_the_simulation_checks_year_and_pool(city):
    ksm = city.make_cooperative("KSM")
    admin = city.make_admin(ksm)
    for query in (
        "pool=1000",
        "year=26&pool=1000",
        "year=1999&pool=1000",
        "year=2026.0&pool=1000",
        "year=%C2%B2%C2%B2%C2%B2%C2%B2&pool=1000",  # superscript digits
        "year=2026",
        "year=2026&pool=-1",
        "year=2026&pool=1.5",
        "year=2026&pool=abc",
        f"year=2026&pool={AMOUNT_MAX + 1}",
        "year=2026&pool=%D9%A3",  # an Arabic-Indic three
        "year=2026&pool=1&format=pdf",
    ):
        assert_problem(
            city.get(admin, f"/api/v1/cooperatives/{ksm}/shu?{query}"), 422, "validation-failed"
        )
    for body in ({"year": 2026}, {"year": 2026, "pool": -1}, {"year": 1999, "pool": 1}):
        response = city.post(admin, f"/api/v1/cooperatives/{ksm}/shu/runs", body)
        assert_problem(response, 422, "validation-failed")


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    pool=st.integers(min_value=0, max_value=AMOUNT_MAX),
    usaha_bps=st.integers(min_value=0, max_value=10_000),
    scores=st.lists(
        st.one_of(st.just(0), st.integers(min_value=1, max_value=AMOUNT_MAX * 10)),
        min_size=1,
        max_size=20,
    ).filter(sum),
)
def test_each_part_of_the_pool_is_shared_exactly_and_more_business_never_gets_less(
    pool, usaha_bps, scores
):
    usaha, modal = split(pool, [usaha_bps, 10_000 - usaha_bps])
    assert usaha + modal == pool
    shares = split(usaha, scores)
    assert sum(shares) == usaha
    total = sum(scores)
    for share, score in zip(shares, scores, strict=True):
        assert abs(share * total - usaha * score) < total
        if score == 0:
            assert share == 0
    for i, j in itertools.combinations(range(len(scores)), 2):
        if scores[i] > scores[j]:
            assert shares[i] >= shares[j]


def test_rupiah_are_read_as_an_office_types_them():
    assert [parse_rupiah(text) for text in ("", "0", "1500000", "1.500.000", "Rp 250.000")] == [
        0,
        0,
        1_500_000,
        1_500_000,
        250_000,
    ]
    assert parse_rupiah("1,500,000") == 1_500_000
    for bad in ("-1", "1,5", "100.000,50", "1.5", "1.50.000", "abc", "1e6", "1.500,000"):
        assert parse_rupiah(bad) is None, bad


def test_a_savings_import_takes_a_file_past_the_json_body_limit_and_refuses_what_is_no_file(city):
    ksm = city.make_cooperative("KSM")
    admin = city.make_admin(ksm)
    member = city.make_member(ksm)
    # 4.000 rows (about 100 KB: a JSON body may be 64 KB) of phones nobody has, and one member.
    rows = [f"0899{index:08d};100.000;0;0" for index in range(4_000)]
    content = "\r\n".join([SAVINGS_HEADER, f"{local_phone(member)};50.000;0;0", *rows]).encode()
    assert len(content) > 96 * 1024
    report = upload(city, admin, ksm, 2026, content)
    assert report.status_code == 200, report.get_data(as_text=True)[:300]
    assert (report.get_json()["valid"], report.get_json()["invalid"]) == (1, 4_000)

    path = f"/api/v1/cooperatives/{ksm}/shu/savings/import?year=2026&commit=true"
    as_json = city.client.post(path, json={"file": "x"}, headers=city.headers(admin))
    assert "multipart" in assert_problem(as_json, 415, "unsupported-media-type")["detail"]
    no_field = city.client.post(
        path,
        data={"other": (io.BytesIO(b"x"), "a.csv")},
        headers=city.headers(admin),
        content_type="multipart/form-data",
    )
    assert_problem(no_field, 422, "upload-refused")
    for junk, name in (
        (b"PK\x03\x04garbage", "a.xlsx"),
        (b"\x00\x01\x02", "a.csv"),
        (b"x", "a.xls"),
    ):
        assert_problem(
            upload(city, admin, ksm, 2026, junk, name, commit=True), 422, "upload-refused"
        )
    bad_commit = city.client.post(
        f"/api/v1/cooperatives/{ksm}/shu/savings/import?year=2026&commit=yes",
        headers=city.headers(admin),
    )
    assert_problem(bad_commit, 422, "validation-failed")
    assert city.count(MemberSavings) == 0


def test_the_savings_import_runs_from_the_command_line_as_a_dry_run_then_a_commit(
    city, runner, tmp_path
):
    ksm = city.make_cooperative("KSM")
    ani, budi = city.make_member(ksm), city.make_member(ksm)
    bad = tmp_path / "simpanan-salah.csv"
    bad.write_text(f"{SAVINGS_HEADER}\r\n{local_phone(ani)};100.000;0;0\r\n0899;1;0;0\r\n")
    result = runner.invoke(args=["shu", "import-savings", str(bad), "--cooperative", "KSM",
                                 "--year", "2026", "--commit"])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "row 3, column nomor_hp" in result.output
    assert city.count(MemberSavings) == 0

    good = tmp_path / "simpanan.csv"
    good.write_text(
        f"{SAVINGS_HEADER}\r\n{local_phone(ani)};100.000;0;0\r\n{local_phone(budi)};5;6;7\r\n"
    )
    dry = runner.invoke(args=["shu", "import-savings", str(good), "--cooperative", "KSM",
                              "--year", "2026"])  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and city.count(MemberSavings) == 0
    done = runner.invoke(args=["shu", "import-savings", str(good), "--cooperative", "KSM",
                               "--year", "2026", "--commit"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "imported: 2 rows, 2 valid, 0 bad" in done.output
    assert city.count(MemberSavings) == 2
    with city.app.app_context():
        detail = db.session.scalar(
            sa.select(AuditEvent.detail).where(AuditEvent.action == "shu.savings.imported")
        )
    assert '"via": "cli"' in detail
    unknown = runner.invoke(args=["shu", "import-savings", str(good), "--cooperative", "XXX",
                                  "--year", "2026"])  # fmt: skip
    assert unknown.exit_code != 0 and "no cooperative" in unknown.output
