"""SHU (sisa hasil usaha) as the cooperative's AD/ART says (UU 25/1992 art. 45).

The RAT (rapat anggota tahunan) gives members a part of the year's SHU: the *pool*, whole rupiah.
The AD/ART splits it between *jasa usaha* (each member's business through the cooperative) and
*jasa modal* (each member's savings) by percentages set per cooperative (`ShuPolicy`, basis
points that sum to 10.000; 60/40 unless the cooperative sets its own).

Jasa usaha is shared in proportion to a business score, the sum of three components of the
Asia/Jakarta book year (a payment counts in the year it was made, net of what was refunded of
it, even later: until a run is approved), each times a weight the cooperative sets (10.000
basis points counts a rupiah once):

- `wallet_payments`: what the member paid from the wallet this cooperative holds, wherever it
  was paid (at its own merchants or at partners');
- `own_merchant_purchases`: the part of those payments made at this cooperative's merchants.
  Our reading of the AD/ART: it rewards a member's transactions *with its own cooperative*, so
  this weight comes on top of the wallet weight (a purchase at home can count more than one at a
  partner), and only the cooperative's own members share its SHU: a partner's member buying at
  this cooperative's merchants earns nothing here (that payment is business with its own
  cooperative, counted there as a wallet payment);
- `merchant_takings`: what a merchant-member took in (a member of this cooperative who owns a
  merchant of this cooperative: a stall, an angkot), whoever paid.

Jasa modal is shared in proportion to each member's savings at the end of the book year —
simpanan pokok, wajib and sukarela — which the gateway does not hold: the office imports them
per member and year from its CSV or XLSX (`import_savings`; a re-import replaces that year's
savings, until the year's run is approved).

Each part is split by largest remainder (`gateway.money.split`), so the shares of each part sum
exactly to it. A part with no basis at all (nobody saved, nobody did business) is not shared:
it is reported as undistributed, never spread by some other rule.

A simulation (`compute`) changes nothing. A run (`prepare_run`) stores the figures and the policy
it used; `approve_run` approves it once, after the RAT (its date and decision reference recorded),
through gateway.states.SHU_RUN, audited. An approved run's figures are stored, so a later payment
or import never changes them; its year's savings can no longer be replaced.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from gateway import audit, phones, states
from gateway.db import transaction, unique_violation_table, utcnow
from gateway.errors import GatewayError, NotFound, ValidationFailed
from gateway.limits import JAKARTA
from gateway.models import (
    Cooperative,
    Member,
    MemberSavings,
    Merchant,
    Payment,
    ShuPolicy,
    ShuRun,
    ShuRunShare,
    ShuRunStatus,
    User,
)
from gateway.models.shu import BASIS_POINTS_WHOLE
from gateway.money import AMOUNT_MAX, split
from gateway.tables import Column, Table
from gateway.uploads import UploadRefused, find_columns, read_sheet

WEIGHT_MAX_BPS = 100_000  # a component counted at most ten times
YEAR_MIN, YEAR_MAX = 2000, 2100


# --- refusals ------------------------------------------------------------------------------


class ShuRunLocked(GatewayError):
    status = 409
    slug = "shu-run-locked"
    title = "SHU run already approved"
    message_id = "Perhitungan SHU ini sudah disetujui dan terkunci: tidak dapat diubah lagi."
    message_en = "This SHU run is already approved and locked: it cannot be changed."


class ShuYearApproved(GatewayError):
    status = 409
    slug = "shu-year-approved"
    title = "The year's SHU is approved"
    message_id = "SHU tahun ini sudah disetujui RAT: tahun ini terkunci."
    message_en = "This year's SHU has been approved by the RAT: the year is locked."


class ShuRunStale(GatewayError):
    status = 409
    slug = "shu-run-stale"
    title = "SHU figures changed"
    message_id = (
        "Angka SHU berubah sejak perhitungan ini dibuat (transaksi atau simpanan baru):"
        " buat perhitungan baru lalu setujui."
    )
    message_en = (
        "The SHU figures changed since this run was prepared (new payments or savings):"
        " prepare a new run and approve that."
    )


class SavingsImportRefused(GatewayError):
    status = 422
    slug = "savings-import-refused"
    title = "Savings import refused"
    message_id = (
        "Ada baris yang salah: tidak ada yang disimpan. Perbaiki baris itu lalu impor lagi."
    )
    message_en = "Some rows are wrong: nothing was saved. Fix those rows and import again."


# --- the policy ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A cooperative's AD/ART for SHU: the split of the pool and the business weights, in bps."""

    jasa_usaha_bps: int = 6_000
    jasa_modal_bps: int = 4_000
    wallet_payments_weight_bps: int = 10_000
    own_merchant_purchases_weight_bps: int = 10_000
    merchant_takings_weight_bps: int = 10_000

    def check(self) -> None:
        """Refuse a split that is not the whole pool, or a weight out of range (422)."""
        values = asdict(self)
        for name, value in values.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValidationFailed(
                    f"{name} must be a whole number of basis points, not negative.",
                    f"{name} harus bilangan bulat basis poin, tidak negatif.",
                )
        if self.jasa_usaha_bps + self.jasa_modal_bps != BASIS_POINTS_WHOLE:
            raise ValidationFailed(
                "jasa_usaha_bps and jasa_modal_bps must add up to 10000 (100%).",
                "jasa_usaha_bps dan jasa_modal_bps harus berjumlah 10000 (100%).",
            )
        for name in (
            "wallet_payments_weight_bps",
            "own_merchant_purchases_weight_bps",
            "merchant_takings_weight_bps",
        ):
            if values[name] > WEIGHT_MAX_BPS:
                raise ValidationFailed(
                    f"{name} must be at most {WEIGHT_MAX_BPS} (ten times).",
                    f"{name} paling banyak {WEIGHT_MAX_BPS} (sepuluh kali).",
                )

    def as_json(self) -> dict:
        return asdict(self)


