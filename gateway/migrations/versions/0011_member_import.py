"""members imported in bulk: a login whose PIN was generated must be changed at first login

`users.pin_change_required` is true for a login made by an import until its person sets their own
PIN; an imported login whose slip is not printed yet has the empty `pin_hash` (no PIN matches it).
On SQLite the column is added in place (ALTER TABLE ADD COLUMN), never by recreating the table.

Revision ID: 0011_member_import
Revises: 0010_api_clients
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_member_import"
down_revision = "0010_api_clients"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "users",
        sa.Column("pin_change_required", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("pin_change_required")
