"""The fee schedule per (issuer, acquirer) cooperative pair, and the exact fee of a payment.

A rule gives basis points by merchant category, an optional free band (QRIS charges micro
merchants nothing up to Rp 500.000 and 0,3% above), a minimum and maximum in rupiah, and the
split of the fee among issuer, acquirer and network in basis points. The fee is charged to the
merchant, rounded half up to the rupiah, and split by largest remainder so the shares sum exactly.
Lookup order: the pair's own rule, then the on-us rule (issuer = acquirer), then the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from gateway.db import insert_or_find
from gateway.models import FeeSchedule
from gateway.money import AMOUNT_MAX, BASIS_POINTS, bps_of, split


class CategoryRule(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    bps: int = Field(ge=0, le=BASIS_POINTS, description="fee in basis points of the amount")
    free_up_to: int = Field(
        default=0, ge=0, le=AMOUNT_MAX, description="payments up to this amount pay no fee"
    )


class FeeRule(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    categories: dict[str, CategoryRule]
    fee_min: int = Field(default=0, ge=0, le=AMOUNT_MAX)
    fee_max: int | None = Field(default=None, ge=0, le=AMOUNT_MAX)
    split_issuer_bps: int = Field(ge=0, le=BASIS_POINTS)
    split_acquirer_bps: int = Field(ge=0, le=BASIS_POINTS)
    split_network_bps: int = Field(ge=0, le=BASIS_POINTS)

    @model_validator(mode="after")
    def _check(self):
        if self.split_issuer_bps + self.split_acquirer_bps + self.split_network_bps != BASIS_POINTS:
            raise ValueError("the split must add up to 10000 basis points")
        if set(self.categories) != {"micro", "small", "regular"}:
            raise ValueError("categories must give micro, small and regular")
        if self.fee_max is not None and self.fee_max < self.fee_min:
            raise ValueError("fee_max must not be below fee_min")
        return self


DEFAULT_RULE = FeeRule(
    categories={
        "micro": CategoryRule(bps=30, free_up_to=500_000),
        "small": CategoryRule(bps=70),
        "regular": CategoryRule(bps=70),
    },
    fee_min=0,
    fee_max=None,
    split_issuer_bps=3_500,
    split_acquirer_bps=5_000,
    split_network_bps=1_500,
)


@dataclass(frozen=True)
class Fee:
    total: int
    issuer: int
    acquirer: int
    network: int


def compute(rule: FeeRule, amount: int, category: str) -> Fee:
    """Return the fee on `amount` at a merchant of `category`, split exactly."""
    category_rule = rule.categories[category]
    if amount <= category_rule.free_up_to:
        total = 0
    else:
        total = max(bps_of(amount, category_rule.bps), rule.fee_min)
        if rule.fee_max is not None:
            total = min(total, rule.fee_max)
    total = min(total, amount)
    issuer, acquirer, network = split(
        total, [rule.split_issuer_bps, rule.split_acquirer_bps, rule.split_network_bps]
    )
    return Fee(total=total, issuer=issuer, acquirer=acquirer, network=network)


def rule_for(session: Session, issuer_cooperative_id: int, acquirer_cooperative_id: int) -> FeeRule:
    """Return the rule that applies to a payment from issuer to acquirer."""
    rows = session.execute(
        select(FeeSchedule.scope, cast(FeeSchedule.rule, Text)).where(
            (
                (FeeSchedule.scope == "pair")
                & (FeeSchedule.issuer_cooperative_id == issuer_cooperative_id)
                & (FeeSchedule.acquirer_cooperative_id == acquirer_cooperative_id)
            )
            | FeeSchedule.scope.in_(("default", "on_us"))
        )
    ).all()
    by_scope = {scope: rule for scope, rule in rows}
    return choose_rule(
        by_scope.get("pair"),
        by_scope.get("on_us"),
        by_scope.get("default"),
        on_us_payment=issuer_cooperative_id == acquirer_cooperative_id,
    )


def rule_texts(issuer_cooperative_id, acquirer_cooperative_id) -> list:
    """Scalar subqueries for the pair's, the on-us and the default rule as JSON text (None where
    there is none), so that a caller can read them in a statement it issues anyway."""

    def rule(scope, *where):
        return (
            select(cast(FeeSchedule.rule, Text))
            .where(FeeSchedule.scope == scope, *where)
            .limit(1)
            .scalar_subquery()
        )

    return [
        rule(
            "pair",
            FeeSchedule.issuer_cooperative_id == issuer_cooperative_id,
            FeeSchedule.acquirer_cooperative_id == acquirer_cooperative_id,
        ),
        rule("on_us"),
        rule("default"),
    ]


@lru_cache(maxsize=1024)
def _parse_rule(text: str) -> FeeRule:
    """Validate a stored rule once per distinct JSON text: a payment reads the text, not a dict."""
    return FeeRule.model_validate_json(text)


def choose_rule(
    pair: str | None, on_us: str | None, default: str | None, *, on_us_payment: bool
) -> FeeRule:
    """Pick the rule from the stored JSON texts: the pair's, then on-us, then the default."""
    if pair is not None:
        return _parse_rule(pair)
    if on_us_payment and on_us is not None:
        return _parse_rule(on_us)
    if default is not None:
        return _parse_rule(default)
    return DEFAULT_RULE


def put_rule(
    session: Session,
    scope: str,
    issuer_cooperative_id: int | None,
    acquirer_cooperative_id: int | None,
    rule: FeeRule,
) -> FeeSchedule:
    """Create or replace the rule of a pair (or the default / on-us rule).

    Idempotent under concurrency: of PUTs racing to create the same rule, one inserts it and the
    others replace it (the unique index says who was first), so every caller succeeds and one row
    holds the rule of whoever wrote last.
    """

    def find() -> FeeSchedule | None:
        return session.scalar(
            select(FeeSchedule).where(
                FeeSchedule.scope == scope,
                FeeSchedule.issuer_cooperative_id.is_(None)
                if issuer_cooperative_id is None
                else FeeSchedule.issuer_cooperative_id == issuer_cooperative_id,
                FeeSchedule.acquirer_cooperative_id.is_(None)
                if acquirer_cooperative_id is None
                else FeeSchedule.acquirer_cooperative_id == acquirer_cooperative_id,
            )
        )

    schedule = find()
    if schedule is None:
        schedule, inserted = insert_or_find(
            session,
            lambda: FeeSchedule(
                scope=scope,
                issuer_cooperative_id=issuer_cooperative_id,
                acquirer_cooperative_id=acquirer_cooperative_id,
                rule=rule.model_dump(),
            ),
            find,
        )
        if inserted:
            return schedule
    schedule.rule = rule.model_dump()
    session.flush()
    return schedule
