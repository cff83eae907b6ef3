"""Release many callers at once through one barrier and collect what each got."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable


def burst(count: int, call: Callable[[int], object], *, timeout_seconds: float = 120) -> list:
    """Run `call(index)` on `count` threads released together; return the results in order.

    An exception raised by a call is re-raised here, so an attack never passes by losing a
    thread's failure.
    """
    barrier = threading.Barrier(count)
    results: list = [None] * count
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call(index)
        except BaseException as error:  # noqa: BLE001 - re-raised by the main thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout_seconds)
        assert not thread.is_alive(), "an attacking thread hung"
    if failures:
        raise failures[0]
    return results


def statuses(responses: list) -> Counter:
    """Count the HTTP statuses of Flask test responses."""
    return Counter(response.status_code for response in responses)


def assert_no_server_error(responses: list) -> None:
    """No answer of the burst is a 5xx."""
    errors = [
        (response.status_code, response.get_data(as_text=True)[:200])
        for response in responses
        if response.status_code >= 500
    ]
    assert not errors, errors
