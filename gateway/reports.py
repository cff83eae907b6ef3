"""Reports: a merchant's day, a cooperative's period, the observer's city figures, a member's
statement.

Days are Asia/Jakarta days. All figures are integer rupiah read from payments, refunds and
transfers; nothing here changes anything.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from gateway import ledger
from gateway.errors import ValidationFailed
from gateway.limits import JAKARTA
from gateway.models import (
    Account,
    Cooperative,
    Event,
    Member,
    Merchant,
    Payment,
    Refund,
    Transfer,
)
from gateway.models.ledger import TransferCode
from gateway.tables import Column, Table, jakarta, to_csv


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Return the UTC instants where an Asia/Jakarta day starts and ends."""
    start = datetime.combine(day, time.min, tzinfo=JAKARTA)
    return start, start + timedelta(days=1)


def merchant_figures(session: Session, merchant: Merchant, start: datetime, end: datetime) -> dict:
    """A merchant's takings over [start, end): payments (count, gross), refunds, fees net of the
    shares refunds gave back, net, and what was paid out at the counter."""
    in_period = (Payment.created_at >= start) & (Payment.created_at < end)
    count, gross, fees = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Payment.amount), 0),
            func.coalesce(func.sum(Payment.fee_amount), 0),
        ).where(Payment.merchant_id == merchant.id, in_period)
    ).one()
    refund_count, refunds, fees_returned = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Refund.amount), 0),
            func.coalesce(
                func.sum(
                    Refund.fee_issuer_amount
                    + Refund.fee_acquirer_amount
                    + Refund.fee_network_amount
                ),
                0,
            ),
        )
        .join(Payment, Payment.id == Refund.payment_id)
        .where(
            Payment.merchant_id == merchant.id, Refund.created_at >= start, Refund.created_at < end
        )
    ).one()
    paid_out = session.scalar(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.debit_account_id == merchant.account_id,
            Transfer.code == TransferCode.PAYOUT,
            Transfer.created_at >= start,
            Transfer.created_at < end,
        )
    )
    fees_net = int(fees) - int(fees_returned)
    return {
        "count": int(count),
        "gross": int(gross),
        "refund_count": int(refund_count),
        "refunds": int(refunds),
        "fees": fees_net,
        "net": int(gross) - int(refunds) - fees_net,
        "paid_out": int(paid_out),
    }


def merchant_day(session: Session, merchant: Merchant, day: date) -> dict:
    """Gross, refunds, fees, net, count, paid out and balance of a merchant's Jakarta day."""
    start, end = day_bounds(day)
    return {
        "merchant_id": merchant.public_id,
        "date": day.isoformat(),
        "timezone": "Asia/Jakarta",
        **merchant_figures(session, merchant, start, end),
        "balance": ledger.balance(session, merchant.account_id),
    }


MONTH_FIGURES = ("count", "gross", "refund_count", "refunds", "fees", "net", "paid_out")


def month_days(year: int, month: int) -> list[date]:
    """Every day of a calendar month."""
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return [first + timedelta(days=offset) for offset in range((following - first).days)]


def merchant_month(session: Session, merchant: Merchant, year: int, month: int) -> dict:
    """A merchant's month: each Jakarta day's figures, exactly as the merchant's day computes
    them, their totals, and the account's balance now."""
    days = [
        {"date": day.isoformat(), **merchant_figures(session, merchant, *day_bounds(day))}
        for day in month_days(year, month)
    ]
    cooperative = session.get(Cooperative, merchant.cooperative_id)
    return {
        "merchant_id": merchant.public_id,
        "name": merchant.name,
        "cooperative": {"id": cooperative.public_id, "name": cooperative.name},
        "month": f"{year:04d}-{month:02d}",
        "timezone": "Asia/Jakarta",
        "days": days,
        "totals": {key: sum(day[key] for day in days) for key in MONTH_FIGURES},
        "balance": ledger.balance(session, merchant.account_id),
    }