POLICY_FIELDS = tuple(Policy.__dataclass_fields__)


def policy_of(session: Session, cooperative: Cooperative) -> Policy:
    """The cooperative's policy, or the default (60/40, each component counted once)."""
    row = session.scalar(select(ShuPolicy).where(ShuPolicy.cooperative_id == cooperative.id))
    if row is None:
        return Policy()
    return Policy(**{name: getattr(row, name) for name in POLICY_FIELDS})


def set_policy(
    session: Session, cooperative: Cooperative, policy: Policy, *, user_id: int | None
) -> Policy:
    """Store the cooperative's policy (the caller commits); audited."""
    policy.check()
    row = session.scalar(
        select(ShuPolicy).where(ShuPolicy.cooperative_id == cooperative.id).with_for_update()
    )
    if row is None:
        row = ShuPolicy(cooperative_id=cooperative.id)
        session.add(row)
    for name in POLICY_FIELDS:
        setattr(row, name, getattr(policy, name))
    row.updated_by_user_id = user_id
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        "shu.policy.set",
        actor_user_id=user_id,
        cooperative_id=cooperative.id,
        target=cooperative.public_id,
        detail=policy.as_json(),
    )
    return policy


# --- the basis -----------------------------------------------------------------------------


@dataclass
class MemberShare:
    member_id: int
    public_id: str
    name: str
    phone: str
    wallet_payments: int = 0
    own_merchant_purchases: int = 0
    merchant_takings: int = 0
    business_score: int = 0
    principal_savings: int = 0
    mandatory_savings: int = 0
    voluntary_savings: int = 0
    jasa_usaha_share: int = 0
    jasa_modal_share: int = 0

    @property
    def savings(self) -> int:
        return self.principal_savings + self.mandatory_savings + self.voluntary_savings

    @property
    def share(self) -> int:
        return self.jasa_usaha_share + self.jasa_modal_share

    def figures(self) -> tuple:
        """What a run stores for the member: compared again before it is approved."""
        return (
            self.member_id,
            self.wallet_payments,
            self.own_merchant_purchases,
            self.merchant_takings,
            self.business_score,
            self.principal_savings,
            self.mandatory_savings,
            self.voluntary_savings,
            self.jasa_usaha_share,
            self.jasa_modal_share,
        )


