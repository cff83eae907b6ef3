"""SHU by the AD/ART: split and weights per cooperative, savings per member and year, runs

Each run stores every member's figures; the shares are append-only in the database itself
(triggers, as audit events in 0004), so an approved run never changes.

Revision ID: 0013_shu
Revises: 0012_teller_shifts
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_shu"
down_revision = "0012_teller_shifts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "shu_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cooperative_id", sa.Integer(), nullable=False),
        sa.Column("jasa_usaha_bps", sa.Integer(), nullable=False),
        sa.Column("jasa_modal_bps", sa.Integer(), nullable=False),
        sa.Column("wallet_payments_weight_bps", sa.Integer(), nullable=False),
        sa.Column("own_merchant_purchases_weight_bps", sa.Integer(), nullable=False),
        sa.Column("merchant_takings_weight_bps", sa.Integer(), nullable=False),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "jasa_usaha_bps >= 0 AND jasa_modal_bps >= 0 AND jasa_usaha_bps + jasa_modal_bps = 10000",
            name=op.f("ck_shu_policies_parts_make_the_whole"),
        ),
        sa.CheckConstraint(
            "wallet_payments_weight_bps >= 0 AND own_merchant_purchases_weight_bps >= 0 AND merchant_takings_weight_bps >= 0",
            name=op.f("ck_shu_policies_weights_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_shu_policies_cooperative_id_cooperatives"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["users.id"],
            name=op.f("fk_shu_policies_updated_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shu_policies")),
        sa.UniqueConstraint("cooperative_id", name=op.f("uq_shu_policies_cooperative_id")),
    )
    op.create_table(
        "shu_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("cooperative_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pool_amount", sa.BigInteger(), nullable=False),
        sa.Column("jasa_usaha_amount", sa.BigInteger(), nullable=False),
        sa.Column("jasa_modal_amount", sa.BigInteger(), nullable=False),
        sa.Column("distributed_amount", sa.BigInteger(), nullable=False),
        sa.Column("jasa_usaha_bps", sa.Integer(), nullable=False),
        sa.Column("jasa_modal_bps", sa.Integer(), nullable=False),
        sa.Column("wallet_payments_weight_bps", sa.Integer(), nullable=False),
        sa.Column("own_merchant_purchases_weight_bps", sa.Integer(), nullable=False),
        sa.Column("merchant_takings_weight_bps", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_year", sa.Integer(), nullable=True),
        sa.Column("approved_by_user_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rat_date", sa.Date(), nullable=True),
        sa.Column("rat_reference", sa.String(length=120), nullable=True),
        sa.CheckConstraint(
            "(status = 'approved') = (approved_year IS NOT NULL)",
            name=op.f("ck_shu_runs_approved_has_year"),
        ),
        sa.CheckConstraint("status IN ('draft', 'approved')", name=op.f("ck_shu_runs_status")),
        sa.CheckConstraint("pool_amount >= 0", name=op.f("ck_shu_runs_pool_not_negative")),
        sa.ForeignKeyConstraint(
            ["approved_by_user_id"],
            ["users.id"],
            name=op.f("fk_shu_runs_approved_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_shu_runs_cooperative_id_cooperatives"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_shu_runs_created_by_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shu_runs")),
        sa.UniqueConstraint(
            "cooperative_id", "approved_year", name="uq_shu_runs_one_approved_per_year"
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_shu_runs_public_id")),
    )
    with op.batch_alter_table("shu_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shu_runs_cooperative_id"), ["cooperative_id"], unique=False
        )

    op.create_table(
        "shu_member_savings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cooperative_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("principal_amount", sa.BigInteger(), nullable=False),
        sa.Column("mandatory_amount", sa.BigInteger(), nullable=False),
        sa.Column("voluntary_amount", sa.BigInteger(), nullable=False),
        sa.Column("imported_by_user_id", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "principal_amount >= 0 AND mandatory_amount >= 0 AND voluntary_amount >= 0",
            name=op.f("ck_shu_member_savings_amounts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_shu_member_savings_cooperative_id_cooperatives"),
        ),
        sa.ForeignKeyConstraint(
            ["imported_by_user_id"],
            ["users.id"],
            name=op.f("fk_shu_member_savings_imported_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_shu_member_savings_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shu_member_savings")),
        sa.UniqueConstraint("member_id", "year", name="uq_shu_member_savings_member_year"),
    )
    with op.batch_alter_table("shu_member_savings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shu_member_savings_cooperative_id"), ["cooperative_id"], unique=False
        )

    op.create_table(
        "shu_run_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("wallet_payments_amount", sa.BigInteger(), nullable=False),
        sa.Column("own_merchant_purchases_amount", sa.BigInteger(), nullable=False),
        sa.Column("merchant_takings_amount", sa.BigInteger(), nullable=False),
        sa.Column("business_score", sa.BigInteger(), nullable=False),
        sa.Column("principal_savings_amount", sa.BigInteger(), nullable=False),
        sa.Column("mandatory_savings_amount", sa.BigInteger(), nullable=False),
        sa.Column("voluntary_savings_amount", sa.BigInteger(), nullable=False),
        sa.Column("jasa_usaha_share", sa.BigInteger(), nullable=False),
        sa.Column("jasa_modal_share", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_shu_run_shares_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["shu_runs.id"], name=op.f("fk_shu_run_shares_run_id_shu_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shu_run_shares")),
        sa.UniqueConstraint("run_id", "member_id", name="uq_shu_run_shares_run_member"),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION shu_run_shares_are_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'SHU shares are append-only: % refused', TG_OP;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER shu_run_shares_append_only BEFORE UPDATE OR DELETE ON shu_run_shares"
            " FOR EACH ROW EXECUTE FUNCTION shu_run_shares_are_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER shu_run_shares_no_{operation.lower()} BEFORE {operation}"
                f" ON shu_run_shares BEGIN SELECT RAISE(ABORT,"
                f" 'SHU shares are append-only: {operation} refused'); END"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS shu_run_shares_append_only ON shu_run_shares")
        op.execute("DROP FUNCTION IF EXISTS shu_run_shares_are_append_only()")
    op.drop_table("shu_run_shares")
    with op.batch_alter_table("shu_member_savings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shu_member_savings_cooperative_id"))

    op.drop_table("shu_member_savings")
    with op.batch_alter_table("shu_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shu_runs_cooperative_id"))

    op.drop_table("shu_runs")
    op.drop_table("shu_policies")