MONTH_COLUMNS = (
    Column("count", "Transaksi / Payments", "integer"),
    Column("gross", "Penjualan / Gross", "rupiah"),
    Column("refund_count", "Refund (banyak) / Refunds (count)", "integer"),
    Column("refunds", "Refund / Refunds", "rupiah"),
    Column("fees", "Biaya layanan / Fees", "rupiah"),
    Column("net", "Bersih / Net", "rupiah"),
    Column("paid_out", "Dicairkan / Paid out", "rupiah"),
)


def merchant_month_tables(month: dict) -> list[Table]:
    """The merchant's month as a sheet of days (with a total line) and a sheet of who and when."""
    days = [{**day, "date": date.fromisoformat(day["date"])} for day in month["days"]]
    days.append({"label": "Jumlah / Total", **month["totals"]})
    summary = {
        "merchant": month["name"],
        "merchant_id": month["merchant_id"],
        "cooperative": month["cooperative"]["name"],
        "month": month["month"],
        **month["totals"],
        "balance": month["balance"],
    }
    return [
        Table(
            "Harian - Daily",
            (Column("date", "Tanggal / Date", "date"), Column("label", "Keterangan / Note"))
            + MONTH_COLUMNS,
            days,
        ),
        Table(
            "Jumlah - Total",
            (
                Column("merchant", "Merchant", width=32),
                Column("merchant_id", "ID merchant / Merchant id"),
                Column("cooperative", "Koperasi / Cooperative", width=32),
                Column("month", "Bulan / Month", width=10),
            )
            + MONTH_COLUMNS
            + (Column("balance", "Saldo sekarang / Balance now", "rupiah"),),
            [summary],
        ),
    ]


