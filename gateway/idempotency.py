"""The Idempotency-Key store (IETF draft "The Idempotency-Key HTTP Header Field").

A money-moving request runs through `execute`, in one database transaction:
1. Claim the key for the caller: a new key is inserted `in_flight`. The row is not committed
   until the work is, so nobody else sees it: the same key arriving meanwhile waits on the key's
   unique index (PostgreSQL) or the write lock (SQLite) until this transaction ends, and then
   replays its answer (or, if it rolled back, runs itself). A known key with another request's
   fingerprint is refused (422); one that is done replays its stored answer.
2. Do the work and store its answer under the key (the key's `in_flight` -> `done` transition,
   gateway.states): the answer commits with the money it describes, or neither does. One commit a
   request, and a process killed mid-way leaves nothing behind: its retry runs at once.
3. A refusal (a `GatewayError`: insufficient funds, a limit) is an answer too and is stored, in a
   transaction of its own after the work's rolled back; a crash or a database failure stores
   nothing, so that the client's retry runs again, and neither does a wrong or missing PIN: the
   person types it again and the app retries with the same key.

So a committed key is always `done`: there is no "still in flight" answer and no lease.

The caller can ask what became of a key (`lookup`: its stored answer, or nothing yet) and give a
key up for good (`abandon`). Abandoning claims the key exactly as a request does, so it waits for
a request holding the key uncommitted and cannot race it: if that request (or an earlier one)
answered, the abandon returns that answer; otherwise it stores a tombstone, a `done` row whose
fingerprint is `ABANDONED` and whose answer is a 409 `request-abandoned`, and every later request
with the key gets that answer whatever its body. No request with the key ever runs after an
abandon answered "abandoned". The tombstone is retained and purged like any other key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway import states
from gateway.db import HotStatement, transaction, utcnow
from gateway.errors import (
    GatewayError,
    IdempotencyKeyReused,
    IdempotencyKeyUnknown,
    RequestAbandoned,
    ValidationFailed,
)
from gateway.models import IdempotencyKey, IdempotencyKeyState

KEY_LENGTH_MAX = 255
# The fingerprint of a tombstone: not a SHA-256 hex digest, so no request's fingerprint is it.
ABANDONED = "abandoned"


@dataclass
class Outcome:
    status: int
    body: dict
    replayed: bool = False
    abandoned: bool = False  # the key's answer is its tombstone


@dataclass(frozen=True)
class Policy:
    retention_seconds: int


def validate_key(key: str) -> None:
    if not 1 <= len(key) <= KEY_LENGTH_MAX or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            "The Idempotency-Key header must be 1 to 255 printable ASCII characters.",
            "Header Idempotency-Key harus 1 sampai 255 karakter ASCII yang terbaca.",
        )


def fingerprint(method: str, path: str, body: object) -> str:
    """Hash what makes two requests the same: method, path and the JSON body, canonically."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


def _claim_statement(session: Session):
    """Return the INSERT … ON CONFLICT DO NOTHING RETURNING id for this database, built once."""
    dialect = session.get_bind().dialect.name
    statement = _CLAIM_STATEMENTS.get(dialect)
    if statement is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = _CLAIM_STATEMENTS[dialect] = HotStatement(
            insert(IdempotencyKey)
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(IdempotencyKey.id)
        )
    return statement


_CLAIM_STATEMENTS: dict = {}


def _claim(session: Session, scope: str, key: str, request_hash: str, policy: Policy):
    """Return a stored Outcome to replay, or the id of the key's row this request now holds."""
    now = utcnow()
    new_row = {
        "scope": scope,
        "key": key,
        "request_hash": request_hash,
        "state": IdempotencyKeyState.IN_FLIGHT.value,
        "created_at": now,
        "expires_at": now + timedelta(seconds=policy.retention_seconds),
    }
    # The common case, a new key, in one statement; a known key falls through to the checks.
    # The INSERT waits for a transaction that holds the same key, uncommitted, to end.
    for _ in range(2):
        claimed = _claim_statement(session).first(session, new_row)
        if claimed is not None:
            return claimed[0]
        row = session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
            .execution_options(populate_existing=True)
        )
        # An answer past its retention is still the truth until it is purged: an abandon returns
        # it rather than bury it (the tombstone would say that no money moved).
        if row is not None and (row.expires_at > now or request_hash == ABANDONED):
            if row.state != IdempotencyKeyState.DONE:
                raise AssertionError(f"idempotency key {row.id} was committed {row.state}")
            # A tombstone answers every request with its key; an abandon takes any answer.
            tombstone_or_abandon = ABANDONED in (row.request_hash, request_hash)
            if row.request_hash != request_hash and not tombstone_or_abandon:
                raise IdempotencyKeyReused()
            return _stored(row)
        if row is not None:
            # Past its retention: the key is free again. Claim it anew (a request racing for
            # the same expired key then finds this one's answer on its second round).
            session.execute(
                delete(IdempotencyKey)
                .where(IdempotencyKey.id == row.id)
                .execution_options(synchronize_session=False)
            )
            session.expunge(row)
    raise AssertionError(f"idempotency key {key!r} of {scope} could not be claimed")