@dataclass
class Basis:
    cooperative_public_id: str
    year: int
    pool: int
    policy: Policy
    jasa_usaha_amount: int
    jasa_modal_amount: int
    members: list[MemberShare] = field(default_factory=list)

    @property
    def jasa_usaha_distributed(self) -> int:
        return sum(member.jasa_usaha_share for member in self.members)

    @property
    def jasa_modal_distributed(self) -> int:
        return sum(member.jasa_modal_share for member in self.members)

    @property
    def distributed(self) -> int:
        return self.jasa_usaha_distributed + self.jasa_modal_distributed


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The instants an Asia/Jakarta book year starts and ends."""
    return datetime(year, 1, 1, tzinfo=JAKARTA), datetime(year + 1, 1, 1, tzinfo=JAKARTA)


def check_year_and_pool(year: int, pool: int) -> None:
    if not (isinstance(year, int) and YEAR_MIN <= year <= YEAR_MAX):
        raise ValidationFailed(
            f"year must be from {YEAR_MIN} to {YEAR_MAX}.",
            f"year harus dari {YEAR_MIN} sampai {YEAR_MAX}.",
        )
    if not (isinstance(pool, int) and 0 <= pool <= AMOUNT_MAX):
        raise ValidationFailed(
            f"pool must be whole rupiah from 0 to {AMOUNT_MAX}.",
            f"pool harus rupiah bulat dari 0 sampai {AMOUNT_MAX}.",
        )


def compute(
    session: Session, cooperative: Cooperative, year: int, pool: int, policy: Policy
) -> Basis:
    """Each member's business and savings in `year` and their shares of `pool`; writes nothing."""
    check_year_and_pool(year, pool)
    start, end = year_bounds(year)
    in_year = (Payment.created_at >= start) & (Payment.created_at < end)
    net = func.sum(Payment.amount - Payment.refunded_amount)
    members = {
        member_id: MemberShare(member_id, public_id, name, phone)
        for member_id, public_id, name, phone in session.execute(
            select(Member.id, Member.public_id, User.name, User.phone)
            .join(User, User.id == Member.user_id)
            .where(Member.cooperative_id == cooperative.id)
            .order_by(Member.id)
        )
    }
    # A member's payments are made from the wallet this cooperative holds: it is the issuer.
    for member_id, total, own in session.execute(
        select(
            Payment.payer_member_id,
            net,
            func.sum(
                case(
                    (
                        Payment.acquirer_cooperative_id == cooperative.id,
                        Payment.amount - Payment.refunded_amount,
                    ),
                    else_=0,
                )
            ),
        )
        .where(Payment.issuer_cooperative_id == cooperative.id, in_year)
        .group_by(Payment.payer_member_id)
    ):
        if member_id in members:
            members[member_id].wallet_payments = int(total or 0)
            members[member_id].own_merchant_purchases = int(own or 0)
    owner = aliased(Member)
    for member_id, total in session.execute(
        select(owner.id, net)
        .join(Merchant, Merchant.id == Payment.merchant_id)
        .join(owner, owner.user_id == Merchant.owner_user_id)
        .where(
            Merchant.cooperative_id == cooperative.id,
            owner.cooperative_id == cooperative.id,
            in_year,
        )
        .group_by(owner.id)
    ):
        if member_id in members:
            members[member_id].merchant_takings = int(total or 0)
    for member_id, principal, mandatory, voluntary in session.execute(
        select(
            MemberSavings.member_id,
            MemberSavings.principal_amount,
            MemberSavings.mandatory_amount,
            MemberSavings.voluntary_amount,
        ).where(MemberSavings.cooperative_id == cooperative.id, MemberSavings.year == year)
    ):
        if member_id in members:
            found = members[member_id]
            found.principal_savings = int(principal)
            found.mandatory_savings = int(mandatory)
            found.voluntary_savings = int(voluntary)

    rows = list(members.values())
    for member in rows:
        member.business_score = (
            member.wallet_payments * policy.wallet_payments_weight_bps
            + member.own_merchant_purchases * policy.own_merchant_purchases_weight_bps
            + member.merchant_takings * policy.merchant_takings_weight_bps
        )
    jasa_usaha_amount, jasa_modal_amount = split(
        pool, [policy.jasa_usaha_bps, policy.jasa_modal_bps]
    )
    scores = [member.business_score for member in rows]
    if sum(scores):
        for member, share in zip(rows, split(jasa_usaha_amount, scores), strict=True):
            member.jasa_usaha_share = share
    savings = [member.savings for member in rows]
    if sum(savings):
        for member, share in zip(rows, split(jasa_modal_amount, savings), strict=True):
            member.jasa_modal_share = share
    return Basis(
        cooperative.public_id, year, pool, policy, jasa_usaha_amount, jasa_modal_amount, rows
    )