def cooperative_report(
    session: Session, cooperative: Cooperative, start: datetime, end: datetime
) -> dict:
    """A cooperative's period: fee income by partner (net of the fee shares refunds gave back),
    payments made and received, counter cash, active members."""
    public_ids = dict(session.execute(select(Cooperative.id, Cooperative.public_id)).all())
    in_period = (Payment.created_at >= start) & (Payment.created_at < end)
    fee_income: dict[str, dict] = defaultdict(lambda: {"as_issuer": 0, "as_acquirer": 0})
    for acquirer_id, total in session.execute(
        select(Payment.acquirer_cooperative_id, func.sum(Payment.fee_issuer_amount))
        .where(Payment.issuer_cooperative_id == cooperative.id, in_period)
        .group_by(Payment.acquirer_cooperative_id)
    ):
        fee_income[public_ids[acquirer_id]]["as_issuer"] += int(total)
    for issuer_id, total in session.execute(
        select(Payment.issuer_cooperative_id, func.sum(Payment.fee_acquirer_amount))
        .where(Payment.acquirer_cooperative_id == cooperative.id, in_period)
        .group_by(Payment.issuer_cooperative_id)
    ):
        fee_income[public_ids[issuer_id]]["as_acquirer"] += int(total)
    # A refund gives the fee shares back (out of the cooperatives' fee accounts): the income is
    # net of them, counted on the refund's day as in the merchant's day.
    refunded_in_period = (Refund.created_at >= start) & (Refund.created_at < end)
    for own_column, partner_column, share_column, side in (
        (
            Payment.issuer_cooperative_id,
            Payment.acquirer_cooperative_id,
            Refund.fee_issuer_amount,
            "as_issuer",
        ),
        (
            Payment.acquirer_cooperative_id,
            Payment.issuer_cooperative_id,
            Refund.fee_acquirer_amount,
            "as_acquirer",
        ),
    ):
        for partner_id, total in session.execute(
            select(partner_column, func.sum(share_column))
            .join(Payment, Payment.id == Refund.payment_id)
            .where(own_column == cooperative.id, refunded_in_period)
            .group_by(partner_column)
        ):
            if total:
                fee_income[public_ids[partner_id]][side] -= int(total)

    def volume(condition) -> dict:
        count, total = session.execute(
            select(func.count(), func.coalesce(func.sum(Payment.amount), 0)).where(
                condition, in_period
            )
        ).one()
        return {"count": int(count), "volume": int(total)}

    on_us = (Payment.issuer_cooperative_id == cooperative.id) & (
        Payment.acquirer_cooperative_id == cooperative.id
    )
    made_cross = (Payment.issuer_cooperative_id == cooperative.id) & (
        Payment.acquirer_cooperative_id != cooperative.id
    )
    received_cross = (Payment.acquirer_cooperative_id == cooperative.id) & (
        Payment.issuer_cooperative_id != cooperative.id
    )

    counter_cash = ledger.system_account(session, "counter_cash", cooperative.id)
    cash: dict[str, dict] = {
        kind: {
            "own_members": {"count": 0, "amount": 0},
            "partner_members": {"count": 0, "amount": 0},
        }
        for kind in ("cash_in", "cash_out")
    }
    wallet_owner = Account.__table__.alias("wallet")
    for code, counter_side, wallet_side in (
        (TransferCode.CASH_IN, Transfer.debit_account_id, Transfer.credit_account_id),
        (TransferCode.CASH_OUT, Transfer.credit_account_id, Transfer.debit_account_id),
    ):
        for owner_id, count, total in session.execute(
            select(wallet_owner.c.cooperative_id, func.count(), func.sum(Transfer.amount))
            .join(wallet_owner, wallet_owner.c.id == wallet_side)
            .where(
                Transfer.code == code,
                counter_side == counter_cash.id,
                Transfer.created_at >= start,
                Transfer.created_at < end,
            )
            .group_by(wallet_owner.c.cooperative_id)
        ):
            bucket = "own_members" if owner_id == cooperative.id else "partner_members"
            cash[str(code)][bucket]["count"] += int(count)
            cash[str(code)][bucket]["amount"] += int(total)

    active_members = session.scalar(
        select(func.count(func.distinct(Payment.payer_member_id))).where(
            Payment.issuer_cooperative_id == cooperative.id, in_period
        )
    )
    return {
        "cooperative_id": cooperative.public_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "fee_income_by_partner": [
            {
                "partner_cooperative_id": partner,
                **figures,
                "total": figures["as_issuer"] + figures["as_acquirer"],
            }
            for partner, figures in sorted(fee_income.items())
        ],
        "fee_income_total": sum(f["as_issuer"] + f["as_acquirer"] for f in fee_income.values()),
        "payments_made_by_members": {
            "on_us": volume(on_us),
            "cross_cooperative": volume(made_cross),
        },
        "payments_received_by_merchants": {
            "on_us": volume(on_us),
            "cross_cooperative": volume(received_cross),
        },
        "counter": cash,
        "active_members": int(active_members),
        "members": int(
            session.scalar(select(func.count()).where(Member.cooperative_id == cooperative.id))
        ),
    }


COOPERATIVE_REPORT_COLUMNS = (
    Column("figure", "figure", width=32),
    Column("detail", "detail", width=28),
    Column("count", "count", "integer"),
    Column("amount", "amount", "rupiah"),
)


def cooperative_report_table(report: dict) -> Table:
    """The cooperative's period as one table of figures: fee income by partner, payments made
    and received (on-us, cross-cooperative), counter cash (own and partner members), active
    members."""
    rows: list[dict] = [
        {"figure": "fee_income", "detail": row["partner_cooperative_id"], "amount": row["total"]}
        for row in report["fee_income_by_partner"]
    ]
    for section in ("payments_made_by_members", "payments_received_by_merchants"):
        for scope, figures in report[section].items():
            rows.append(
                {
                    "figure": section,
                    "detail": scope,
                    "count": figures["count"],
                    "amount": figures["volume"],
                }
            )
    for kind, buckets in report["counter"].items():
        for bucket, figures in buckets.items():
            rows.append(
                {
                    "figure": kind,
                    "detail": bucket,
                    "count": figures["count"],
                    "amount": figures["amount"],
                }
            )
    rows.append({"figure": "active_members", "count": report["active_members"]})
    return Table("Laporan - Report", COOPERATIVE_REPORT_COLUMNS, rows)


