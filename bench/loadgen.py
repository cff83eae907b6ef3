"""A small load generator: asyncio, raw HTTP/1.1 over keep-alive sockets on loopback.

Each client is one connection that sends a request, reads the whole response, and sends the next
(closed loop), until the deadline. A request is built by a callback from (client, sequence) so
that every payment gets its own Idempotency-Key and its payer from the client's own slice of
members. Latency is from the first byte written to the last byte read.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # of successful requests, in seconds
    errors: int = 0
    statuses: Counter = field(default_factory=Counter)
    sample_error: str | None = None

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[index] * 1000

    def row(self) -> dict:
        p50, p99 = self.percentile(0.50), self.percentile(0.99)
        return {
            "clients": self.clients,
            "per_second": round(self.per_second, 1),
            "p50_ms": None if p50 is None else round(p50, 2),
            "p99_ms": None if p99 is None else round(p99, 2),
            "errors": self.errors,
            "requests": len(self.latencies) + self.errors,
        }


def http_request(method: str, path: str, host: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        "Connection: keep-alive",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _client(index, host, port, make_request, ok_status, deadline, result: Result):
    reader, writer = await asyncio.open_connection(host, port)
    sequence = 0
    try:
        while time.perf_counter() < deadline:
            request = make_request(index, sequence)
            sequence += 1
            started = time.perf_counter()
            try:
                writer.write(request)
                status, body = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError) as error:
                result.errors += 1
                result.statuses["conn"] += 1
                result.sample_error = result.sample_error or repr(error)
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            elapsed = time.perf_counter() - started
            result.statuses[status] += 1
            if status == ok_status:
                result.latencies.append(elapsed)
            else:
                result.errors += 1
                result.sample_error = result.sample_error or f"{status} {body[:300]!r}"
    finally:
        writer.close()


async def _run(clients, seconds, host, ports, make_request, ok_status) -> Result:
    result = Result(clients=clients, seconds=seconds)
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _client(i, host, ports[i % len(ports)], make_request, ok_status, deadline, result)
            for i in range(clients)
        )
    )
    # The last requests finish after the deadline: count the real elapsed time.
    result.seconds = time.perf_counter() - started
    return result


def run(
    clients: int,
    seconds: float,
    host: str,
    port: int | list[int],
    make_request: Callable[[int, int], bytes],
    ok_status: int = 201,
) -> Result:
    """Run `clients` closed-loop clients for `seconds`; client i connects to ports[i % n]."""
    ports = port if isinstance(port, list) else [port]
    return asyncio.run(_run(clients, seconds, host, ports, make_request, ok_status))