def _stored(row: IdempotencyKey) -> Outcome:
    return Outcome(
        row.response_status,
        json.loads(row.response_body),
        replayed=True,
        abandoned=row.request_hash == ABANDONED,
    )


def _store(session: Session, row_id: int, outcome: Outcome, event_id) -> None:
    """Store the answer under the key this request claimed: in_flight -> done."""
    stored = states.transition(
        session,
        states.IDEMPOTENCY_KEY,
        row_id,
        IdempotencyKeyState.DONE,
        response_status=outcome.status,
        response_body=json.dumps(outcome.body),
        event_id=event_id,
    )
    if not stored:
        raise AssertionError(f"idempotency key {row_id} was answered twice")


def execute(
    session: Session,
    *,
    scope: str,
    key: str,
    request_hash: str,
    policy: Policy,
    work: Callable[[Session], tuple[int, dict, int | None]],
    render_error: Callable[[GatewayError], dict],
) -> Outcome:
    """Run `work` at most once for (scope, key) and return its answer, first or replayed.

    `work(session)` returns (HTTP status, JSON body, event id) and must not commit.
    """
    validate_key(key)

    def claim_work_store(work_session: Session) -> Outcome:
        claimed = _claim(work_session, scope, key, request_hash, policy)
        if isinstance(claimed, Outcome):
            return claimed
        status, body, event_id = work(work_session)
        outcome = Outcome(status, body)
        _store(work_session, claimed, outcome, event_id)
        return outcome

    try:
        return transaction(session, claim_work_store)
    except IdempotencyKeyReused:
        raise
    except GatewayError as error:
        # The work's transaction rolled back, and the claim with it.
        if error.follow_up is not None:
            transaction(session, error.follow_up)
            error.follow_up = None  # done: the error handler must not run it again
        if error.status >= 500 or error.releases_idempotency_key:
            raise
        refusal = Outcome(error.status, render_error(error))

        def claim_and_store_refusal(refusal_session: Session) -> Outcome:
            claimed = _claim(refusal_session, scope, key, request_hash, policy)
            if isinstance(claimed, Outcome):
                return claimed  # another request with this key answered meanwhile
            _store(refusal_session, claimed, refusal, None)
            return refusal

        return transaction(session, claim_and_store_refusal)


def lookup(session: Session, *, scope: str, key: str) -> Outcome:
    """Return the answer stored under the caller's key (a tombstone says `abandoned`), or raise
    `IdempotencyKeyUnknown`: no request with it has finished (not arrived, rolled back, still
    running, or purged after its retention; an answer past its retention and not yet purged is
    still true, and found). On PostgreSQL a request's uncommitted claim is invisible and this
    read does not wait for it; on SQLite the read, like every transaction there, waits for the
    write lock."""
    validate_key(key)
    row = session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.state == IdempotencyKeyState.DONE,
        )
    )
    if row is None:
        raise IdempotencyKeyUnknown()
    return _stored(row)


def abandon(
    session: Session, *, scope: str, key: str, policy: Policy, language: str = "id"
) -> Outcome:
    """Give the caller's key up for good, unless a request with it has answered: return that
    answer (not `abandoned`), or the tombstone now stored under the key (`abandoned`).

    The key is claimed as `execute` claims it: the INSERT waits for a request that holds the key
    uncommitted and, if that request commits its answer, finds it; a repeat finds its tombstone.
    """
    validate_key(key)
    refusal = RequestAbandoned()

    def claim_and_bury(bury_session: Session) -> Outcome:
        claimed = _claim(bury_session, scope, key, ABANDONED, policy)
        if isinstance(claimed, Outcome):
            return claimed
        tombstone = Outcome(refusal.status, refusal.problem(language), abandoned=True)
        _store(bury_session, claimed, tombstone, None)
        return tombstone

    return transaction(session, claim_and_bury)


def purge(session: Session) -> int:
    """Delete keys past their retention; return how many."""
    result = session.execute(
        delete(IdempotencyKey)
        .where(
            IdempotencyKey.expires_at <= utcnow(),
            IdempotencyKey.state == IdempotencyKeyState.DONE,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
