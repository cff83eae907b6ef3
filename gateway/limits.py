"""Limit policy and its checks: data per cooperative and member tier, checked under the wallet lock.

Defaults follow Bank Indonesia's figures for QRIS and e-money: at most Rp 10.000.000 per payment;
a wallet holds at most Rp 2.000.000 (basic, unregistered) or Rp 20.000.000 (verified); incoming
money at most Rp 20.000.000 / Rp 40.000.000 a month. Daily and monthly spending, payments per
minute, the no-PIN threshold and the per-merchant typo guard are the network's own defaults.
Days and months are Asia/Jakarta days and months.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Text, bindparam, case, cast, func, select
from sqlalchemy.orm import Session

from gateway.db import HotStatement, insert_or_find
from gateway.errors import LimitExceeded
from gateway.models import Cooperative, LimitPolicy, Member, Payment, Transfer
from gateway.money import AMOUNT_MAX, format_rupiah

JAKARTA = ZoneInfo("Asia/Jakarta")


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    payment_max: int = Field(gt=0, le=AMOUNT_MAX)
    balance_max: int = Field(gt=0, le=AMOUNT_MAX)
    incoming_monthly_max: int = Field(gt=0, le=AMOUNT_MAX)
    daily_max: int = Field(gt=0, le=AMOUNT_MAX)
    monthly_max: int = Field(gt=0, le=AMOUNT_MAX)
    payments_per_minute: int = Field(gt=0, le=10_000)
    no_pin_max: int = Field(ge=0, le=AMOUNT_MAX, description="payments up to this need no PIN")


DEFAULT_LIMITS = {
    "basic": Limits(
        payment_max=2_000_000,
        balance_max=2_000_000,
        incoming_monthly_max=20_000_000,
        daily_max=2_000_000,
        monthly_max=20_000_000,
        payments_per_minute=10,
        no_pin_max=50_000,
    ),
    "verified": Limits(
        payment_max=10_000_000,
        balance_max=20_000_000,
        incoming_monthly_max=40_000_000,
        daily_max=20_000_000,
        monthly_max=40_000_000,
        payments_per_minute=10,
        no_pin_max=50_000,
    ),
}

# The most one payment to a merchant may be, by kind, unless the merchant sets its own.
MERCHANT_PAYMENT_MAX_BY_KIND = {"angkot": 100_000, "taxi": 1_000_000}


def start_of_day(moment: datetime) -> datetime:
    local = moment.astimezone(JAKARTA)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def start_of_month(moment: datetime) -> datetime:
    return start_of_day(moment).replace(day=1)


def limits_for(session: Session, cooperative_id: int, tier: str) -> Limits:
    """Return the cooperative's limits for a tier, else the city's, else the defaults."""
    own, city = session.execute(select(*limits_texts(cooperative_id, tier))).one()
    return choose_limits(own, city, tier)


def limits_texts(cooperative_id, tier) -> list:
    """Scalar subqueries for the cooperative's and the city's limits of a tier as JSON text (None
    where there are none), so that a caller can read them in a statement it issues anyway."""

    def policy(owner):
        return (
            select(cast(LimitPolicy.limits, Text))
            .where(LimitPolicy.tier == tier, owner)
            .limit(1)
            .scalar_subquery()
        )

    return [
        policy(LimitPolicy.cooperative_id == cooperative_id),
        policy(LimitPolicy.cooperative_id.is_(None)),
    ]


@lru_cache(maxsize=1024)
def _parse_limits(text: str) -> Limits:
    """Validate a stored policy once per distinct JSON text: a payment reads the text."""
    return Limits.model_validate_json(text)


def choose_limits(own: str | None, city: str | None, tier: str) -> Limits:
    """Pick the limits from the stored JSON texts: the cooperative's, the city's, the defaults."""
    text = own if own is not None else city
    return DEFAULT_LIMITS[tier] if text is None else _parse_limits(text)


def merchant_payment_max(payment_max: int | None, kind: str) -> int | None:
    """The most one payment to a merchant may be: its own maximum, else its kind's."""
    if payment_max is not None:
        return payment_max
    return MERCHANT_PAYMENT_MAX_BY_KIND.get(kind)


def _refuse(name: str, limit: int, remaining: int, en: str, id_: str) -> LimitExceeded:
    return LimitExceeded(en, id_, limit=name, limit_amount=limit, remaining=max(remaining, 0))