def cooperative_report_csv(report: dict) -> str:
    """The cooperative's period as CSV."""
    return to_csv(cooperative_report_table(report))


def observer_figures(session: Session, now: datetime, population: int | None) -> dict:
    """City figures per cooperative, with no personal data: members, active members in the last
    30 days, merchants by kind, payment count and volume, the cross-cooperative share, and growth
    against the previous 30 days."""
    current_start = now - timedelta(days=30)
    previous_start = now - timedelta(days=60)
    cooperatives = list(session.scalars(select(Cooperative).order_by(Cooperative.code)))

    def grouped(statement) -> dict:
        return {row[0]: row[1:] for row in session.execute(statement)}

    members = grouped(select(Member.cooperative_id, func.count()).group_by(Member.cooperative_id))
    active = grouped(
        select(Payment.issuer_cooperative_id, func.count(func.distinct(Payment.payer_member_id)))
        .where(Payment.created_at >= current_start)
        .group_by(Payment.issuer_cooperative_id)
    )

    def period(start, end):
        return grouped(
            select(
                Payment.acquirer_cooperative_id,
                func.count(),
                func.coalesce(func.sum(Payment.amount), 0),
                func.coalesce(
                    func.sum(
                        case(
                            (
                                Payment.issuer_cooperative_id != Payment.acquirer_cooperative_id,
                                Payment.amount,
                            ),
                            else_=0,
                        )
                    ),
                    0,
                ),
            )
            .where(Payment.created_at >= start, Payment.created_at < end)
            .group_by(Payment.acquirer_cooperative_id)
        )

    current = period(current_start, now)
    previous = period(previous_start, current_start)
    merchant_kinds: dict[int, dict[str, int]] = defaultdict(dict)
    for cooperative_id, kind, count in session.execute(
        select(Merchant.cooperative_id, Merchant.kind, func.count()).group_by(
            Merchant.cooperative_id, Merchant.kind
        )
    ):
        merchant_kinds[cooperative_id][kind] = int(count)

    rows = []
    for cooperative in cooperatives:
        count, volume, cross = (int(v) for v in current.get(cooperative.id, (0, 0, 0)))
        previous_volume = int(previous.get(cooperative.id, (0, 0, 0))[1])
        rows.append(
            {
                "cooperative_id": cooperative.public_id,
                "code": cooperative.code,
                "name": cooperative.name,
                "kind": cooperative.kind,
                "members": int(members.get(cooperative.id, (0,))[0]),
                "active_members_30_days": int(active.get(cooperative.id, (0,))[0]),
                "merchants_by_kind": merchant_kinds.get(cooperative.id, {}),
                "payment_count_30_days": count,
                "payment_volume_30_days": volume,
                "cross_cooperative_volume_30_days": cross,
                "cross_cooperative_share_bps": cross * 10_000 // volume if volume else 0,
                "growth_bps": (volume - previous_volume) * 10_000 // previous_volume
                if previous_volume
                else None,
            }
        )
    total_members = sum(row["members"] for row in rows)
    total_volume = sum(row["payment_volume_30_days"] for row in rows)
    total_cross = sum(row["cross_cooperative_volume_30_days"] for row in rows)
    city = {
        "members": total_members,
        "active_members_30_days": sum(row["active_members_30_days"] for row in rows),
        "payment_count_30_days": sum(row["payment_count_30_days"] for row in rows),
        "payment_volume_30_days": total_volume,
        "cross_cooperative_share_bps": total_cross * 10_000 // total_volume if total_volume else 0,
        "population": population,
        "members_share_of_population_bps": total_members * 10_000 // population
        if population
        else None,
    }
    return {"period_days": 30, "as_of": now.isoformat(), "cooperatives": rows, "city": city}


