"""qr codes, payments, refunds, fee schedules, limit policies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:55:09.561124

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "fee_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("issuer_cooperative_id", sa.Integer(), nullable=True),
        sa.Column("acquirer_cooperative_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scope IN ('pair', 'default', 'on_us')", name=op.f("ck_fee_schedules_scope")
        ),
        sa.ForeignKeyConstraint(
            ["acquirer_cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_fee_schedules_acquirer_cooperative_id_cooperatives"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_fee_schedules_issuer_cooperative_id_cooperatives"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_schedules")),
    )
    with op.batch_alter_table("fee_schedules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fee_schedules_pair",
            ["scope", "issuer_cooperative_id", "acquirer_cooperative_id"],
            unique=True,
        )

    op.create_table(
        "limit_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cooperative_id", sa.Integer(), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_limit_policies_cooperative_id_cooperatives"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_policies")),
    )
    with op.batch_alter_table("limit_policies", schema=None) as batch_op:
        batch_op.create_index("ix_limit_policies_scope", ["cooperative_id", "tier"], unique=True)

    op.create_table(
        "qr_codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('static', 'dynamic')", name=op.f("ck_qr_codes_kind")),
        sa.CheckConstraint(
            "status IN ('active', 'paid', 'cancelled', 'revoked')", name=op.f("ck_qr_codes_status")
        ),
        sa.CheckConstraint(
            "amount IS NULL OR amount > 0", name=op.f("ck_qr_codes_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_qr_codes_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qr_codes")),
        sa.UniqueConstraint("public_id", name=op.f("uq_qr_codes_public_id")),
    )
    with op.batch_alter_table("qr_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_qr_codes_merchant_kind_status", ["merchant_id", "kind", "status"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("qr_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("payer_member_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("issuer_cooperative_id", sa.Integer(), nullable=False),
        sa.Column("acquirer_cooperative_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_issuer_amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_acquirer_amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_network_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('completed', 'partially_refunded', 'refunded')",
            name=op.f("ck_payments_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "fee_amount = fee_issuer_amount + fee_acquirer_amount + fee_network_amount",
            name=op.f("ck_payments_fee_split_sums"),
        ),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount",
            name=op.f("ck_payments_refund_bounded"),
        ),
        sa.ForeignKeyConstraint(
            ["acquirer_cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_payments_acquirer_cooperative_id_cooperatives"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_payments_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_cooperative_id"],
            ["cooperatives.id"],
            name=op.f("fk_payments_issuer_cooperative_id_cooperatives"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_payments_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["payer_member_id"], ["members.id"], name=op.f("fk_payments_payer_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["qr_id"], ["qr_codes.id"], name=op.f("fk_payments_qr_id_qr_codes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("event_id", name=op.f("uq_payments_event_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_payments_public_id")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_merchant_id_id", ["merchant_id", "id"], unique=False)
        batch_op.create_index(
            "ix_payments_payer_created", ["payer_member_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payments_qr_id"), ["qr_id"], unique=False)

    op.create_table(
        "refunds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_issuer_amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_acquirer_amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_network_amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_refunds_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("event_id", name=op.f("uq_refunds_event_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_refunds_public_id")),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_payment_id"), ["payment_id"], unique=False)

    with op.batch_alter_table("cooperatives", schema=None) as batch_op:
        batch_op.add_column(sa.Column("net_debit_cap", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_max", sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("payment_max")

    with op.batch_alter_table("cooperatives", schema=None) as batch_op:
        batch_op.drop_column("net_debit_cap")

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_payment_id"))

    op.drop_table("refunds")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_qr_id"))
        batch_op.drop_index("ix_payments_payer_created")
        batch_op.drop_index("ix_payments_merchant_id_id")

    op.drop_table("payments")
    with op.batch_alter_table("qr_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_qr_codes_merchant_kind_status")

    op.drop_table("qr_codes")
    with op.batch_alter_table("limit_policies", schema=None) as batch_op:
        batch_op.drop_index("ix_limit_policies_scope")

    op.drop_table("limit_policies")
    with op.batch_alter_table("fee_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_fee_schedules_pair")

    op.drop_table("fee_schedules")
