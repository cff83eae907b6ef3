"""Members and merchants imported in bulk (gateway/imports.py): CSV and XLSX made here with
openpyxl, bad rows, dry runs that write nothing, commits, re-imports that change nothing, PIN
slips and the first login's PIN change, racing commits and racing slip sheets."""

from __future__ import annotations

import io
import os
import stat

import openpyxl
import pytest
import sqlalchemy as sa
from attacks.burst import assert_no_server_error, burst, statuses
from attacks.pins import Evaluations

from gateway.db import db
from gateway.models import Account, Invitation, Member, Merchant, User


def xlsx(rows) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, delimiter=",") -> bytes:
    return "\n".join(delimiter.join(str(cell) for cell in row) for row in rows).encode()


def phone(number: int) -> str:
    return f"0813{number:08d}"


def stored(number: int) -> str:
    return f"+62813{number:08d}"


def members_sheet(count: int, start: int = 1) -> list[list]:
    return [["nomor_hp", "nama"]] + [
        [phone(start + index), f"Anggota {start + index}"] for index in range(count)
    ]


def upload(city, admin, coop_id, data, filename, *, commit=False, kind="members"):
    path = f"/api/v1/cooperatives/{coop_id}/{kind}/import"
    if commit:
        path += "?commit=true"
    return city.client.post(
        path,
        data={"file": (io.BytesIO(data), filename)},
        headers=city.headers(admin),
        content_type="multipart/form-data",
    )


def slips(city, admin, coop_id, limit=None, client=None):
    path = f"/api/v1/cooperatives/{coop_id}/pin-slips"
    if limit is not None:
        path += f"?limit={limit}"
    return (client or city.client).post(path, headers=city.headers(admin))


def login(client, phone_number, pin):
    return client.post("/api/v1/auth/login", json={"phone": phone_number, "pin": pin})


def counts_of(city) -> tuple[int, int, int, int]:
    return city.count(User), city.count(Member), city.count(Account), city.count(Invitation)


@pytest.fixture
def koperasi(city):
    coop_id = city.make_cooperative("KSM")
    admin = city.make_admin(coop_id)
    city.token(admin)
    return coop_id, admin


def test_dry_run_of_a_csv_reports_every_row_and_writes_nothing(city, koperasi):
    coop_id, admin = koperasi
    # Bahasa Indonesia headers, in another order, separated by ';' as Excel in Indonesia saves.
    data = csv_bytes(
        [
            ["Nama", "Tingkat", "Nomor HP"],
            ["Siti", "verified", "0813 0000 0001"],
            ["Budi", "", "6281300000002"],
        ],
        delimiter=";",
    )
    before = counts_of(city)

    response = upload(city, admin, coop_id, data, "anggota.csv")

    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["committed"] is False
    assert report["rows"] == 2
    assert report["counts"] == {"new": 2, "existing": 0, "invited": 0, "bad": 0}
    assert report["problems"] == []
    assert counts_of(city) == before


def test_commit_of_an_xlsx_makes_members_with_wallets_and_no_usable_pin_yet(app, city, koperasi):
    coop_id, admin = koperasi
    # English headers; a phone typed into a number cell loses its leading 0.
    data = xlsx(
        [
            ["name", "phone", "tier"],
            ["Siti", 81300000001, "verified"],
            ["Budi", "0813-0000-0002", None],
        ]
    )

    response = upload(city, admin, coop_id, data, "members.xlsx", commit=True)

    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["committed"] is True
    assert report["counts"]["new"] == 2
    assert report["pins_to_issue"] == 2
    with app.app_context():
        rows = db.session.execute(
            sa.select(User.phone, User.name, User.pin_hash, User.pin_change_required, Member.tier)
            .join(Member, Member.user_id == User.id)
            .order_by(User.phone)
        ).all()
    assert [(r.phone, r.name, r.tier) for r in rows] == [
        (stored(1), "Siti", "verified"),
        (stored(2), "Budi", "basic"),
    ]
    assert all(r.pin_hash == "" and r.pin_change_required for r in rows)
    assert city.ledger_problems() == []
    # No PIN works before the slip is printed, and the answer is an unknown phone's.
    unknown = login(city.client, stored(999), "123456")
    for pin in ("000000", "123456"):
        refused = login(city.client, stored(1), pin)
        assert (refused.status_code, refused.get_json()) == (
            unknown.status_code,
            unknown.get_json(),
        )


