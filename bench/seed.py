"""Create, migrate and seed the bench city fast: 10.000 members in 8 cooperatives, 1.000 merchants.

Cooperatives and the limit policy go through the use cases; people, wallets and merchants are
bulk SQL (INSERT ... SELECT over generate_series), every member's opening money is a cash-in event
(counter cash of the member's cooperative -> wallet) written in bulk with the wallet's stored
balance raised by the same amount, so `gateway ledger check` passes afterwards. Every merchant's
static sticker QR is issued by `gateway.qr.static_for`. Public ids are md5-derived from the row
number (same shape as the gateway's random ids) so that the pgbench script can compute them.

Run: python -m bench.seed   (prints what it made; writes bench/results/city.json)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psycopg

from bench import common


def recreate_database() -> None:
    with psycopg.connect(f"{common.PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {common.DB_NAME} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {common.DB_NAME}")


def migrate() -> None:
    common.KEYS_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(common.ROOT / ".venv" / "bin" / "gateway"), "init-db"],
        env=common.gateway_env(),
        check=True,
        capture_output=True,
    )


def _use_cases(app) -> list[int]:
    """Cooperatives (with their fee, counter cash and settlement accounts) and the bench limits."""
    from gateway import registry
    from gateway.db import db, transaction
    from gateway.models import LimitPolicy

    kinds = [
        "consumer",
        "market_traders",
        "transport",
        "transport",
        "consumer",
        "savings_and_loan",
        "market_traders",
        "other",
    ]

    def work(session):
        ids = []
        for number in range(1, common.COOPERATIVES + 1):
            cooperative = registry.create_cooperative(
                session,
                code=f"K{number:02d}",
                name=f"Koperasi Bench {number}",
                kind=kinds[(number - 1) % len(kinds)],
            )
            ids.append(cooperative.id)
        for tier in ("basic", "verified"):
            session.add(
                LimitPolicy(cooperative_id=None, tier=tier, limits=dict(common.BENCH_LIMITS))
            )
        return ids

    with app.app_context():
        return transaction(db.session, work)


BULK_SQL = [
    # Members' logins: one scrypt hash (computed once, production cost) shared by all.
    """
    INSERT INTO users (public_id, phone, name, pin_hash, failed_pin_attempts, created_at)
    SELECT 'usr_' || substr(md5('u' || g), 1, 16), '+6285' || lpad(g::text, 9, '0'),
           'Anggota ' || g, %(pin_hash)s, 0, now()
    FROM generate_series(1, %(members)s) g ORDER BY g
    """,
    """
    INSERT INTO accounts (public_id, kind, cooperative_id, balance, created_at)
    SELECT 'acc_' || substr(md5('w' || g), 1, 16), 'wallet', (%(coops)s::int[])[1 + g %% 8], 0, now()
    FROM generate_series(1, %(members)s) g ORDER BY g
    """,
    """
    INSERT INTO members (public_id, user_id, cooperative_id, tier, wallet_account_id, created_at)
    SELECT 'mem_' || substr(md5('m' || g), 1, 16), u.id, a.cooperative_id,
           CASE WHEN g %% 5 = 0 THEN 'verified' ELSE 'basic' END, a.id, now()
    FROM generate_series(1, %(members)s) g
    JOIN users u ON u.public_id = 'usr_' || substr(md5('u' || g), 1, 16)
    JOIN accounts a ON a.public_id = 'acc_' || substr(md5('w' || g), 1, 16)
    ORDER BY g
    """,
    # Merchants' owners, accounts and merchants: 60%% shops, 20%% angkot, 10%% taxi, 10%% other;
    # merchant 1 (the busiest of the Zipf market, and the hot-row case) is a small shop that pays fees.
    """
    INSERT INTO users (public_id, phone, name, pin_hash, failed_pin_attempts, created_at)
    SELECT 'usr_' || substr(md5('o' || g), 1, 16), '+6286' || lpad(g::text, 9, '0'),
           'Pemilik ' || g, %(pin_hash)s, 0, now()
    FROM generate_series(1, %(merchants)s) g ORDER BY g
    """,
    """
    INSERT INTO accounts (public_id, kind, cooperative_id, balance, created_at)
    SELECT 'acc_' || substr(md5('k' || g), 1, 16), 'merchant', (%(coops)s::int[])[1 + (g * 7) %% 8], 0, now()
    FROM generate_series(1, %(merchants)s) g ORDER BY g
    """,
    """
    INSERT INTO merchants (public_id, cooperative_id, owner_user_id, name, kind, category, account_id, created_at)
    SELECT 'mer_' || substr(md5('r' || g), 1, 16), a.cooperative_id, u.id,
           CASE WHEN g %% 10 < 6 THEN 'Toko ' WHEN g %% 10 < 8 THEN 'Angkot ' WHEN g %% 10 = 8 THEN 'Taksi '
                ELSE 'Jasa ' END || g,
           CASE WHEN g %% 10 < 6 THEN 'shop' WHEN g %% 10 < 8 THEN 'angkot' WHEN g %% 10 = 8 THEN 'taxi'
                ELSE 'other' END,
           CASE WHEN g %% 3 = 1 THEN 'small' WHEN g %% 7 = 0 THEN 'regular' ELSE 'micro' END,
           a.id, now()
    FROM generate_series(1, %(merchants)s) g
    JOIN users u ON u.public_id = 'usr_' || substr(md5('o' || g), 1, 16)
    JOIN accounts a ON a.public_id = 'acc_' || substr(md5('k' || g), 1, 16)
    ORDER BY g
    """,
    # Opening money: one cash-in event per member at its own cooperative's counter.
    """
    INSERT INTO events (public_id, kind, cooperative_id, actor_user_id, created_at)
    SELECT 'evt_' || substr(md5('ci' || m.id), 1, 16), 'cash_in', m.cooperative_id, NULL, now()
    FROM members m ORDER BY m.id
    """,
    """
    INSERT INTO transfers (public_id, event_id, debit_account_id, credit_account_id, amount, code,
                           created_at, window_id)
    SELECT 'trf_' || substr(md5('ci' || m.id), 1, 16), e.id, cash.id, m.wallet_account_id,
           %(opening)s, 'cash_in', e.created_at,
           (SELECT id FROM settlement_windows WHERE status = 'open')
    FROM members m
    JOIN events e ON e.public_id = 'evt_' || substr(md5('ci' || m.id), 1, 16)
    JOIN accounts cash ON cash.kind = 'counter_cash' AND cash.cooperative_id = m.cooperative_id
    ORDER BY m.id
    """,
    """
    UPDATE accounts SET balance = balance + %(opening)s
    WHERE id IN (SELECT wallet_account_id FROM members)
    """,
]


def _has_window_column(connection) -> bool:
    return bool(
        connection.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'transfers' AND column_name = 'window_id'"
        ).fetchone()
    )


def bulk(coop_ids: list[int]) -> None:
    from gateway.auth import hash_pin

    params = {
        "pin_hash": hash_pin(common.PIN, 2**14),
        "members": common.MEMBERS,
        "merchants": common.MERCHANTS,
        "coops": coop_ids,
        "opening": common.OPENING_BALANCE,
    }
    with psycopg.connect(common.PSYCOPG_DSN) as connection:
        statements = list(BULK_SQL)
        if not _has_window_column(connection):  # before settlement windows existed
            statements[-2] = (
                statements[-2]
                .replace(", window_id", "")
                .replace(
                    ",\n           (SELECT id FROM settlement_windows WHERE status = 'open')", ""
                )
            )
        for statement in statements:
            connection.execute(statement, params)
        connection.execute("ANALYZE")


def offsets() -> dict:
    """Ids are contiguous per table, so the pgbench script can derive them from a row number."""
    with psycopg.connect(common.PSYCOPG_DSN) as connection:

        def constant(sql: str) -> int:
            rows = connection.execute(sql).fetchall()
            if len(rows) != 1:
                raise SystemExit(f"ids are not contiguous: {sql} -> {rows[:5]}")
            return rows[0][0]

        return {
            "member_id": constant(
                "SELECT DISTINCT id - rn FROM (SELECT id, row_number() OVER (ORDER BY id) rn FROM members) t"
            ),
            "member_user_id": constant("SELECT DISTINCT user_id - id FROM members"),
            "wallet_account_id": constant("SELECT DISTINCT wallet_account_id - id FROM members"),
            "merchant_id": constant(
                "SELECT DISTINCT id - rn FROM (SELECT id, row_number() OVER (ORDER BY id) rn FROM merchants) t"
            ),
            "merchant_account_id": constant("SELECT DISTINCT account_id - id FROM merchants"),
            "merchant_user_id": constant("SELECT DISTINCT owner_user_id - id FROM merchants"),
            "qr_id": constant(
                "SELECT DISTINCT q.id - m.id FROM qr_codes q JOIN merchants m ON m.id = q.merchant_id"
            ),
        }


def issue_stickers(app) -> list[dict]:
    """Every merchant's static QR through gateway.qr.static_for (QR ids md5-derived, see above)."""
    from sqlalchemy import select

    from gateway import qr
    from gateway.api.qr import qr_settings
    from gateway.db import db, transaction
    from gateway.models import Merchant

    real_new_public_id = qr.new_public_id
    with app.test_request_context():
        settings = qr_settings()
        ring = app.extensions["keyring"]

        def work(session):
            out = []
            merchants = session.scalars(select(Merchant).order_by(Merchant.id)).all()
            for number, merchant in enumerate(merchants, start=1):
                qr.new_public_id = lambda prefix, n=number: common.stable_id(prefix, "q", n)
                code = qr.static_for(session, ring, settings, merchant)
                out.append(
                    {
                        "n": number,
                        "id": merchant.public_id,
                        "token": code.token,
                        "category": merchant.category,
                        "kind": merchant.kind,
                    }
                )
            return out

        try:
            return transaction(db.session, work)
        finally:
            qr.new_public_id = real_new_public_id


def ledger_check() -> None:
    result = subprocess.run(
        [str(common.ROOT / ".venv" / "bin" / "gateway"), "ledger", "check"],
        env=common.gateway_env(),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"ledger check failed after seeding:\n{result.stderr}")


def main() -> dict:
    started = time.perf_counter()
    recreate_database()
    migrate()
    app = common.make_app()
    coop_ids = _use_cases(app)
    bulk(coop_ids)
    merchants = issue_stickers(app)
    ledger_check()
    with app.app_context():
        from gateway.db import db

        db.engine.dispose()
    city = {
        "members": common.MEMBERS,
        "merchants": merchants,
        "cooperatives": coop_ids,
        "offsets": offsets(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    (common.RESULTS / "city.json").write_text(json.dumps(city))
    print(
        f"seeded {common.MEMBERS} members in {common.COOPERATIVES} cooperatives and "
        f"{len(merchants)} merchants in {city['seconds']} s (ledger check ok)",
        file=sys.stderr,
    )
    return city


if __name__ == "__main__":
    main()
