"""one active sticker per merchant; one default, on-us rule and city policy per tier

Partial unique indexes, so that the database, not a use case's read-then-insert, holds each of
these to one row when requests race: a merchant's active static QR; the fee rule of scope
`default` or `on_us` (NULL cooperatives, which the pair index treats as all different); the
city's limit policy of a tier (NULL cooperative). Duplicates that races already left are folded
first: the newest sticker stays active (the one `static_for` has been answering with) and the
others are revoked; the newest rule or policy is kept (the one written last).

Revision ID: 0007
Revises: 0006
"""

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ONE_ACTIVE_STICKER_WHERE = "kind = 'static' AND status = 'active'"
FEE_RULE_WITHOUT_PAIR_WHERE = "issuer_cooperative_id IS NULL AND acquirer_cooperative_id IS NULL"
CITY_POLICY_WHERE = "cooperative_id IS NULL"


def upgrade():
    op.execute(
        f"UPDATE qr_codes SET status = 'revoked' WHERE {ONE_ACTIVE_STICKER_WHERE}"
        " AND id < (SELECT max(newer.id) FROM qr_codes AS newer"
        " WHERE newer.merchant_id = qr_codes.merchant_id"
        " AND newer.kind = 'static' AND newer.status = 'active')"
    )
    op.execute(
        f"DELETE FROM fee_schedules WHERE {FEE_RULE_WITHOUT_PAIR_WHERE}"
        " AND id < (SELECT max(newer.id) FROM fee_schedules AS newer"
        " WHERE newer.scope = fee_schedules.scope"
        " AND newer.issuer_cooperative_id IS NULL AND newer.acquirer_cooperative_id IS NULL)"
    )
    op.execute(
        f"DELETE FROM limit_policies WHERE {CITY_POLICY_WHERE}"
        " AND id < (SELECT max(newer.id) FROM limit_policies AS newer"
        " WHERE newer.tier = limit_policies.tier AND newer.cooperative_id IS NULL)"
    )
    for name, table, column, where in (
        ("uq_qr_codes_one_active_sticker", "qr_codes", "merchant_id", ONE_ACTIVE_STICKER_WHERE),
        (
            "uq_fee_schedules_scope_without_pair",
            "fee_schedules",
            "scope",
            FEE_RULE_WITHOUT_PAIR_WHERE,
        ),
        ("uq_limit_policies_city_tier", "limit_policies", "tier", CITY_POLICY_WHERE),
    ):
        op.create_index(
            name,
            table,
            [column],
            unique=True,
            postgresql_where=text(where),
            sqlite_where=text(where),
        )


def downgrade():
    op.drop_index("uq_limit_policies_city_tier", table_name="limit_policies")
    op.drop_index("uq_fee_schedules_scope_without_pair", table_name="fee_schedules")
    op.drop_index("uq_qr_codes_one_active_sticker", table_name="qr_codes")