def test_bad_rows_are_reported_by_row_and_column_in_both_languages_and_left_out(
    app, city, koperasi
):
    coop_id, admin = koperasi
    data = csv_bytes(
        [
            ["nomor_hp", "nama", "tier"],
            [phone(1), "Siti", ""],  # row 2: fine
            ["", "Tanpa Nomor", ""],  # row 3: no phone
            ["12345", "Salah Nomor", ""],  # row 4: not a mobile number
            [phone(5), "", ""],  # row 5: no name
            [phone(6), "Tingkat Aneh", "gold"],  # row 6: unknown tier
            [phone(7), "Dua Kali", ""],  # row 7: same phone as row 8
            [phone(7), "Dua Kali Lagi", ""],  # row 8
            [phone(9), "Toko \u202eirS uB", ""],  # row 9: a direction override
        ]
    )

    dry = upload(city, admin, coop_id, data, "anggota.csv").get_json()
    committed = upload(city, admin, coop_id, data, "anggota.csv", commit=True).get_json()

    for report in (dry, committed):
        assert report["counts"] == {"new": 1, "existing": 0, "invited": 0, "bad": 7}
        by_row = {(note["row"], note["column"]) for note in report["problems"]}
        assert by_row == {
            (3, "nomor_hp"),
            (4, "nomor_hp"),
            (5, "nama"),
            (6, "tier"),
            (7, "nomor_hp"),
            (8, "nomor_hp"),
            (9, "nama"),
        }
        assert all(note["reason_id"] and note["reason_en"] for note in report["problems"])
        duplicate = next(note for note in report["problems"] if note["row"] == 7)
        assert "8" in duplicate["reason_en"] and "8" in duplicate["reason_id"]
    with app.app_context():
        phones = db.session.scalars(
            sa.select(User.phone).join(Member, Member.user_id == User.id)
        ).all()
    assert phones == [stored(1)]


def test_reimporting_the_same_file_changes_nothing(city, koperasi):
    coop_id, admin = koperasi
    data = xlsx(members_sheet(5))
    first = upload(city, admin, coop_id, data, "anggota.xlsx", commit=True).get_json()
    after_first = counts_of(city)

    again = upload(city, admin, coop_id, data, "anggota.xlsx", commit=True).get_json()

    assert first["counts"]["new"] == 5
    assert again["counts"] == {"new": 0, "existing": 5, "invited": 0, "bad": 0}
    assert [note["row"] for note in again["notes"]] == [2, 3, 4, 5, 6]
    assert counts_of(city) == after_first
    assert again["pins_to_issue"] == 5


def test_a_phone_with_a_login_is_invited_without_any_pin_compared(app, city, koperasi, monkeypatch):
    coop_id, admin = koperasi
    rival = city.make_cooperative("KAM", kind="transport")
    driver = city.make_merchant(rival, kind="angkot")  # a login, nobody's member
    siti = city.make_member(rival)  # a member of another cooperative
    evaluations = Evaluations().install(monkeypatch)
    data = csv_bytes([["phone", "name"], [driver.phone, "Pak Sopir"], [siti.phone, "Siti"]])

    first = upload(city, admin, coop_id, data, "anggota.csv", commit=True).get_json()
    invitations = city.count(Invitation)
    again = upload(city, admin, coop_id, data, "anggota.csv", commit=True).get_json()

    for report in (first, again):
        assert report["counts"] == {"new": 0, "existing": 0, "invited": 1, "bad": 1}
        assert report["notes"][0]["row"] == 2
        refused = report["problems"][0]
        assert refused["row"] == 3
        # The sentence registering one member gives for this phone (registry.PhoneTaken).
        assert refused["reason_en"] == "This phone number is already registered as a member."
    assert invitations == 1
    assert city.count(Invitation) == 1  # the re-import reused the pending invitation
    assert evaluations.pins == []  # no PIN was hashed or compared
    assert city.count(Member) == 1  # only Siti, in her own cooperative
    with app.app_context():
        invitation = db.session.scalar(sa.select(Invitation))
        assert invitation.status == "pending" and invitation.role == "member"
    # No slip can ever be printed for them: their PIN is their own, and stays so.
    assert slips(city, admin, coop_id).get_json() == {"slips": [], "remaining": 0}
    assert login(city.client, driver.phone, driver.pin).status_code == 200