def simulate(session: Session, cooperative: Cooperative, year: int, pool: int) -> Basis:
    """The SHU the cooperative's current policy gives for `year` and `pool`; writes nothing."""
    return compute(session, cooperative, year, pool, policy_of(session, cooperative))


def member_json(member: MemberShare) -> dict:
    return {
        "member_id": member.public_id,
        "name": member.name,
        "phone": member.phone,
        "wallet_payments": member.wallet_payments,
        "own_merchant_purchases": member.own_merchant_purchases,
        "merchant_takings": member.merchant_takings,
        "business_score": member.business_score,
        "principal_savings": member.principal_savings,
        "mandatory_savings": member.mandatory_savings,
        "voluntary_savings": member.voluntary_savings,
        "savings": member.savings,
        "jasa_usaha_share": member.jasa_usaha_share,
        "jasa_modal_share": member.jasa_modal_share,
        "share": member.share,
    }


def basis_json(basis: Basis) -> dict:
    return {
        "cooperative_id": basis.cooperative_public_id,
        "year": basis.year,
        "pool": basis.pool,
        "policy": basis.policy.as_json(),
        "jasa_usaha_amount": basis.jasa_usaha_amount,
        "jasa_modal_amount": basis.jasa_modal_amount,
        "jasa_usaha_distributed": basis.jasa_usaha_distributed,
        "jasa_modal_distributed": basis.jasa_modal_distributed,
        "distributed": basis.distributed,
        "undistributed": basis.pool - basis.distributed,
        "members": [member_json(member) for member in basis.members],
    }


# --- tables: CSV and XLSX ------------------------------------------------------------------

MEMBER_COLUMNS = (
    Column("member_id", "ID anggota / Member ID", width=26),
    Column("name", "Nama / Name"),
    Column("phone", "Nomor HP / Phone", width=16),
    Column("wallet_payments", "Belanja dari dompet / Wallet payments", "rupiah"),
    Column("own_merchant_purchases", "Belanja di usaha koperasi / At own merchants", "rupiah"),
    Column("merchant_takings", "Omzet usaha anggota / Merchant takings", "rupiah"),
    Column("business_score", "Skor usaha / Business score", "integer", width=22),
    Column("principal_savings", "Simpanan pokok / Principal savings", "rupiah"),
    Column("mandatory_savings", "Simpanan wajib / Mandatory savings", "rupiah"),
    Column("voluntary_savings", "Simpanan sukarela / Voluntary savings", "rupiah"),
    Column("savings", "Jumlah simpanan / Savings", "rupiah"),
    Column("jasa_usaha_share", "Jasa usaha", "rupiah"),
    Column("jasa_modal_share", "Jasa modal", "rupiah"),
    Column("share", "SHU anggota / Member's SHU", "rupiah"),
)

SUMMARY_COLUMNS = (
    Column("figure", "Keterangan / Figure", width=40),
    Column("amount", "Jumlah / Amount", "rupiah"),
    Column("bps", "Basis poin / bps", "bps", width=12),
    Column("text", "Catatan / Note", width=30),
)


def basis_tables(basis: Basis, run: dict | None = None) -> list[Table]:
    """The shares and a summary, for CSV and XLSX."""
    policy = basis.policy
    summary = [
        {"figure": "Koperasi / Cooperative", "text": basis.cooperative_public_id},
        {"figure": "Tahun buku / Book year", "text": str(basis.year)},
        {"figure": "SHU untuk anggota / Pool", "amount": basis.pool},
        {"figure": "Jasa usaha", "amount": basis.jasa_usaha_amount, "bps": policy.jasa_usaha_bps},
        {"figure": "Jasa modal", "amount": basis.jasa_modal_amount, "bps": policy.jasa_modal_bps},
        {
            "figure": "Bobot belanja dompet / Wallet payments weight",
            "bps": policy.wallet_payments_weight_bps,
        },
        {
            "figure": "Bobot belanja di usaha koperasi / Own merchants weight",
            "bps": policy.own_merchant_purchases_weight_bps,
        },
        {
            "figure": "Bobot omzet usaha anggota / Merchant takings weight",
            "bps": policy.merchant_takings_weight_bps,
        },
        {"figure": "Dibagikan / Distributed", "amount": basis.distributed},
        {"figure": "Tidak dibagikan / Undistributed", "amount": basis.pool - basis.distributed},
    ]
    if run is None:
        summary.append({"figure": "Status", "text": "simulasi / simulation"})
    else:
        summary.append({"figure": "Status", "text": run["status"]})
        summary.append({"figure": "ID perhitungan / Run", "text": run["id"]})
        if run["status"] == ShuRunStatus.APPROVED:
            summary.append({"figure": "Tanggal RAT / RAT date", "text": run["rat_date"]})
            summary.append({"figure": "Keputusan RAT / RAT decision", "text": run["rat_reference"]})
    return [
        Table("SHU anggota", MEMBER_COLUMNS, [member_json(m) for m in basis.members]),
        Table("Ringkasan", SUMMARY_COLUMNS, summary),
    ]


