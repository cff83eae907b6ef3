"""The chaos clients: money-moving requests, each under its own Idempotency-Key, retried with the
SAME key and the SAME body until a definitive answer.

Definitive: any 2xx (acknowledged), or a 4xx (a refusal: insufficient funds, a limit, a refund
larger than what is left). Retried: connection errors (refused, reset, a worker killed
mid-request), timeouts and 5xx (the database went away). A duplicate sent while the first is still
running waits for it and replays its answer; a killed request's claim rolls back with its money.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

KEY_REUSED = "https://interkop.id/problems/idempotency-key-reused"

TRANSIENT = (OSError, http.client.HTTPException)


class Api:
    def __init__(self, host: str, port: int, timeout: float = 15.0):
        self.host, self.port, self.timeout = host, port, timeout

    def request(
        self, method: str, path: str, body=None, token: str | None = None, key: str | None = None
    ):
        """One HTTP exchange on a fresh connection; raise a TRANSIENT error if it breaks."""
        headers = {"Accept": "application/json", "Accept-Language": "en"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            replayed = response.getheader("Idempotent-Replayed") == "true"
            self.observe(response, raw)
        finally:
            connection.close()
        try:
            document = json.loads(raw) if raw else None
        except ValueError:
            document = {"raw": raw[:200].decode("latin-1")}
        return response.status, document, replayed

    def observe(self, response: http.client.HTTPResponse, raw: bytes) -> None:
        """See every answer as it arrives (a variant of the run checks headers here)."""

    def wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                status, _, _ = self.request("GET", "/healthz")
                if status == 200:
                    return
            except TRANSIENT:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not become healthy")
            time.sleep(0.2)

    def call(self, method: str, path: str, body=None, token=None, attempts: int = 30):
        """A setup call (login, sticker, limits) before the chaos: retried on transient errors."""
        for attempt in range(attempts):
            try:
                status, document, _ = self.request(method, path, body, token)
                if status < 500:
                    return status, document
            except TRANSIENT:
                pass
            time.sleep(min(0.1 * 2**attempt, 1.0))
        raise RuntimeError(f"{method} {path} kept failing")


@dataclass
class Operation:
    kind: str  # pay, cash_in, cash_out, refund
    path: str
    body: dict
    token: str
    scope: str  # the caller's user public id: the Idempotency-Key's scope
    member_id: str  # whose wallet it moves
    key: str = field(default_factory=lambda: f"chaos-{uuid.uuid4()}")
    attempts: int = 0
    status: int | None = None
    response: dict | None = None
    replayed: bool = False
    outcome: str = "pending"  # acknowledged, refused, unresolved
    errors: dict = field(default_factory=dict)  # what each retry was for

    @property
    def acknowledged(self) -> bool:
        return self.outcome == "acknowledged"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + amount

    def get(self, name: str) -> int:
        with self.lock:
            return self.counts.get(name, 0)


def perform(
    api: Api, op: Operation, stats: Stats, budget_seconds: float, max_attempts: int
) -> None:
    """Send op until a definitive answer, retrying with the same key and body; bounded."""
    started = time.monotonic()
    delay = 0.05
    while True:
        op.attempts += 1
        reason = None
        try:
            status, document, replayed = api.request("POST", op.path, op.body, op.token, op.key)
        except TRANSIENT as error:
            reason = f"connection:{type(error).__name__}"
        else:
            if 200 <= status < 300:
                op.status, op.response, op.replayed, op.outcome = (
                    status,
                    document,
                    replayed,
                    "acknowledged",
                )
            elif status >= 500:
                reason = f"{status}"
            else:
                op.status, op.response, op.replayed, op.outcome = (
                    status,
                    document,
                    replayed,
                    "refused",
                )
        if reason is None:
            break
        op.errors[reason] = op.errors.get(reason, 0) + 1
        stats.add(f"retry {reason}")
        if op.attempts >= max_attempts or time.monotonic() - started > budget_seconds:
            op.outcome = "unresolved"
            break
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 1.0)
    stats.add("retries", op.attempts - 1)
    stats.add(op.outcome)
    if op.replayed:
        stats.add("replayed answers")


class ChaosClient(threading.Thread):
    """One of the 16 clients: pay, cash in, cash out, refund, until told to stop."""

    def __init__(
        self,
        index: int,
        api: Api,
        city: dict,
        stop: threading.Event,
        stats: Stats,
        budget_seconds: float,
        max_attempts: int,
    ):
        super().__init__(name=f"client-{index}", daemon=True)
        self.api, self.city, self.stop, self.stats = api, city, stop, stats
        self.budget_seconds, self.max_attempts = budget_seconds, max_attempts
        self.random = random.Random(index * 7919 + int(time.time()))
        self.operations: list[Operation] = []
        self.refundable: list[dict] = []  # this client's acknowledged payments with money left
        self.crashed: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                op = self.next_operation()
                self.operations.append(op)
                self.stats.add("operations")
                self.stats.add(f"operations {op.kind}")
                perform(self.api, op, self.stats, self.budget_seconds, self.max_attempts)
                self.after(op)
        except BaseException as error:  # reported by run.py as a failure of the harness
            self.crashed = error

    def next_operation(self) -> Operation:
        pick = self.random.random()
        if self.refundable and pick < 0.2:
            return self.refund()
        if pick < 0.6:
            return self.pay()
        if pick < 0.8:
            return self.cash_in()
        return self.cash_out()

    def pay(self) -> Operation:
        member = self.random.choice(self.city["members"])
        merchant = self.random.choice(
            [m for m in self.city["merchants"] if m["owner_user_id"] != member["user_id"]]
        )
        if self.random.random() < 0.1:  # above the no-PIN threshold: with the PIN
            body = {
                "token": merchant["qr_token"],
                "amount": self.random.randrange(51_000, 95_000, 500),
                "pin": member["pin"],
            }
        else:
            body = {
                "token": merchant["qr_token"],
                "amount": self.random.randrange(1_000, 49_500, 500),
            }
        return Operation(
            "pay", "/api/v1/payments", body, member["token"], member["user_id"], member["id"]
        )

    def cash_in(self) -> Operation:
        member = self.random.choice(self.city["members"])
        admin = self.random.choice(self.city["tellers"])
        body = {"member_id": member["id"], "amount": self.random.randrange(10_000, 150_000, 1_000)}
        return Operation(
            "cash_in",
            "/api/v1/counter/cash-in",
            body,
            admin["token"],
            admin["user_id"],
            member["id"],
        )

    def cash_out(self) -> Operation:
        member = self.random.choice(self.city["members"])
        admin = self.random.choice(self.city["tellers"])
        body = {
            "member_id": member["id"],
            "amount": self.random.randrange(5_000, 80_000, 1_000),
            "pin": member["pin"],
        }
        return Operation(
            "cash_out",
            "/api/v1/counter/cash-out",
            body,
            admin["token"],
            admin["user_id"],
            member["id"],
        )

    def refund(self) -> Operation:
        payment = self.refundable.pop(self.random.randrange(len(self.refundable)))
        left = payment["left"]
        if left > 1_000 and self.random.random() < 0.5:
            amount = self.random.randrange(1, left // 2 + 1)
            body = {"amount": amount}
        else:
            amount, body = left, {}
        op = Operation(
            "refund",
            f"/api/v1/payments/{payment['id']}/refunds",
            body,
            payment["merchant_token"],
            payment["merchant_user_id"],
            payment["member_id"],
        )
        op.refund_of = payment  # type: ignore[attr-defined]
        op.refund_amount = amount  # type: ignore[attr-defined]
        return op

    def after(self, op: Operation) -> None:
        if op.kind == "pay" and op.acknowledged:
            merchant = next(m for m in self.city["merchants"] if m["qr_token"] == op.body["token"])
            self.refundable.append(
                {
                    "id": op.response["id"],
                    "left": op.body["amount"],
                    "member_id": op.member_id,
                    "merchant_token": merchant["login_token"],
                    "merchant_user_id": merchant["owner_user_id"],
                }
            )
        elif op.kind == "refund" and op.acknowledged:
            payment = op.refund_of  # type: ignore[attr-defined]
            payment["left"] -= op.response["amount"]
            if payment["left"] > 0:
                self.refundable.append(payment)