def test_a_file_with_a_pin_column_is_refused_whole(city, koperasi):
    coop_id, admin = koperasi
    before = counts_of(city)
    data = csv_bytes([["nomor_hp", "nama", "PIN"], [phone(1), "Siti", "123456"]])

    response = upload(city, admin, coop_id, data, "anggota.csv", commit=True)

    assert response.status_code == 422
    problem = response.get_json()
    assert problem["type"].endswith("/upload-refused")
    assert problem["column"] == "pin"
    assert counts_of(city) == before


def test_a_file_without_the_name_column_or_without_a_file_is_refused(city, koperasi):
    coop_id, admin = koperasi
    missing = upload(city, admin, coop_id, csv_bytes([["nomor_hp"], [phone(1)]]), "a.csv")
    assert missing.status_code == 422
    assert missing.get_json()["column"] == "name"
    no_file = city.client.post(
        f"/api/v1/cooperatives/{coop_id}/members/import", headers=city.headers(admin)
    )
    assert no_file.status_code == 422
    assert no_file.get_json()["type"].endswith("/validation-failed")
    bad_commit = city.client.post(
        f"/api/v1/cooperatives/{coop_id}/members/import?commit=yes",
        data={"file": (io.BytesIO(b"nomor_hp,nama\n"), "a.csv")},
        headers=city.headers(admin),
        content_type="multipart/form-data",
    )
    assert bad_commit.status_code == 422


def test_only_the_cooperatives_own_admin_may_import_or_print_slips(city, koperasi):
    coop_id, admin = koperasi
    rival = city.make_cooperative("KAM", kind="transport")
    rival_admin = city.make_admin(rival)
    member = city.make_member(coop_id)
    data = csv_bytes(members_sheet(1))
    before = counts_of(city)

    for person in (rival_admin, member):
        assert upload(city, person, coop_id, data, "a.csv", commit=True).status_code == 403
        assert slips(city, person, coop_id).status_code == 403
    anonymous = city.client.post(
        f"/api/v1/cooperatives/{coop_id}/members/import?commit=true",
        data={"file": (io.BytesIO(data), "a.csv")},
        content_type="multipart/form-data",
    )
    assert anonymous.status_code == 401
    assert counts_of(city) == before


def test_a_sheet_larger_than_a_json_body_is_read(city, koperasi):
    coop_id, admin = koperasi
    data = csv_bytes(members_sheet(3000))
    assert len(data) > 64 * 1024

    response = upload(city, admin, coop_id, data, "anggota.csv")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["counts"]["new"] == 3000