# --- savings import ------------------------------------------------------------------------

SAVINGS_COLUMNS = {
    "phone": ("phone", "nomor_hp", "no_hp", "hp", "telepon"),
    "member_id": ("member_id", "id_anggota"),
    "principal": ("principal_savings", "simpanan_pokok", "pokok"),
    "mandatory": ("mandatory_savings", "simpanan_wajib", "wajib"),
    "voluntary": ("voluntary_savings", "simpanan_sukarela", "sukarela"),
}
SAVINGS_REQUIRED = ("principal", "mandatory")
_GROUPED = re.compile(r"[0-9]{1,3}(?:([.,])[0-9]{3})?(?:\1[0-9]{3})*")


def parse_rupiah(text: str) -> int | None:
    """Read whole rupiah as an office types them ("1.500.000", "Rp 250000", "" is 0); None if
    it is not whole rupiah."""
    value = text.strip()
    if value.lower().startswith("rp"):
        value = value[2:].strip()
    value = value.replace(" ", "")
    if not value:
        return 0
    if re.fullmatch(r"[0-9]{1,13}", value):
        return int(value)
    if _GROUPED.fullmatch(value):
        digits = value.replace(".", "").replace(",", "")
        if len(digits) <= 13:
            return int(digits)
    return None


def _row_error(row: int, column: str, reason_en: str, reason_id: str) -> dict:
    return {"row": row, "column": column, "reason_id": reason_id, "reason_en": reason_en}


def _lock_cooperative(session: Session, cooperative: Cooperative) -> None:
    """Serialise a cooperative's SHU writes (an import, an approval) behind its row's lock.

    FOR NO KEY UPDATE on PostgreSQL: payments that only reference the row (a foreign key's KEY
    SHARE lock) do not wait for it."""
    session.execute(
        select(Cooperative.id)
        .where(Cooperative.id == cooperative.id)
        .with_for_update(key_share=True)
    )


def _approved_run(session: Session, cooperative: Cooperative, year: int) -> ShuRun | None:
    return session.scalar(
        select(ShuRun).where(ShuRun.cooperative_id == cooperative.id, ShuRun.approved_year == year)
    )