CASH_CODES = (TransferCode.CASH_IN, TransferCode.CASH_OUT)


def member_statement(
    session: Session,
    member: Member,
    *,
    limit: int,
    cursor: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict:
    """A member's statement (mutasi): every transfer of the wallet, newest first, with the
    balance after it and what it was: a payment (to which merchant), a refund (from which
    merchant), cash in or cash out (at which cooperative's counter).

    Transfers come in the order they were written (their id), as the wallet's balance moved; the
    balance after one is the sum of the wallet's transfers up to and including it, so the newest
    entry's balance equals the ledger's. `cursor` is the last entry of the previous page;
    `start`/`end` bound the instants (end exclusive).
    """
    account_id = member.wallet_account_id
    touches = or_(Transfer.debit_account_id == account_id, Transfer.credit_account_id == account_id)
    statement = (
        select(
            Transfer.id,
            Transfer.public_id,
            Transfer.code,
            Transfer.amount,
            Transfer.credit_account_id,
            Transfer.created_at,
            Transfer.event_id,
            Event.public_id,
            Event.cooperative_id,
        )
        .join(Event, Event.id == Transfer.event_id)
        .where(touches)
    )
    if cursor:
        before = session.scalar(select(Transfer.id).where(Transfer.public_id == cursor, touches))
        if before is None:
            raise ValidationFailed("The cursor is not valid.", "Kursor tidak sah.")
        statement = statement.where(Transfer.id < before)
    if start is not None:
        statement = statement.where(Transfer.created_at >= start)
    if end is not None:
        statement = statement.where(Transfer.created_at < end)
    rows = session.execute(statement.order_by(Transfer.id.desc()).limit(limit + 1)).all()
    next_cursor = rows[limit - 1][1] if len(rows) > limit else None
    rows = rows[:limit]

    event_ids = [row[6] for row in rows]
    merchant_of = _merchants_of_events(session, event_ids)
    counter_ids = {row[8] for row in rows if row[2] in CASH_CODES}
    counters = {
        cooperative.id: {"id": cooperative.public_id, "name": cooperative.name}
        for cooperative in session.scalars(
            select(Cooperative).where(Cooperative.id.in_(counter_ids))
        )
    }

    items = []
    if rows:
        signed = case(
            (Transfer.credit_account_id == account_id, Transfer.amount), else_=-Transfer.amount
        )
        running = int(
            session.scalar(
                select(func.coalesce(func.sum(signed), 0)).where(touches, Transfer.id <= rows[0][0])
            )
        )
    for _, public_id, code, amount, credit_id, created_at, event_id, event_public_id, where in rows:
        change = amount if credit_id == account_id else -amount
        entry = {
            "id": public_id,
            "event_id": event_public_id,
            "kind": code,
            "created_at": created_at.isoformat(),
            "amount": change,
            "balance_after": running,
            "payment_id": None,
            "refund_id": None,
            "merchant": None,
            "counter": counters.get(where) if code in CASH_CODES else None,
        }
        entry.update(merchant_of.get(event_id, {}))
        items.append(entry)
        running -= change
    return {
        "member_id": member.public_id,
        "account_id": session.scalar(select(Account.public_id).where(Account.id == account_id)),
        "balance": ledger.balance(session, account_id),
        **period_balances(session, member, start, end),
        "items": items,
        "next_cursor": next_cursor,
    }


def wallet_balance_before(session: Session, member: Member, moment: datetime | None) -> int:
    """The wallet's balance from its transfers written before `moment` (all of them if None)."""
    account_id = member.wallet_account_id
    touches = or_(Transfer.debit_account_id == account_id, Transfer.credit_account_id == account_id)
    signed = case(
        (Transfer.credit_account_id == account_id, Transfer.amount), else_=-Transfer.amount
    )
    statement = select(func.coalesce(func.sum(signed), 0)).where(touches)
    if moment is not None:
        statement = statement.where(Transfer.created_at < moment)
    return int(session.scalar(statement))


def period_balances(
    session: Session, member: Member, start: datetime | None, end: datetime | None
) -> dict:
    """The wallet's opening balance (before `start`) and closing balance (before `end`; with no
    end, the ledger's balance now)."""
    return {
        "opening_balance": wallet_balance_before(session, member, start) if start else 0,
        "closing_balance": wallet_balance_before(session, member, end)
        if end
        else ledger.balance(session, member.wallet_account_id),
    }


STATEMENT_ROWS_MAX = 20_000  # a file of one member's movements; a longer period is refused

KIND_LABELS = {
    TransferCode.PAYMENT: "Pembayaran / Payment",
    TransferCode.REFUND: "Refund",
    TransferCode.CASH_IN: "Setor tunai / Cash in",
    TransferCode.CASH_OUT: "Tarik tunai / Cash out",
}


def member_statement_period(
    session: Session, member: Member, start: datetime | None, end: datetime | None
) -> dict:
    """Every movement of a member's wallet over a period, oldest first, each with the balance
    after it counted on from the opening balance, and the closing balance.

    The closing balance is the opening balance plus the movements read, so the file adds up
    even while money moves (the movements and the balances are separate reads); once nothing
    moves, with no end, it is the ledger's balance. A period of more than STATEMENT_ROWS_MAX
    movements is refused (422).
    """
    opening = wallet_balance_before(session, member, start) if start else 0
    page = member_statement(session, member, limit=STATEMENT_ROWS_MAX, start=start, end=end)
    if page["next_cursor"] is not None:
        raise ValidationFailed(
            f"More than {STATEMENT_ROWS_MAX} movements: choose a shorter period.",
            f"Lebih dari {STATEMENT_ROWS_MAX} mutasi: pilih periode yang lebih pendek.",
        )
    items = list(reversed(page["items"]))
    running = opening
    for item in items:
        running += item["amount"]
        item["balance_after"] = running
    cooperative = session.get(Cooperative, member.cooperative_id)
    return {
        "member_id": member.public_id,
        "name": member.user.name,
        "cooperative": {"id": cooperative.public_id, "name": cooperative.name},
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "opening_balance": opening,
        "closing_balance": running,
        "money_in": sum(item["amount"] for item in items if item["amount"] > 0),
        "money_out": -sum(item["amount"] for item in items if item["amount"] < 0),
        "balance": page["balance"],
        "items": items,
    }


def _movement_note(item: dict) -> str:
    if item["merchant"] is not None:
        merchant = item["merchant"]
        return f"{merchant['name']} ({merchant['cooperative']['name']})"
    if item["counter"] is not None:
        return f"Loket / Counter {item['counter']['name']}"
    return ""


STATEMENT_COLUMNS = (
    Column("created_at", "Waktu (WIB) / Time", "datetime"),
    Column("kind", "Jenis / Kind", width=22),
    Column("note", "Keterangan / Description", width=40),
    Column("money_in", "Masuk / In", "rupiah"),
    Column("money_out", "Keluar / Out", "rupiah"),
    Column("balance", "Saldo / Balance", "rupiah"),
    Column("transfer_id", "ID transfer"),
    Column("payment_id", "ID pembayaran / Payment id"),
)


def member_statement_tables(statement: dict) -> list[Table]:
    """The mutasi as a sheet of movements between an opening and a closing line, and a sheet
    of whose, which period and the totals."""
    rows: list[dict] = [
        {"kind": "Saldo awal / Opening balance", "balance": statement["opening_balance"]}
    ]
    for item in statement["items"]:
        rows.append(
            {
                "created_at": datetime.fromisoformat(item["created_at"]),
                "kind": KIND_LABELS.get(item["kind"], item["kind"]),
                "note": _movement_note(item),
                "money_in": item["amount"] if item["amount"] > 0 else None,
                "money_out": -item["amount"] if item["amount"] < 0 else None,
                "balance": item["balance_after"],
                "transfer_id": item["id"],
                "payment_id": item["payment_id"],
            }
        )
    rows.append(
        {
            "kind": "Saldo akhir / Closing balance",
            "money_in": statement["money_in"],
            "money_out": statement["money_out"],
            "balance": statement["closing_balance"],
        }
    )
    # The Jakarta days asked for: `to` is the instant the last day ends.
    start, end = (
        datetime.fromisoformat(statement[key]) if statement[key] else None for key in ("from", "to")
    )
    first_day = jakarta(start).date() if start else None
    last_day = jakarta(end - timedelta(microseconds=1)).date() if end else None
    summary = {
        "name": statement["name"],
        "member_id": statement["member_id"],
        "cooperative": statement["cooperative"]["name"],
        "from": first_day,
        "to": last_day,
        "opening_balance": statement["opening_balance"],
        "money_in": statement["money_in"],
        "money_out": statement["money_out"],
        "closing_balance": statement["closing_balance"],
        "balance": statement["balance"],
    }
    return [
        Table("Mutasi", STATEMENT_COLUMNS, rows),
        Table(
            "Ringkasan - Summary",
            (
                Column("name", "Nama / Name", width=32),
                Column("member_id", "ID anggota / Member id"),
                Column("cooperative", "Koperasi / Cooperative", width=32),
                Column("from", "Dari tanggal / From", "date"),
                Column("to", "Sampai tanggal / To", "date"),
                Column("opening_balance", "Saldo awal / Opening", "rupiah"),
                Column("money_in", "Masuk / In", "rupiah"),
                Column("money_out", "Keluar / Out", "rupiah"),
                Column("closing_balance", "Saldo akhir / Closing", "rupiah"),
                Column("balance", "Saldo sekarang / Balance now", "rupiah"),
            ),
            [summary],
        ),
    ]


def _merchants_of_events(session: Session, event_ids: list[int]) -> dict[int, dict]:
    """Return, by event id, the payment (or refund, and its payment) and the merchant of each
    payment or refund event among `event_ids`."""

    def merchant(public_id, name, cooperative_public_id, cooperative_name) -> dict:
        return {
            "id": public_id,
            "name": name,
            "cooperative": {"id": cooperative_public_id, "name": cooperative_name},
        }

    merchant_columns = (
        Merchant.public_id,
        Merchant.name,
        Cooperative.public_id,
        Cooperative.name,
    )
    found: dict[int, dict] = {}
    if not event_ids:
        return found
    for event_id, payment_id, *columns in session.execute(
        select(Payment.event_id, Payment.public_id, *merchant_columns)
        .join(Merchant, Merchant.id == Payment.merchant_id)
        .join(Cooperative, Cooperative.id == Merchant.cooperative_id)
        .where(Payment.event_id.in_(event_ids))
    ):
        found[event_id] = {"payment_id": payment_id, "merchant": merchant(*columns)}
    for event_id, refund_id, payment_id, *columns in session.execute(
        select(Refund.event_id, Refund.public_id, Payment.public_id, *merchant_columns)
        .join(Payment, Payment.id == Refund.payment_id)
        .join(Merchant, Merchant.id == Payment.merchant_id)
        .join(Cooperative, Cooperative.id == Merchant.cooperative_id)
        .where(Refund.event_id.in_(event_ids))
    ):
        found[event_id] = {
            "payment_id": payment_id,
            "refund_id": refund_id,
            "merchant": merchant(*columns),
        }
    return found
