"""Attacks on the files out: the sticker sheet and the member's mutasi, with requests released
together by one barrier, on SQLite and PostgreSQL.

- Sheets printed at once, while the merchants ask for their own stickers, issue one active
  sticker per merchant, and every sheet and every merchant shows that same sticker.
- A mutasi downloaded while money moves into and out of the wallet adds up in every file (each
  balance is the one before it plus what came in less what went out, and the closing line is the
  last balance), and once the money stops, the file closes on the ledger's balance.
"""

from __future__ import annotations

import io
import re
import uuid
from xml.etree import ElementTree

import openpyxl
import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst, statuses
from gateway import ledger, registry
from gateway.db import db
from gateway.models import QrCode, QrKind, QrStatus

SVG = "{http://www.w3.org/2000/svg}"


def sheet_merchants(svg: bytes) -> set[str]:
    root = ElementTree.fromstring(svg)
    return {g.get("data-merchant") for g in root.iter(f"{SVG}g") if g.get("class") == "sticker"}


def active_stickers(app) -> dict[str, list[str]]:
    """Every active static QR token, by merchant public id."""
    from gateway.models import Merchant

    with app.app_context():
        rows = db.session.execute(
            sa.select(Merchant.public_id, QrCode.token)
            .join(Merchant, Merchant.id == QrCode.merchant_id)
            .where(QrCode.kind == QrKind.STATIC, QrCode.status == QrStatus.ACTIVE)
        ).all()
        db.session.rollback()
    found: dict[str, list[str]] = {}
    for merchant_id, token in rows:
        found.setdefault(merchant_id, []).append(token)
    return found


def test_concurrent_sticker_sheets_issue_one_sticker_per_merchant(app, city):
    kts = city.make_cooperative("KTS", kind="transport")
    admin = city.make_admin(kts)
    drivers = [city.make_merchant(kts, kind="taxi") for _ in range(4)]
    admin_headers = city.headers(admin)
    driver_headers = [city.headers(driver) for driver in drivers]
    sheet = f"/api/v1/cooperatives/{kts}/stickers.svg"

    def call(index: int):
        client = app.test_client()
        if index < 6:
            return client.get(sheet, headers=admin_headers)
        driver = index % len(drivers)
        path = f"/api/v1/merchants/{drivers[driver].id}/static-qr"
        return client.get(path, headers=driver_headers[driver])

    responses = burst(10, call)
    assert_no_server_error(responses)
    assert statuses(responses) == {200: 10}
    active = active_stickers(app)
    assert {driver.id for driver in drivers} == set(active)
    assert all(len(tokens) == 1 for tokens in active.values()), active
    for response in responses[:6]:
        assert sheet_merchants(response.data) == set(active)
        # The sheet's QRs are those very stickers (their URLs are in no attribute; the test of
        # the painted page decodes them: here each sheet is the same page, byte for byte).
        assert response.data == responses[0].data
    for index, response in enumerate(responses[6:], start=6):
        assert [response.get_json()["token"]] == active[drivers[index % len(drivers)].id]


def _mutasi_adds_up(data: bytes) -> list[int]:
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Mutasi"]
    header = [cell.value for cell in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(2)]
    opening, *movements, closing = rows
    assert opening["Jenis / Kind"] == "Saldo awal / Opening balance"
    assert closing["Jenis / Kind"] == "Saldo akhir / Closing balance"
    balance = opening["Saldo / Balance"]
    for row in movements:
        balance += (row["Masuk / In"] or 0) - (row["Keluar / Out"] or 0)
        assert row["Saldo / Balance"] == balance, row
    assert closing["Saldo / Balance"] == balance
    assert closing["Masuk / In"] == sum(row["Masuk / In"] or 0 for row in movements)
    assert closing["Keluar / Out"] == sum(row["Keluar / Out"] or 0 for row in movements)
    assert all(re.fullmatch(r"trf_\w+", row["ID transfer"]) for row in movements)
    return [row["Saldo / Balance"] for row in rows]


def test_a_mutasi_read_while_money_moves_adds_up_and_closes_on_the_ledger(app, city):
    ksm = city.make_cooperative("KSM")
    teller = city.make_admin(ksm)
    siti = city.make_member(ksm)
    assert city.cash_in(teller, siti, 100_000).status_code == 201
    teller_headers, siti_headers = city.headers(teller), city.headers(siti)
    path = f"/api/v1/members/{siti.id}/statement.xlsx"

    def call(index: int):
        client = app.test_client()
        if index % 2:
            return client.get(path, headers=siti_headers)
        headers = {**teller_headers, "Idempotency-Key": uuid.uuid4().hex}
        if index % 4:
            body = {"member_id": siti.id, "amount": 1_000 + index, "pin": siti.pin}
            return client.post("/api/v1/counter/cash-out", json=body, headers=headers)
        body = {"member_id": siti.id, "amount": 5_000 + index}
        return client.post("/api/v1/counter/cash-in", json=body, headers=headers)

    responses = burst(12, call)
    assert_no_server_error(responses)
    assert {response.status_code for response in responses[0::2]} == {201}
    for response in responses[1::2]:
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        _mutasi_adds_up(response.data)

    # Once the money stops, the file closes on the ledger's balance.
    balances = _mutasi_adds_up(city.get(siti, path).data)
    with app.app_context():
        wallet = registry.get_member(db.session, siti.id).wallet_account_id
        stored = ledger.balance(db.session, wallet)
        assert stored == ledger.derived_balance(db.session, wallet)
        db.session.rollback()
    moved = sum(5_000 + i for i in range(0, 12, 4)) - sum(1_000 + i for i in (2, 6, 10))
    assert balances[-1] == stored == 100_000 + moved
    assert len(balances) == 2 + 1 + 6  # opening, the first cash-in, six moves, closing
    assert city.ledger_problems() == []
