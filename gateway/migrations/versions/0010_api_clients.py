"""API clients (OAuth 2.0 client credentials), and audit events that name the client acting

A back office authenticates as an API client of one cooperative; what it does is audited with
`actor_client_id`, as a person's staff changes are with `actor_user_id`. On SQLite the column is
added in place (ALTER TABLE ADD COLUMN, with its REFERENCES clause), never by recreating the
table: a recreated audit_events would lose its append-only triggers.

Revision ID: 0010_api_clients
Revises: 0009_webhooks
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_api_clients"
down_revision = "0009_webhooks"
branch_labels = None
depends_on = None

AUDIT_FOREIGN_KEY = "fk_audit_events_actor_client_id_api_clients"


def upgrade():
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("cooperative_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("scopes", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("secret_generation", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f("ck_api_clients_status")),
        sa.ForeignKeyConstraint(
            ["cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_api_clients_cooperative_id_cooperatives"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_api_clients_created_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("public_id", name=op.f("uq_api_clients_public_id")),
    )
    op.create_index(op.f("ix_api_clients_cooperative_id"), "api_clients", ["cooperative_id"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE audit_events ADD COLUMN actor_client_id INTEGER"
            f" CONSTRAINT {AUDIT_FOREIGN_KEY} REFERENCES api_clients (id)"
        )
    else:
        op.add_column("audit_events", sa.Column("actor_client_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            AUDIT_FOREIGN_KEY, "audit_events", "api_clients", ["actor_client_id"], ["id"]
        )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column that references another table: recreate audit_events, then
        # give it back the append-only triggers of 0004, which the recreation drops.
        with op.batch_alter_table("audit_events") as batch_op:
            batch_op.drop_column("actor_client_id")
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS audit_events_no_{operation.lower()} BEFORE"
                f" {operation} ON audit_events BEGIN SELECT RAISE(ABORT,"
                f" 'audit events are append-only: {operation} refused'); END"
            )
    else:
        op.drop_constraint(AUDIT_FOREIGN_KEY, "audit_events", type_="foreignkey")
        op.drop_column("audit_events", "actor_client_id")
    op.drop_index(op.f("ix_api_clients_cooperative_id"), table_name="api_clients")
    op.drop_table("api_clients")
