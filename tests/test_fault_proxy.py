"""The failover chaos test's fault-injecting TCP proxy (bench/chaos/fault_proxy.py): it forwards
bytes unchanged, and each fault does what it says. Loopback sockets only, no database."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time

import pytest

from bench.chaos.fault_proxy import FaultProxy


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.request.sendall(data)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo():
    server = EchoServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo):
    proxy = FaultProxy(upstream_port=echo).start()
    yield proxy
    proxy.stop()


def connect(port: int, timeout: float = 5) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return client


def receive(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def wait_for(condition, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def is_closed(client: socket.socket) -> bool:
    """True when the peer has closed or reset the connection (what a cut leaves)."""
    try:
        return client.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_forwards_bytes_unchanged_both_ways(proxy):
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    with connect(proxy.port) as client:
        sender = threading.Thread(target=client.sendall, args=(payload,))
        sender.start()
        assert receive(client, len(payload)) == payload
        sender.join()
    assert proxy.faults == {}


def test_cut_resets_every_open_connection_and_new_ones_work(proxy):
    clients = [connect(proxy.port) for _ in range(3)]
    for client in clients:
        client.sendall(b"ping")
        assert receive(client, 4) == b"ping"
    wait_for(lambda: proxy.connections == 3)
    assert proxy.cut() == 3
    for client in clients:
        assert is_closed(client)
        client.close()
    wait_for(lambda: proxy.connections == 0)
    with connect(proxy.port) as fresh:
        fresh.sendall(b"again")
        assert receive(fresh, 5) == b"again"
    assert proxy.faults["cut"] == 1


def test_latency_delays_each_round_trip_until_cleared(proxy):
    with connect(proxy.port) as client:
        client.sendall(b"x")
        assert receive(client, 1) == b"x"
        proxy.set_latency(0.3)
        began = time.monotonic()
        client.sendall(b"y")
        assert receive(client, 1) == b"y"
        # There and back: two chunks forwarded, each delayed.
        assert time.monotonic() - began >= 0.55
        proxy.set_latency(0)
        began = time.monotonic()
        client.sendall(b"z")
        assert receive(client, 1) == b"z"
        assert time.monotonic() - began < 0.25
    assert proxy.faults["latency"] == 1


def test_stall_holds_the_bytes_then_delivers_them_in_order(proxy):
    with connect(proxy.port, timeout=0.5) as client:
        client.sendall(b"before")
        assert receive(client, 6) == b"before"
        wait_for(lambda: proxy.connections == 1)
        assert proxy.stall(1.0) == 1
        client.sendall(b"during-1 ")
        client.sendall(b"during-2")
        with pytest.raises(TimeoutError):
            client.recv(100)  # nothing moves while stalled
        client.settimeout(5)
        assert receive(client, 17) == b"during-1 during-2"
    assert proxy.faults["stall then resume"] == 1


def test_stall_then_cut_never_delivers_and_resets(proxy):
    with connect(proxy.port, timeout=5) as client:
        client.sendall(b"hello")
        assert receive(client, 5) == b"hello"
        wait_for(lambda: proxy.connections == 1)
        began = time.monotonic()
        assert proxy.stall(0.5, then="cut") == 1
        client.sendall(b"lost")
        assert is_closed(client)
        assert time.monotonic() - began >= 0.45
    assert proxy.faults["stall then cut"] == 1


def test_stall_touches_only_the_chosen_connection(proxy):
    first, second = connect(proxy.port, timeout=0.5), connect(proxy.port, timeout=5)
    with first, second:
        for client in (first, second):
            client.sendall(b"a")
            assert receive(client, 1) == b"a"
        wait_for(lambda: proxy.connections == 2)
        proxy.random.seed(1)
        assert proxy.stall(2.0, count=1) == 1
        moving = 0
        for client in (first, second):
            client.settimeout(0.5)
            client.sendall(b"b")
            with contextlib.suppress(TimeoutError):
                moving += receive(client, 1) == b"b"
        assert moving == 1


def test_a_refusing_upstream_closes_the_client_at_once():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]  # closed again: nothing listens there
    proxy = FaultProxy(upstream_port=dead_port).start()
    try:
        with connect(proxy.port) as client:
            began = time.monotonic()
            assert is_closed(client)
            assert time.monotonic() - began < 2
    finally:
        proxy.stop()


def test_stop_closes_the_listener_and_the_connections(echo):
    proxy = FaultProxy(upstream_port=echo).start()
    port = proxy.port
    client = connect(port)
    client.sendall(b"a")
    assert receive(client, 1) == b"a"
    proxy.stop()
    assert is_closed(client)
    client.close()
    with pytest.raises(ConnectionRefusedError):
        connect(port)


def test_stall_rejects_an_unknown_follow_up(proxy):
    with pytest.raises(ValueError):
        proxy.stall(1, then="explode")
