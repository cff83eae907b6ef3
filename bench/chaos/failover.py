"""`make chaos-failover`: the chaos test's 16 clients and proof, while database machines are lost.

    python -m bench.chaos.failover      # until CHAOS_FAILOVERS (30) failovers, then the proof

The topology, started here in a temporary folder (never the server on 5432):

    16 clients -> HAProxy :H (health check GET /readyz)
                    -> gateway host 1 (gunicorn master + workers) -+-> fault proxy A -> node on :A
                    -> gateway host 2 (gunicorn master + workers) -+-> fault proxy B -> node on :B

- Two PostgreSQL machines: a primary (initdb, fsync on) and a synchronous standby built from it
  with pg_basebackup, streaming straight from the primary. `synchronous_commit = on` and
  `synchronous_standby_names = 'standby'`: a commit is acknowledged only once the standby has
  flushed its WAL, so an acknowledged payment is on two machines' disks.
- The gateways' database URL lists both proxies with `target_session_attrs=read-write` (libpq
  multi-host): a new connection finds whichever node is the primary by itself.
- Failover is `pg_ctl promote`, driven by this test: the primary's postmaster and its backends are
  SIGKILLed and its data folder deleted (the machine is lost), the standby is promoted, and a new
  standby is built from the new primary (pg_basebackup) on the lost machine's port before the next
  round. The new primary keeps `synchronous_standby_names`: until its new standby streams, its
  commits wait (no acknowledgement is ever on one disk only; the wait is part of the measured
  time without service).
- Meanwhile a whole gateway host (master and workers, SIGKILL) is killed and started again, and
  the network between gateways and database misbehaves through the fault proxies
  (bench/chaos/fault_proxy.py): every connection cut, latency on every chunk, a connection
  stalled and then resumed or cut.

Then the proof of `make chaos` (bench/chaos/verify.py, bench/chaos/outbox.py) on the last
primary. Environment: CHAOS_FAILOVERS (30), CHAOS_SECONDS (a cap, 3600), CHAOS_FAILOVER_SECONDS
(15, between failovers), CHAOS_HOST_KILL_SECONDS (20), CHAOS_FAULT_SECONDS (4), CHAOS_WORKERS
(2 per host), CHAOS_THREADS (4), CHAOS_KEEP=1, and those of bench/chaos/run.py.
CHAOS_ALONE_UNTIL_STANDBY=1 measures the other choice: the new primary commits without a
synchronous standby (ALTER SYSTEM) until its new one streams — service back sooner, but for those
seconds an acknowledged operation is on one machine only (RPO > 0).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

from bench.chaos.client import Api, Stats
from bench.chaos.fault_proxy import FaultProxy
from bench.chaos.pg import TempPostgres, free_port
from bench.chaos.run import ROOT, Harness, log, setting
from bench.chaos.run import main as run_harness

STANDBY_NAME = "standby"

REPLICATION_SETTINGS = {
    "wal_level": "replica",
    "max_wal_senders": "10",
    "wal_keep_size": "'256MB'",
    "hot_standby": "on",
    "synchronous_commit": "on",
    "wal_receiver_status_interval": "'1s'",
    "wal_sender_timeout": "'10s'",
}


# Set on the first primary once its database exists and its standby streams (CREATE DATABASE would
# wait for a standby that is not there yet), and on every standby built, for when it is promoted.
SYNCHRONOUS = f"synchronous_standby_names = '{STANDBY_NAME}'\n"


# PostgreSQL's warnings when a commit stops waiting for the synchronous standby (a query cancel,
# or a backend terminated): "The transaction has already committed locally, but might not have
# been replicated to the standby." statement_timeout cannot cause it: PostgreSQL disarms the
# statement's timeout before the commit itself.
CANCELLED_WAIT = re.compile(r"canceling (?:the )?wait for synchronous replication")


class TimedStats(Stats):
    """Stats that also remember when each acknowledgement arrived (for the time without service)."""

    def __init__(self):
        super().__init__()
        self.acknowledged_at: list[float] = []

    def add(self, name: str, amount: int = 1) -> None:
        super().add(name, amount)
        if name == "acknowledged":
            with self.lock:
                bisect.insort(self.acknowledged_at, time.monotonic())


class ObservedApi(Api):
    """The clients' Api, also counting where each 503 came from, whether it said Retry-After,
    and when a request timed out (to tell a timeout during a standby's rebuild from another)."""

    def __init__(self, host: str, port: int, stats: Stats):
        super().__init__(host, port)
        self.stats = stats
        self.timed_out_at: list[float] = []

    def observe(self, response, raw: bytes) -> None:
        if response.status != 503:
            return
        source = "HAProxy, no host ready" if raw == HAPROXY_503.encode() else "a gateway"
        self.stats.add(f"503 from {source}")
        if not response.getheader("Retry-After"):
            self.stats.add("503 without Retry-After")

    def request(self, *args, **kwargs):
        try:
            return super().request(*args, **kwargs)
        except TimeoutError:
            with self.stats.lock:
                self.timed_out_at.append(time.monotonic())
            raise


class Node(TempPostgres):
    """One database machine: its own folder and port; a primary or a standby."""

    def __init__(self, root: Path, port: int):
        root.mkdir(mode=0o755)
        super().__init__(root, port)

    def configure_primary(self) -> None:
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("# bench/chaos/failover: streaming replication, synchronous\n")
            for name, value in REPLICATION_SETTINGS.items():
                conf.write(f"{name} = {value}\n")

    def require_synchronous_standby(self) -> None:
        """From now on a commit waits for the standby's flush (this node, as a primary)."""
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(SYNCHRONOUS)
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "reload")

    def build_standby(self, primary: Node) -> None:
        """pg_basebackup from `primary` into this machine's empty data folder, as its standby."""
        for folder in (self.data, self.sockets):
            folder.mkdir(mode=0o700)
        self.log.touch()
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (self.data, self.sockets, self.log):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(self.data),
            "-X",
            "stream",
            "-c",
            "fast",
            "-R",
            timeout=300,
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"# this machine\nport = {self.port}\nunix_socket_directories = '{self.sockets}'\n"
            )
            conf.write(SYNCHRONOUS)  # for when it is promoted
        with open(self.data / "postgresql.auto.conf", "a") as conf:
            conf.write(
                f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user=postgres"
                f" application_name={STANDBY_NAME}'\n"
            )
            # Over a primary's ALTER SYSTEM of CHAOS_ALONE_UNTIL_STANDBY=1, copied with the rest.
            conf.write(SYNCHRONOUS)

    def alter_system(self, statement: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=10) as connection:
            connection.execute(statement)
            connection.execute("SELECT pg_reload_conf()")

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "promote")

    def processes(self) -> list[int]:
        """Return the postmaster's pid and its children's (the backends, the WAL sender...)."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        pids = [postmaster]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        fields = stat.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == postmaster:
                    pids.append(int(entry))
        return pids

    def cancelled_synchronous_waits(self) -> int:
        """Count the commits whose wait for the standby was cancelled (a query cancel, a
        terminated backend): PostgreSQL then reports them done, committed on this machine only."""
        try:
            return len(CANCELLED_WAIT.findall(self.log.read_text(errors="replace")))
        except OSError:
            return 0

    def lose_machine(self) -> None:
        """SIGKILL the postmaster and every process of it; return once its port is closed.

        Its folder is deleted by `throw_away` (after the promotion: deleting a data folder takes
        seconds on a busy disk, and nothing waits for it)."""
        pids = self.processes()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        began = time.monotonic()
        reported = False
        while time.monotonic() - began < 30 and port_open(self.port):
            if not reported and time.monotonic() - began > 1:
                reported = True
                log(f"port {self.port} still open 1 s after SIGKILL; states {process_states(pids)}")
            time.sleep(0.02)
        self.running = False

    def throw_away(self) -> None:
        """Delete the machine's folder: its data, its WAL, its log (the machine is gone)."""
        shutil.rmtree(self.root, ignore_errors=True)