_SPENDING = HotStatement(
    select(
        func.coalesce(
            func.sum(case((Payment.created_at >= bindparam("day"), Payment.amount), else_=0)), 0
        ),
        func.coalesce(func.sum(Payment.amount), 0),
        func.coalesce(
            func.sum(case((Payment.created_at >= bindparam("minute_ago"), 1), else_=0)), 0
        ),
    ).where(
        Payment.payer_member_id == bindparam("member_id"), Payment.created_at >= bindparam("month")
    )
)


def spending(session: Session, member_id: int, now: datetime) -> dict:
    """Return the member's payments today, this month and in the last minute (one query)."""
    today, month, last_minute = _SPENDING.first(
        session,
        {
            "member_id": member_id,
            "day": start_of_day(now),
            "minute_ago": now - timedelta(minutes=1),
            "month": start_of_month(now),
        },
    )
    return {"today": int(today), "month": int(month), "last_minute_count": int(last_minute)}


def check_payment(
    session: Session,
    member_id: int,
    merchant_max: int | None,
    amount: int,
    now: datetime,
    limits: Limits,
) -> None:
    """Refuse a payment that would pass a limit. Call with the payer's wallet locked.

    `merchant_max` is `merchant_payment_max(...)`: the most this merchant takes at once.
    """
    if merchant_max is not None and amount > merchant_max:
        raise _refuse(
            "merchant_payment_max",
            merchant_max,
            merchant_max,
            f"This merchant takes at most {format_rupiah(merchant_max)} in one payment.",
            f"Merchant ini menerima paling banyak {format_rupiah(merchant_max)} per pembayaran.",
        )
    if amount > limits.payment_max:
        raise _refuse(
            "payment_max",
            limits.payment_max,
            limits.payment_max,
            f"One payment may be at most {format_rupiah(limits.payment_max)}.",
            f"Satu pembayaran paling banyak {format_rupiah(limits.payment_max)}.",
        )
    spent = spending(session, member_id, now)
    if spent["last_minute_count"] >= limits.payments_per_minute:
        raise LimitExceeded(
            f"At most {limits.payments_per_minute} payments a minute. Wait a moment.",
            f"Paling banyak {limits.payments_per_minute} pembayaran per menit. Tunggu sebentar.",
            limit="payments_per_minute",
            limit_amount=limits.payments_per_minute,
            remaining=0,
        )
    if spent["today"] + amount > limits.daily_max:
        left = limits.daily_max - spent["today"]
        raise _refuse(
            "daily_max",
            limits.daily_max,
            left,
            f"This would pass your daily limit; {format_rupiah(max(left, 0))} left today.",
            f"Melebihi batas harian; sisa hari ini {format_rupiah(max(left, 0))}.",
        )
    if spent["month"] + amount > limits.monthly_max:
        left = limits.monthly_max - spent["month"]
        raise _refuse(
            "monthly_max",
            limits.monthly_max,
            left,
            f"This would pass your monthly limit; {format_rupiah(max(left, 0))} left this month.",
            f"Melebihi batas bulanan; sisa bulan ini {format_rupiah(max(left, 0))}.",
        )


def incoming_this_month(session: Session, wallet_account_id: int, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Transfer.amount), 0)).where(
                Transfer.credit_account_id == wallet_account_id,
                Transfer.created_at >= start_of_month(now),
            )
        )
    )


def check_incoming(
    session: Session, member: Member, amount: int, balance: int, now: datetime
) -> None:
    """Refuse money into a wallet that would pass its maximum balance or monthly incoming."""
    limits = limits_for(session, member.cooperative_id, member.tier)
    if balance + amount > limits.balance_max:
        left = limits.balance_max - balance
        raise _refuse(
            "balance_max",
            limits.balance_max,
            left,
            f"A wallet may hold at most {format_rupiah(limits.balance_max)};"
            f" at most {format_rupiah(max(left, 0))} more fits.",
            f"Saldo paling banyak {format_rupiah(limits.balance_max)};"
            f" hanya {format_rupiah(max(left, 0))} lagi yang muat.",
        )
    incoming = incoming_this_month(session, member.wallet_account_id, now)
    if incoming + amount > limits.incoming_monthly_max:
        left = limits.incoming_monthly_max - incoming
        raise _refuse(
            "incoming_monthly_max",
            limits.incoming_monthly_max,
            left,
            "This would pass the wallet's monthly incoming limit;"
            f" {format_rupiah(max(left, 0))} left.",
            f"Melebihi batas dana masuk bulanan; sisa {format_rupiah(max(left, 0))}.",
        )


