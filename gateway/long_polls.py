"""Long-poll slots: how many requests of one process, and of one person, may wait at once.

A long-poll (the payment feed's `wait=`) holds a worker thread for up to LONG_POLL_MAX_SECONDS,
and gunicorn's gthread worker has a fixed number of threads (8 in `make run` and
docker/gunicorn.conf.py). Unbounded, one member's 32 open polls took every thread and `/healthz`
and payments queued behind them for a minute. So a process lets at most `process_max` requests
wait at once (fewer than its threads: the rest always serve payments and health checks) and one
person at most `person_max` of them (a phone with two tabs), so that one person cannot take the
process's share either. A poll beyond either bound is refused at once with `TooManyLongPolls`
(429, Retry-After) rather than answered empty: an empty answer invites an immediate re-poll, a
tight loop of queries, where a 429 tells the client how long to back off.

The counts are per process (in memory, under one lock): a person reaching two worker processes
may hold `person_max` in each, which still leaves each process its free threads. A slot is
released when the request's handler returns or raises, whatever the reason; WSGI does not say
when a client goes away, so a slot held for a client that left is released when its wait ends.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.errors import TooManyLongPolls


class LongPollSlots:
    """Count the long-polls waiting in this process, in total and per person."""

    def __init__(self, *, process_max: int, person_max: int, retry_after_seconds: int) -> None:
        self.process_max = process_max
        self.person_max = person_max
        self.retry_after_seconds = retry_after_seconds
        self._lock = threading.Lock()
        self._held_by_person: Counter[str] = Counter()
        self._held = 0

    @property
    def held(self) -> int:
        """How many long-polls wait in this process now."""
        return self._held

    @contextmanager
    def hold(self, person: str) -> Iterator[None]:
        """Hold one slot for `person` while the block runs, or raise `TooManyLongPolls`."""
        with self._lock:
            if self._held >= self.process_max or self._held_by_person[person] >= self.person_max:
                raise TooManyLongPolls(self.retry_after_seconds)
            self._held += 1
            self._held_by_person[person] += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1
                self._held_by_person[person] -= 1
                if self._held_by_person[person] <= 0:
                    del self._held_by_person[person]
