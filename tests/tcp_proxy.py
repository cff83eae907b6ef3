"""A tiny TCP proxy for the tests, between the gateway and PostgreSQL, that can misbehave on cue.

`cut()` closes every connection at once (the server's machine is gone); `cut_at_commit("before")`
closes a connection instead of relaying its next COMMIT, `cut_at_commit("after")` relays the
COMMIT and closes before the server's answer comes back (the outcome the gateway cannot know);
`cut_at_commit("hold")` keeps it open and unrelayed (a gateway gone mid-transaction);
`stall()` holds every byte both ways while keeping the connections open (a stalled network);
`refuse()` closes new connections as they arrive. Enough to test the gateway's side; the
failover harness has its own (bench/chaos/).
"""

from __future__ import annotations

import contextlib
import socket
import threading

# psycopg commits with the simple query "COMMIT": 'Q', its length (4 + 7), the text, a NUL.
COMMIT_MESSAGE = b"Q\x00\x00\x00\x0bCOMMIT\x00"


class TcpProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._connections: list[tuple[socket.socket, socket.socket]] = []
        self._flowing = threading.Event()
        self._flowing.set()
        self._refusing = False
        self.commit_cut: str | None = None
        self.commits_cut = 0
        self._released = threading.Event()
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, to_server: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._flowing.wait()
                if to_server and self.commit_cut and COMMIT_MESSAGE in data:
                    with self._lock:
                        mode, self.commit_cut = self.commit_cut, None
                        self.commits_cut += 1
                    if mode == "hold":
                        # A gateway that vanished mid-transaction: its connection stays open,
                        # idle in its transaction, until the server gives up on it.
                        self._released.wait()
                    if mode == "after":
                        # The client loses the connection first, so the server's answer to the
                        # COMMIT has nowhere to go; the server gets the COMMIT and commits.
                        self._close(source)
                        target.sendall(data)
                        threading.Event().wait(0.3)
                    break
                target.sendall(data)
        except OSError:
            pass
        self._close(source, target)

    def _close(self, *sockets: socket.socket) -> None:
        for one in sockets:
            with contextlib.suppress(OSError):
                one.shutdown(socket.SHUT_RDWR)
            one.close()

    def cut(self) -> None:
        """Close every open connection, both ways."""
        with self._lock:
            connections, self._connections = self._connections, []
        for client, server in connections:
            self._close(client, server)

    def cut_at_commit(self, when: str) -> None:
        """Close the connection that sends the next COMMIT: "before" relaying it, or "after";
        or "hold" it unrelayed, the connection open, until `close()`."""
        assert when in ("before", "after", "hold")
        self.commit_cut = when

    def stall(self) -> None:
        """Hold every byte both ways from now on; connections stay open."""
        self._flowing.clear()

    def refuse(self) -> None:
        """Close new connections as soon as they are accepted."""
        self._refusing = True

    def heal(self) -> None:
        """Relay and accept again."""
        self._refusing = False
        self._flowing.set()

    def close(self) -> None:
        self._stopped = True
        self._released.set()
        self.heal()
        self.listener.close()
        self.cut()