def import_savings(
    session: Session,
    cooperative: Cooperative,
    *,
    year: int,
    data: bytes,
    filename: str,
    commit: bool,
    user_id: int | None,
    actor: dict | None = None,
) -> dict:
    """Check an office's savings sheet for `year` row by row; with `commit`, replace the year's
    savings with it (the caller commits).

    A dry run reports every bad row (row number, column, the reason in both languages). A commit
    writes only a file without a bad row, since it replaces the whole year: a member whose row
    was dropped would silently lose their jasa modal. A year whose SHU is approved is locked.
    """
    check_year_and_pool(year, 0)
    sheet = read_sheet(data, filename)
    columns = find_columns(sheet, SAVINGS_COLUMNS, SAVINGS_REQUIRED)
    if "phone" not in columns and "member_id" not in columns:
        raise UploadRefused(
            "The file needs a column phone (nomor_hp) or member_id (id_anggota).",
            "Berkas perlu kolom nomor_hp (phone) atau id_anggota (member_id).",
            column="phone",
        )
    if commit:
        _lock_cooperative(session, cooperative)
    if _approved_run(session, cooperative, year) is not None:
        raise ShuYearApproved()
    by_phone: dict[str, int] = {}
    by_public_id: dict[str, int] = {}
    for member_id, public_id, phone in session.execute(
        select(Member.id, Member.public_id, User.phone)
        .join(User, User.id == Member.user_id)
        .where(Member.cooperative_id == cooperative.id)
    ):
        by_phone[phone] = member_id
        by_public_id[public_id] = member_id
    errors: list[dict] = []
    found: dict[int, tuple[int, int, int]] = {}
    first_row: dict[int, int] = {}
    for row in sheet.rows:
        member_id = None
        if "member_id" in columns and row.get(columns["member_id"]):
            typed = row.get(columns["member_id"])
            member_id = by_public_id.get(typed)
            if member_id is None:
                errors.append(
                    _row_error(
                        row.number,
                        columns["member_id"],
                        f"No member of this cooperative has the id {typed}.",
                        f"Tidak ada anggota koperasi ini dengan ID {typed}.",
                    )
                )
                continue
        elif "phone" in columns and row.get(columns["phone"]):
            typed = row.get(columns["phone"])
            try:
                phone = phones.from_sheet(typed)
            except ValueError:
                phone = None
            if phone is None:
                errors.append(
                    _row_error(
                        row.number,
                        columns["phone"],
                        f"{typed} is not an Indonesian mobile number (such as 0812…).",
                        f"{typed} bukan nomor HP Indonesia (seperti 0812…).",
                    )
                )
                continue
            member_id = by_phone.get(phone)
            if member_id is None:
                errors.append(
                    _row_error(
                        row.number,
                        columns["phone"],
                        f"{typed} is not the phone of a member of this cooperative.",
                        f"{typed} bukan nomor HP anggota koperasi ini.",
                    )
                )
                continue
        else:
            column = columns.get("phone") or columns["member_id"]
            errors.append(
                _row_error(
                    row.number,
                    column,
                    "The row names no member (phone or member id is empty).",
                    "Baris ini tidak menyebut anggota (nomor HP atau ID anggota kosong).",
                )
            )
            continue
        amounts = []
        for key in ("principal", "mandatory", "voluntary"):
            header = columns.get(key)
            typed = row.get(header) if header else ""
            amount = parse_rupiah(typed)
            if amount is None or amount > AMOUNT_MAX:
                errors.append(
                    _row_error(
                        row.number,
                        header or key,
                        f"{typed} is not whole rupiah from 0 (such as 1500000 or 1.500.000).",
                        f"{typed} bukan rupiah bulat mulai 0 (seperti 1500000 atau 1.500.000).",
                    )
                )
                break
            amounts.append(amount)
        else:
            if member_id in found:
                errors.append(
                    _row_error(
                        row.number,
                        columns.get("phone") or columns["member_id"],
                        f"This member is already in row {first_row[member_id]}.",
                        f"Anggota ini sudah ada di baris {first_row[member_id]}.",
                    )
                )
                continue
            found[member_id] = tuple(amounts)
            first_row[member_id] = row.number
    replaced = session.scalar(
        select(func.count()).where(
            MemberSavings.cooperative_id == cooperative.id, MemberSavings.year == year
        )
    )
    report = {
        "year": year,
        "committed": False,
        "rows": len(sheet.rows),
        "valid": len(found),
        "invalid": len(errors),
        "errors": errors,
        "replaces": int(replaced),
        "totals": {
            "principal_savings": sum(a[0] for a in found.values()),
            "mandatory_savings": sum(a[1] for a in found.values()),
            "voluntary_savings": sum(a[2] for a in found.values()),
        },
    }
    if not commit:
        return report
    if errors:
        raise SavingsImportRefused(report=report)
    session.execute(
        delete(MemberSavings).where(
            MemberSavings.cooperative_id == cooperative.id, MemberSavings.year == year
        )
    )
    now = utcnow()
    if found:  # one executemany, not ten thousand ORM objects
        session.execute(
            insert(MemberSavings),
            [
                {
                    "cooperative_id": cooperative.id,
                    "member_id": member_id,
                    "year": year,
                    "principal_amount": principal,
                    "mandatory_amount": mandatory,
                    "voluntary_amount": voluntary,
                    "imported_by_user_id": user_id,
                    "imported_at": now,
                }
                for member_id, (principal, mandatory, voluntary) in found.items()
            ],
        )
    audit.record(
        session,
        "shu.savings.imported",
        actor_user_id=user_id,
        cooperative_id=cooperative.id,
        target=f"{cooperative.public_id}:{year}",
        detail={
            "year": year,
            "members": len(found),
            "replaced": int(replaced),
            **report["totals"],
            **(actor or {}),
        },
    )
    report["committed"] = True
    return report


