"""The `gateway` command: init-db, demo, ledger check and the key ring."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import base_config

from gateway import create_app, ledger
from gateway.db import db
from gateway.models import (
    Account,
    AccountKind,
    AuditEvent,
    Cooperative,
    Event,
    Member,
    Merchant,
    Payment,
    SettlementWindow,
    StaffRole,
    Transfer,
    User,
)

SEEDED_MODELS = (
    Cooperative,
    User,
    StaffRole,
    Member,
    Merchant,
    Account,
    Event,
    Transfer,
    Payment,
    SettlementWindow,
)


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in SEEDED_MODELS
        }


def run_demo(runner) -> dict:
    result = runner.invoke(args=["demo", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- init-db ---------------------------------------------------------------------------------


def test_init_db_is_idempotent(app, runner):
    before = counts(app)
    for _ in range(2):
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        assert "database at the newest schema" in result.output
        # The session's key ring already has an active key: none is generated.
        assert "generated" not in result.output
    assert counts(app) == before
    with app.app_context():
        network_fee_accounts = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Account)
            .where(Account.kind == AccountKind.FEES, Account.cooperative_id.is_(None))
        )
    assert network_fee_accounts == 1


def test_init_db_builds_an_empty_database_and_the_first_key_once(tmp_path):
    keys_dir = tmp_path / "keys"
    application = create_app(base_config(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", str(keys_dir)))
    runner = application.test_cli_runner()
    try:
        first = runner.invoke(args=["init-db"])
        assert first.exit_code == 0, first.output
        assert "generated the first signing key" in first.output
        assert "database at the newest schema" in first.output
        second = runner.invoke(args=["init-db"])
        assert second.exit_code == 0, second.output
        assert "generated" not in second.output
        assert len(json.loads((keys_dir / "ring.json").read_text())["keys"]) == 1
        check = runner.invoke(args=["ledger", "check"])
        assert check.exit_code == 0, check.output
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


# --- demo ------------------------------------------------------------------------------------


def test_demo_seeds_cooperatives_their_admins_and_members_with_money(app, runner):
    city = run_demo(runner)

    cooperative_ids = {cooperative["id"] for cooperative in city["cooperatives"]}
    assert len(cooperative_ids) >= 4
    roles = [admin["role"] for admin in city["admins"]]
    assert "network_admin" in roles
    assert "observer" in roles
    assert {
        admin["cooperative_id"] for admin in city["admins"] if admin["role"] == "coop_admin"
    } == cooperative_ids

    assert len(city["members"]) == 10
    assert {member["cooperative_id"] for member in city["members"]} <= cooperative_ids
    with app.app_context():
        for seeded in city["members"]:
            member = db.session.scalar(sa.select(Member).where(Member.public_id == seeded["id"]))
            assert ledger.balance(db.session, member.wallet_account_id) >= 500_000
        assert ledger.check(db.session) == []

    assert len(city["merchants"]) >= 4
    assert {merchant["kind"] for merchant in city["merchants"]} >= {"shop", "angkot", "taxi"}

    # Every login printed works.
    for person in [*city["admins"], city["members"][0], city["merchants"][0]]:
        response = app.test_client().post(
            "/api/v1/auth/login", json={"phone": person["phone"], "pin": person["pin"]}
        )
        assert response.status_code == 200, (person, response.get_json())


def test_demo_twice_adds_nothing(app, runner):
    first = run_demo(runner)
    seeded = counts(app)

    second = run_demo(runner)

    assert counts(app) == seeded
    assert second == first
    readable = runner.invoke(args=["demo"])
    assert readable.exit_code == 0, readable.output
    assert "Demo city seeded" in readable.output
    assert "Rp 750.000" in readable.output
    assert counts(app) == seeded


def test_demo_pay_makes_a_morning_of_payments_that_keep_the_ledger_clean(app, runner):
    run_demo(runner)
    seeded = counts(app)

    paid = runner.invoke(args=["demo", "--pay"])

    assert paid.exit_code == 0, paid.output
    receipts = [line for line in paid.output.splitlines() if line.startswith("paid ")]
    after = counts(app)
    assert receipts
    assert after["Payment"] == seeded["Payment"] + len(receipts)
    assert (after["Member"], after["Merchant"]) == (seeded["Member"], seeded["Merchant"])
    check = runner.invoke(args=["ledger", "check"])
    assert check.exit_code == 0, check.output


# --- ledger check ----------------------------------------------------------------------------


def test_ledger_check_exits_0_on_a_clean_ledger_and_1_naming_a_tampered_wallet(app, runner):
    city = run_demo(runner)
    clean = runner.invoke(args=["ledger", "check"])
    assert clean.exit_code == 0, clean.output
    assert "ledger ok" in clean.output

    with app.app_context():
        member = db.session.scalar(
            sa.select(Member).where(Member.public_id == city["members"][3]["id"])
        )
        wallet = db.session.get(Account, member.wallet_account_id)
        wallet_public_id, stored = wallet.public_id, wallet.balance
        # The CHECK constraint keeps a balance at or above zero: tamper upwards.
        db.session.execute(
            sa.text("UPDATE accounts SET balance = :balance WHERE id = :id"),
            {"balance": stored + 1_000, "id": wallet.id},
        )
        db.session.commit()

    tampered = runner.invoke(args=["ledger", "check"])
    assert tampered.exit_code == 1
    assert "ledger ok" not in tampered.output
    assert tampered.stderr.splitlines() == [
        f"FAIL account {wallet_public_id} (wallet) stores balance {stored + 1_000}"
        f" but its transfers add up to {stored}"
    ]


# --- keys ------------------------------------------------------------------------------------


@pytest.fixture
def keys_app(tmp_path, keys_dir, sqlite_template):
    """An app with a key ring of its own, so that the session's shared ring is left alone."""
    shared_before = {path.name: path.read_bytes() for path in Path(keys_dir).iterdir()}
    database = tmp_path / "keys-test.sqlite3"
    shutil.copy(sqlite_template, database)
    application = create_app(base_config(f"sqlite:///{database}", str(tmp_path / "keys")))
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    shared_after = {path.name: path.read_bytes() for path in Path(keys_dir).iterdir()}
    assert shared_after == shared_before, "the session's shared key ring changed"