def remaining(session: Session, member: Member, balance: int, now: datetime) -> dict:
    """Return each limit and what is left of it now."""
    limits = limits_for(session, member.cooperative_id, member.tier)
    spent = spending(session, member.id, now)
    incoming = incoming_this_month(session, member.wallet_account_id, now)
    return {
        "tier": member.tier,
        "payment_max": limits.payment_max,
        "no_pin_max": limits.no_pin_max,
        "daily_max": limits.daily_max,
        "daily_remaining": max(limits.daily_max - spent["today"], 0),
        "monthly_max": limits.monthly_max,
        "monthly_remaining": max(limits.monthly_max - spent["month"], 0),
        "balance_max": limits.balance_max,
        "balance_room": max(limits.balance_max - balance, 0),
        "incoming_monthly_max": limits.incoming_monthly_max,
        "incoming_monthly_remaining": max(limits.incoming_monthly_max - incoming, 0),
        "payments_per_minute": limits.payments_per_minute,
    }


def put_policy(
    session: Session, cooperative_id: int | None, tier: str, policy: Limits
) -> LimitPolicy:
    """Create or replace the limits of a cooperative's tier (or the city default when None).

    Idempotent under concurrency, as `fees.put_rule`: racing PUTs all succeed, one row remains.
    """

    def find() -> LimitPolicy | None:
        return session.scalar(
            select(LimitPolicy).where(
                LimitPolicy.tier == tier,
                LimitPolicy.cooperative_id.is_(None)
                if cooperative_id is None
                else LimitPolicy.cooperative_id == cooperative_id,
            )
        )

    row = find()
    if row is None:
        row, inserted = insert_or_find(
            session,
            lambda: LimitPolicy(
                cooperative_id=cooperative_id, tier=tier, limits=policy.model_dump()
            ),
            find,
        )
        if inserted:
            return row
    row.limits = policy.model_dump()
    session.flush()
    return row


# The caps of the cooperatives an event lowers, their rows locked, uncapped ones neither read
# nor locked. FOR NO KEY UPDATE serialises the events that lower one capped cooperative without
# waiting for the KEY SHARE locks that inserting its events and accounts takes.
_CAPPED = (
    select(Cooperative.id, Cooperative.net_debit_cap)
    .where(
        Cooperative.id.in_(bindparam("ids", expanding=True)),
        Cooperative.net_debit_cap.is_not(None),
    )
    .order_by(Cooperative.id)
)
_CAPPED_LOCKED = _CAPPED.with_for_update(key_share=True)


def check_net_debit_caps(
    session: Session, lowering: dict[int, int], known_caps: dict[int, int | None]
) -> None:
    """Refuse an event that would take a cooperative's unsettled position below minus its cap.

    Called by `gateway.ledger.post` for every event, with how much it lowers each cooperative's
    position (`lowering`, cooperative id -> rupiah, all positive) and the caps its caller has
    already read (`known_caps`; None: no cap). A cooperative known to have no cap costs nothing;
    for the others one statement reads the cap and locks the cooperative's row, so that two
    events lowering one capped cooperative at once (two cash-outs at two counters, a payment and
    a refund) are serialised: the second sums the position only once the first has committed.
    The position is then summed over the unsettled windows (gateway.settlement).
    """
    wanted = [
        cooperative_id
        for cooperative_id in lowering
        if cooperative_id not in known_caps or known_caps[cooperative_id] is not None
    ]
    if not wanted:
        return
    from gateway.db import is_postgresql
    from gateway.settlement import unsettled_position

    statement = _CAPPED_LOCKED if is_postgresql(session) else _CAPPED
    capped = session.execute(statement, {"ids": sorted(wanted)}).all()
    for cooperative_id, cap in capped:
        position = unsettled_position(session, cooperative_id)
        if position - lowering[cooperative_id] < -cap:
            raise _refuse(
                "net_debit_cap",
                cap,
                cap + position,
                "The cooperative has reached how much it may owe before settlement. Try again"
                " after the next settlement.",
                "Koperasi telah mencapai batas utang sebelum penyelesaian. Coba lagi setelah"
                " penyelesaian berikutnya.",
            )
