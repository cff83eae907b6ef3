"""Count the PINs the gateway really evaluates: every scrypt computation, in order, by PIN."""

from __future__ import annotations

import hashlib
import threading


class Evaluations:
    """Wraps `hashlib.scrypt` (thread-safely) and records the password of every call in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pins: list[str] = []
        self._scrypt = hashlib.scrypt

    def install(self, monkeypatch) -> Evaluations:
        original = self._scrypt

        def counted(password, *args, **kwargs):
            with self._lock:
                self.pins.append(bytes(password).decode())
            return original(password, *args, **kwargs)

        monkeypatch.setattr(hashlib, "scrypt", counted)
        return self

    def clear(self) -> None:
        with self._lock:
            self.pins.clear()

    def of(self, pin: str) -> int:
        return self.pins.count(pin)

    def others(self, pin: str) -> int:
        return len(self.pins) - self.pins.count(pin)
