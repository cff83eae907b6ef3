"""The webhook delivery worker: `gateway webhooks run`.

A loop that keeps up to `WEBHOOK_WORKER_THREADS` attempts in flight: it writes the deliveries of
new messages (gateway.webhooks.fan_out), claims as many due deliveries as it has free threads
(gateway.webhooks.claim, one short transaction), sends each on a
thread — signed with `standardwebhooks`, a hard `WEBHOOK_TIMEOUT_SECONDS` for the whole attempt,
no redirects followed — and records the outcome (gateway.webhooks.record, another short
transaction). No transaction is open while a request is in flight, so the worker never holds a
lock a payment waits for (on SQLite it takes the write lock only for the claim and the record,
a few milliseconds each).

Several workers (processes or hosts) may run at once: a claim is a lease that only one of them
holds, and a worker that dies mid-attempt leaves its claim to expire, after which another sends
the message again with the same `webhook-id`. The lease (`WEBHOOK_LEASE_SECONDS`) is longer than
the timeout, so a live worker's attempt always ends before anyone else may claim it.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from standardwebhooks import Webhook

from gateway import webhooks
from gateway.db import db, transaction, utcnow

log = logging.getLogger(__name__)

USER_AGENT = "Interkop-Webhooks/1"
RESPONSE_SNIPPET_BYTES = 200
# Margin between the end of an attempt (its timeout) and the end of its claim.
LEASE_MARGIN_SECONDS = 5
# How long a round waits for more attempts to end, to record them in one transaction.
BATCH_WAIT_SECONDS = 0.005


def signature_header(held: webhooks.Claim, timestamp: datetime) -> str:
    """`webhook-signature`: one `v1,<base64>` per signing secret, space-separated."""
    return " ".join(
        Webhook(secret).sign(held.message_public_id, timestamp, held.payload)
        for secret in held.secrets
    )


def headers_for(held: webhooks.Claim, timestamp: datetime) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": held.message_public_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(held, timestamp),
    }


def send(
    url: str,
    headers: dict[str, str],
    payload: bytes,
    *,
    timeout_seconds: float,
    allow_private: bool,
) -> webhooks.Outcome:
    """POST one attempt; never raise. The host is resolved here, and (unless `allow_private`)
    only a public address is connected to, so a name that resolved to a public address at
    registration cannot be pointed at the gateway's own network later (DNS rebinding).

    `timeout_seconds` bounds the whole attempt — connecting, sending, and the answer however
    slowly it trickles in — not each socket operation.
    """
    started = time.monotonic()

    def outcome(status_code=None, error=None):
        # Bounded: a clock that jumps (or a test's frozen one) must not make it absurd.
        elapsed = min(max(time.monotonic() - started, 0.0), timeout_seconds + 1)
        return webhooks.Outcome(
            status_code=status_code, error=error, duration_ms=int(elapsed * 1000)
        )

    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = webhooks.resolve(host, port)
    except (OSError, UnicodeError, ValueError) as error:
        return outcome(error=f"cannot resolve {host}: {error}")
    if not allow_private:
        addresses = [address for address in addresses if webhooks.is_public_address(address)]
        if not addresses:
            return outcome(error=f"{host} resolves to no public address: not sent")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timed_out = threading.Event()
    connection = None
    watchdog = None
    try:
        sock = socket.create_connection((addresses[0], port), timeout=timeout_seconds)
        if parts.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)

        def cut():
            timed_out.set()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        remaining = min(timeout_seconds - (time.monotonic() - started), timeout_seconds)
        watchdog = threading.Timer(max(remaining, 0.0), cut)
        watchdog.daemon = True
        watchdog.start()
        connection = http.client.HTTPConnection(host, port, timeout=timeout_seconds)
        connection.sock = sock
        connection.request("POST", path, body=payload, headers=headers)
        response = connection.getresponse()
        snippet = response.read(RESPONSE_SNIPPET_BYTES).decode("utf-8", "replace")
        if 200 <= response.status < 300:
            return outcome(response.status)
        return outcome(response.status, f"HTTP {response.status}: {snippet}".strip())
    except (OSError, http.client.HTTPException, ssl.SSLError) as error:
        if timed_out.is_set() or isinstance(error, TimeoutError | socket.timeout):
            return outcome(error=f"timed out after {timeout_seconds:g} s")
        return outcome(error=f"{type(error).__name__}: {error}")
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if connection is not None:
            connection.close()


class Worker:
    """Claims, sends and records deliveries for one application (one database).

    The main loop does the database work, in one short transaction a round: record the outcomes
    of the attempts that ended since the last round, write the deliveries of new messages, claim
    as many due deliveries as there are idle threads. The threads only sign and send. So a busy
    worker commits once for many attempts, not twice for each.
    """

    def __init__(
        self,
        app: Flask,
        *,
        threads: int | None = None,
        clock: Callable[[], datetime] = utcnow,
        sender: Callable[..., webhooks.Outcome] = send,
    ) -> None:
        config = app.config
        self.app = app
        self.threads = threads or config["WEBHOOK_WORKER_THREADS"]
        self.timeout_seconds = float(config["WEBHOOK_TIMEOUT_SECONDS"])
        self.lease_seconds = max(
            float(config["WEBHOOK_LEASE_SECONDS"]), self.timeout_seconds + LEASE_MARGIN_SECONDS
        )
        self.poll_seconds = float(config["WEBHOOK_POLL_INTERVAL_SECONDS"])
        self.allow_private = bool(config["WEBHOOK_ALLOW_PRIVATE"])
        self.clock = clock
        self.sender = sender
        self.name = f"worker-{secrets.token_hex(4)}"

    def attempt(self, held: webhooks.Claim) -> tuple[webhooks.Claim, webhooks.Outcome]:
        """Sign and send one claimed delivery (on a pool thread)."""
        timestamp = self.clock()
        outcome = self.sender(
            held.url,
            headers_for(held, timestamp),
            held.payload.encode(),
            timeout_seconds=self.timeout_seconds,
            allow_private=self.allow_private,
        )
        return held, outcome

    def _round(self, ended: list, free: int) -> list[webhooks.Claim]:
        """One transaction: record `ended` attempts, fan out new messages, claim up to `free`."""
        token = secrets.token_hex(16)

        def work(session):
            now = self.clock()
            results = webhooks.record_many(session, ended, now)
            for (held, outcome), result in zip(ended, results, strict=True):
                log.info(
                    "%s %s to %s: attempt %d %s (%s)",
                    held.event_type,
                    held.message_public_id,
                    held.url,
                    held.attempt_number,
                    result,
                    outcome.status_code or outcome.error,
                )
            if free <= 0:
                return []
            # A few batches at most a round, so that a burst of events never starves claims.
            for _ in range(4):
                if webhooks.fan_out(session) < webhooks.FAN_OUT_BATCH:
                    break
            return webhooks.claim(
                session, now=now, limit=free, lease_seconds=self.lease_seconds, token=token
            )

        with self.app.app_context():
            return transaction(db.session, work)

    def run(self, stop: threading.Event | None = None, *, once: bool = False) -> int:
        """Deliver until `stop` is set (or, with `once`, until nothing is due); return how many
        attempts were made."""
        stop = stop or threading.Event()
        made = 0
        backoff = self.poll_seconds
        in_flight: set[Future] = set()
        ended: list = []
        with ThreadPoolExecutor(self.threads, thread_name_prefix=self.name) as pool:
            while True:
                stopping = stop.is_set()
                free = 0 if stopping else self.threads - len(in_flight)
                try:
                    claimed = self._round(ended, free)
                    ended = []
                    backoff = self.poll_seconds
                except (OperationalError, InterfaceError) as error:
                    # The database is away: the outcomes wait for the next round (their claims
                    # hold a while yet; one that expires is sent again, as after a crash).
                    log.warning("webhook worker cannot reach the database: %s", error)
                    if stopping and not in_flight:
                        break
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                except DBAPIError:
                    log.exception("recording a round failed; recording one attempt at a time")
                    for one in ended:
                        try:
                            self._round([one], 0)
                        except DBAPIError:
                            log.exception("could not record %s", one[0].message_public_id)
                    ended, claimed = [], []
                for held in claimed:
                    in_flight.add(pool.submit(self.attempt, held))
                made += len(claimed)
                if not in_flight and not ended and (stopping or (once and not claimed)):
                    break
                if in_flight:
                    # Wait for an attempt to end, or for the next look at what is due.
                    done, _ = wait(
                        in_flight,
                        timeout=0 if stopping else self.poll_seconds,
                        return_when=FIRST_COMPLETED,
                    )
                    if stopping and not done:
                        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    if done and len(done) < len(in_flight):
                        # Those ending a moment later are recorded in the same transaction.
                        more, _ = wait(in_flight - done, timeout=BATCH_WAIT_SECONDS)
                        done |= more
                    for future in done:
                        in_flight.discard(future)
                        error = future.exception()
                        if error is None:
                            ended.append(future.result())
                        else:
                            log.error("a webhook attempt failed unexpectedly", exc_info=error)
                elif not claimed:
                    stop.wait(self.poll_seconds)
        return made
