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
# An API client's access token (client credentials): short, and checked against the client's row
# on every use as well, so a revoked or rotated client is refused at once, not at expiry.
API_CLIENT_TOKEN_TTL_SECONDS = 5 * 60

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
# and 1 hour. It cannot be paid from its `exp` on, by the clock of the gateway that is asked: the
# merchant's screen says "kedaluwarsa" then, and that must be true. The leeway is only for clock
# skew between gateway machines, and only where skew can wrongly refuse: a QR signed by a machine
# whose clock runs a few seconds ahead carries an `iat` that is still in the future here.
QR_TTL_DEFAULT_SECONDS = 600
QR_TTL_MIN_SECONDS = 60
QR_TTL_MAX_SECONDS = 3600
QR_LEEWAY_SECONDS = 5

# The merchant's payment feed long-polls at most this long, holding a worker thread meanwhile.
LONG_POLL_MAX_SECONDS = 30
LONG_POLL_INTERVAL_SECONDS = 0.25
# gunicorn runs 8 threads per worker process (`make run`, docker/gunicorn.conf.py): at most this
# many of a process's threads wait on long-polls, so the others always serve payments and health
# checks. Keep it below the thread count (docker/gunicorn.conf.py sets it to half its threads).
LONG_POLL_PROCESS_MAX = 4
# At most this many long-polls of one person wait in a process (a phone with two tabs); beyond
# either bound a poll is a 429 with Retry-After (gateway/long_polls.py).
LONG_POLL_PERSON_MAX = 2
LONG_POLL_RETRY_AFTER_SECONDS = 5

# The city's population, if known: the observer sees members as a share of it.
CITY_POPULATION = None

# Compression (flask-compress, bound in create_app): brotli where the client accepts it, else
# gzip, for JSON, problem+json, CSV and SVG answers. The app's own files (gateway/api/pwa.py) are
# compressed once per process at the best quality instead. An answer under COMPRESS_MIN_SIZE bytes
# goes as it is: compressing it would save a few dozen bytes, about what the header costs, and
# the packets are as many. Streamed answers are never compressed, so nothing a stream sends
# waits in a compressor's buffer.
COMPRESS_ALGORITHM = ["br", "gzip"]
COMPRESS_BR_LEVEL = 4
COMPRESS_LEVEL = 6
COMPRESS_MIN_SIZE = 500
COMPRESS_STREAMS = False
COMPRESS_MIMETYPES = [
    "application/json",
    "application/problem+json",
    "application/manifest+json",
    "application/wasm",
    "image/svg+xml",
    "text/css",
    "text/csv",
    "text/html",
    "text/javascript",
    "text/plain",
]
# Webhooks (gateway/webhooks.py, gateway/webhook_worker.py). A URL whose host is loopback,
# private, link-local or reserved is refused (422) and never connected to, unless this is true:
# `make run` (the development default) and the tests set it; production leaves it false.
WEBHOOK_ALLOW_PRIVATE = False
# One attempt, from connecting to the last byte of the answer.
WEBHOOK_TIMEOUT_SECONDS = 15
# How long a worker's claim on a delivery holds (at least the timeout plus 5 s): a worker that
# dies mid-attempt leaves its deliveries to be sent again by another after this.
WEBHOOK_LEASE_SECONDS = 60
# Attempts one worker process keeps in flight at once, and how often an idle one looks again.
WEBHOOK_WORKER_THREADS = 32
WEBHOOK_POLL_INTERVAL_SECONDS = 1.0
# After a rotation the previous secret signs beside the new one this long.
WEBHOOK_SECRET_OVERLAP_SECONDS = 24 * 3600

# The database's availability (gateway/availability.py): every wait on it is bounded, so a
# request that cannot reach a writable primary answers 503 with Retry-After, never hangs past a
# client's timeout (the chaos clients wait 15 s). 0 turns a server-side timeout off. Commands
# (`gateway ...`) run without the statement and idle timeouts: a ledger check over a city's year
# may take longer than a request ever should.
DATABASE_CONNECT_TIMEOUT_SECONDS = 2  # libpq, per host of a multi-host URL (2 at least)
DATABASE_TCP_USER_TIMEOUT_SECONDS = 8  # a peer that vanished without closing the connection
DATABASE_STATEMENT_TIMEOUT_SECONDS = 8
# Ends a transaction left open by a gateway that vanished (and frees the Idempotency-Key it
# claimed, so the client's retry runs); a request's transaction is never idle this long.
DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 5
# A request's hold on a connection (a transaction) ends by then, from the client side: a stalled
# network that never answers is cut by the watchdog (gateway/availability.py), and the request
# answers 503. With a reconnect (2 s a host) it stays under the clients' 15 s.
DATABASE_TRANSACTION_DEADLINE_SECONDS = 10
DATABASE_POOL_TIMEOUT_SECONDS = 5  # waiting for a free connection of the process's pool
# Ping a pooled connection as it is taken (PostgreSQL; one round trip a transaction): after a
# failover the pool holds connections to the lost primary, and the ping replaces each with one to
# the new primary before a request uses it, so no request answers 503 for it. A connection lost
# during a request invalidates the whole pool, and `db.transaction` runs work that found its
# connection dead at once one more time on a fresh one (nothing was committed).
DATABASE_POOL_PRE_PING = True
DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS = 1
# /readyz answers within about this long, on a connection of its own.
READINESS_TIMEOUT_SECONDS = 2

# What an operator watches (gateway/metrics.py, gateway/logs.py, gateway/api/observability.py).
# /metrics answers a scraper with `Authorization: Bearer <METRICS_TOKEN>`, or one connecting
# directly from an address in METRICS_ALLOW_NETWORKS (CIDR strings, e.g. ["10.0.0.0/8"]); with
# neither set it is not served (404).
METRICS_TOKEN = None
METRICS_ALLOW_NETWORKS: list[str] = []
# "json": one JSON object a line on stderr, with the request id (X-Request-Id); "text" leaves
# logging as the host process set it up.
LOG_FORMAT = "json"
LOG_LEVEL = "INFO"
# One line a request (method, path, endpoint, status, duration_ms, remote address, request id).
ACCESS_LOG = True