def savings_of(session: Session, cooperative: Cooperative, year: int) -> dict:
    """The savings imported for `year`: each member's, and the totals."""
    check_year_and_pool(year, 0)
    rows = session.execute(
        select(MemberSavings, Member.public_id, User.name)
        .join(Member, Member.id == MemberSavings.member_id)
        .join(User, User.id == Member.user_id)
        .where(MemberSavings.cooperative_id == cooperative.id, MemberSavings.year == year)
        .order_by(Member.id)
    ).all()
    items = [
        {
            "member_id": public_id,
            "name": name,
            "principal_savings": savings.principal_amount,
            "mandatory_savings": savings.mandatory_amount,
            "voluntary_savings": savings.voluntary_amount,
            "imported_at": savings.imported_at.isoformat(),
        }
        for savings, public_id, name in rows
    ]
    return {
        "year": year,
        "members": len(items),
        "total": sum(
            item["principal_savings"] + item["mandatory_savings"] + item["voluntary_savings"]
            for item in items
        ),
        "locked": _approved_run(session, cooperative, year) is not None,
        "items": items,
    }


# --- runs ----------------------------------------------------------------------------------


def _run_policy(run: ShuRun) -> Policy:
    return Policy(**{name: getattr(run, name) for name in POLICY_FIELDS})


def run_basis(session: Session, run: ShuRun, cooperative: Cooperative) -> Basis:
    """The figures a run stored, as a Basis (a later payment or import changes none of them)."""
    shares = ShuRunShare.__table__.c
    members = [
        MemberShare(
            row.member_id,
            row.public_id,
            row.name,
            row.phone,
            wallet_payments=row.wallet_payments_amount,
            own_merchant_purchases=row.own_merchant_purchases_amount,
            merchant_takings=row.merchant_takings_amount,
            business_score=row.business_score,
            principal_savings=row.principal_savings_amount,
            mandatory_savings=row.mandatory_savings_amount,
            voluntary_savings=row.voluntary_savings_amount,
            jasa_usaha_share=row.jasa_usaha_share,
            jasa_modal_share=row.jasa_modal_share,
        )
        for row in session.execute(
            select(
                shares.member_id,
                Member.public_id,
                User.name,
                User.phone,
                shares.wallet_payments_amount,
                shares.own_merchant_purchases_amount,
                shares.merchant_takings_amount,
                shares.business_score,
                shares.principal_savings_amount,
                shares.mandatory_savings_amount,
                shares.voluntary_savings_amount,
                shares.jasa_usaha_share,
                shares.jasa_modal_share,
            )
            .join(Member, Member.id == shares.member_id)
            .join(User, User.id == Member.user_id)
            .where(shares.run_id == run.id)
            .order_by(shares.member_id)
        )
    ]
    return Basis(
        cooperative.public_id,
        run.year,
        run.pool_amount,
        _run_policy(run),
        run.jasa_usaha_amount,
        run.jasa_modal_amount,
        members,
    )


def run_summary(run: ShuRun) -> dict:
    return {
        "id": run.public_id,
        "year": run.year,
        "status": run.status,
        "pool": run.pool_amount,
        "jasa_usaha_amount": run.jasa_usaha_amount,
        "jasa_modal_amount": run.jasa_modal_amount,
        "distributed": run.distributed_amount,
        "undistributed": run.pool_amount - run.distributed_amount,
        "created_at": run.created_at.isoformat(),
        "approved_at": run.approved_at.isoformat() if run.approved_at else None,
        "rat_date": run.rat_date.isoformat() if run.rat_date else None,
        "rat_reference": run.rat_reference,
    }


def run_json(session: Session, run: ShuRun, cooperative: Cooperative) -> dict:
    return {**run_summary(run), **basis_json(run_basis(session, run, cooperative))}


def get_run(session: Session, cooperative: Cooperative, public_id: str) -> ShuRun:
    run = session.scalar(
        select(ShuRun).where(ShuRun.public_id == public_id, ShuRun.cooperative_id == cooperative.id)
    )
    if run is None:
        raise NotFound("No such SHU run.", "Perhitungan SHU tidak ditemukan.")
    return run


def list_runs(session: Session, cooperative: Cooperative) -> list[dict]:
    return [
        run_summary(run)
        for run in session.scalars(
            select(ShuRun).where(ShuRun.cooperative_id == cooperative.id).order_by(ShuRun.id.desc())
        )
    ]


