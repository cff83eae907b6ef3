"""state machines: settlement events name their window; the idempotency lease goes

Revision ID: 0006
Revises: 0005

- `events.settles_window_id`: the window a settlement event settles, so that `gateway ledger
  check` finds a window settled more than once. Filled in for the settlement events the windows
  already point at; any other settlement event (one a racing settle wrote) stays without a window
  and the check names it.
- `idempotency_keys.lease_token` and `lease_expires_at` are dropped: a claim commits only with its
  answer, so a committed key is always done. Keys left in flight by the earlier protocol (which
  committed the claim first) belong to requests that never answered; they are deleted, which is
  what the lease's take-over did: the client's retry runs afresh.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("events", sa.Column("settles_window_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_events_settles_window_id_settlement_windows",
            "events",
            "settlement_windows",
            ["settles_window_id"],
            ["id"],
        )
    else:
        # Added in place: batch mode would recreate the table for a nullable column.
        op.execute(
            "ALTER TABLE events ADD COLUMN settles_window_id INTEGER"
            " CONSTRAINT fk_events_settles_window_id_settlement_windows"
            " REFERENCES settlement_windows (id)"
        )
    op.execute(
        "UPDATE events SET settles_window_id = (SELECT settlement_windows.id"
        " FROM settlement_windows WHERE settlement_windows.settlement_event_id = events.id)"
        " WHERE kind = 'settlement'"
    )

    op.execute("DELETE FROM idempotency_keys WHERE state <> 'done'")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("lease_token")
        batch_op.drop_column("lease_expires_at")
        batch_op.create_check_constraint(
            op.f("ck_idempotency_keys_state"), "state IN ('in_flight', 'done')"
        )


def downgrade():
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_idempotency_keys_state"), type_="check")
        batch_op.add_column(sa.Column("lease_token", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(
            "fk_events_settles_window_id_settlement_windows", "events", type_="foreignkey"
        )
        op.drop_column("events", "settles_window_id")
    else:
        with op.batch_alter_table("events", schema=None) as batch_op:
            batch_op.drop_column("settles_window_id")
