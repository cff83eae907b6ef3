"""`make bench`: the gateway's payments per second against the database's and Flask's limits.

One run, on this machine:
1. seed the bench city (bench.seed) and capture one payment's SQL into a pgbench script;
2. mint every member's access token and read every merchant's sticker QR (before any timing);
3. the gateway under gunicorn (docker/gunicorn.conf.py): growth at 10^4 transfers, then
   POST /api/v1/payments at 1, 8, 32 and 64 clients, payees Zipf-distributed over the merchants
   as in a market; then one busy merchant paid by every client at once (the hot row); then the
   webhook outbox at 8 clients: payments with no endpoint, with one endpoint registered for every
   cooperative (the outbox written, no worker), with a `gateway webhooks run` worker delivering
   to a loopback receiver on the same cores, and with no endpoint again;
4. a bare Flask JSON endpoint under the same gunicorn settings (bench.bare_app);
5. pgbench running the payment's SQL (bench.pgbench_script) at the same concurrencies;
6. growth: the ledger grown to 10^6 transfers, payments measured again; a worker's memory
   (RSS) after BENCH_PAYMENTS payments;
7. QR throughput in-process: dynamic QR issue, PNG render, SVG render per second;
8. `gateway ledger check` over everything the bench wrote.
Prints one table and writes bench/results/latest.json.

Environment: BENCH_SECONDS (20) per case, BENCH_CLIENTS ("1,8,32,64"), BENCH_PAYMENTS (100000)
for the memory figure (stopped after BENCH_MEMORY_SECONDS_MAX, 1200), BENCH_GROWTH_TRANSFERS
(1000000), BENCH_WORKERS (2), BENCH_THREADS (8), BENCH_SKIP=growth,memory,qr,webhooks to leave
parts out of a quick run.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

from bench import common, history, loadgen, pgbench_script, seed

SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
CLIENTS = [int(c) for c in os.environ.get("BENCH_CLIENTS", "1,8,32,64").split(",")]
PAYMENTS = int(os.environ.get("BENCH_PAYMENTS", "100000"))
GROWTH_TRANSFERS = int(os.environ.get("BENCH_GROWTH_TRANSFERS", "1000000"))
# Two cores: one worker process per core for the Python, threads to overlap the database waits.
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
SKIP = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
GROWTH_CLIENTS = 8
WEBHOOK_CLIENTS = 8
WEBHOOK_ROUNDS = int(os.environ.get("BENCH_WEBHOOK_ROUNDS", "3"))
MEMORY_CLIENTS = 32
MEMORY_SECONDS_MAX = float(os.environ.get("BENCH_MEMORY_SECONDS_MAX", "1200"))
ZIPF_S = 1.01  # as pgbench's random_zipfian(1, 1000, 1.01)

HOST_HEADER = f"{common.HOST}:{common.PORT}"
PORTS = [common.PORT + index for index in range(WORKERS)]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- gunicorn -----------------------------------------------------------------------------------


class Server:
    """WORKERS gunicorn masters of one worker each, on consecutive loopback ports, with
    docker/gunicorn.conf.py; the load generator spreads its clients over the ports evenly.

    Why not one master with WORKERS workers: its workers share one listening socket, and a
    handful of keep-alive connections opened at once often land mostly on one worker (seen here:
    bare Flask at 2.200 or 5.900 requests/s from one run to the next), which measures the luck
    of accept(), not the gateway. One port per worker is a load balancer spreading connections.
    """

    def __init__(self, app: str, env: dict | None = None):
        self.app = app
        self.env = env or dict(os.environ)
        self.processes: list[subprocess.Popen] = []
        self.ports = [common.PORT + index for index in range(WORKERS)]

    def __enter__(self):
        for port in self.ports:
            env = dict(self.env)
            env.update(
                {
                    "GUNICORN_BIND": f"{common.HOST}:{port}",
                    "GUNICORN_WORKERS": "1",
                    "GUNICORN_THREADS": str(THREADS),
                    "GUNICORN_ACCESS_LOG": "off",
                    "GUNICORN_LOG_LEVEL": "warning",
                    "GUNICORN_APP": self.app,
                }
            )
            self.processes.append(
                subprocess.Popen(
                    [
                        str(common.ROOT / ".venv" / "bin" / "gunicorn"),
                        "-c",
                        str(common.ROOT / "docker" / "gunicorn.conf.py"),
                    ],
                    cwd=common.ROOT,
                    env=env,
                )
            )
        for port in self.ports:
            deadline = time.monotonic() + 30
            while not self._answers(port):
                if time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn ({self.app}) did not come up on port {port}")
                time.sleep(0.2)
        return self

    @staticmethod
    def _answers(port: int) -> bool:
        try:
            urllib.request.urlopen(f"http://{common.HOST}:{port}/healthz", timeout=1)
        except urllib.error.HTTPError:
            return True  # the bare app answers 404: that is up
        except Exception:  # noqa: BLE001 - not up yet
            return False
        return True

    def workers(self) -> list[int]:
        pids = []
        for process in self.processes:
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
            if children.exists():
                pids += [int(pid) for pid in children.read_text().split()]
        return pids

    def rss_mb(self) -> list[float]:
        sizes = []
        for pid in self.workers():
            status = Path(f"/proc/{pid}/status").read_text()
            sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
        return sizes

    def __exit__(self, *exc):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)


# --- requests -----------------------------------------------------------------------------------


class Payments:
    """Builds POST /api/v1/payments requests: client i pays from its own slice of members."""

    def __init__(self, city: dict, tokens: list[str], tag: str):
        self.tag = tag
        self.tokens = tokens
        self.stickers = [m["token"] for m in city["merchants"]]
        weights = [1 / rank**ZIPF_S for rank in range(1, len(self.stickers) + 1)]
        self.cumulative = list(itertools.accumulate(weights))
        self.random = random.Random(6)

    def maker(self, clients: int, hot: bool = False):
        tag = f"{self.tag}-{clients}-{'hot' if hot else 'zipf'}-{time.monotonic_ns()}"
        members = len(self.tokens)
        slice_size = members // clients
        rand = self.random
        total = self.cumulative[-1]

        def make(client: int, sequence: int) -> bytes:
            member = client + clients * (sequence % slice_size)  # 0-based member number
            merchant = 0 if hot else bisect.bisect(self.cumulative, rand.random() * total)
            amount = 500 * rand.randint(2, 98)  # Rp 1.000 .. 49.000: below the no-PIN threshold
            body = f'{{"token":"{self.stickers[merchant]}","amount":{amount}}}'.encode()
            return loadgen.http_request(
                "POST",
                "/api/v1/payments",
                HOST_HEADER,
                body,
                {
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {self.tokens[member]}",
                    "Idempotency-Key": f"{tag}-{client}-{sequence}",
                },
            )

        return make


def bare_maker(clients: int):
    body = b'{"token":"x","amount":12500}'
    request = loadgen.http_request(
        "POST", "/api/v1/payments", HOST_HEADER, body, {"Content-Type": "application/json"}
    )
    return lambda client, sequence: request


def mint_tokens(app) -> list[str]:
    from bench.capture import mint_token

    return [
        mint_token(app, common.stable_id("usr", "u", n), ttl_seconds=6 * 3600)
        for n in range(1, common.MEMBERS + 1)
    ]


# --- pgbench ------------------------------------------------------------------------------------


def pgbench(script: Path, clients: int, seconds: float, hot: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        command = [
            "pgbench",
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(int(max(1, seconds))),
            "-D",
            f"nclients={clients}",
            "-D",
            f"hot={1 if hot else 0}",
            "-f",
            str(script),
            "-l",
            "--log-prefix",
            f"{folder}/log",
            common.DB_NAME,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode not in (0, 2):
            raise SystemExit(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
        latencies = []
        failed = 0
        for path in Path(folder).glob("log*"):
            for line in path.read_text().split("\n"):
                fields = line.split()
                if len(fields) >= 3:
                    if fields[2] in ("failed", "skipped"):
                        failed += 1
                    else:
                        latencies.append(int(fields[2]) / 1e6)
    tps = float(re.search(r"tps = ([\d.]+)", result.stdout).group(1))
    failed_match = re.search(r"number of failed transactions: (\d+)", result.stdout)
    out = loadgen.Result(
        clients=clients,
        seconds=seconds,
        latencies=latencies,
        errors=int(failed_match.group(1)) if failed_match else failed,
    )
    row = out.row()
    row["per_second"] = round(tps, 1)
    return row


# --- webhooks -----------------------------------------------------------------------------------


def set_endpoints(app, url: str | None) -> int:
    """Register one endpoint for every event type per cooperative at `url`, or (None) delete
    every endpoint; return how many endpoints are live."""
    from sqlalchemy import select

    from gateway import webhooks
    from gateway.db import db, transaction
    from gateway.models import Cooperative, EndpointStatus, WebhookEndpoint, WebhookEventType

    def work(session):
        if url is None:
            for endpoint in session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.status != EndpointStatus.DELETED)
            ):
                webhooks.set_status(session, endpoint, EndpointStatus.DELETED, "bench done")
            return 0
        cooperative_ids = list(session.scalars(select(Cooperative.id)))
        for cooperative_id in cooperative_ids:
            webhooks.create_endpoint(
                session,
                cooperative_id=cooperative_id,
                url=url,
                events=[event.value for event in WebhookEventType],
                allow_private=True,
            )
        return len(cooperative_ids)

    with app.app_context():
        return transaction(db.session, work)


def drain_fan_out(app) -> None:
    from gateway import webhooks
    from gateway.db import db, transaction

    with app.app_context():
        while transaction(db.session, webhooks.fan_out):
            pass


def outbox_figures(app) -> dict:
    from sqlalchemy import func, select

    from gateway.db import db
    from gateway.models import WebhookDelivery, WebhookMessage

    with app.app_context():
        figures = {
            "messages": db.session.scalar(select(func.count()).select_from(WebhookMessage)),
            "deliveries": dict(
                db.session.execute(
                    select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
                ).all()
            ),
        }
        db.session.rollback()
    return figures


def webhook_cases(runs, payments, app) -> dict:
    """Payments/s at WEBHOOK_CLIENTS with no endpoint and with one per cooperative (the outbox
    written, no worker), alternating for WEBHOOK_ROUNDS rounds so that the machine's drift falls
    on both alike; then with a worker delivering to a loopback receiver on the same cores, and
    with no endpoint once more."""
    clients = WEBHOOK_CLIENTS
    url = f"http://{common.HOST}:{common.PORT + 50}/hook"
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.webhook_receiver", str(common.PORT + 50)],
        cwd=common.ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    receiver.stdout.readline()  # "receiving on …": it listens
    worker = None
    none, outbox = [], []
    try:
        none.append(gateway_case(runs, "no_webhooks", clients, payments.maker(clients)))
        for _ in range(WEBHOOK_ROUNDS):
            endpoints = set_endpoints(app, url)
            outbox.append(gateway_case(runs, "webhooks_outbox", clients, payments.maker(clients)))
            set_endpoints(app, None)
            none.append(gateway_case(runs, "no_webhooks", clients, payments.maker(clients)))
        written = outbox_figures(app)
        drain_fan_out(app)  # the outbox rounds' messages name endpoints deleted since
        set_endpoints(app, url)
        worker = subprocess.Popen(
            [str(common.ROOT / ".venv" / "bin" / "gateway"), "webhooks", "run"],
            env=common.gateway_env(GATEWAY_WEBHOOK_ALLOW_PRIVATE="true"),
            cwd=common.ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        loadgen.run(clients, 3, common.HOST, PORTS, payments.maker(clients))  # worker warm-up
        delivered = gateway_case(runs, "webhooks_delivered", clients, payments.maker(clients))
        worker.terminate()
        worker.wait(timeout=60)
        worker = None
        sent = outbox_figures(app)
        set_endpoints(app, None)
        none.append(gateway_case(runs, "no_webhooks", clients, payments.maker(clients)))
    finally:
        if worker is not None:
            worker.kill()
        receiver.terminate()
        receiver.wait(timeout=30)

    def median(rows):
        return statistics.median(row["per_second"] for row in rows)

    baseline = median(none)
    around_delivered = (none[-2]["per_second"] + none[-1]["per_second"]) / 2
    figures = {
        "clients": clients,
        "endpoints": endpoints,
        "rounds": WEBHOOK_ROUNDS,
        "none_per_second": [row["per_second"] for row in none],
        "outbox_per_second": [row["per_second"] for row in outbox],
        "none_median": baseline,
        "outbox_median": median(outbox),
        "outbox_cost": round(1 - median(outbox) / baseline, 3),
        # Each outbox round against the mean of the no-endpoint rounds either side of it.
        "outbox_cost_by_round": [
            round(1 - row["per_second"] / ((before["per_second"] + after["per_second"]) / 2), 3)
            for row, before, after in zip(outbox, none, none[1:], strict=False)
        ],
        "outbox_p50_ms": statistics.median(row["p50_ms"] for row in outbox),
        "none_p50_ms": statistics.median(row["p50_ms"] for row in none),
        "delivered_per_second": delivered["per_second"],
        "delivered_cost": round(1 - delivered["per_second"] / around_delivered, 3),
        "written_after_outbox_rounds": written,
        "after_delivered_case": sent,
    }
    log(f"webhooks: {figures}")
    return figures


# --- QR throughput ------------------------------------------------------------------------------


def qr_throughput(app, seconds: float = 3.0) -> dict:
    from sqlalchemy import select

    from gateway import qr
    from gateway.api.qr import qr_settings
    from gateway.db import db, transaction
    from gateway.models import Merchant

    out = {}
    with app.test_request_context():
        settings = qr_settings()
        ring = app.extensions["keyring"]
        merchant = db.session.scalar(select(Merchant).order_by(Merchant.id).limit(1))
        merchant_id = merchant.id
        db.session.rollback()

        def issue(n):
            def work(session):
                found = session.get(Merchant, merchant_id)
                return qr.issue_dynamic(
                    session, ring, settings, found, 10_000 + n, f"bench-{n}", 600
                )

            code = transaction(db.session, work)
            return qr.url_for_token(settings, code.token)

        urls = []
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            urls.append(issue(len(urls)))
        out["dynamic_issue_per_second"] = round(len(urls) / (time.perf_counter() - started), 1)
        for name, render in (
            ("png", qr.render_png.__wrapped__),
            ("svg", qr.render_svg.__wrapped__),
        ):
            count = 0
            started = time.perf_counter()
            while time.perf_counter() - started < seconds:
                render(urls[count % len(urls)])
                count += 1
            out[f"{name}_render_per_second"] = round(count / (time.perf_counter() - started), 1)
        out["token_chars"] = len(urls[0])
        db.session.remove()
    return out


# --- the run ------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().split("\n"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    with psycopg.connect(common.PSYCOPG_DSN) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(memory / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": version,
        "gunicorn": {
            "workers": WORKERS,
            "threads": THREADS,
            "worker_class": "gthread",
            "shape": "one master of one worker per port, clients spread over the ports",
        },
        "seconds_per_case": SECONDS,
        # Others' processes share these cores: the 1-minute load average as the run ended.
        "load_average": round(os.getloadavg()[0], 2),
    }


def gateway_case(runs, case, clients, maker, extra=None):
    result = loadgen.run(clients, SECONDS, common.HOST, PORTS, maker)
    row = {"case": case, **result.row(), **(extra or {})}
    runs.append(row)
    log(
        f"{case:<16} {clients:>3} clients  {row['per_second']:>8} /s  p50 {row['p50_ms']} ms  "
        f"p99 {row['p99_ms']} ms  errors {row['errors']}"
        + (f"  e.g. {result.sample_error}" if result.sample_error else "")
    )
    return row


def main() -> None:
    started = time.perf_counter()
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    log(
        f"seeding the bench city (10.000 members, 8 cooperatives, 1.000 merchants); "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    city = seed.main()
    script = common.RESULTS / "payment.pgbench.sql"
    capture = pgbench_script.write(script, city)
    log(
        f"one payment issues {capture['statements']} statements in {capture['transactions']} transactions"
    )
    app = common.make_app()
    tokens = mint_tokens(app)
    payments = Payments(city, tokens, "b")
    runs: list[dict] = []
    growth: dict = {}
    pending: list[str] = []
    member_offset = city["offsets"]["member_id"]

    with Server("gateway:create_app()", common.gateway_env()) as server:
        loadgen.run(8, 3, common.HOST, PORTS, payments.maker(8))  # warm-up, not counted
        if "growth" not in SKIP:
            count = history.transfer_count()
            row = gateway_case(
                runs,
                "growth_1e4",
                GROWTH_CLIENTS,
                payments.maker(GROWTH_CLIENTS),
                {"transfers_before": count},
            )
            growth["1e4"] = {
                "transfers": count,
                "p50_ms": row["p50_ms"],
                "p99_ms": row["p99_ms"],
                "per_second": row["per_second"],
            }
        for clients in CLIENTS:
            gateway_case(runs, "gateway", clients, payments.maker(clients))
        for clients in [c for c in CLIENTS if c > 1]:
            gateway_case(runs, "busy_merchant", clients, payments.maker(clients, hot=True))
        webhook_figures = {} if "webhooks" in SKIP else webhook_cases(runs, payments, app)

    with Server("bench.bare_app:create_app()") as server:
        loadgen.run(8, 2, common.HOST, PORTS, bare_maker(8))
        for clients in CLIENTS:
            gateway_case(runs, "bare_flask", clients, bare_maker(clients))

    for clients in CLIENTS:
        row = {"case": "pgbench", **pgbench(script, clients, SECONDS)}
        runs.append(row)
        log(
            f"pgbench          {clients:>3} clients  {row['per_second']:>8} /s  p50 {row['p50_ms']} ms  "
            f"p99 {row['p99_ms']} ms  errors {row['errors']}"
        )

    if "growth" not in SKIP:
        log(f"growing the ledger to {GROWTH_TRANSFERS} transfers (cash-in / cash-out pairs)")
        grow_started = time.perf_counter()
        count = history.grow_to(GROWTH_TRANSFERS, member_offset)
        log(f"  {count} transfers in {time.perf_counter() - grow_started:.0f} s")
    with Server("gateway:create_app()", common.gateway_env()) as server:
        loadgen.run(8, 3, common.HOST, PORTS, payments.maker(8))
        if "growth" not in SKIP:
            row = gateway_case(
                runs,
                "growth_1e6",
                GROWTH_CLIENTS,
                payments.maker(GROWTH_CLIENTS),
                {"transfers_before": count},
            )
            growth["1e6"] = {
                "transfers": count,
                "p50_ms": row["p50_ms"],
                "p99_ms": row["p99_ms"],
                "per_second": row["per_second"],
            }
        if "memory" not in SKIP:
            before = server.rss_mb()
            done, errors, samples = 0, 0, []
            chunk_started = time.perf_counter()
            # Bounded in time as well as in count; each chunk has keys of its own (a maker's
            # keys restart with every run: reused with new bodies they would be refused 422).
            while done < PAYMENTS and time.perf_counter() - chunk_started < MEMORY_SECONDS_MAX:
                maker = payments.maker(MEMORY_CLIENTS)
                result = loadgen.run(MEMORY_CLIENTS, 10, common.HOST, PORTS, maker)
                done += len(result.latencies)
                errors += result.errors
                samples.append({"payments": done, "rss_mb": [round(x, 1) for x in server.rss_mb()]})
                if result.errors > len(result.latencies):
                    raise SystemExit(f"the memory run is failing: {result.sample_error}")
            growth["worker_memory"] = {
                "payments": done,
                "errors": errors,
                "workers": WORKERS,
                "rss_mb_before": [round(x, 1) for x in before],
                "rss_mb_after": samples[-1]["rss_mb"],
                "samples": samples,
                "seconds": round(time.perf_counter() - chunk_started, 1),
            }
            log(
                f"worker RSS {growth['worker_memory']['rss_mb_before']} MB -> "
                f"{growth['worker_memory']['rss_mb_after']} MB after {done} payments"
            )

    if "growth" not in SKIP:
        growth["settlement"] = settlement_figures(app)
        log(f"settlement over the grown ledger: {growth['settlement']}")

    qr = {} if "qr" in SKIP else qr_throughput(app)
    if qr:
        log(f"QR: {qr}")
    check = subprocess.run(
        [str(common.ROOT / ".venv" / "bin" / "gateway"), "ledger", "check"],
        env=common.gateway_env(),
        capture_output=True,
        text=True,
    )
    report = build_report(runs, growth, qr, capture, pending, check, city)
    report["webhooks"] = webhook_figures
    report["seconds"] = round(time.perf_counter() - started, 1)
    (common.RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(render_table(report))
    if check.returncode != 0:
        raise SystemExit(f"ledger check failed after the bench:\n{check.stderr}")


def _by(runs, case):
    return {row["clients"]: row for row in runs if row["case"] == case}


def settlement_figures(app) -> dict:
    """Time closing the open window (all the grown ledger's transfers) and the busiest merchant's
    day report over it."""
    from sqlalchemy import func, select

    from gateway import reports
    from gateway.db import db
    from gateway.limits import JAKARTA
    from gateway.models import Merchant, Payment

    started = time.perf_counter()
    closed = subprocess.run(
        [str(common.ROOT / ".venv" / "bin" / "gateway"), "settle", "close"],
        env=common.gateway_env(),
        capture_output=True,
        text=True,
    )
    close_seconds = round(time.perf_counter() - started, 1)
    first_line = closed.stdout.splitlines()[0] if closed.stdout else closed.stderr[-200:]
    with app.app_context():
        merchant_id = db.session.execute(
            select(Payment.merchant_id, func.count())
            .group_by(Payment.merchant_id)
            .order_by(func.count().desc())
            .limit(1)
        ).first()[0]
        merchant = db.session.get(Merchant, merchant_id)
        started = time.perf_counter()
        day = reports.merchant_day(db.session, merchant, time_now_jakarta(JAKARTA))
        day_ms = round((time.perf_counter() - started) * 1000, 1)
        db.session.rollback()
    return {
        "close_seconds": close_seconds,
        "close": first_line,
        "merchant_day_ms": day_ms,
        "merchant_day_payments": day["count"],
    }


def time_now_jakarta(zone):
    import datetime as dt

    return dt.datetime.now(zone).date()


def build_report(runs, growth, qr, capture, pending, check, city) -> dict:
    gateway, pg, bare = _by(runs, "gateway"), _by(runs, "pgbench"), _by(runs, "bare_flask")
    by_clients = {}
    for clients, row in gateway.items():
        by_clients[str(clients)] = {
            "to_pgbench": round(row["per_second"] / pg[clients]["per_second"], 3)
            if clients in pg
            else None,
            "to_bare_flask": round(row["per_second"] / bare[clients]["per_second"], 3)
            if clients in bare
            else None,
        }

    def peak(rows):
        return max((row["per_second"] for row in rows.values()), default=0) or None

    return {
        "machine": machine(),
        "runs": runs,
        "ratios": {
            # Sustained capacity against capacity: each side's best figure over the concurrencies.
            "to_pgbench": round(peak(gateway) / peak(pg), 3)
            if peak(gateway) and peak(pg)
            else None,
            "to_bare_flask": round(peak(gateway) / peak(bare), 3)
            if peak(gateway) and peak(bare)
            else None,
            "by_clients": by_clients,
        },
        "growth": growth,
        "qr": qr,
        "payment_sql": capture,
        "city": {
            "members": city["members"],
            "merchants": len(city["merchants"]),
            "cooperatives": len(city["cooperatives"]),
            "seed_seconds": city["seconds"],
        },
        "ledger_check": "ok" if check.returncode == 0 else check.stderr.strip(),
        "pending": pending,
    }


def render_table(report: dict) -> str:
    runs = report["runs"]
    lines = [
        "",
        "Interkop bench — " + f"{report['machine']['cpus']} cores, {report['machine']['cpu']}, "
        f"PostgreSQL {report['machine']['postgresql']}, {WORKERS} gunicorn masters of 1 gthread "
        f"worker x {THREADS} threads, {SECONDS:g} s per case",
        "",
    ]
    header = f"{'case':<16}{'clients':>8}{'per s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
    lines += [header, "-" * len(header)]
    order = [
        "gateway",
        "busy_merchant",
        "no_webhooks",
        "webhooks_outbox",
        "webhooks_delivered",
        "pgbench",
        "bare_flask",
        "growth_1e4",
        "growth_1e6",
    ]
    for case in order:
        for row in [r for r in runs if r["case"] == case]:
            lines.append(
                f"{case:<16}{row['clients']:>8}{row['per_second']:>10}{row['p50_ms'] or '-':>10}"
                f"{row['p99_ms'] or '-':>10}{row['errors']:>8}"
            )
    ratios = report["ratios"]
    lines += [
        "",
        f"gateway ÷ pgbench (peak): {ratios['to_pgbench']}   gateway ÷ bare Flask (peak): "
        f"{ratios['to_bare_flask']}",
    ]
    for clients, pair in ratios["by_clients"].items():
        lines.append(
            f"  at {clients:>2} clients: ÷ pgbench {pair['to_pgbench']}  ÷ bare Flask {pair['to_bare_flask']}"
        )
    hooks = report.get("webhooks")
    if hooks:
        lines.append(
            f"webhooks at {hooks['clients']} clients, {hooks['rounds']} alternating rounds:"
            f" median {hooks['none_median']} payments/s with no endpoint, {hooks['outbox_median']}"
            f" with one endpoint per cooperative ({hooks['endpoints']}): outbox cost"
            f" {hooks['outbox_cost']:.1%} (by round {hooks['outbox_cost_by_round']});"
            f" {hooks['delivered_per_second']} with a worker delivering on the same cores"
            f" (cost {hooks['delivered_cost']:.1%})"
        )
    growth = report["growth"]
    for key in ("1e4", "1e6"):
        if key in growth:
            g = growth[key]
            lines.append(
                f"growth: {g['transfers']:>9} transfers in the ledger: p50 {g['p50_ms']} ms, "
                f"p99 {g['p99_ms']} ms, {g['per_second']} payments/s at {GROWTH_CLIENTS} clients"
            )
    if "worker_memory" in growth:
        m = growth["worker_memory"]
        lines.append(
            f"worker RSS: {m['rss_mb_before']} MB -> {m['rss_mb_after']} MB after "
            f"{m['payments']} payments over {m['workers']} workers"
        )
    if report["qr"]:
        q = report["qr"]
        lines.append(
            f"QR: {q['dynamic_issue_per_second']} dynamic issues/s (with its INSERT), "
            f"{q['png_render_per_second']} PNG/s, {q['svg_render_per_second']} SVG/s (one core)"
        )
    lines.append(
        f"payment SQL: {report['payment_sql']['statements']} statements in "
        f"{report['payment_sql']['transactions']} transactions; ledger check: {report['ledger_check']}"
    )
    settled = report.get("growth", {}).get("settlement")
    if settled:
        lines.append(
            f"settlement: closing the window of the grown ledger took {settled['close_seconds']} s"
            f" ({settled['close']}); the busiest merchant's day report took"
            f" {settled['merchant_day_ms']} ms over {settled['merchant_day_payments']} payments"
        )
    for item in report["pending"]:
        lines.append(f"pending: {item}")
    lines.append(f"written to {common.RESULTS / 'latest.json'}")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """The table of a report as Markdown (for the README or a closing note)."""
    lines = [
        "| case | clients | payments/s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in (
        "gateway",
        "busy_merchant",
        "no_webhooks",
        "webhooks_outbox",
        "webhooks_delivered",
        "pgbench",
        "bare_flask",
        "growth_1e4",
        "growth_1e6",
    ):
        for row in [r for r in report["runs"] if r["case"] == case]:
            lines.append(
                f"| {case} | {row['clients']} | {row['per_second']} | {row['p50_ms']} | {row['p99_ms']} | {row['errors']} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown(json.loads((common.RESULTS / "latest.json").read_text())))
    else:
        main()
