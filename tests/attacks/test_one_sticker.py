"""Attack: a merchant has at most one active sticker (static QR), held by the database.

Ten first requests for the sticker, or ten rotations, released together by one barrier on SQLite
and PostgreSQL: one active static QR is left, every caller of the first requests got that same
sticker, and nobody got a 5xx. A second active sticker written past the use case is refused by
the database's partial unique index.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst, statuses
from gateway.db import db, utcnow
from gateway.models import QrCode, QrKind, QrStatus

RACERS = 10


def _active_stickers(app, merchant) -> list[str]:
    from gateway import registry

    with app.app_context():
        merchant_row = registry.get_merchant(db.session, merchant.id)
        tokens = db.session.scalars(
            sa.select(QrCode.token).where(
                QrCode.merchant_id == merchant_row.id,
                QrCode.kind == QrKind.STATIC,
                QrCode.status == QrStatus.ACTIVE,
            )
        ).all()
        db.session.rollback()
        return list(tokens)


def test_concurrent_first_sticker_requests_issue_one_sticker(app, city):
    coop = city.make_cooperative("KPP", kind="market_traders")
    driver = city.make_merchant(coop, kind="angkot")
    headers = city.headers(driver)
    path = f"/api/v1/merchants/{driver.id}/static-qr"
    responses = burst(RACERS, lambda index: app.test_client().get(path, headers=headers))
    assert_no_server_error(responses)
    assert statuses(responses) == {200: RACERS}
    tokens = {response.get_json()["token"] for response in responses}
    active = _active_stickers(app, driver)
    assert len(active) == 1, f"{len(active)} active stickers"
    assert tokens == set(active), "the callers were given different stickers"


def test_concurrent_rotations_leave_one_active_sticker(app, city):
    coop = city.make_cooperative("KPP", kind="market_traders")
    driver = city.make_merchant(coop, kind="angkot")
    first = city.static_qr(driver)["token"]
    headers = city.headers(driver)
    path = f"/api/v1/merchants/{driver.id}/static-qr/rotate"
    responses = burst(RACERS, lambda index: app.test_client().post(path, headers=headers))
    assert_no_server_error(responses)
    assert set(statuses(responses)) <= {201, 409}, statuses(responses)
    active = _active_stickers(app, driver)
    assert len(active) == 1, f"{len(active)} active stickers"
    assert active[0] != first
    assert active[0] in {r.get_json()["token"] for r in responses if r.status_code == 201}
    assert city.static_qr(driver)["token"] == active[0]


def test_the_database_refuses_a_second_active_sticker(app, city):
    from gateway import registry

    coop = city.make_cooperative("KPP", kind="market_traders")
    driver = city.make_merchant(coop, kind="angkot")
    city.static_qr(driver)
    with app.app_context():
        merchant_row = registry.get_merchant(db.session, driver.id)
        db.session.add(
            QrCode(
                merchant_id=merchant_row.id,
                kind=QrKind.STATIC,
                status=QrStatus.ACTIVE,
                token="second",
                kid="test",
                issued_at=utcnow(),
            )
        )
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()
        # A dynamic QR, or a revoked sticker, is not held by the index.
        for kind, status in ((QrKind.DYNAMIC, QrStatus.ACTIVE), (QrKind.STATIC, QrStatus.REVOKED)):
            db.session.add(
                QrCode(
                    merchant_id=merchant_row.id,
                    kind=kind,
                    status=status,
                    amount=1_000 if kind == QrKind.DYNAMIC else None,
                    token=f"{kind}-{status}",
                    kid="test",
                    issued_at=utcnow(),
                )
            )
        db.session.commit()
    assert len(_active_stickers(app, driver)) == 1
