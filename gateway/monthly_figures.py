"""The city's figures by Asia/Jakarta month, for the observer (the city's cooperative office).

For each month and each cooperative: registered members at the month's end, active members
(members of the cooperative who paid at least once in the month), and the payments received at
the cooperative's merchants — count, volume (gross rupiah, refunds not netted, as in the
observer's 30-day figures), the part paid by members of other cooperatives and its share in basis
points. The city's line sums the cooperatives' (a member belongs to one cooperative, so active
members add up).

No personal data: only counts and sums over a cooperative, and no figure that a few people are
behind. A cooperative's payment figures of a month rest on fewer than `SMALL_COUNT_MIN` distinct
payers, or its active members are fewer than that (but not zero): those figures are withheld
(None). Where only one cooperative of a month is withheld, the city's total minus the others
would give it back, so the next smallest cooperative's figures are withheld too. The city's line
itself is withheld the same way when the whole city has fewer than `SMALL_COUNT_MIN`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gateway.errors import ValidationFailed
from gateway.limits import JAKARTA
from gateway.models import Cooperative, Member, Payment
from gateway.money import BASIS_POINTS
from gateway.tables import Column, Table

SMALL_COUNT_MIN = 3
MONTHS_MAX = 36
MONTH_YEARS = range(2000, 2101)
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def parse_month(raw: str, name: str) -> date:
    """Return the first day of the month `raw` ("2026-01"), or raise a 422 problem."""
    match = _MONTH.fullmatch(raw or "")
    if match and int(match[1]) in MONTH_YEARS and 1 <= int(match[2]) <= 12:
        return date(int(match[1]), int(match[2]), 1)
    raise ValidationFailed(
        f"{name} must be a month like 2026-01, from 2000 to 2100.",
        f"{name} harus bulan seperti 2026-01, dari 2000 sampai 2100.",
    )


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_range(first: date, last: date) -> list[date]:
    """The first days of the months from `first` to `last`, both included (at most 36)."""
    if last < first:
        raise ValidationFailed("to must not be before from.", "to tidak boleh sebelum from.")
    months = [first]
    while months[-1] < last:
        months.append(next_month(months[-1]))
        if len(months) > MONTHS_MAX:
            raise ValidationFailed(
                f"Ask for at most {MONTHS_MAX} months at once.",
                f"Minta paling banyak {MONTHS_MAX} bulan sekaligus.",
            )
    return months


def default_range(now: datetime) -> tuple[date, date]:
    """The twelve months up to and including the current Asia/Jakarta month."""
    today = now.astimezone(JAKARTA).date()
    last = date(today.year, today.month, 1)
    return default_range_before(last), last


def default_range_before(last: date) -> date:
    """The first of the twelve months that end with `last`."""
    return next_month(date(last.year - 1, last.month, 1))


def _bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=JAKARTA)
    following = next_month(month)
    return start, datetime(following.year, following.month, 1, tzinfo=JAKARTA)


def _share_bps(part: int, whole: int) -> int:
    return part * BASIS_POINTS // whole if whole else 0


def _is_small(count: int) -> bool:
    return 0 < count < SMALL_COUNT_MIN


def _withhold(cells: list[dict], people: Callable[[dict], int], flag: str) -> None:
    """Mark the cells whose figures rest on too few people, and one more where only one is."""
    small = [cell for cell in cells if _is_small(people(cell))]
    for cell in small:
        cell[flag] = True
    if len(small) == 1:
        others = [cell for cell in cells if not cell[flag] and people(cell) > 0]
        if others:
            min(others, key=people)[flag] = True


PAYMENT_FIGURES = (
    "payment_count",
    "payment_volume",
    "cross_cooperative_volume",
    "cross_cooperative_share_bps",
)


def _published(cell: dict) -> dict:
    """A cell as the observer reads it: withheld figures are None; the payer count stays inside."""
    shown = {key: value for key, value in cell.items() if key != "payers"}
    if cell["payments_withheld"]:
        shown.update(dict.fromkeys(PAYMENT_FIGURES))
    if cell["active_members_withheld"]:
        shown["active_members"] = None
    return shown


def monthly_figures(session: Session, first: date, last: date) -> dict:
    """The city's and each cooperative's figures for each month from `first` to `last`."""
    months = month_range(first, last)
    cooperatives = list(session.scalars(select(Cooperative).order_by(Cooperative.code)))
    by_cooperative: dict[int, list[dict]] = {c.id: [] for c in cooperatives}
    city: list[dict] = []
    for month in months:
        start, end = _bounds(month)
        members = dict(
            session.execute(
                select(Member.cooperative_id, func.count())
                .where(Member.created_at < end)
                .group_by(Member.cooperative_id)
            ).all()
        )
        in_month = (Payment.created_at >= start) & (Payment.created_at < end)
        active = dict(
            session.execute(
                select(
                    Payment.issuer_cooperative_id,
                    func.count(func.distinct(Payment.payer_member_id)),
                )
                .where(in_month)
                .group_by(Payment.issuer_cooperative_id)
            ).all()
        )
        cross = case(
            (Payment.issuer_cooperative_id != Payment.acquirer_cooperative_id, Payment.amount),
            else_=0,
        )
        received = {
            row[0]: row[1:]
            for row in session.execute(
                select(
                    Payment.acquirer_cooperative_id,
                    func.count(),
                    func.coalesce(func.sum(Payment.amount), 0),
                    func.coalesce(func.sum(cross), 0),
                    func.count(func.distinct(Payment.payer_member_id)),
                )
                .where(in_month)
                .group_by(Payment.acquirer_cooperative_id)
            )
        }
        city_payers = session.scalar(
            select(func.count(func.distinct(Payment.payer_member_id))).where(in_month)
        )
        cells = []
        for cooperative in cooperatives:
            count, volume, cross_volume, payers = (
                int(value) for value in received.get(cooperative.id, (0, 0, 0, 0))
            )
            cell = {
                "month": month.strftime("%Y-%m"),
                "members": int(members.get(cooperative.id, 0)),
                "active_members": int(active.get(cooperative.id, 0)),
                "payment_count": count,
                "payment_volume": volume,
                "cross_cooperative_volume": cross_volume,
                "cross_cooperative_share_bps": _share_bps(cross_volume, volume),
                "payers": payers,
                "payments_withheld": False,
                "active_members_withheld": False,
            }
            cells.append(cell)
            by_cooperative[cooperative.id].append(cell)
        _withhold(cells, lambda cell: cell["payers"], "payments_withheld")
        _withhold(cells, lambda cell: cell["active_members"], "active_members_withheld")
        volume = sum(cell["payment_volume"] for cell in cells)
        cross_volume = sum(cell["cross_cooperative_volume"] for cell in cells)
        active_members = sum(cell["active_members"] for cell in cells)
        city_cell = {
            "month": month.strftime("%Y-%m"),
            "members": sum(cell["members"] for cell in cells),
            "active_members": active_members,
            "payment_count": sum(cell["payment_count"] for cell in cells),
            "payment_volume": volume,
            "cross_cooperative_volume": cross_volume,
            "cross_cooperative_share_bps": _share_bps(cross_volume, volume),
            "payers": int(city_payers),
            "payments_withheld": _is_small(int(city_payers)),
            "active_members_withheld": _is_small(active_members),
        }
        city.append(_published(city_cell))
    return {
        "from": months[0].strftime("%Y-%m"),
        "to": months[-1].strftime("%Y-%m"),
        "timezone": "Asia/Jakarta",
        "small_count_min": SMALL_COUNT_MIN,
        "months": [month.strftime("%Y-%m") for month in months],
        "city": city,
        "cooperatives": [
            {
                "cooperative_id": cooperative.public_id,
                "code": cooperative.code,
                "name": cooperative.name,
                "months": [_published(cell) for cell in by_cooperative[cooperative.id]],
            }
            for cooperative in cooperatives
        ],
    }


_COLUMNS = (
    Column("month", "Bulan / Month", width=10),
    Column("members", "Anggota / Members", "integer"),
    Column("active_members", "Anggota aktif / Active members", "integer"),
    Column("payment_count", "Pembayaran / Payments", "integer"),
    Column("payment_volume", "Volume (Rp)", "rupiah"),
    Column("cross_cooperative_volume", "Lintas koperasi / Cross-cooperative (Rp)", "rupiah"),
    Column("cross_cooperative_share_bps", "Porsi lintas / Cross share (bps)", "bps"),
    Column("withheld", "Ditahan / Withheld", width=14),
)


def _withheld_note(cell: dict) -> str:
    parts = []
    if cell["payments_withheld"]:
        parts.append("pembayaran / payments")
    if cell["active_members_withheld"]:
        parts.append("anggota aktif / active")
    return ", ".join(parts)


def figures_tables(figures: dict) -> list[Table]:
    """The monthly figures as two tables: the city by month, and each cooperative by month.
    A withheld figure is an empty cell, and the last column says which were withheld."""
    city = Table(
        "Kota",
        _COLUMNS,
        [{**cell, "withheld": _withheld_note(cell)} for cell in figures["city"]],
    )
    cooperatives = Table(
        "Koperasi",
        (
            Column("code", "Kode / Code", width=8),
            Column("name", "Koperasi / Cooperative", width=36),
            *_COLUMNS,
        ),
        [
            {
                "code": cooperative["code"],
                "name": cooperative["name"],
                **cell,
                "withheld": _withheld_note(cell),
            }
            for cooperative in figures["cooperatives"]
            for cell in cooperative["months"]
        ],
    )
    return [city, cooperatives]
