"""A fault-injecting TCP proxy: the network between the gateways and a database node, misbehaving.

    proxy = FaultProxy(upstream_port=5433).start()   # listens on proxy.port, 127.0.0.1
    proxy.cut()                  # every open connection is reset, both sides, at once
    proxy.set_latency(0.2)       # every chunk forwarded waits 200 ms (0 clears it)
    proxy.stall(4, then="cut")   # one connection stops moving bytes for 4 s, then is reset
    proxy.stop()

toxiproxy is not packaged for Debian; this is the few faults the failover chaos test needs, on an
asyncio loop in a thread of its own (a connection is two small tasks, not two threads). Bytes are
forwarded unchanged and in order; a stalled connection keeps what it has read and delivers it
when it resumes. A connection to an upstream that refuses is accepted and closed at once, which
is what a client sees of a dead machine behind a load balancer: libpq moves on to the next host.
The methods are safe to call from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections import Counter

CHUNK_BYTES = 65536


class Link:
    """One proxied connection: the client's side, the upstream's side, and whether bytes flow."""

    def __init__(self, client_writer: asyncio.StreamWriter):
        self.client_writer = client_writer
        self.upstream_writer: asyncio.StreamWriter | None = None
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.closed = False

    def abort(self) -> None:
        """Reset both sides now, discarding whatever is buffered."""
        self.closed = True
        self.flowing.set()  # wake a stalled pump so that it sees the reset and ends
        for writer in (self.client_writer, self.upstream_writer):
            if writer is not None:
                writer.transport.abort()


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1", port: int = 0):
        self.upstream_host, self.upstream_port = upstream_host, upstream_port
        self.port = port
        self.latency_seconds = 0.0
        self.faults: Counter[str] = Counter()
        self.links: set[Link] = set()
        self.tasks: set[asyncio.Task] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: asyncio.base_events.Server | None = None
        self.thread: threading.Thread | None = None
        self.random = random.Random()

    # -- life -------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Listen on 127.0.0.1 (port 0: a free one, then `self.port`) and return self."""
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(
                asyncio.start_server(self.accept, "127.0.0.1", self.port, backlog=512)
            )
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, name=f"fault-proxy-{self.port}", daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        """Close the listener and every connection; end the loop's thread."""
        if self.loop is None or self.thread is None:
            return

        async def shutdown() -> None:
            self.server.close()
            for link in list(self.links):
                link.abort()
            if self.tasks:  # let each connection's task finish its cleanup
                await asyncio.wait(list(self.tasks), timeout=5)

        self._call(shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        self.loop = self.thread = None

    # -- faults (from any thread) -----------------------------------------------------------

    @property
    def connections(self) -> int:
        """Return the number of connections open through the proxy."""
        return len(self.links)

    def cut(self) -> int:
        """Reset every open connection; return how many were cut."""

        async def cut_all() -> int:
            links = [link for link in self.links if not link.closed]
            for link in links:
                link.abort()
            return len(links)

        count = self._call(cut_all())
        self.faults["cut"] += 1
        return count

    def set_latency(self, seconds: float) -> None:
        """Delay every chunk forwarded, either way, by `seconds` (0 clears it)."""
        self.latency_seconds = max(0.0, seconds)
        if seconds > 0:
            self.faults["latency"] += 1

    def stall(self, seconds: float, then: str = "resume", count: int = 1) -> int:
        """Stop `count` random open connections from moving bytes for `seconds`, then resume them
        (what they read meanwhile is delivered) or cut them (`then="cut"`); return how many."""
        if then not in ("resume", "cut"):
            raise ValueError(f"then must be 'resume' or 'cut', not {then!r}")

        async def stall_some() -> int:
            open_links = [link for link in self.links if not link.closed]
            chosen = self.random.sample(open_links, min(count, len(open_links)))
            for link in chosen:
                link.flowing.clear()
            self.loop.call_later(seconds, self._release, chosen, then)
            return len(chosen)

        stalled = self._call(stall_some())
        self.faults[f"stall then {then}"] += 1
        return stalled

    # -- inside the loop --------------------------------------------------------------------

    def _call(self, coroutine):
        if self.loop is None:
            raise RuntimeError("the fault proxy is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def _release(self, links: list[Link], then: str) -> None:
        for link in links:
            if then == "cut":
                link.abort()
            else:
                link.flowing.set()

    async def accept(self, client_reader: asyncio.StreamReader, client_writer) -> None:
        link = Link(client_writer)
        self.links.add(link)
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            try:
                upstream_reader, link.upstream_writer = await asyncio.wait_for(
                    asyncio.open_connection(self.upstream_host, self.upstream_port), 5
                )
            except (OSError, TimeoutError):
                return  # nothing listens there: the client sees its connection closed
            if link.closed:  # cut while connecting
                return
            await asyncio.gather(
                self._pump(client_reader, link.upstream_writer, link),
                self._pump(upstream_reader, client_writer, link),
            )
        finally:
            self.links.discard(link)
            self.tasks.discard(task)
            link.closed = True
            for writer in (client_writer, link.upstream_writer):
                if writer is not None:
                    with contextlib.suppress(Exception):
                        writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link
    ) -> None:
        """Copy reader to writer until either side ends; on the end, end the other side too."""
        try:
            while not link.closed:
                data = await reader.read(CHUNK_BYTES)
                if not data:
                    break
                await link.flowing.wait()
                if self.latency_seconds:
                    await asyncio.sleep(self.latency_seconds)
                if link.closed:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            # One side ended: close the other (a half-open PostgreSQL connection is no use).
            link.closed = True
            link.flowing.set()
            for side in (link.client_writer, link.upstream_writer):
                if side is not None:
                    with contextlib.suppress(Exception):
                        side.close()
