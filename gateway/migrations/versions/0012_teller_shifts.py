"""teller shifts (kas loket): one open shift per teller, the counter events of each shift, and
the cooperative's threshold past which a second admin signs a shift's difference off

Revision ID: 0012_teller_shifts
Revises: 0011_member_import
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision = "0012_teller_shifts"
down_revision = "0011_member_import"
branch_labels = None
depends_on = None

ONE_OPEN_SHIFT_WHERE = "status = 'open'"


def upgrade():
    op.add_column(
        "cooperatives",
        sa.Column(
            "shift_difference_threshold",
            sa.BigInteger(),
            server_default="50000",
            nullable=False,
        ),
    )
    op.create_table(
        "teller_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("cooperative_id", sa.Integer(), nullable=False),
        sa.Column("teller_user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opening_cash_amount", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cash_in_amount", sa.BigInteger(), nullable=True),
        sa.Column("cash_out_amount", sa.BigInteger(), nullable=True),
        sa.Column("payout_amount", sa.BigInteger(), nullable=True),
        sa.Column("expected_cash_amount", sa.BigInteger(), nullable=True),
        sa.Column("counted_cash_amount", sa.BigInteger(), nullable=True),
        sa.Column("difference_amount", sa.BigInteger(), nullable=True),
        sa.Column("difference_threshold", sa.BigInteger(), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by_user_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'counted', 'closed')", name=op.f("ck_teller_shifts_status")
        ),
        sa.CheckConstraint(
            "opening_cash_amount >= 0", name=op.f("ck_teller_shifts_opening_cash_not_negative")
        ),
        sa.CheckConstraint(
            "counted_cash_amount IS NULL OR counted_cash_amount >= 0",
            name=op.f("ck_teller_shifts_counted_cash_not_negative"),
        ),
        sa.CheckConstraint(
            "approved_by_user_id IS NULL OR approved_by_user_id <> teller_user_id",
            name=op.f("ck_teller_shifts_approved_by_another"),
        ),
        sa.ForeignKeyConstraint(
            ["cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_teller_shifts_cooperative_id_cooperatives"),
        ),
        sa.ForeignKeyConstraint(
            ["teller_user_id"],
            ["users.id"],
            name=op.f("fk_teller_shifts_teller_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_user_id"],
            ["users.id"],
            name=op.f("fk_teller_shifts_approved_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teller_shifts")),
        sa.UniqueConstraint("public_id", name=op.f("uq_teller_shifts_public_id")),
    )
    op.create_index(op.f("ix_teller_shifts_teller_user_id"), "teller_shifts", ["teller_user_id"])
    op.create_index(
        "ix_teller_shifts_cooperative_opened", "teller_shifts", ["cooperative_id", "opened_at"]
    )
    op.create_index(
        "uq_teller_shifts_one_open_per_teller",
        "teller_shifts",
        ["teller_user_id"],
        unique=True,
        postgresql_where=text(ONE_OPEN_SHIFT_WHERE),
        sqlite_where=text(ONE_OPEN_SHIFT_WHERE),
    )
    op.create_table(
        "teller_shift_events",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_teller_shift_events_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["teller_shifts.id"],
            name=op.f("fk_teller_shift_events_shift_id_teller_shifts"),
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_teller_shift_events")),
    )
    op.create_index(op.f("ix_teller_shift_events_shift_id"), "teller_shift_events", ["shift_id"])


def downgrade():
    op.drop_index(op.f("ix_teller_shift_events_shift_id"), table_name="teller_shift_events")
    op.drop_table("teller_shift_events")
    op.drop_index("uq_teller_shifts_one_open_per_teller", table_name="teller_shifts")
    op.drop_index("ix_teller_shifts_cooperative_opened", table_name="teller_shifts")
    op.drop_index(op.f("ix_teller_shifts_teller_user_id"), table_name="teller_shifts")
    op.drop_table("teller_shifts")
    with op.batch_alter_table("cooperatives") as batch_op:
        batch_op.drop_column("shift_difference_threshold")
