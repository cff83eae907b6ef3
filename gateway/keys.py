"""The Ed25519 key ring in `keys/`: load, generate, rotate, retire, and publish as JWKS.

Layout: `keys/ring.json` lists every key (`kid`, `created_at`, `status`, `retired_at`);
`keys/<kid>.pem` holds an active key's private key (mode 0600, ignored by git) and
`keys/<kid>.pub.pem` its public key, kept after retirement so that tokens it signed still verify
until they expire. The newest active key signs. Each process reloads the ring when `ring.json`
changes on disk, so a rotation reaches every gunicorn worker without a restart.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# How many verified tokens a key ring remembers: about 1,5 kB each (the token and its claims),
# so 15 MB at most per process; a full cache is emptied and fills again.
VERIFIED_TOKENS_MAX = 10_000


@dataclass
class Key:
    kid: str
    created_at: str
    status: str  # "active" or "retired"
    public_key: Ed25519PublicKey
    private_key: Ed25519PrivateKey | None = None
    retired_at: str | None = None


class KeyRingError(RuntimeError):
    """The key ring on disk is missing, unreadable or asked to do something impossible."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class KeyRing:
    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self._keys: dict[str, Key] = {}
        self._mtime_ns: int | None = None
        self._lock = threading.Lock()
        self._verified: dict[tuple[str, str], tuple[str, Ed25519PublicKey, dict]] = {}

    @property
    def ring_path(self) -> Path:
        return self.directory / "ring.json"

    @contextmanager
    def _file_lock(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_entries(self) -> list[dict]:
        if not self.ring_path.exists():
            return []
        return json.loads(self.ring_path.read_text())["keys"]

    def _write_entries(self, entries: list[dict]) -> None:
        temporary = self.ring_path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps({"keys": entries}, indent=2) + "\n")
        os.replace(temporary, self.ring_path)

    def _generate_entry(self) -> dict:
        now = datetime.now(UTC)
        kid = f"{now:%Y%m%d}-{secrets.token_hex(4)}"
        private_key = Ed25519PrivateKey.generate()
        private_path = self.directory / f"{kid}.pem"
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(
                private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        (self.directory / f"{kid}.pub.pem").write_bytes(
            private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return {"kid": kid, "created_at": now.isoformat(), "status": "active", "retired_at": None}

    def ensure(self) -> bool:
        """Generate the first key if the ring has no active key. Return True if one was made."""
        with self._file_lock():
            entries = self._read_entries()
            if any(entry["status"] == "active" for entry in entries):
                return False
            entries.append(self._generate_entry())
            self._write_entries(entries)
        self.reload(force=True)
        return True

    def rotate(self) -> str:
        """Add a new active key, which signs from now on; older keys keep verifying."""
        with self._file_lock():
            entries = self._read_entries()
            entry = self._generate_entry()
            entries.append(entry)
            self._write_entries(entries)
        self.reload(force=True)
        return entry["kid"]

    def retire(self, kid: str) -> None:
        """Stop a key from signing and delete its private key; its public key stays published."""
        with self._file_lock():
            entries = self._read_entries()
            matching = [entry for entry in entries if entry["kid"] == kid]
            if not matching:
                raise KeyRingError(f"no key {kid} in the ring")
            active_left = [e for e in entries if e["status"] == "active" and e["kid"] != kid]
            if not active_left:
                raise KeyRingError("cannot retire the last active key: rotate first")
            matching[0]["status"] = "retired"
            matching[0]["retired_at"] = datetime.now(UTC).isoformat()
            self._write_entries(entries)
            private_path = self.directory / f"{kid}.pem"
            if private_path.exists():
                private_path.unlink()
        self.reload(force=True)

    def reload(self, force: bool = False) -> None:
        """Read the ring from disk if it changed since the last read."""
        try:
            mtime_ns = self.ring_path.stat().st_mtime_ns
        except FileNotFoundError as error:
            raise KeyRingError(
                f"no key ring at {self.ring_path}: run `gateway keys ensure`"
            ) from error
        with self._lock:
            if not force and mtime_ns == self._mtime_ns:
                return
            keys = {}
            for entry in self._read_entries():
                kid = entry["kid"]
                public_key = serialization.load_pem_public_key(
                    (self.directory / f"{kid}.pub.pem").read_bytes()
                )
                private_key = None
                private_path = self.directory / f"{kid}.pem"
                if entry["status"] == "active" and private_path.exists():
                    private_key = serialization.load_pem_private_key(
                        private_path.read_bytes(), password=None
                    )
                keys[kid] = Key(
                    kid=kid,
                    created_at=entry["created_at"],
                    status=entry["status"],
                    public_key=public_key,
                    private_key=private_key,
                    retired_at=entry.get("retired_at"),
                )
            self._keys = keys
            self._mtime_ns = mtime_ns

    def keys(self) -> list[Key]:
        self.reload()
        return sorted(self._keys.values(), key=lambda key: key.created_at)

    def signing_key(self) -> Key:
        """Return the newest active key that has its private key."""
        self.reload()
        candidates = [key for key in self.keys() if key.status == "active" and key.private_key]
        if not candidates:
            raise KeyRingError("the key ring has no active signing key")
        return candidates[-1]

    def verified_claims(self, purpose: str, token: str, leeway_seconds: int = 0) -> dict | None:
        """Return the claims of a token this ring verified before, if its key is still the same
        and it is still within its times; None means: verify it in full.

        A driver's sticker and a session's access token arrive again and again; their signature
        and fixed claims (typ, aud, iss, kid) cannot change, so only the times are checked again.
        `purpose` keeps the kinds apart: a QR token is never found as an access token.
        """
        entry = self._verified.get((purpose, token))
        if entry is None:
            return None
        kid, public_key, claims = entry
        if self.public_key(kid) is not public_key:
            return None
        now = datetime.now(UTC).timestamp()
        if "exp" in claims and claims["exp"] <= now - leeway_seconds:
            return None
        for name in ("nbf", "iat"):
            if name in claims and claims[name] > now + leeway_seconds:
                return None
        return dict(claims)

    def remember_verified(self, purpose: str, token: str, kid: str, claims: dict) -> None:
        """Remember a token whose signature and claims verified under `kid` (bounded: a full
        cache is emptied and fills again)."""
        public_key = self.public_key(kid)
        if public_key is None:
            return
        if len(self._verified) >= VERIFIED_TOKENS_MAX:
            self._verified.clear()
        self._verified[(purpose, token)] = (kid, public_key, claims)

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        """Return the public key for `kid`, or None if the ring does not know it."""
        self.reload()
        key = self._keys.get(kid)
        return key.public_key if key else None

    def jwks(self) -> dict:
        """Return the RFC 7517 key set of every published key (active and retired)."""
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "kid": key.kid,
                    "use": "sig",
                    "alg": "EdDSA",
                    "x": _b64url(
                        key.public_key.public_bytes(
                            serialization.Encoding.Raw, serialization.PublicFormat.Raw
                        )
                    ),
                }
                for key in self.keys()
            ]
        }