def test_a_slip_pin_logs_in_only_to_set_ones_own_pin(app, city, koperasi):
    coop_id, admin = koperasi
    upload(city, admin, coop_id, csv_bytes(members_sheet(3)), "a.csv", commit=True)

    sheet = slips(city, admin, coop_id, limit=2)

    assert sheet.status_code == 200, sheet.get_json()
    assert sheet.headers["Cache-Control"] == "no-store"
    body = sheet.get_json()
    assert body["remaining"] == 1
    assert [slip["phone"] for slip in body["slips"]] == [stored(1), stored(2)]
    slip = body["slips"][0]
    assert len(slip["pin"]) == 6 and slip["pin"].isdigit()
    with app.app_context():
        pin_hash = db.session.scalar(sa.select(User.pin_hash).where(User.phone == stored(1)))
    assert pin_hash.startswith("scrypt$") and slip["pin"] not in pin_hash

    # The slip's PIN is right, but it gets no token: only the PIN change.
    first = login(city.client, slip["phone"], slip["pin"])
    assert first.status_code == 403
    assert first.get_json()["type"].endswith("/pin-change-required")
    assert "access_token" not in first.get_json()
    # A wrong PIN is an ordinary wrong PIN, not a pin-change-required.
    assert login(city.client, slip["phone"], "999999").status_code == 401
    same = city.client.post(
        "/api/v1/auth/pin",
        json={"phone": slip["phone"], "pin": slip["pin"], "new_pin": slip["pin"]},
    )
    assert same.status_code == 422
    changed = city.client.post(
        "/api/v1/auth/pin",
        json={"phone": slip["phone"], "pin": slip["pin"], "new_pin": "246810"},
    )
    assert changed.status_code == 200, changed.get_json()
    token = changed.get_json()["access_token"]
    me = city.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["roles"] == ["member"]
    assert login(city.client, slip["phone"], "246810").status_code == 200
    assert login(city.client, slip["phone"], slip["pin"]).status_code == 401
    # The third login still has no PIN; the next sheet issues it, and none again after.
    last = slips(city, admin, coop_id).get_json()
    assert [s["phone"] for s in last["slips"]] == [stored(3)] and last["remaining"] == 0
    assert slips(city, admin, coop_id).get_json() == {"slips": [], "remaining": 0}


def test_a_wrong_current_pin_at_the_pin_change_is_counted_like_a_login(app, city, koperasi):
    coop_id, admin = koperasi
    upload(city, admin, coop_id, csv_bytes(members_sheet(1)), "a.csv", commit=True)
    slip = slips(city, admin, coop_id).get_json()["slips"][0]

    for _ in range(5):
        wrong = city.client.post(
            "/api/v1/auth/pin",
            json={"phone": slip["phone"], "pin": "999999", "new_pin": "246810"},
        )
    assert wrong.status_code == 423  # locked after five wrong PINs
    locked = city.client.post(
        "/api/v1/auth/pin", json={"phone": slip["phone"], "pin": slip["pin"], "new_pin": "246810"}
    )
    assert locked.status_code == 423


def test_merchants_with_their_owners_are_imported_once(app, city, koperasi):
    coop_id, admin = koperasi
    existing_owner = city.make_member(coop_id)  # has a login: invited to own the shop
    data = xlsx(
        [
            ["nama_usaha", "jenis", "kategori", "nomor_hp_pemilik", "nama_pemilik"],
            ["Warung Bu Sri", "warung", "mikro", phone(1), "Sri"],
            ["Angkot 07", "angkot", "", phone(2), "Joko"],
            ["Toko Sendiri", "shop", "small", existing_owner.phone, "Anggota"],
            ["Kapal", "kapal", "", phone(4), "Salah"],
        ]
    )

    first = upload(city, admin, coop_id, data, "merchant.xlsx", commit=True, kind="merchants")
    again = upload(city, admin, coop_id, data, "merchant.xlsx", commit=True, kind="merchants")

    assert first.status_code == 200, first.get_json()
    assert first.get_json()["counts"] == {"new": 2, "existing": 0, "invited": 1, "bad": 1}
    assert first.get_json()["problems"][0]["column"] == "jenis"
    assert again.get_json()["counts"] == {"new": 0, "existing": 2, "invited": 1, "bad": 1}
    assert city.count(Merchant) == 2
    assert city.count(Invitation) == 1
    with app.app_context():
        merchants = db.session.execute(
            sa.select(Merchant.name, Merchant.kind, Merchant.category, User.phone)
            .join(User, User.id == Merchant.owner_user_id)
            .order_by(Merchant.name)
        ).all()
    assert [tuple(m) for m in merchants] == [
        ("Angkot 07", "angkot", "micro", stored(2)),
        ("Warung Bu Sri", "shop", "micro", stored(1)),
    ]
    assert again.get_json()["pins_to_issue"] == 2  # the two new owners wait for their slips


