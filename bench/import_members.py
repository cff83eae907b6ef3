"""Time a 10.000-member import through the API: the dry run and the commit, on SQLite and on the
local PostgreSQL, and one sheet of PIN slips at the production scrypt cost.

Each database is made fresh (PostgreSQL: the `bench_import` database, never a test database;
SQLite: a file under bench/results), migrated, and given one cooperative and its admin. The
sheet is an XLSX workbook made with openpyxl, as an office's Excel would save it. Timed through
the Flask test client, so each figure includes the multipart upload, reading the workbook,
validating every row, the database and the JSON report; the server process itself is not
involved. The PIN slips are timed at PIN_SCRYPT_N = 2**14 (the configured cost), and the time
for all 10.000 is extrapolated from one sheet: that is why the commit does not hash them.

    python -m bench.import_members            # both databases
    IMPORT_ROWS=2000 python -m bench.import_members sqlite

Results go to bench/results/import_members.json; the goal is each step under a minute.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import openpyxl
import sqlalchemy as sa

from bench.common import KEYS_DIR, PG_SERVER, RESULTS

ROWS = int(__import__("os").environ.get("IMPORT_ROWS", "10000"))
PG_DATABASE = "bench_import"
SCRYPT_N = 2**14  # gateway/config.py's PIN_SCRYPT_N: the production cost, not the tests'
SLIPS_PER_SHEET = 50
GOAL_SECONDS = 60


def workbook(rows: int) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Anggota")
    sheet.append(["No", "Nama", "Nomor HP", "Tingkat"])
    for number in range(1, rows + 1):
        tier = "verified" if number % 10 == 0 else "basic"
        sheet.append([number, f"Anggota Koperasi {number}", f"0857{number:08d}", tier])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def database_url(kind: str) -> str:
    if kind == "sqlite":
        path = RESULTS / "import_members.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    server = sa.create_engine(
        f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/postgres",
        isolation_level="AUTOCOMMIT",
    )
    with server.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        connection.execute(sa.text(f"CREATE DATABASE {PG_DATABASE}"))
    server.dispose()
    return f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{PG_DATABASE}"


def prepared_app(url: str):
    from flask_migrate import upgrade

    from gateway import create_app, registry, settlement
    from gateway.db import db, transaction
    from gateway.keys import KeyRing

    KeyRing(KEYS_DIR).ensure()
    app = create_app({"DATABASE_URL": url, "KEYS_DIR": str(KEYS_DIR), "PIN_SCRYPT_N": SCRYPT_N})
    with app.app_context():
        upgrade()
        transaction(db.session, registry.ensure_network_accounts)
        transaction(db.session, settlement.ensure_open_window)

        def seed(session):
            cooperative = registry.create_cooperative(
                session, code="KBI", name="Koperasi Bench Impor", kind="consumer"
            )
            admin = registry.find_or_create_user(
                session, phone="+6281199990001", name="Admin", pin="111111", scrypt_n=SCRYPT_N
            )
            registry.grant_staff_role(
                session, user=admin, role="coop_admin", cooperative=cooperative
            )
            return cooperative.public_id

        coop_id = transaction(db.session, seed)
    return app, coop_id


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, round(time.perf_counter() - started, 2)


def run(kind: str, data: bytes) -> dict:
    app, coop_id = prepared_app(database_url(kind))
    client = app.test_client()
    token = client.post(
        "/api/v1/auth/login", json={"phone": "+6281199990001", "pin": "111111"}
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/cooperatives/{coop_id}/members/import"

    def post(query: str = ""):
        response = client.post(
            path + query,
            data={"file": (io.BytesIO(data), "anggota.xlsx")},
            headers=headers,
            content_type="multipart/form-data",
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    dry, dry_seconds = timed(post)
    assert dry["counts"]["new"] == ROWS and not dry["committed"], dry["counts"]
    committed, commit_seconds = timed(lambda: post("?commit=true"))
    assert committed["counts"]["new"] == ROWS and committed["committed"], committed["counts"]
    again, again_seconds = timed(lambda: post("?commit=true"))
    assert again["counts"]["existing"] == ROWS, again["counts"]

    def sheet():
        response = client.post(
            f"/api/v1/cooperatives/{coop_id}/pin-slips?limit={SLIPS_PER_SHEET}", headers=headers
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    slips, slips_seconds = timed(sheet)
    assert len(slips["slips"]) == SLIPS_PER_SHEET
    with app.app_context():
        from gateway.db import db

        db.session.remove()
        db.engine.dispose()
    return {
        "rows": ROWS,
        "dry_run_seconds": dry_seconds,
        "commit_seconds": commit_seconds,
        "reimport_commit_seconds": again_seconds,
        "slip_sheet_seconds": slips_seconds,
        "slips_per_sheet": SLIPS_PER_SHEET,
        "all_slips_extrapolated_seconds": round(slips_seconds * ROWS / SLIPS_PER_SHEET),
    }


def main(argv: list[str]) -> int:
    kinds = argv or ["sqlite", "postgresql"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    data, build_seconds = timed(lambda: workbook(ROWS))
    print(f"workbook of {ROWS} rows: {len(data) // 1024} KB, made in {build_seconds} s")
    results = {}
    failed = False
    for kind in kinds:
        figures = results[kind] = run(kind, data)
        print(
            f"{kind:10} dry run {figures['dry_run_seconds']:6.2f} s   commit"
            f" {figures['commit_seconds']:6.2f} s   re-import {figures['reimport_commit_seconds']:6.2f} s"
            f"   {SLIPS_PER_SHEET} slips {figures['slip_sheet_seconds']:5.2f} s"
            f" (all {ROWS}: ~{figures['all_slips_extrapolated_seconds']} s)"
        )
        failed |= max(figures["dry_run_seconds"], figures["commit_seconds"]) >= GOAL_SECONDS
    (RESULTS / "import_members.json").write_text(json.dumps(results, indent=2) + "\n")
    if failed:
        print(f"a dry run or commit took a minute or more (goal: under {GOAL_SECONDS} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