@pytest.fixture
def keys_runner(keys_app, tmp_path):
    return keys_app.test_cli_runner(), tmp_path / "keys"


def listed(runner) -> list[list[str]]:
    result = runner.invoke(args=["keys", "list"])
    assert result.exit_code == 0, result.output
    return [line.split("\t") for line in result.output.splitlines()]


def test_keys_list_rotate_and_retire(keys_app, keys_runner):
    runner, directory = keys_runner
    ensured = runner.invoke(args=["keys", "ensure"])
    assert ensured.exit_code == 0, ensured.output
    assert "generated a signing key" in ensured.output
    again = runner.invoke(args=["keys", "ensure"])
    assert "the key ring has an active key" in again.output

    [[first_kid, status, created_at]] = listed(runner)
    assert status == "active"
    assert created_at.endswith("(signing)")

    rotated = runner.invoke(args=["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    new_kid = rotated.output.strip()
    assert new_kid != first_kid
    assert (directory / f"{new_kid}.pem").exists()
    rows = listed(runner)
    assert [row[0] for row in rows] == [first_kid, new_kid]
    assert [row[1] for row in rows] == ["active", "active"]
    assert [row[2].endswith("(signing)") for row in rows] == [False, True]

    retired = runner.invoke(args=["keys", "retire", first_kid])
    assert retired.exit_code == 0, retired.output
    assert retired.output.strip() == f"retired {first_kid}"
    assert not (directory / f"{first_kid}.pem").exists()
    # Its public key stays published, so QR codes it signed still verify.
    assert (directory / f"{first_kid}.pub.pem").exists()
    rows = listed(runner)
    assert [(row[0], row[1]) for row in rows] == [(first_kid, "retired"), (new_kid, "active")]
    assert rows[1][2].endswith("(signing)")

    with keys_app.app_context():
        audited = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.target).order_by(AuditEvent.id)
        ).all()
    assert audited == [("keys.rotate", new_kid), ("keys.retire", first_kid)]


def test_keys_retire_of_the_last_active_key_fails_with_a_message(keys_runner):
    runner, directory = keys_runner
    assert runner.invoke(args=["keys", "ensure"]).exit_code == 0
    [[kid, _, _]] = listed(runner)

    refused = runner.invoke(args=["keys", "retire", kid])
    assert refused.exit_code == 1
    assert "cannot retire the last active key: rotate first" in refused.output
    assert (directory / f"{kid}.pem").exists()
    [[still, status, created_at]] = listed(runner)
    assert (still, status) == (kid, "active")

    unknown = runner.invoke(args=["keys", "retire", "20240101-deadbeef"])
    assert unknown.exit_code == 1
    assert "no key 20240101-deadbeef in the ring" in unknown.output


def test_keys_list_without_a_ring_says_how_to_make_one(keys_runner):
    runner, _ = keys_runner
    result = runner.invoke(args=["keys", "list"])
    assert result.exit_code == 1
    assert "gateway keys ensure" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