def test_concurrent_commits_of_the_same_file_write_each_member_once(app, city, koperasi):
    coop_id, admin = koperasi
    data = csv_bytes(members_sheet(40))
    headers = city.headers(admin)

    def commit(_index):
        return app.test_client().post(
            f"/api/v1/cooperatives/{coop_id}/members/import?commit=true",
            data={"file": (io.BytesIO(data), "anggota.csv")},
            headers=headers,
            content_type="multipart/form-data",
        )

    responses = burst(4, commit)

    assert_no_server_error(responses)
    assert statuses(responses) == {200: 4}, [r.get_json() for r in responses]
    news = sorted(response.get_json()["counts"]["new"] for response in responses)
    assert news == [0, 0, 0, 40]
    with app.app_context():
        phones = db.session.scalars(
            sa.select(User.phone).join(Member, Member.user_id == User.id)
        ).all()
    assert sorted(phones) == [stored(n) for n in range(1, 41)]
    assert city.count(Account) == 40 + 3 * 1 + 1  # wallets, KSM's system accounts, network fees
    assert city.ledger_problems() == []


def test_concurrent_slip_sheets_never_give_one_person_two_pins(app, city, koperasi):
    coop_id, admin = koperasi
    upload(city, admin, coop_id, csv_bytes(members_sheet(12)), "a.csv", commit=True)
    headers = city.headers(admin)

    def sheet(_index):
        return app.test_client().post(
            f"/api/v1/cooperatives/{coop_id}/pin-slips?limit=12", headers=headers
        )

    responses = burst(3, sheet)

    assert_no_server_error(responses)
    assert statuses(responses) == {200: 3}
    issued = [slip for response in responses for slip in response.get_json()["slips"]]
    assert sorted(slip["phone"] for slip in issued) == [stored(n) for n in range(1, 13)]
    for slip in issued:  # every printed PIN is the one stored
        assert login(city.client, slip["phone"], slip["pin"]).status_code == 403


def test_cli_dry_run_exits_1_on_a_bad_row_and_commit_writes_the_slips(
    app, city, koperasi, tmp_path
):
    coop_id, admin = koperasi
    runner = app.test_cli_runner()
    bad = tmp_path / "anggota-salah.csv"
    bad.write_bytes(csv_bytes([["nomor_hp", "nama"], [phone(1), "Siti"], ["123", "Salah"]]))
    good = tmp_path / "anggota.xlsx"
    good.write_bytes(xlsx(members_sheet(3)))
    before = counts_of(city)

    dry = runner.invoke(args=["import", "members", str(bad), "--cooperative", "KSM"])

    assert dry.exit_code == 1, dry.output
    assert "baris 3, kolom nomor_hp" in dry.output
    assert "1 new" in dry.output and "1 bad" in dry.output
    assert counts_of(city) == before
    assert (
        runner.invoke(args=["import", "members", str(good), "--cooperative", "KSM"]).exit_code == 0
    )
    assert counts_of(city) == before

    sheet = tmp_path / "slip.html"
    committed = runner.invoke(
        args=[
            "import",
            "members",
            str(good),
            "--cooperative",
            "KSM",
            "--commit",
            "--slips",
            str(sheet),
        ]
    )

    assert committed.exit_code == 0, committed.output
    assert "3 new" in committed.output and "3 PIN slips written" in committed.output
    assert stat.S_IMODE(os.stat(sheet).st_mode) == 0o600
    page = sheet.read_text()
    assert page.count("class='slip'") == 3 and stored(2) in page
    assert city.count(Member) == 3
    again = runner.invoke(args=["import", "members", str(good), "--cooperative", "KSM", "--commit"])
    assert again.exit_code == 0 and "3 existing" in again.output
    assert city.count(Member) == 3
