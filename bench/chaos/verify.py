"""After the chaos: prove from the database that nothing was lost and nothing was done twice.

The sum of balances alone cannot see a duplicated payment (a duplicate balances too), so the keys
are checked as well:

1. Every acknowledged operation (a 2xx the client received) is in the ledger exactly once: its
   key is `done` with that status and points at the event named in the response; the event has
   transfers of the right kind and amount; a payment or refund row names that event.
2. No key has two business events: every business event written during the chaos is referenced
   by exactly one idempotency key, and that key is one the clients made. An operation executed
   twice under one key would leave an event no key points at.
3. A refusal the client received wrote nothing: its key (if stored) has that status and no event.
4. No key is left in flight, and no client gave up without a definitive answer.
5. Each member's wallet equals the opening balance plus the acknowledged operations on it (the
   model agrees with the ledger: no silent extra or missing movement).
6. Every payment's refunded amount equals its refunds; `gateway ledger check` passes; all
   balances sum to zero.
7. Operations answered only after a retry are counted: those whose earlier attempt had
   committed (the answer was lost; the retry replayed it) and those whose earlier attempts wrote
   nothing. Checks 1, 2 and 5 cover both: the money moved once.
"""

from __future__ import annotations

import subprocess
from collections import Counter, defaultdict

import psycopg

BUSINESS_KINDS = ("payment", "refund", "cash_in", "cash_out")
EVENT_KIND = {"pay": "payment", "refund": "refund", "cash_in": "cash_in", "cash_out": "cash_out"}
MAIN_CODE = {"pay": "payment", "refund": "refund", "cash_in": "cash_in", "cash_out": "cash_out"}


