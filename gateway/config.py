"""Settings: safe defaults here, overridden by GATEWAY_* environment variables.

`create_app` loads this module's upper-case names, then `GATEWAY_*` variables through
`app.config.from_prefixed_env("GATEWAY")` (values are parsed as JSON where they can be, so
`GATEWAY_ACCESS_TOKEN_TTL_SECONDS=600` is an int), then the test config.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Database: the SQLite file under instance/ unless GATEWAY_DATABASE_URL says otherwise.
DATABASE_URL = f"sqlite:///{ROOT / 'instance' / 'interkop.sqlite3'}"

# Where the Ed25519 key ring lives (private keys are generated here and never committed).
KEYS_DIR = str(ROOT / "keys")

# Who we are, in tokens (`iss`) and in QR URLs.
GATEWAY_ID = "interkop"
PUBLIC_URL = "http://127.0.0.1:8000"

# Access tokens are short-lived; refresh tokens rotate on every use.
ACCESS_TOKEN_TTL_SECONDS = 15 * 60
REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600

# PIN hashing: scrypt, deliberately slow (about 50 ms). Tests lower the cost; the parameters are
# stored in each hash, so a change of cost never locks anyone out.
PIN_SCRYPT_N = 2**14
PIN_ATTEMPTS_MAX = 5
PIN_LOCKOUT_SECONDS = 15 * 60

# Idempotency keys are kept at least this long.
IDEMPOTENCY_RETENTION_SECONDS = 24 * 3600

# How long SQLite waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_SECONDS = 30

# Page sizes for list endpoints.
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 200

# QR codes: a dynamic QR lives 10 minutes unless the merchant asks otherwise, between 1 minute
# and 1 hour; expiry is checked with a small leeway for clocks that drift.
QR_TTL_DEFAULT_SECONDS = 600
QR_TTL_MIN_SECONDS = 60
QR_TTL_MAX_SECONDS = 3600
QR_LEEWAY_SECONDS = 30

# The merchant's payment feed long-polls at most this long.
LONG_POLL_MAX_SECONDS = 30
LONG_POLL_INTERVAL_SECONDS = 0.25

# The city's population, if known: the observer sees members as a share of it.
CITY_POPULATION = None
