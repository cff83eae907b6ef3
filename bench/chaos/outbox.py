"""After the chaos: prove the webhook outbox — nothing lost, nothing invented, all delivered.

1. Every acknowledged operation's ledger event has exactly one webhook message, of its type.
2. Every message written during the chaos tells of a business event that an acknowledged
   operation made (a rolled-back attempt left none).
3. Each message went to exactly the endpoints entitled to it: those of the cooperatives whose
   accounts the event moved, and the network's.
4. Every delivery is delivered (the receiver stayed up), and the receiver got each one, with a
   signature that verifies, at least once; it got nothing that was not sent, and nothing failed
   to verify. Deliveries received more than once (a worker killed between send and record) are
   counted, not a violation: the promise is at least once, with the same webhook-id.
"""

from __future__ import annotations

from collections import defaultdict

import psycopg

TYPE_OF = {
    "pay": "payment.completed",
    "refund": "payment.refunded",
    "cash_in": "counter.cash_in",
    "cash_out": "counter.cash_out",
}


def pending_deliveries(dsn: str) -> int:
    """Deliveries not delivered yet, and messages not yet fanned out into deliveries."""
    with psycopg.connect(dsn) as connection:
        return connection.execute(
            """SELECT (SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered')
                    + (SELECT count(*) FROM webhook_messages WHERE endpoint_ids IS NOT NULL)"""
        ).fetchone()[0]


def verify_outbox(
    dsn: str, operations: list, baseline_message_id: int, paths: dict[int, str], receiver
) -> tuple[list[str], dict]:
    """`paths`: endpoint id -> the receiver path it sends to. Return (violations, figures)."""
    violations: list[str] = []
    with psycopg.connect(dsn) as connection:
        messages = connection.execute(
            """SELECT m.id, m.public_id, m.event_type, e.public_id, e.kind
               FROM webhook_messages m LEFT JOIN events e ON e.id = m.event_id
               WHERE m.id > %s""",
            (baseline_message_id,),
        ).fetchall()
        deliveries = defaultdict(dict)
        for message_id, endpoint_id, status in connection.execute(
            "SELECT message_id, endpoint_id, status FROM webhook_deliveries WHERE message_id > %s",
            (baseline_message_id,),
        ):
            deliveries[message_id][endpoint_id] = status
        endpoints = dict(connection.execute("SELECT id, cooperative_id FROM webhook_endpoints"))
        parties = defaultdict(set)
        for event_public_id, owner in connection.execute(
            """SELECT DISTINCT e.public_id, a.cooperative_id
               FROM webhook_messages m JOIN events e ON e.id = m.event_id
               JOIN transfers t ON t.event_id = e.id
               JOIN accounts a ON a.id IN (t.debit_account_id, t.credit_account_id)
               WHERE m.id > %s AND a.cooperative_id IS NOT NULL""",
            (baseline_message_id,),
        ):
            parties[event_public_id].add(owner)

    by_event = defaultdict(list)
    for message_id, public_id, event_type, event_public_id, _ in messages:
        by_event[event_public_id].append((message_id, public_id, event_type))

    # 1. Every acknowledged operation has exactly one message, of its type.
    acknowledged = {}
    for op in operations:
        if op.acknowledged:
            acknowledged[op.response["event_id"]] = op.kind
    for event_public_id, kind in acknowledged.items():
        found = by_event.get(event_public_id, [])
        if len(found) != 1:
            violations.append(f"{kind} event {event_public_id} has {len(found)} webhook messages")
        elif found[0][2] != TYPE_OF[kind]:
            violations.append(f"{kind} event {event_public_id} was told as {found[0][2]}")

    # 2. Nothing invented.
    for _, public_id, event_type, event_public_id, _ in messages:
        if event_type.startswith("settlement."):
            continue
        if event_public_id not in acknowledged:
            violations.append(
                f"message {public_id} ({event_type}) tells of {event_public_id},"
                " which no acknowledged operation made"
            )

    # 3 and 4. The right endpoints, all delivered, all received.
    expected_pairs = set()
    for message_id, public_id, event_type, event_public_id, _ in messages:
        if event_type.startswith("settlement."):
            continue  # a window's messages are one per party (none closes during the chaos)
        wanted = {
            endpoint_id
            for endpoint_id, owner in endpoints.items()
            if endpoint_id in paths and (owner is None or owner in parties[event_public_id])
        }
        got = deliveries.get(message_id, {})
        if set(got) != wanted:
            violations.append(
                f"message {public_id} went to endpoints {sorted(got)}, entitled: {sorted(wanted)}"
            )
        for endpoint_id, status in got.items():
            if status != "delivered":
                violations.append(f"message {public_id} to endpoint {endpoint_id} is {status}")
            if endpoint_id in paths:
                expected_pairs.add((paths[endpoint_id], public_id))
    with receiver.lock:
        seen = dict(receiver.seen)
        invalid = list(receiver.invalid)
        aborted = receiver.aborted
    for pair in sorted(expected_pairs - set(seen)):
        violations.append(f"message {pair[1]} never reached {pair[0]}")
    for pair in sorted(set(seen) - expected_pairs):
        violations.append(f"{pair[0]} received {pair[1]}, which the outbox never sent there")
    for problem in invalid[:20]:
        violations.append(f"a delivery did not verify: {problem}")
    figures = {
        "webhook messages": len(messages),
        "webhook deliveries": sum(len(got) for got in deliveries.values()),
        "received (verified)": sum(seen.values()),
        "received more than once": sum(1 for count in seen.values() if count > 1),
        "cut off mid-body": aborted,
    }
    return violations, figures