def verify(
    dsn: str,
    operations: list,
    baseline_event_id: int,
    opening: dict[str, int],
    cli: list[str],
    env: dict,
) -> tuple[list[str], dict]:
    """Return (violations, figures)."""
    violations: list[str] = []
    figures: dict = {}
    with psycopg.connect(dsn) as connection:
        keys = {
            (scope, key): (state, status, event_public_id, event_kind)
            for scope, key, state, status, event_public_id, event_kind in connection.execute(
                """SELECT k.scope, k.key, k.state, k.response_status, e.public_id, e.kind
                   FROM idempotency_keys k LEFT JOIN events e ON e.id = k.event_id"""
            )
        }
        events = {
            public_id: (event_id, kind)
            for event_id, public_id, kind in connection.execute(
                "SELECT id, public_id, kind FROM events WHERE id > %s", (baseline_event_id,)
            )
        }
        transfers = defaultdict(list)
        for event_public_id, code, amount, debit, credit in connection.execute(
            """SELECT e.public_id, t.code, t.amount, t.debit_account_id, t.credit_account_id
               FROM transfers t JOIN events e ON e.id = t.event_id WHERE e.id > %s""",
            (baseline_event_id,),
        ):
            transfers[event_public_id].append((code, amount, debit, credit))
        payments = {
            public_id: (event_public_id, amount, refunded)
            for public_id, event_public_id, amount, refunded in connection.execute(
                """SELECT p.public_id, e.public_id, p.amount, p.refunded_amount
                   FROM payments p JOIN events e ON e.id = p.event_id"""
            )
        }
        refunds = {
            public_id: (event_public_id, amount, payment_public_id)
            for public_id, event_public_id, amount, payment_public_id in connection.execute(
                """SELECT r.public_id, e.public_id, r.amount, p.public_id FROM refunds r
                   JOIN events e ON e.id = r.event_id JOIN payments p ON p.id = r.payment_id"""
            )
        }
        wallets = {
            member_id: (account_id, stored)
            for member_id, account_id, stored in connection.execute(
                """SELECT m.public_id, a.id, a.balance FROM members m
                   JOIN accounts a ON a.id = m.wallet_account_id"""
            )
        }
        keys_per_event = Counter(
            public_id
            for (public_id,) in connection.execute(
                """SELECT e.public_id FROM idempotency_keys k JOIN events e ON e.id = k.event_id
                   WHERE e.id > %s""",
                (baseline_event_id,),
            )
        )
        refunded_mismatch = connection.execute(
            """SELECT p.public_id, p.refunded_amount, COALESCE(SUM(r.amount), 0)
               FROM payments p LEFT JOIN refunds r ON r.payment_id = p.id
               GROUP BY p.id HAVING p.refunded_amount <> COALESCE(SUM(r.amount), 0)"""
        ).fetchall()
        balance_sum = connection.execute(
            """SELECT COALESCE(SUM(amount), 0) FROM (
                   SELECT amount FROM transfers UNION ALL SELECT -amount FROM transfers) AS legs"""
        ).fetchone()[0]
        per_account_sum = connection.execute(
            """SELECT COALESCE(SUM(balance), 0) FROM (
                   SELECT a.id,
                          COALESCE((SELECT SUM(amount) FROM transfers
                                    WHERE credit_account_id = a.id), 0)
                          - COALESCE((SELECT SUM(amount) FROM transfers
                                      WHERE debit_account_id = a.id), 0) AS balance
                   FROM accounts a) AS balances"""
        ).fetchone()[0]
        in_flight = connection.execute(
            "SELECT count(*) FROM idempotency_keys WHERE state <> 'done'"
        ).fetchone()[0]

    def fail(message: str) -> None:
        violations.append(message)

    client_keys = {(op.scope, op.key): op for op in operations}

    # 1 and 3: each operation against what the database holds under its key.
    for op in operations:
        stored = keys.get((op.scope, op.key))
        if op.outcome == "unresolved":
            fail(
                f"{op.kind} key {op.key}: no definitive answer after {op.attempts} attempts"
                f" ({op.errors}); key state {stored[0] if stored else 'absent'}"
            )
            continue
        if op.outcome == "refused":
            if op.response and op.response.get("type", "").endswith("idempotency-key-reused"):
                fail(
                    f"{op.kind} key {op.key}: the same request was refused as another (422 reused)"
                )
            if stored is not None and (stored[0] != "done" or stored[1] != op.status or stored[2]):
                fail(
                    f"{op.kind} key {op.key}: refused with {op.status} but the key store holds"
                    f" {stored}"
                )
            continue
        event_public_id = (op.response or {}).get("event_id")
        if stored is None:
            fail(f"{op.kind} key {op.key}: acknowledged ({op.status}) but no key stored")
        elif stored[0] != "done" or stored[1] != op.status or stored[2] != event_public_id:
            fail(
                f"{op.kind} key {op.key}: acknowledged {op.status} {event_public_id} but the key"
                f" store holds {stored}"
            )
        if event_public_id not in events:
            fail(
                f"{op.kind} key {op.key}: acknowledged event {event_public_id} is not in the ledger"
            )
            continue
        if events[event_public_id][1] != EVENT_KIND[op.kind]:
            fail(
                f"{op.kind} key {op.key}: event {event_public_id} is a {events[event_public_id][1]}"
            )
        legs = transfers.get(event_public_id, [])
        main = [leg for leg in legs if leg[0] == MAIN_CODE[op.kind]]
        expected_amount = op.response.get("amount") if op.kind == "refund" else op.body["amount"]
        if len(main) != 1 or main[0][1] != expected_amount:
            fail(
                f"{op.kind} key {op.key}: event {event_public_id} has main transfers {main},"
                f" expected one of {expected_amount}"
            )
        wallet_account = wallets.get(op.member_id, (None, None))[0]
        if main and wallet_account not in (main[0][2], main[0][3]):
            fail(
                f"{op.kind} key {op.key}: event {event_public_id} does not move {op.member_id}'s"
                " wallet"
            )
        if op.kind == "pay":
            row = payments.get(op.response.get("id"))
            if row is None or row[0] != event_public_id or row[1] != op.body["amount"]:
                fail(f"pay key {op.key}: payment {op.response.get('id')} is {row}")
        if op.kind == "refund":
            row = refunds.get(op.response.get("id"))
            if row is None or row[0] != event_public_id or row[1] != op.response.get("amount"):
                fail(f"refund key {op.key}: refund {op.response.get('id')} is {row}")
            if op.body.get("amount") is not None and op.response.get("amount") != op.body["amount"]:
                fail(
                    f"refund key {op.key}: asked {op.body['amount']}, refunded"
                    f" {op.response.get('amount')}"
                )

    # 2: every business event of the chaos is one key's, exactly once, and the key is a client's.
    business = {pid: kind for pid, (_, kind) in events.items() if kind in BUSINESS_KINDS}
    for public_id, kind in sorted(business.items()):
        count = keys_per_event.get(public_id, 0)
        if count != 1:
            fail(f"{kind} event {public_id} is referenced by {count} idempotency keys (want 1)")
    for scope, key in keys:
        if key.startswith("chaos-") and (scope, key) not in client_keys:
            fail(f"key {key} of {scope} is in the store but no client made it")
    done_with_event = sum(
        1
        for (scope, key), value in keys.items()
        if (scope, key) in client_keys and value[2] is not None
    )
    if done_with_event != len(business):
        fail(f"{len(business)} business events but {done_with_event} client keys name an event")
    payment_events = {pid for pid, kind in business.items() if kind == "payment"}
    refund_events = {pid for pid, kind in business.items() if kind == "refund"}
    chaos_payments = {row[0] for row in payments.values() if row[0] in events}
    chaos_refunds = {row[0] for row in refunds.values() if row[0] in events}
    if chaos_payments != payment_events:
        fail(
            f"payment events without a payment row or the reverse:"
            f" {sorted(chaos_payments ^ payment_events)[:5]}"
        )
    if chaos_refunds != refund_events:
        fail(
            f"refund events without a refund row or the reverse:"
            f" {sorted(chaos_refunds ^ refund_events)[:5]}"
        )

    # 4: nothing stuck.
    if in_flight:
        fail(f"{in_flight} idempotency keys are still in flight after the chaos stopped")

    # 5: the wallets, from the acknowledged operations alone (meaningful once all resolved).
    unresolved = sum(1 for op in operations if op.outcome == "unresolved")
    if unresolved == 0:
        expected = dict(opening)
        sign = {"pay": -1, "cash_out": -1, "cash_in": 1, "refund": 1}
        for op in operations:
            if op.acknowledged:
                amount = op.response["amount"] if op.kind == "refund" else op.body["amount"]
                expected[op.member_id] += sign[op.kind] * amount
        for member_id, value in sorted(expected.items()):
            stored = wallets[member_id][1]
            if stored != value:
                fail(
                    f"wallet of {member_id} holds {stored}; the acknowledged operations say {value}"
                )
    figures["wallets checked"] = len(opening) if unresolved == 0 else 0

    # 6: the books.
    for public_id, refunded, total in refunded_mismatch:
        fail(f"payment {public_id} says {refunded} refunded, its refunds add up to {total}")
    if balance_sum != 0 or per_account_sum != 0:
        fail(f"balances sum to {per_account_sum} (legs {balance_sum}), not 0")
    check = subprocess.run(
        [*cli, "ledger", "check"], env=env, capture_output=True, text=True, timeout=300
    )
    figures["ledger check"] = (check.stdout + check.stderr).strip()
    figures["ledger check passes"] = check.returncode == 0
    if check.returncode != 0:
        fail(f"gateway ledger check failed: {figures['ledger check']}")

    # 7: a retry after a lost answer. An operation answered only on a later attempt either had an
    # earlier attempt commit (a worker killed, a connection cut or a primary lost after the
    # commit: the answer was lost, and the retry under the same key replays it — the checks above
    # prove it moved the money once) or had every earlier attempt roll back (the retry ran it).
    # A replayed answer on the first attempt would mean the key was another request's.
    retried = [op for op in operations if op.outcome != "unresolved" and op.attempts > 1]
    held = sum(1 for op in retried if op.replayed)
    for op in operations:
        if op.replayed and op.attempts == 1:
            fail(f"{op.kind} key {op.key}: a replayed answer on the first attempt")
    figures["retried operations"] = len(retried)
    figures["retried, an earlier commit held"] = held
    figures["retried, earlier attempts rolled back"] = len(retried) - held

    figures["business events"] = len(business)
    figures["balances sum"] = per_account_sum
    figures["keys in store"] = len(keys)
    return violations, figures