def prepare_run(
    session: Session, cooperative: Cooperative, *, year: int, pool: int, user_id: int | None
) -> ShuRun:
    """Store a run of `year` and `pool` under the current policy, as a draft (caller commits)."""
    basis = simulate(session, cooperative, year, pool)
    if _approved_run(session, cooperative, year) is not None:
        raise ShuYearApproved()
    policy = basis.policy
    run = ShuRun(
        cooperative_id=cooperative.id,
        year=year,
        status=ShuRunStatus.DRAFT,
        pool_amount=pool,
        jasa_usaha_amount=basis.jasa_usaha_amount,
        jasa_modal_amount=basis.jasa_modal_amount,
        distributed_amount=basis.distributed,
        created_by_user_id=user_id,
        **policy.as_json(),
    )
    session.add(run)
    session.flush()
    if basis.members:
        session.execute(
            insert(ShuRunShare),
            [
                {
                    "run_id": run.id,
                    "member_id": member.member_id,
                    "wallet_payments_amount": member.wallet_payments,
                    "own_merchant_purchases_amount": member.own_merchant_purchases,
                    "merchant_takings_amount": member.merchant_takings,
                    "business_score": member.business_score,
                    "principal_savings_amount": member.principal_savings,
                    "mandatory_savings_amount": member.mandatory_savings,
                    "voluntary_savings_amount": member.voluntary_savings,
                    "jasa_usaha_share": member.jasa_usaha_share,
                    "jasa_modal_share": member.jasa_modal_share,
                }
                for member in basis.members
            ],
        )
    audit.record(
        session,
        "shu.run.prepared",
        actor_user_id=user_id,
        cooperative_id=cooperative.id,
        target=run.public_id,
        detail={"year": year, "pool": pool, "distributed": basis.distributed},
    )
    return run


def approve_run(
    session: Session,
    cooperative: Cooperative,
    run_public_id: str,
    *,
    rat_date: date,
    rat_reference: str,
    user_id: int | None,
    today: date,
) -> ShuRun:
    """Approve a prepared run once, after the RAT, in a transaction of its own; audited.

    The cooperative's SHU writes wait for each other (its row lock); the run's state moves
    through gateway.states.SHU_RUN, so of concurrent approvals exactly one happens and the others
    are refused (409). The figures are computed again: if a payment or an import changed them
    since the run was prepared, the run is stale and is not approved.
    """
    rat_reference = rat_reference.strip()
    if not rat_reference:
        raise ValidationFailed(
            "rat_reference (the RAT's decision number) must not be empty.",
            "rat_reference (nomor keputusan RAT) tidak boleh kosong.",
        )

    def work(session: Session) -> ShuRun:
        _lock_cooperative(session, cooperative)
        run = get_run(session, cooperative, run_public_id)
        if states.state_of(session, states.SHU_RUN, run.id) == ShuRunStatus.APPROVED:
            raise ShuRunLocked()
        if not date(run.year + 1, 1, 1) <= rat_date <= today:
            raise ValidationFailed(
                f"rat_date must be after the book year {run.year} and not in the future.",
                f"rat_date harus sesudah tahun buku {run.year} dan tidak di masa depan.",
            )
        if _approved_run(session, cooperative, run.year) is not None:
            raise ShuYearApproved()
        stored = run_basis(session, run, cooperative)
        now = compute(session, cooperative, run.year, run.pool_amount, stored.policy)
        if [m.figures() for m in stored.members] != [m.figures() for m in now.members]:
            raise ShuRunStale(run_id=run.public_id)
        approved_at = utcnow()
        changed = states.transition(
            session,
            states.SHU_RUN,
            run.id,
            ShuRunStatus.APPROVED,
            approved_year=run.year,
            approved_by_user_id=user_id,
            approved_at=approved_at,
            rat_date=rat_date,
            rat_reference=rat_reference,
        )
        if not changed:
            raise ShuRunLocked()
        audit.record(
            session,
            "shu.run.approved",
            actor_user_id=user_id,
            cooperative_id=cooperative.id,
            target=run.public_id,
            detail={
                "year": run.year,
                "pool": run.pool_amount,
                "distributed": run.distributed_amount,
                "rat_date": rat_date.isoformat(),
                "rat_reference": rat_reference,
            },
        )
        session.refresh(run)
        return run

    try:
        return transaction(session, work)
    except IntegrityError as error:
        # Another run of the year was approved in a racing transaction: its unique index.
        if unique_violation_table(error) is None:
            raise
        raise ShuYearApproved() from None
