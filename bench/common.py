"""Settings shared by the bench scripts: the bench database, keys, ports and the app factory.

The bench never touches the test databases or the dev SQLite file: it uses the `bench` database
on the local PostgreSQL and its own key ring under bench/results/keys (gitignored).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
KEYS_DIR = RESULTS / "keys"

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "bench")
if DB_NAME.startswith("interkop_test"):
    raise SystemExit("refusing to benchmark against a test database")
DATABASE_URL = f"{PG_SERVER}/{DB_NAME}"
PSYCOPG_DSN = f"{PG_SERVER}/{DB_NAME}"

HOST = "127.0.0.1"
PORT = int(os.environ.get("BENCH_PORT", "8731"))

# The city (issue 6): 10.000 members in 8 cooperatives, 1.000 merchants.
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "10000"))
MERCHANTS = int(os.environ.get("BENCH_MERCHANTS", "1000"))
COOPERATIVES = 8
OPENING_BALANCE = 100_000_000  # Rp 100 juta each: enough for every payment of a long run
PIN = "123456"

# Bench limits: a city-wide LimitPolicy row per tier so that limits never refuse a bench payment
# (per-minute count and daily/monthly totals would otherwise stop a member after 10 payments).
# The no-PIN threshold stays at the real Rp 50.000: bench payments are below it, so no scrypt.
BENCH_LIMITS = {
    "payment_max": 10_000_000,
    "balance_max": 1_000_000_000_000,
    "incoming_monthly_max": 1_000_000_000_000,
    "daily_max": 1_000_000_000_000,
    "monthly_max": 1_000_000_000_000,
    "payments_per_minute": 10_000,
    "no_pin_max": 50_000,
}


def stable_id(prefix: str, salt: str, number: int) -> str:
    """A public id the bench (and the pgbench script, in SQL) can compute from a row number:
    prefix + the first 16 hex digits of md5(salt || number). Same shape as the gateway's ids."""
    return f"{prefix}_{hashlib.md5(f'{salt}{number}'.encode()).hexdigest()[:16]}"


def gateway_env(**extra: str) -> dict[str, str]:
    """The environment a bench gateway process runs with."""
    env = dict(os.environ)
    env.update(
        {
            "GATEWAY_DATABASE_URL": DATABASE_URL,
            "GATEWAY_KEYS_DIR": str(KEYS_DIR),
            "GATEWAY_PUBLIC_URL": f"http://{HOST}:{PORT}",
        }
    )
    env.update(extra)
    return env


def make_app():
    """The gateway app on the bench database, in-process (seeding, QR issue, SQL capture)."""
    from gateway import create_app

    return create_app({"DATABASE_URL": DATABASE_URL, "KEYS_DIR": str(KEYS_DIR)})
