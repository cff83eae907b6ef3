"""`make chaos`: 16 clients move money while gunicorn workers are SIGKILLed and PostgreSQL crashes.

    python -m bench.chaos.run            # CHAOS_SECONDS (default 150) of chaos, then the checks

1. A PostgreSQL of its own (initdb into a temporary folder, its own port, fsync on), `gateway
   init-db` and `gateway demo` against it, limits raised so that they refuse little.
2. gunicorn (--preload, gthread) on a free loopback port; 16 client threads pay, cash in, cash out
   and refund, each under its own Idempotency-Key, retrying with the same key and body until a
   definitive answer.
   Every cooperative and the network have a webhook endpoint for every event type, at a
   receiver in this process that stays up and verifies each delivery (bench/webhook_receiver.py);
   two `gateway webhooks run` workers deliver them.
3. Meanwhile: SIGKILL a random worker every 0.2-0.8 s; `pg_ctl -m immediate restart` every ~10 s;
   SIGKILL a webhook worker every 2-6 s (it is started again at once).
4. Stop the chaos, let the clients finish their last operation and the webhook workers drain the
   outbox, then verify the ledger (bench/chaos/verify.py) and the outbox (bench/chaos/outbox.py)
   and print the counts. Exit 1 on any violation. Everything is cleaned up, even on failure.

Settings for the gateway under test, and why:
- GATEWAY_PIN_SCRYPT_N=1024 (production: 16384): PIN hashing cost is not what is tested here.
- GATEWAY_ACCESS_TOKEN_TTL_SECONDS=86400: the clients log in once, before the chaos.
- GATEWAY_WEBHOOK_ALLOW_PRIVATE=true: the receiver listens on loopback. The webhook workers run
  with a 5 s timeout and a 10 s lease, so that a killed worker's deliveries are sent again soon.

Environment: CHAOS_SECONDS, CHAOS_CLIENTS (16), CHAOS_WORKERS (4), CHAOS_THREADS (4),
CHAOS_PG_RESTART_SECONDS (10), CHAOS_WEBHOOK_WORKERS (2), CHAOS_DRAIN_SECONDS (180), CHAOS_KEEP=1 keeps the temporary folder for a post-mortem,
CHAOS_INJECT=duplicate writes one acknowledged cash-in twice before the checks, and
CHAOS_INJECT=lost_webhook deletes one acknowledged payment's webhook message (self-tests of the
checks: those runs must fail).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from bench.chaos.client import Api, ChaosClient, Stats
from bench.chaos.outbox import pending_deliveries, verify_outbox
from bench.chaos.pg import TempPostgres, free_port
from bench.chaos.verify import verify
from bench.webhook_receiver import CountingReceiver

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

LIMITS = {
    "payment_max": 10_000_000,
    "balance_max": 1_000_000_000,
    "incoming_monthly_max": 1_000_000_000_000,
    "daily_max": 1_000_000_000_000,
    "monthly_max": 1_000_000_000_000,
    "payments_per_minute": 10_000,
    "no_pin_max": 50_000,
}


def setting(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Harness:
    def __init__(self):
        self.seconds = setting("CHAOS_SECONDS", 150)
        self.clients = int(setting("CHAOS_CLIENTS", 16))
        self.workers = int(setting("CHAOS_WORKERS", 4))
        self.threads = int(setting("CHAOS_THREADS", 4))
        self.pg_every = setting("CHAOS_PG_RESTART_SECONDS", 10)
        self.keep = os.environ.get("CHAOS_KEEP") == "1"
        self.root = Path(tempfile.mkdtemp(prefix="interkop-chaos-"))
        self.pg = TempPostgres(self.root)
        self.port = free_port()
        self.gunicorn: subprocess.Popen | None = None
        self.gunicorn_log = None
        self.env = dict(
            os.environ,
            GATEWAY_DATABASE_URL=self.pg.url,
            GATEWAY_KEYS_DIR=str(self.root / "keys"),
            GATEWAY_PIN_SCRYPT_N="1024",
            GATEWAY_ACCESS_TOKEN_TTL_SECONDS="86400",
            GATEWAY_PUBLIC_URL=f"http://127.0.0.1:{self.port}",
            GATEWAY_WEBHOOK_ALLOW_PRIVATE="true",
        )
        self.webhook_env = dict(
            self.env,
            GATEWAY_WEBHOOK_TIMEOUT_SECONDS="5",
            GATEWAY_WEBHOOK_LEASE_SECONDS="10",
            GATEWAY_WEBHOOK_POLL_INTERVAL_SECONDS="0.2",
        )
        self.webhook_worker_count = int(setting("CHAOS_WEBHOOK_WORKERS", 2))
        self.drain_seconds = setting("CHAOS_DRAIN_SECONDS", 180)
        self.webhook_workers: list[subprocess.Popen | None] = []
        self.webhook_log = None
        self.receiver: CountingReceiver | None = None
        self.stats = Stats()
        self.cleaned = False

    # -- setup ------------------------------------------------------------------------------

    def gateway(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "gateway"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"gateway {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start_database(self) -> None:
        self.pg.init()
        self.pg.start()
        self.pg.create_database()
        log(f"PostgreSQL ({self.pg.bindir}) on 127.0.0.1:{self.pg.port}, data in {self.pg.data}")
        self.gateway("init-db")
        self.city_logins = json.loads(self.gateway("demo", "--json"))
        log("gateway init-db and demo done")

    def gunicorn_command(self, port: int, workers: int) -> list[str]:
        """Return the command line of a gunicorn master with `workers` workers on `port`."""
        return [
            str(BIN / "gunicorn"),
            "--preload",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(self.threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            "--backlog",
            "512",
            "gateway:create_app()",
        ]

    def start_gunicorn(self) -> None:
        self.gunicorn_log = open(self.root / "gunicorn.log", "w")  # noqa: SIM115 - lives with gunicorn
        self.gunicorn = subprocess.Popen(
            self.gunicorn_command(self.port, self.workers),
            env=self.env,
            cwd=ROOT,
            stdout=self.gunicorn_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.api = Api("127.0.0.1", self.port)
        self.api.wait_healthy()
        log(
            f"gunicorn master {self.gunicorn.pid}: {self.workers} workers x {self.threads} threads"
            f" on 127.0.0.1:{self.port}"
        )

    def login(self, phone: str, pin: str) -> tuple[str, str]:
        status, body = self.api.call("POST", "/api/v1/auth/login", {"phone": phone, "pin": pin})
        if status != 200:
            raise RuntimeError(f"login {phone}: {status} {body}")
        token = body["access_token"]
        status, me = self.api.call("GET", "/api/v1/me", token=token)
        return token, me["id"]

    def prepare_city(self) -> dict:
        logins = self.city_logins
        network = next(a for a in logins["admins"] if a["role"] == "network_admin")
        token, _ = self.login(network["phone"], network["pin"])
        for tier in ("basic", "verified"):
            status, body = self.api.call(
                "PUT", f"/api/v1/limit-policies/default/{tier}", LIMITS, token
            )
            if status != 200:
                raise RuntimeError(f"limit policy {tier}: {status} {body}")
        city = {"members": [], "merchants": [], "tellers": []}
        tokens = {}
        for member in logins["members"]:
            tokens[member["phone"]] = self.login(member["phone"], member["pin"])
            token, user_id = tokens[member["phone"]]
            city["members"].append({**member, "token": token, "user_id": user_id})
        for admin in logins["admins"]:
            if admin["role"] == "coop_admin":
                token, user_id = self.login(admin["phone"], admin["pin"])
                # Counter cash moves only on the teller's open shift (gateway/shifts.py).
                status, body = self.api.call(
                    "POST", "/api/v1/counter/shifts", {"opening_cash_amount": 0}, token
                )
                if status != 201 and body.get("type", "").rsplit("/", 1)[-1] != (
                    "shift-already-open"
                ):
                    raise RuntimeError(f"shift of {admin['name']}: {status} {body}")
                city["tellers"].append({**admin, "token": token, "user_id": user_id})
        for merchant in logins["merchants"]:
            if merchant["phone"] not in tokens:
                tokens[merchant["phone"]] = self.login(merchant["phone"], merchant["pin"])
            token, user_id = tokens[merchant["phone"]]
            status, sticker = self.api.call(
                "GET", f"/api/v1/merchants/{merchant['id']}/static-qr", token=token
            )
            if status != 200:
                raise RuntimeError(f"static QR of {merchant['name']}: {status} {sticker}")
            city["merchants"].append(
                {
                    **merchant,
                    "login_token": token,
                    "owner_user_id": user_id,
                    "qr_token": sticker["token"],
                }
            )
        return city

    # -- webhooks ---------------------------------------------------------------------------

    def register_webhooks(self, city) -> dict[int, str]:
        """An endpoint for every event type per cooperative (by one of its admins) and one for
        the network; return endpoint id -> the receiver's path for it."""
        self.receiver = CountingReceiver().start()
        owners = {}
        for teller in city["tellers"]:
            owners.setdefault(teller["cooperative_id"], teller["token"])
        network = next(a for a in self.city_logins["admins"] if a["role"] == "network_admin")
        owners["network"] = self.login(network["phone"], network["pin"])[0]
        events = [
            "payment.completed",
            "payment.refunded",
            "counter.cash_in",
            "counter.cash_out",
            "counter.payout",
            "settlement.window_closed",
            "settlement.window_settled",
        ]
        paths = {}
        for owner, token in owners.items():
            path = f"/{owner}"
            status, body = self.api.call(
                "POST",
                f"/api/v1/cooperatives/{owner}/webhooks",
                {"url": self.receiver.url(path), "events": events},
                token,
            )
            if status != 201:
                raise RuntimeError(f"webhook endpoint of {owner}: {status} {body}")
            self.receiver.secrets[path] = body["secret"]
            paths[body["id"]] = path
        with psycopg.connect(self.pg.url) as connection:
            ids = dict(connection.execute("SELECT public_id, id FROM webhook_endpoints"))
        log(f"{len(paths)} webhook endpoints at a receiver on 127.0.0.1:{self.receiver.port}")
        return {ids[public_id]: path for public_id, path in paths.items()}

    def start_webhook_worker(self, index: int) -> None:
        process = subprocess.Popen(
            [str(BIN / "gateway"), "webhooks", "run"],
            env=self.webhook_env,
            cwd=ROOT,
            stdout=self.webhook_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if index < len(self.webhook_workers):
            self.webhook_workers[index] = process
        else:
            self.webhook_workers.append(process)

    def supervise_webhook_workers(self, stop: threading.Event) -> None:
        """Start a webhook worker again whenever one has died (killed, or failed on the
        database while it restarted)."""
        while not stop.wait(0.2):
            for index, process in enumerate(self.webhook_workers):
                if process is None or process.poll() is not None:
                    self.start_webhook_worker(index)

    def kill_webhook_workers(self, stop: threading.Event) -> None:
        while not stop.wait(random.uniform(2, 6)):
            alive = [p for p in self.webhook_workers if p is not None and p.poll() is None]
            if alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(random.choice(alive).pid, signal.SIGKILL)
                    self.stats.add("webhook worker kills")

    def stop_webhook_workers(self) -> None:
        for process in self.webhook_workers:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in self.webhook_workers:
            if process is not None:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)

    # -- chaos ------------------------------------------------------------------------------

    def worker_pids(self) -> list[int]:
        master = self.gunicorn.pid
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master and fields[0] != "Z":
                pids.append(int(entry))
        return pids

    def kill_workers(self, stop: threading.Event) -> None:
        while not stop.wait(random.uniform(0.2, 0.8)):
            pids = self.worker_pids()
            if pids:
                try:
                    os.kill(random.choice(pids), signal.SIGKILL)
                    self.stats.add("worker kills")
                except ProcessLookupError:
                    pass

    def crash_database(self, stop: threading.Event) -> None:
        while not stop.wait(random.uniform(0.8, 1.2) * self.pg_every):
            started = time.monotonic()
            try:
                self.pg.restart_immediate()
                self.stats.add("database restarts")
                self.stats.add("database down ms", int((time.monotonic() - started) * 1000))
            except Exception as error:  # noqa: BLE001 - reported, then make sure it runs
                log(f"pg restart failed: {error}")
                self.pg.ensure_running()

    # -- what a variant of the run changes (bench/chaos/failover.py) -------------------------

    def chaos_threads(self, stop: threading.Event) -> list[threading.Thread]:
        """Return the threads that make the chaos until `stop` is set (not started yet)."""
        return [
            threading.Thread(target=self.kill_workers, args=(stop,), daemon=True),
            threading.Thread(target=self.crash_database, args=(stop,), daemon=True),
            threading.Thread(target=self.kill_webhook_workers, args=(stop,), daemon=True),
        ]

    def chaos_done(self, elapsed_seconds: float) -> bool:
        """Tell whether the chaos has run long enough."""
        return elapsed_seconds >= self.seconds

    def progress(self) -> str:
        """Return the line logged every 15 s of chaos."""
        return (
            f"{self.stats.get('operations')} ops, {self.stats.get('acknowledged')} acknowledged,"
            f" {self.stats.get('worker kills')} kills,"
            f" {self.stats.get('database restarts')} database restarts"
        )

    def after_chaos(self) -> None:
        """Leave the database running for the drain and the proof."""
        self.pg.ensure_running()

    def gateway_alive(self) -> bool:
        """Tell whether the gateway's master still runs (the chaos kills only workers)."""
        return self.gunicorn.poll() is None

    def chaos_rows(self) -> list[tuple[str, object]]:
        """Return the result's lines about the chaos made."""
        counts = self.stats.counts
        return [
            ("worker kills", counts.get("worker kills", 0)),
            ("database restarts", counts.get("database restarts", 0)),
        ]

    def extra_violations(self, operations) -> list[str]:
        """Return what the variant checks beyond the proof."""
        return []

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> int:
        began = time.monotonic()
        self.start_database()
        self.start_gunicorn()
        city = self.prepare_city()
        endpoint_paths = self.register_webhooks(city)
        self.webhook_log = open(self.root / "webhooks.log", "w")  # noqa: SIM115 - lives with them
        for index in range(self.webhook_worker_count):
            self.start_webhook_worker(index)
        with psycopg.connect(self.pg.url) as connection:
            baseline = connection.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
            baseline_message = connection.execute(
                "SELECT COALESCE(MAX(id), 0) FROM webhook_messages"
            ).fetchone()[0]
            opening = dict(
                connection.execute(
                    "SELECT m.public_id, a.balance FROM members m"
                    " JOIN accounts a ON a.id = m.wallet_account_id"
                ).fetchall()
            )
        log(
            f"setup took {time.monotonic() - began:.1f} s; {self.clients} clients for"
            f" {self.seconds:.0f} s of chaos"
        )

        stop_clients, stop_chaos, stop_supervisor = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )
        supervisor = threading.Thread(
            target=self.supervise_webhook_workers, args=(stop_supervisor,), daemon=True
        )
        supervisor.start()
        clients = [
            ChaosClient(
                i, self.api, city, stop_clients, self.stats, budget_seconds=90, max_attempts=300
            )
            for i in range(self.clients)
        ]
        chaos = self.chaos_threads(stop_chaos)
        chaos_began = time.monotonic()
        for thread in clients + chaos:
            thread.start()
        next_report = chaos_began + 15
        while not self.chaos_done(time.monotonic() - chaos_began):
            time.sleep(0.5)
            if time.monotonic() >= next_report:
                next_report += 15
                log(f"{time.monotonic() - chaos_began:.0f} s: {self.progress()}")
        stop_chaos.set()
        stop_clients.set()
        for thread in chaos:
            thread.join()
        self.after_chaos()
        chaos_seconds = time.monotonic() - chaos_began
        log("chaos stopped; the clients finish their last operation")
        for client in clients:
            client.join(timeout=180)
        stuck_threads = [client.name for client in clients if client.is_alive()]
        crashed = [(client.name, repr(client.crashed)) for client in clients if client.crashed]
        gunicorn_alive = self.gateway_alive()

        log("the webhook workers drain the outbox")
        drain_began = time.monotonic()
        left = None
        while time.monotonic() - drain_began < self.drain_seconds:
            try:
                left = pending_deliveries(self.pg.url)
            except psycopg.Error:
                left = None
            if left == 0:
                break
            time.sleep(0.5)
        drain_seconds = time.monotonic() - drain_began
        stop_supervisor.set()
        supervisor.join()
        self.stop_webhook_workers()

        operations = [op for client in clients for op in client.operations]
        if os.environ.get("CHAOS_INJECT") == "duplicate":
            self.inject_duplicate(operations)
        if os.environ.get("CHAOS_INJECT") == "lost_webhook":
            self.inject_lost_webhook(operations)
        log(f"verifying {len(operations)} operations against the database")
        violations, figures = verify(
            self.pg.url, operations, baseline, opening, [str(BIN / "gateway")], self.env
        )
        outbox_violations, outbox = verify_outbox(
            self.pg.url, operations, baseline_message, endpoint_paths, self.receiver
        )
        violations.extend(outbox_violations)
        if left != 0:
            violations.append(
                f"{left} webhook deliveries not delivered after {drain_seconds:.0f} s"
            )
        if stuck_threads:
            violations.append(f"clients still running after the drain: {stuck_threads}")
        if crashed:
            violations.append(f"client threads crashed: {crashed}")
        if not gunicorn_alive:
            violations.append("the gunicorn master died")
        violations.extend(self.extra_violations(operations))

        kinds = ("pay", "cash_in", "cash_out", "refund")
        by_kind = {
            kind: (
                sum(1 for op in operations if op.kind == kind),
                sum(1 for op in operations if op.kind == kind and op.acknowledged),
            )
            for kind in kinds
        }
        refusals = {}
        for op in operations:
            if op.outcome == "refused":
                name = f"{op.status} {(op.response or {}).get('type', '?').rsplit('/', 1)[-1]}"
                refusals[name] = refusals.get(name, 0) + 1
        counts = self.stats.counts
        rows = [
            ("chaos seconds", f"{chaos_seconds:.0f}"),
            ("operations attempted", len(operations)),
            *(
                (f"  {kind} (acknowledged)", f"{total} ({acked})")
                for kind, (total, acked) in by_kind.items()
            ),
            ("acknowledged (2xx)", counts.get("acknowledged", 0)),
            ("  of which replayed answers", counts.get("replayed answers", 0)),
            ("retried with the same key", figures.get("retried operations")),
            (
                "  first answer lost, commit had held",
                figures.get("retried, an earlier commit held"),
            ),
            (
                "  earlier attempts wrote nothing",
                figures.get("retried, earlier attempts rolled back"),
            ),
            ("definitive refusals (4xx)", counts.get("refused", 0)),
            *((f"  {name}", number) for name, number in sorted(refusals.items())),
            ("unresolved", counts.get("unresolved", 0)),
            ("retries", counts.get("retries", 0)),
            *(
                (f"  {name[6:]}", number)
                for name, number in sorted(counts.items())
                if name.startswith("retry ")
            ),
            *self.chaos_rows(),
            ("business events written", figures.get("business events")),
            ("wallets matching the clients' model", figures.get("wallets checked")),
            ("sum of all balances", figures.get("balances sum")),
            ("gateway ledger check", "passes" if figures.get("ledger check passes") else "FAILS"),
            ("webhook messages (one per event)", outbox["webhook messages"]),
            ("webhook deliveries, all delivered", outbox["webhook deliveries"]),
            ("  received and verified", outbox["received (verified)"]),
            ("  received more than once", outbox["received more than once"]),
            ("  cut off mid-body (sender killed)", outbox["cut off mid-body"]),
            ("webhook worker kills", counts.get("webhook worker kills", 0)),
            ("outbox drained in seconds", f"{drain_seconds:.1f}"),
            ("violations", len(violations)),
        ]
        print()
        print("chaos result")
        for name, value in rows:
            print(f"  {name:<40} {value}")
        for violation in violations[:50]:
            print(f"VIOLATION {violation}")
        if len(violations) > 50:
            print(f"... and {len(violations) - 50} more")
        print(f"total time {time.monotonic() - began:.0f} s")
        return 1 if violations else 0

    def inject_duplicate(self, operations) -> None:
        """Self-test of the checks: write one acknowledged cash-in a second time, as a gateway that
        ran a request twice would (its own event and transfer, the wallet's stored balance moved
        too), so that it balances and `gateway ledger check` still passes. The run must fail."""
        op = next(op for op in operations if op.kind == "cash_in" and op.acknowledged)
        with psycopg.connect(self.pg.url) as connection:
            event_id = connection.execute(
                """INSERT INTO events (public_id, kind, cooperative_id, actor_user_id, created_at)
                   SELECT 'evt_duplicate', kind, cooperative_id, actor_user_id, now()
                   FROM events WHERE public_id = %s RETURNING id""",
                (op.response["event_id"],),
            ).fetchone()[0]
            connection.execute(
                """INSERT INTO transfers (public_id, event_id, debit_account_id, credit_account_id,
                                         amount, code, created_at, window_id)
                   SELECT 'trf_duplicate', %s, debit_account_id, credit_account_id, amount, code,
                          now(), window_id
                   FROM transfers WHERE event_id = (SELECT id FROM events WHERE public_id = %s)""",
                (event_id, op.response["event_id"]),
            )
            connection.execute(
                """UPDATE accounts SET balance = balance + %s WHERE id = (
                       SELECT wallet_account_id FROM members WHERE public_id = %s)""",
                (op.body["amount"], op.member_id),
            )
        log(f"injected a duplicate of cash-in {op.response['event_id']} (CHAOS_INJECT=duplicate)")

    def inject_lost_webhook(self, operations) -> None:
        """Self-test of the outbox check: delete one acknowledged payment's message, as an outbox
        written outside the payment's transaction could lose it. The run must fail."""
        op = next(op for op in operations if op.kind == "pay" and op.acknowledged)
        with psycopg.connect(self.pg.url) as connection:
            message = """SELECT m.id FROM webhook_messages m JOIN events e ON e.id = m.event_id
                         WHERE e.public_id = %s"""
            deliveries = f"SELECT id FROM webhook_deliveries WHERE message_id IN ({message})"
            event = (op.response["event_id"],)
            connection.execute(
                f"DELETE FROM webhook_attempts WHERE delivery_id IN ({deliveries})", event
            )
            connection.execute(
                f"DELETE FROM webhook_deliveries WHERE message_id IN ({message})", event
            )
            connection.execute(f"DELETE FROM webhook_messages WHERE id IN ({message})", event)
        log(
            f"deleted the webhook message of payment {op.response['id']} (CHAOS_INJECT=lost_webhook)"
        )

    # -- cleanup ----------------------------------------------------------------------------

    def cleanup(self) -> None:
        if self.cleaned:
            return
        self.cleaned = True
        began = time.monotonic()
        if self.gunicorn is not None:
            # The master and its workers share a process group of their own; nothing of theirs
            # is worth a graceful shutdown.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.gunicorn.pid, signal.SIGKILL)
            self.gunicorn.wait(timeout=10)
        if self.gunicorn_log is not None:
            self.gunicorn_log.close()
        for process in self.webhook_workers:
            if process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self.webhook_log is not None:
            self.webhook_log.close()
        if self.receiver is not None:
            self.receiver.stop()
        gunicorn_seconds = time.monotonic() - began
        try:
            # Nothing of it is kept (unless CHAOS_KEEP=1): no need for a shutdown checkpoint.
            self.pg.stop("fast" if self.keep else "immediate")
        except Exception as error:  # noqa: BLE001
            log(f"stopping PostgreSQL: {error}")
        if self.keep:
            log(f"kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        log(f"cleaned up in {time.monotonic() - began:.1f} s (gunicorn {gunicorn_seconds:.1f} s)")


def main(harness_class: type[Harness] | None = None) -> int:
    """Run a harness (this test's, or a subclass's) to the end, cleaning up on any exit."""
    harness = (harness_class or Harness)()
    atexit.register(harness.cleanup)

    def on_signal(number, frame):
        raise SystemExit(128 + number)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return harness.run()
    finally:
        harness.cleanup()


if __name__ == "__main__":
    sys.exit(main())
