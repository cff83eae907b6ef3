"""settlement windows and audit events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:11:11.879589

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("cooperative_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("remote_address", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name=op.f("fk_audit_events_actor_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_audit_events_cooperative_id_cooperatives"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_cooperative_id", ["cooperative_id", "id"], unique=False
        )

    op.create_table(
        "settlement_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transfer_count", sa.Integer(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column(
            "settlement_event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "status IN ('open', 'closing', 'closed', 'settled')",
            name=op.f("ck_settlement_windows_status"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_event_id"],
            ["events.id"],
            name=op.f("fk_settlement_windows_settlement_event_id_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_windows")),
        sa.UniqueConstraint("public_id", name=op.f("uq_settlement_windows_public_id")),
    )
    with op.batch_alter_table("settlement_windows", schema=None) as batch_op:
        batch_op.create_index(
            "uq_settlement_windows_one_open",
            ["status"],
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )

    # Every transfer belongs to the window that was open when it was written. Added without
    # recreating the table on SQLite (which would drop the immutability triggers).
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("transfers", sa.Column("window_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_transfers_window_id_settlement_windows",
            "transfers",
            "settlement_windows",
            ["window_id"],
            ["id"],
        )
    else:
        op.execute(
            "ALTER TABLE transfers ADD COLUMN window_id INTEGER"
            " CONSTRAINT fk_transfers_window_id_settlement_windows"
            " REFERENCES settlement_windows (id)"
        )
    op.create_index("ix_transfers_window_id", "transfers", ["window_id"])

    # The first window opens now and holds every transfer written before this migration.
    op.execute(
        "INSERT INTO settlement_windows (public_id, status, opened_at)"
        " VALUES ('win_first', 'open', CURRENT_TIMESTAMP)"
    )
    assign = (
        "UPDATE transfers SET window_id = (SELECT id FROM settlement_windows WHERE status = 'open')"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE transfers DISABLE TRIGGER transfers_immutable")
        op.execute(assign)
        op.execute("ALTER TABLE transfers ENABLE TRIGGER transfers_immutable")
    else:
        op.execute("DROP TRIGGER transfers_no_update")
        op.execute(assign)
        op.execute(
            "CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers"
            " BEGIN SELECT RAISE(ABORT, 'transfers are immutable: UPDATE refused'); END"
        )


def downgrade():
    op.drop_index("ix_transfers_window_id", "transfers")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(
            "fk_transfers_window_id_settlement_windows", "transfers", type_="foreignkey"
        )
    op.drop_column("transfers", "window_id")

    with op.batch_alter_table("settlement_windows", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_settlement_windows_one_open",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )

    op.drop_table("settlement_windows")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_cooperative_id")

    op.drop_table("audit_events")