def process_states(pids: list[int]) -> dict[str, int]:
    """Count the processes among `pids` by state (R, S, D: in a disk wait, Z: dead)."""
    states: dict[str, int] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            state = "gone"
        states[state] = states.get(state, 0) + 1
    return states


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Cluster:
    """The primary and its synchronous standby, on two ports that the machines take in turn."""

    def __init__(self, root: Path, alone_until_standby: bool = False):
        self.root = root
        self.alone_until_standby = alone_until_standby
        self.ports = [free_port(), free_port()]
        self.generation = 0
        self.primary = self.new_machine(self.ports[0])
        self.standby: Node | None = None
        self.bindir = self.primary.bindir
        self.lost_cancelled_waits = 0  # counted in the logs of the machines lost so far

    def cancelled_synchronous_waits(self) -> int:
        """Count the commits acknowledged without their standby's flush, over all machines."""
        return self.lost_cancelled_waits + sum(
            node.cancelled_synchronous_waits() for node in (self.primary, self.standby) if node
        )

    def new_machine(self, port: int) -> Node:
        self.generation += 1
        return Node(self.root / f"machine-{self.generation}", port)

    @property
    def url(self) -> str:
        """The current primary, directly (for the setup and the proof, not the gateways)."""
        return self.primary.url

    @property
    def port(self) -> int:
        return self.primary.port

    def start(self) -> None:
        self.primary.init()
        self.primary.configure_primary()
        self.primary.start()
        self.primary.create_database()
        self.standby = self.new_machine(self.ports[1])
        self.standby.build_standby(self.primary)
        self.standby.start()
        self.primary.require_synchronous_standby()
        self.wait_synchronous()

    def wait_synchronous(self, seconds: float = 120, state: str = "sync") -> None:
        """Wait until the primary has its standby streaming as the synchronous one (`state`
        "async": streaming at all)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                with psycopg.connect(self.primary.admin_dsn, connect_timeout=3) as connection:
                    states = connection.execute(
                        "SELECT sync_state FROM pg_stat_replication"
                        " WHERE application_name = %s AND state = 'streaming'",
                        (STANDBY_NAME,),
                    ).fetchall()
                if (state,) in states:
                    return
            except psycopg.Error:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the standby did not become synchronous")
            time.sleep(0.05)

    def failover(self) -> dict[str, float]:
        """Lose the primary's machine, promote the standby, build a new standby; return when each
        step ended (time.monotonic())."""
        lost = self.primary
        self.lost_cancelled_waits += lost.cancelled_synchronous_waits()
        times = {"killed": time.monotonic()}
        lost.lose_machine()
        times["lost"] = time.monotonic()
        self.standby.promote()
        times["promoted"] = time.monotonic()
        if self.alone_until_standby:
            # Commit on one machine until the new standby streams: service sooner, RPO > 0.
            self.standby.alter_system("ALTER SYSTEM SET synchronous_standby_names = ''")
        self.primary, self.standby = self.standby, None
        # Deleting a data folder takes seconds on a busy disk; nothing needs to wait for it.
        threading.Thread(target=lost.throw_away, daemon=True).start()
        replacement = self.new_machine(lost.port)
        replacement.build_standby(self.primary)
        times["backed up"] = time.monotonic()
        replacement.start()
        self.standby = replacement
        if self.alone_until_standby:
            self.wait_synchronous(state="async")
            self.primary.alter_system("ALTER SYSTEM RESET synchronous_standby_names")
        self.wait_synchronous()
        times["synchronous"] = time.monotonic()
        return times

    def ensure_running(self) -> None:
        for node in (self.primary, self.standby):
            if node is not None:
                node.ensure_running()
        self.wait_synchronous()

    def stop(self, mode: str = "fast") -> None:
        for node in (self.standby, self.primary):
            if node is not None:
                with contextlib.suppress(Exception):
                    node.stop(mode)


class GatewayHost:
    """One gateway machine: a gunicorn master and its workers, in a process group of their own."""

    def __init__(self, name: str, harness: FailoverHarness):
        self.name, self.harness = name, harness
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = open(harness.root / f"gunicorn-{name}.log", "a")  # noqa: SIM115 - lives with it

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.harness.gunicorn_command(self.port, self.harness.workers),
            env=self.harness.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self) -> None:
        Api("127.0.0.1", self.port).wait_healthy(120)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


HAPROXY_503 = json.dumps(
    {
        "type": "https://interkop.id/problems/service-unavailable",
        "title": "Service unavailable",
        "status": 503,
        "detail": "Layanan sedang tidak dapat menghubungi basis datanya; coba lagi sebentar lagi."
        " The service cannot reach its database just now; try again in a moment.",
    }
)


class HAProxy:
    """HAProxy from Debian's package in front of the gateway hosts, checking GET /readyz."""

    def __init__(self, root: Path, port: int, hosts: list[GatewayHost]):
        self.root, self.port, self.hosts = root, port, hosts
        self.process: subprocess.Popen | None = None

    @staticmethod
    def ensure_installed() -> str:
        found = shutil.which("haproxy", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
        if not found and os.geteuid() == 0:
            log("installing haproxy (apt-get)")
            apt = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-qq"], env=apt, check=False, capture_output=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "haproxy"],
                env=apt,
                check=True,
                capture_output=True,
            )
            found = shutil.which("haproxy", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
        if not found:
            raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
        return found

    def configuration(self) -> str:
        servers = "\n".join(
            f"    server {host.name} 127.0.0.1:{host.port} check" for host in self.hosts
        )
        return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 2s
    # Only a connection that never reached a host is tried again, on the other host (the request
    # was not sent); anything else is the client's to retry, with its Idempotency-Key.
    retries 2
    retry-on conn-failure
    option redispatch
    errorfile 503 {self.root / "haproxy-503.http"}

frontend gateway
    bind 127.0.0.1:{self.port}
    default_backend gateway_hosts

backend gateway_hosts
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 1
{servers}
"""

    def start(self) -> None:
        binary = self.ensure_installed()
        body = HAPROXY_503.encode()
        (self.root / "haproxy-503.http").write_bytes(
            b"HTTP/1.1 503 Service Unavailable\r\n"
            b"Content-Type: application/problem+json\r\n"
            b"Retry-After: 1\r\n"
            b"Cache-Control: no-store\r\n"
            b"Connection: close\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        config = self.root / "haproxy.cfg"
        config.write_text(self.configuration())
        subprocess.run([binary, "-c", "-q", "-f", str(config)], check=True)
        self.log = open(self.root / "haproxy.log", "w")  # noqa: SIM115 - lives with it
        self.process = subprocess.Popen(
            [binary, "-db", "-f", str(config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("haproxy did not start (see haproxy.log)")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class FailoverHarness(Harness):
    def __init__(self):
        super().__init__()
        os.chmod(self.root, 0o755)  # the postgres user reaches the machines' folders
        self.failover_target = int(setting("CHAOS_FAILOVERS", 30))
        self.seconds = setting("CHAOS_SECONDS", 3600)
        self.workers = int(setting("CHAOS_WORKERS", 2))
        self.failover_every = setting("CHAOS_FAILOVER_SECONDS", 15)
        self.host_kill_every = setting("CHAOS_HOST_KILL_SECONDS", 20)
        self.fault_every = setting("CHAOS_FAULT_SECONDS", 4)
        self.stats = TimedStats()
        self.alone_until_standby = os.environ.get("CHAOS_ALONE_UNTIL_STANDBY") == "1"
        self.pg = Cluster(self.root, self.alone_until_standby)
        self.proxies = {port: FaultProxy(upstream_port=port).start() for port in self.pg.ports}
        hosts = "&".join(f"host=127.0.0.1:{proxy.port}" for proxy in self.proxies.values())
        self.gateway_url = (
            f"postgresql://postgres@/interkop?{hosts}&target_session_attrs=read-write"
            "&connect_timeout=3"
        )
        for env in (self.env, self.webhook_env):
            env["GATEWAY_DATABASE_URL"] = self.gateway_url
        self.hosts = [GatewayHost(f"host{index}", self) for index in (1, 2)]
        self.haproxy = HAProxy(self.root, self.port, self.hosts)
        self.failovers: list[dict[str, float]] = []
        self.host_kills = 0
        self.host_down_seconds: list[float] = []
        self.harness_errors: list[str] = []

    # -- the topology -----------------------------------------------------------------------

    def start_database(self) -> None:
        self.pg.start()
        log(
            f"primary on :{self.pg.primary.port}, synchronous standby on :{self.pg.standby.port};"
            f" the gateways reach them through fault proxies on"
            f" {', '.join(str(p.port) for p in self.proxies.values())}"
        )
        self.gateway("init-db")
        self.city_logins = json.loads(self.gateway("demo", "--json"))
        log("gateway init-db and demo done (through the proxies, multi-host URL)")

    def start_gunicorn(self) -> None:
        for host in self.hosts:
            host.start()
        for host in self.hosts:
            host.wait_healthy()
        self.haproxy.start()
        self.api = ObservedApi("127.0.0.1", self.port, self.stats)
        self.api.wait_healthy()
        log(
            f"2 gateway hosts ({self.workers} workers x {self.threads} threads each) on"
            f" {', '.join(str(h.port) for h in self.hosts)} behind HAProxy on 127.0.0.1:{self.port}"
        )

    # -- the chaos --------------------------------------------------------------------------

    def chaos_threads(self, stop: threading.Event) -> list[threading.Thread]:
        return [
            threading.Thread(target=self.fail_over, args=(stop,), daemon=True),
            threading.Thread(target=self.kill_hosts, args=(stop,), daemon=True),
            threading.Thread(target=self.break_network, args=(stop,), daemon=True),
        ]

    def fail_over(self, stop: threading.Event) -> None:
        try:
            self.fail_over_repeatedly(stop)
        except Exception as error:  # noqa: BLE001 - reported as a violation, and the chaos ends
            log(f"failover failed: {error!r}")
            self.harness_errors.append(f"failover {len(self.failovers) + 1} failed: {error!r}")

    def fail_over_repeatedly(self, stop: threading.Event) -> None:
        while len(self.failovers) < self.failover_target and not stop.wait(
            random.uniform(0.8, 1.2) * self.failover_every
        ):
            old_port = self.pg.primary.port
            times = self.pg.failover()
            self.failovers.append(times)
            log(
                f"failover {len(self.failovers)}: :{old_port} lost in"
                f" {times['lost'] - times['killed']:.1f} s, :{self.pg.primary.port} promoted"
                f" {times['promoted'] - times['lost']:.1f} s later; new standby backed up in"
                f" {times['backed up'] - times['promoted']:.1f} s, synchronous"
                f" {times['synchronous'] - times['backed up']:.1f} s later"
            )

    def kill_hosts(self, stop: threading.Event) -> None:
        try:
            self.kill_hosts_repeatedly(stop)
        except Exception as error:  # noqa: BLE001
            log(f"killing a gateway host failed: {error!r}")
            self.harness_errors.append(f"a gateway host kill failed: {error!r}")

    def kill_hosts_repeatedly(self, stop: threading.Event) -> None:
        while not stop.wait(random.uniform(0.8, 1.2) * self.host_kill_every):
            self.check_hosts_alive()
            host = random.choice(self.hosts)
            began = time.monotonic()
            host.kill()
            self.host_kills += 1
            stop.wait(random.uniform(1, 3))  # the machine reboots
            host.start()
            host.wait_healthy()
            self.host_down_seconds.append(time.monotonic() - began)

    def break_network(self, stop: threading.Event) -> None:
        """Every few seconds a fault between the gateways and the primary."""
        while not stop.wait(random.uniform(0.5, 1.5) * self.fault_every):
            proxy = self.proxies[self.pg.primary.port]
            fault = random.choice(("cut", "latency", "stall then resume", "stall then cut"))
            if fault == "cut":
                proxy.cut()
            elif fault == "latency":
                proxy.set_latency(random.uniform(0.05, 0.3))
                stop.wait(random.uniform(1, 4))
                proxy.set_latency(0)
            else:
                proxy.stall(
                    random.uniform(1, 5), then=fault.rsplit(" ", 1)[1], count=random.randint(1, 2)
                )

    def chaos_done(self, elapsed_seconds: float) -> bool:
        if elapsed_seconds >= self.seconds or self.harness_errors:
            return True
        if len(self.failovers) < self.failover_target:
            return False
        return time.monotonic() - self.failovers[-1]["synchronous"] >= 5

    def progress(self) -> str:
        return (
            f"{self.stats.get('operations')} ops, {self.stats.get('acknowledged')} acknowledged,"
            f" {len(self.failovers)} failovers, {self.host_kills} gateway hosts killed,"
            f" {self.network_faults()} network faults"
        )

    def network_faults(self) -> int:
        return sum(sum(proxy.faults.values()) for proxy in self.proxies.values())

    def check_hosts_alive(self) -> None:
        """Record a gateway host's master that died without being killed (then start it)."""
        for host in self.hosts:
            if not host.alive():
                self.harness_errors.append(f"gateway host {host.name}'s master died on its own")
                host.start()
                host.wait_healthy()

    def after_chaos(self) -> None:
        for proxy in self.proxies.values():
            proxy.set_latency(0)
        self.pg.ensure_running()
        self.check_hosts_alive()  # the killing thread has started its last host again

    def gateway_alive(self) -> bool:
        """Tell whether both hosts' masters still run once the clients are done."""
        return all(host.alive() for host in self.hosts)

    # -- the figures ------------------------------------------------------------------------

    def outages(self) -> list[float]:
        """Seconds from each primary's SIGKILL to the first operation acknowledged after its
        successor was promoted (nothing acknowledged before that can be the new primary's)."""
        seconds = []
        for times in self.failovers:
            index = bisect.bisect_right(self.stats.acknowledged_at, times["promoted"])
            if index < len(self.stats.acknowledged_at):
                seconds.append(self.stats.acknowledged_at[index] - times["killed"])
        return seconds

    def timeouts_during_rebuilds(self) -> int:
        """Count the client timeouts whose 15 s overlapped a failover (kill to synchronous)."""
        timeout = self.api.timeout
        return sum(
            1
            for moment in self.api.timed_out_at
            if any(
                t["killed"] < moment and moment - timeout < t["synchronous"] for t in self.failovers
            )
        )

    def chaos_rows(self) -> list[tuple[str, object]]:
        counts = self.stats.counts
        outages = self.outages()
        promoted = [t["promoted"] - t["killed"] for t in self.failovers]
        synchronous = [t["synchronous"] - t["promoted"] for t in self.failovers]
        faults: dict[str, int] = {}
        for proxy in self.proxies.values():
            for kind, number in proxy.faults.items():
                faults[kind] = faults.get(kind, 0) + number

        def p50_max(values: list[float]) -> str:
            if not values:
                return "-"
            return f"{statistics.median(values):.1f} / {max(values):.1f}"

        return [
            ("failovers survived", len(self.failovers)),
            ("  kill -> promoted, s (p50 / max)", p50_max(promoted)),
            (
                "  promoted -> new standby sync, s"
                + (" (RPO > 0: one copy)" if self.alone_until_standby else ""),
                p50_max(synchronous),
            ),
            ("  seconds without service (p50 / max)", p50_max(outages)),
            ("gateway hosts killed and restarted", self.host_kills),
            ("  seconds down (p50 / max)", p50_max(self.host_down_seconds)),
            ("network faults", self.network_faults()),
            *((f"  {kind}", number) for kind, number in sorted(faults.items())),
            ("answers 500 (a violation)", counts.get("retry 500", 0)),
            ("answers 503 from a gateway", counts.get("503 from a gateway", 0)),
            (
                "answers 503 from HAProxy, no host ready",
                counts.get("503 from HAProxy, no host ready", 0),
            ),
            ("  503 without Retry-After (a violation)", counts.get("503 without Retry-After", 0)),
            ("client timeouts (15 s)", len(self.api.timed_out_at)),
            ("  while a new standby was being built", self.timeouts_during_rebuilds()),
            ("commits whose standby wait was cancelled", self.pg.cancelled_synchronous_waits()),
        ]

    def extra_violations(self, operations) -> list[str]:
        violations = list(self.harness_errors)
        if counts := self.stats.get("retry 500"):
            violations.append(f"{counts} answers were 500 (a lost primary must be a 503)")
        if bare := self.stats.get("503 without Retry-After"):
            violations.append(f"{bare} answers were 503 without Retry-After")
        if cancelled := self.pg.cancelled_synchronous_waits():
            violations.append(
                f"{cancelled} commits stopped waiting for the synchronous standby and were"
                " reported done by PostgreSQL (committed on one machine: RPO > 0)"
            )
        if len(self.failovers) < self.failover_target:
            violations.append(
                f"{len(self.failovers)} failovers, fewer than the {self.failover_target} asked"
            )
        if len(self.outages()) != len(self.failovers):
            violations.append("a failover was never followed by an acknowledged operation")
        return violations

    # -- cleanup ----------------------------------------------------------------------------

    def cleanup(self) -> None:
        if self.cleaned:
            return
        self.haproxy.stop()
        for host in self.hosts:
            host.kill()
            host.log.close()
        for proxy in self.proxies.values():
            with contextlib.suppress(Exception):
                proxy.stop()
        super().cleanup()


def main() -> int:
    return run_harness(FailoverHarness)


if __name__ == "__main__":
    sys.exit(main())
