"""A webhook receiver that stays up, for `make chaos` and `make bench`: answers 204 to every
POST at once and, for each path it was given a secret for, verifies the delivery with the
`standardwebhooks` library and counts it by webhook-id.

In a thread (chaos): `receiver = CountingReceiver({"/KSM": secret}); receiver.url("/KSM")`.
As a process (bench, so that it does not share the load generator's interpreter):
`python -m bench.webhook_receiver PORT` (answers 204 without verifying; prints its count on
SIGTERM).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


class CountingReceiver:
    def __init__(self, secrets: dict[str, str] | None = None, port: int = 0, verify: bool = True):
        self.secrets = dict(secrets or {})
        self.verify = verify
        self.lock = threading.Lock()
        self.seen: Counter[tuple[str, str]] = Counter()  # (path, webhook-id) -> deliveries
        self.invalid: list[str] = []
        self.total = 0
        self.aborted = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if len(raw) < length:
                    # The sender went away mid-body (a killed worker): no delivery, no answer.
                    receiver._aborted()
                    self.close_connection = True
                    return
                receiver._record(self.path, dict(self.headers.items()), raw)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            # socketserver's default backlog is 5: two webhook workers with 32 threads each
            # overflow it, and the kernel resets the connections it cannot queue, which the
            # workers rightly count as failed attempts (a second one in a row waits 5 minutes,
            # past the chaos test's drain). A real receiver's backlog is the system's.
            request_queue_size = 1024
            daemon_threads = True

            def handle_error(self, request, client_address):
                # A killed webhook worker resets its connection: expected here, not news.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> CountingReceiver:
        self.thread.start()
        return self

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _aborted(self) -> None:
        with self.lock:
            self.aborted += 1

    def _record(self, path: str, headers: dict[str, str], raw: bytes) -> None:
        webhook_id = {k.lower(): v for k, v in headers.items()}.get("webhook-id", "")
        problem = None
        if self.verify:
            secret = self.secrets.get(path)
            if secret is None:
                problem = f"{path}: a delivery to a path no endpoint has"
            else:
                try:
                    Webhook(secret).verify(raw, headers)
                except WebhookVerificationError as error:
                    problem = f"{path} {webhook_id}: {error} ({len(raw)} bytes, headers {headers})"
        with self.lock:
            self.total += 1
            if problem:
                self.invalid.append(problem)
            else:
                self.seen[(path, webhook_id)] += 1

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    receiver = CountingReceiver(port=int(sys.argv[1]), verify=False)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    receiver.start()
    print(f"receiving on {receiver.port}", flush=True)
    done.wait()
    receiver.stop()
    print(f"received {receiver.total}", flush=True)


if __name__ == "__main__":
    main()
