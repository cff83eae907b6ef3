"""Grow the ledger to a given number of transfers with consistent history, fast.

History is cash-in / cash-out pairs: a member takes Rp X in at a counter of their cooperative and
later takes the same Rp X out, so every wallet's stored balance (and every counter's derived one)
is unchanged and `gateway ledger check` still passes. Each transfer has its own event, as the
gateway writes them. Everything is INSERT ... SELECT over generate_series on the server: about
10^6 transfers a minute here. Dates are spread over the 60 days before today, so today's and this
month's limit sums see a realistic share of it.
"""

from __future__ import annotations

import psycopg

from bench import common

PAIRS_SQL = """
WITH pairs AS (
    SELECT g, (1 + (g * 7919) %% %(members)s::bigint)::int AS member_number,
           (1 + (g %% 98)) * 5000 AS amount,
           now() - interval '60 days' + (g %% 5000000) * interval '1 second' AS at
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
), ins_events AS (
    INSERT INTO events (public_id, kind, cooperative_id, actor_user_id, created_at)
    SELECT 'evt_H' || side || '-' || g, CASE side WHEN 'I' THEN 'cash_in' ELSE 'cash_out' END,
           m.cooperative_id, NULL, at + CASE side WHEN 'I' THEN interval '0' ELSE interval '1 hour' END
    FROM pairs JOIN members m ON m.id = member_number + %(member_offset)s
    CROSS JOIN (VALUES ('I'), ('O')) sides(side)
    RETURNING id, public_id, cooperative_id, created_at
)
INSERT INTO transfers (public_id, event_id, debit_account_id, credit_account_id, amount, code, created_at{window_col})
SELECT 'trf_' || substr(e.public_id, 5), e.id,
       CASE WHEN left(e.public_id, 7) = 'evt_HI-' THEN cash.id ELSE m.wallet_account_id END,
       CASE WHEN left(e.public_id, 7) = 'evt_HI-' THEN m.wallet_account_id ELSE cash.id END,
       p.amount, CASE WHEN left(e.public_id, 7) = 'evt_HI-' THEN 'cash_in' ELSE 'cash_out' END, e.created_at{window_val}
FROM ins_events e
JOIN pairs p ON p.g = split_part(e.public_id, '-', 2)::bigint
JOIN members m ON m.id = p.member_number + %(member_offset)s
JOIN accounts cash ON cash.kind = 'counter_cash' AND cash.cooperative_id = m.cooperative_id
"""


def transfer_count() -> int:
    with psycopg.connect(common.PSYCOPG_DSN) as connection:
        return connection.execute("SELECT count(*) FROM transfers").fetchone()[0]


def grow_to(target: int, member_offset: int, batch_pairs: int = 100_000) -> int:
    """Add cash-in / cash-out pairs until the ledger holds at least `target` transfers."""
    with psycopg.connect(common.PSYCOPG_DSN) as connection:
        has_window = connection.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'transfers' AND column_name = 'window_id'"
        ).fetchone()
        sql = PAIRS_SQL.format(
            window_col=", window_id" if has_window else "",
            window_val=", (SELECT id FROM settlement_windows WHERE status = 'open')"
            if has_window
            else "",
        )
        count = connection.execute("SELECT count(*) FROM transfers").fetchone()[0]
        first = (
            1
            + connection.execute(
                "SELECT coalesce(max(split_part(public_id, '-', 2)::bigint), 0) FROM events"
                " WHERE left(public_id, 7) = 'evt_HI-'"
            ).fetchone()[0]
        )
        while count < target:
            pairs = min(batch_pairs, (target - count + 1) // 2)
            connection.execute(
                sql,
                {
                    "first": first,
                    "last": first + pairs - 1,
                    "members": common.MEMBERS,
                    "member_offset": member_offset,
                },
            )
            connection.commit()
            first += pairs
            count += 2 * pairs
        connection.execute("ANALYZE")
        connection.commit()
        return connection.execute("SELECT count(*) FROM transfers").fetchone()[0]
