"""A real webhook receiver on loopback for the tests: http.server in a thread, every delivery
verified with the `standardwebhooks` library, as a cooperative's system would.

Each path is one receiving system: `receiver.url("/ksm")`. Tell it the endpoint's secret
(`receiver.trust("/ksm", secret)`) and, if it should not simply answer 200, what to answer:
`receiver.answer("/ksm", 500, 500, 200)` (in turn, then 200). `receiver.hold()` keeps requests
waiting until `receiver.release()`.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    # Which of the path's trusted secrets verified the delivery.
    verified_by: list[str] = field(default_factory=list)
    payload: dict | None = None

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def signatures(self) -> list[str]:
        return self.headers["webhook-signature"].split(" ")


class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.secrets: dict[str, list[str]] = defaultdict(list)
        self.script: dict[str, list[int]] = defaultdict(list)
        self.in_flight: dict[tuple[str, str], int] = defaultdict(int)
        self.most_in_flight: dict[tuple[str, str], int] = defaultdict(int)
        self.arrived = threading.Event()
        self.held = threading.Event()
        self.held.set()
        self.linger_seconds = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                receiver._handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def trust(self, path: str, secret: str) -> None:
        with self.lock:
            self.secrets[path].append(secret)

    def answer(self, path: str, *statuses: int) -> None:
        with self.lock:
            self.script[path].extend(statuses)

    def hold(self) -> None:
        self.held.clear()

    def release(self) -> None:
        self.held.set()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", 0))
        raw = request.rfile.read(length)
        headers = {name.lower(): value for name, value in request.headers.items()}
        path = request.path
        key = (path, headers.get("webhook-id", ""))
        with self.lock:
            self.in_flight[key] += 1
            self.most_in_flight[key] = max(self.most_in_flight[key], self.in_flight[key])
            status = self.script[path].pop(0) if self.script[path] else 200
            trusted = list(self.secrets[path])
        self.arrived.set()
        try:
            self.held.wait(timeout=60)
            if self.linger_seconds:
                time.sleep(self.linger_seconds)
            delivery = Delivery(path=path, headers=headers, body=raw, status=status)
            for secret in trusted:
                try:
                    delivery.payload = Webhook(secret).verify(raw, headers)
                    delivery.verified_by.append(secret)
                except WebhookVerificationError:
                    pass
            with self.lock:
                self.deliveries.append(delivery)
            try:
                request.send_response(status)
                request.send_header("Content-Length", "0")
                request.end_headers()
            except OSError:
                pass  # the sender gave up (a timeout): nothing to answer
        finally:
            with self.lock:
                self.in_flight[key] -= 1

    def at(self, path: str) -> list[Delivery]:
        with self.lock:
            return [delivery for delivery in self.deliveries if delivery.path == path]

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
