"""Time a cooperative's SHU year at scale: import N members' savings (dry run, commit), simulate,
prepare the run, approve it. Not part of the test suite.

    PYTHONPATH=. python bench/shu_year.py [--members 10000] [--database-url URL]

Without --database-url it runs on a fresh SQLite file; with a PostgreSQL URL it uses that
(empty, migrated) database. Prints one line of seconds per step.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--database-url")
    arguments = parser.parse_args()

    from flask_migrate import upgrade

    from gateway import create_app, registry, settlement, shu
    from gateway.db import db, transaction

    work = Path(tempfile.mkdtemp(prefix="shu-bench-"))
    url = arguments.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
    app = create_app(
        {"TESTING": True, "DATABASE_URL": url, "KEYS_DIR": str(work / "keys"), "PIN_SCRYPT_N": 2}
    )
    figures: dict[str, float] = {}

    def timed(name, step):
        started = time.perf_counter()
        result = step()
        figures[name] = round(time.perf_counter() - started, 2)
        return result

    with app.app_context():
        upgrade()
        transaction(db.session, registry.ensure_network_accounts)
        transaction(db.session, settlement.ensure_open_window)
        cooperative = transaction(
            db.session,
            lambda s: registry.create_cooperative(
                s, code="BEN", name="Koperasi Bench", kind="consumer"
            ),
        )

        def register(session):
            return [
                registry.register_member(
                    session,
                    cooperative=cooperative,
                    phone=f"+62813{index:08d}",
                    name=f"Anggota {index}",
                    pin="123456",
                    tier="basic",
                    scrypt_n=2,
                ).public_id
                for index in range(arguments.members)
            ]

        timed("register_members", lambda: transaction(db.session, register))
        lines = ["nomor_hp;simpanan_pokok;simpanan_wajib;simpanan_sukarela"]
        lines += [
            f"0813{index:08d};100.000;{(index % 24) * 10_000};{index * 1_000}"
            for index in range(arguments.members)
        ]
        data = ("\r\n".join(lines) + "\r\n").encode()

        def importing(commit):
            return lambda: transaction(
                db.session,
                lambda s: shu.import_savings(
                    s,
                    cooperative,
                    year=2025,
                    data=data,
                    filename="s.csv",
                    commit=commit,
                    user_id=None,
                ),
            )

        report = timed("import_dry_run", importing(False))
        assert report["invalid"] == 0, report["errors"][:3]
        timed("import_commit", importing(True))
        basis = timed("simulate", lambda: shu.simulate(db.session, cooperative, 2025, 123_456_789))
        db.session.rollback()
        assert sum(member.share for member in basis.members) == basis.jasa_modal_amount
        run = timed(
            "prepare_run",
            lambda: transaction(
                db.session,
                lambda s: shu.prepare_run(
                    s, cooperative, year=2025, pool=123_456_789, user_id=None
                ),
            ),
        )
        timed(
            "approve_run",
            lambda: shu.approve_run(
                db.session,
                cooperative,
                run.public_id,
                rat_date=date(2026, 3, 14),
                rat_reference="01/RAT/2026",
                user_id=None,
                today=date(2026, 3, 20),
            ),
        )
    dialect = url.split(":", 1)[0]
    print(
        f"members={arguments.members} database={dialect} seconds={figures} file_bytes={len(data)}"
    )


if __name__ == "__main__":
    main()
