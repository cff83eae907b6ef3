"""Members, and merchants with their owners, imported in bulk from a cooperative's sheet.

An office uploads the list it keeps (CSV or XLSX, read by `gateway/uploads.py`; columns found by
header in English or Bahasa Indonesia, in any order). `check_*` is the dry run: every row is
classified and nothing is written. `commit_*` does the same check again under a lock on the
cooperative's row, then writes every valid row in one database transaction; bad rows are left
out and reported. Each row is one of:

- new: the phone has no login. A login is made with no PIN yet (`auth.PIN_NOT_ISSUED`), marked
  `pin_change_required`, with the member and wallet (or the merchant and its account).
- existing: already this cooperative's member (or this merchant, same owner and name). Reported,
  left as it is: re-importing the same file changes nothing.
- invited: the phone already has a login. As registering one person does (gateway/registry.py),
  the row becomes a pending invitation that the person accepts in their own app with their own
  PIN; the pending invitation of the same offer is reused, so a re-import adds none. No PIN is
  ever read from the file (a file with a PIN column is refused) nor compared here, so an import
  tells the admin nothing about anyone's PIN, and about a phone exactly what registering it one
  at a time tells: a login here or not (member or invitation), a member elsewhere (refused, with
  registry's own phone-taken sentence).
- bad: a reason per column, in Bahasa Indonesia and English. Phones are normalized as the API
  does (08…, 628…, +628…, and a number cell's lost leading 0); two rows of one file with the same
  phone are both bad (which name is right is the office's to say).

Initial PINs. A generated PIN is hashed with the configured scrypt cost through `auth.hash_pin`:
about 55 ms each on this machine, so ten thousand would take nine minutes. The commit therefore
hashes nothing; PINs are issued afterwards by `issue_pin_slips`, one printable sheet of at most
`SLIPS_PER_SHEET_MAX` slips per call (50 slips: about three seconds), as the office prints them.
Each PIN comes from `secrets`, is hashed before the transaction that stores it, and is stored only
as that hash; a conditional UPDATE (`pin_hash` still not issued) makes sure two sheets printed at
once never hold two PINs for one person. The clear PINs exist only in the memory of the request
that issued them and in its answer (`Cache-Control: no-store`), which the admin's screen prints
and then discards; the CLI writes them to the HTML file the operator names (mode 0600, to delete
after printing). They are never logged, audited or stored. A lost slip is not re-issued here.

Until a person's slip is printed, their login accepts no PIN (and takes as long to refuse as an
unknown phone). With a slip's PIN, login answers 403 `pin-change-required` and no token: the
person sets their own PIN (`POST /api/v1/auth/pin`) before anything else works.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from types import SimpleNamespace

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from gateway import auth, phones, registry
from gateway.api.schemas import CONTROL_CHARACTERS, RefusedText, shown_text
from gateway.db import new_public_id, transaction
from gateway.models import (
    Account,
    AccountKind,
    Cooperative,
    InvitationRole,
    Member,
    MemberTier,
    Merchant,
    MerchantCategory,
    MerchantKind,
    User,
)
from gateway.uploads import Row, Sheet, UploadRefused, find_columns

MEMBER_COLUMNS = {
    "phone": ("phone", "nomor_hp", "no_hp", "hp", "nomor_telepon", "telepon"),
    "name": ("name", "nama", "nama_anggota"),
    "tier": ("tier", "tingkat"),
}
MERCHANT_COLUMNS = {
    "name": ("name", "nama", "nama_merchant", "nama_usaha"),
    "kind": ("kind", "jenis"),
    "category": ("category", "kategori"),
    "owner_phone": ("owner_phone", "nomor_hp_pemilik", "no_hp_pemilik", "hp_pemilik"),
    "owner_name": ("owner_name", "nama_pemilik"),
}
# A column that looks like it holds PINs refuses the whole file: PINs are generated, never read.
PIN_HEADERS = ("pin", "pin_awal", "initial_pin", "kata_sandi", "password", "sandi")
TIERS = {"basic": MemberTier.BASIC, "dasar": MemberTier.BASIC, "verified": MemberTier.VERIFIED}
TIERS["terverifikasi"] = MemberTier.VERIFIED
KINDS = {kind.value: kind for kind in MerchantKind} | {
    "toko": MerchantKind.SHOP,
    "warung": MerchantKind.SHOP,
    "taksi": MerchantKind.TAXI,
    "lainnya": MerchantKind.OTHER,
}
CATEGORIES = {category.value: category for category in MerchantCategory} | {
    "mikro": MerchantCategory.MICRO,
    "kecil": MerchantCategory.SMALL,
    "menengah": MerchantCategory.REGULAR,
}
NAME_LENGTH_MAX = 120
LOOKUP_CHUNK = 500  # phones per IN (...) query
SLIPS_PER_SHEET_DEFAULT = 50
SLIPS_PER_SHEET_MAX = 200


class RowStatus(StrEnum):
    NEW = "new"
    EXISTING = "existing"
    INVITED = "invited"
    BAD = "bad"


@dataclass(frozen=True)
class Note:
    """What a report says about one row: its number, the column (as the file names it), why."""

    row: int
    column: str
    reason_id: str
    reason_en: str

    def json(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "reason_id": self.reason_id,
            "reason_en": self.reason_en,
        }


@dataclass
class Report:
    """The outcome of a dry run or a commit: counts by status, the bad rows, the rows skipped."""

    kind: str  # "members" or "merchants"
    committed: bool = False
    rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in RowStatus})
    problems: list[Note] = field(default_factory=list)  # bad rows
    notes: list[Note] = field(default_factory=list)  # existing and invited rows
    pins_to_issue: int = 0  # logins of this cooperative waiting for a printed slip

    @property
    def has_bad_rows(self) -> bool:
        return bool(self.problems)

    def json(self) -> dict:
        return {
            "kind": self.kind,
            "committed": self.committed,
            "rows": self.rows,
            "counts": dict(self.counts),
            "problems": [note.json() for note in self.problems],
            "notes": [note.json() for note in self.notes],
            "pins_to_issue": self.pins_to_issue,
        }


@dataclass
class _Candidate:
    row: Row
    values: dict
    status: RowStatus = RowStatus.NEW
    user_id: int | None = None


# --- Reading and validating rows ---------------------------------------------------------------


def _refuse_pin_columns(sheet: Sheet) -> None:
    present = [header for header in sheet.headers if header in PIN_HEADERS]
    if present:
        raise UploadRefused(
            f"The file has a PIN column ({present[0]}): PINs are never imported, they are"
            " generated and printed on slips. Delete the column (and the PINs) and upload again.",
            f"Berkas berisi kolom PIN ({present[0]}): PIN tidak pernah diimpor, PIN dibuat"
            " sistem dan dicetak di slip. Hapus kolom itu (dan PIN-nya) lalu unggah lagi.",
            column=present[0],
        )


def _phone(row: Row, column: str, problems: list[Note]) -> str | None:
    raw = row.get(column)
    if not raw:
        problems.append(Note(row.number, column, "Nomor HP kosong.", "The phone is empty."))
        return None
    try:
        return phones.from_sheet(raw)
    except ValueError:
        problems.append(
            Note(
                row.number,
                column,
                f"Nomor HP {raw!r} bukan nomor seluler Indonesia seperti 0812….",
                f"The phone {raw!r} is not an Indonesian mobile number such as 0812….",
            )
        )
        return None


def _name(row: Row, column: str, problems: list[Note]) -> str | None:
    raw = row.get(column)
    if not raw:
        problems.append(Note(row.number, column, "Nama kosong.", "The name is empty."))
        return None
    if len(raw) > NAME_LENGTH_MAX or CONTROL_CHARACTERS.search(raw):
        problems.append(
            Note(
                row.number,
                column,
                f"Nama paling panjang {NAME_LENGTH_MAX} huruf, tanpa karakter kendali.",
                f"A name is at most {NAME_LENGTH_MAX} characters, with no control characters.",
            )
        )
        return None
    try:
        return shown_text(raw, SimpleNamespace(field_name=column))
    except RefusedText as refused:
        problems.append(Note(row.number, column, refused.message_id, refused.message_en))
        return None


def _choice(row, column, choices, default, problems, what_id, what_en):
    raw = row.get(column).strip().lower() if column else ""
    if not raw:
        return default
    if raw in choices:
        return choices[raw]
    allowed = ", ".join(sorted(choices))
    problems.append(
        Note(
            row.number,
            column,
            f"{what_id} {raw!r} tidak dikenal (pilihan: {allowed}).",
            f"The {what_en} {raw!r} is not known (one of: {allowed}).",
        )
    )
    return None


def _duplicates(candidates: list[_Candidate], key: str, column: str, problems: list[Note]):
    """Make every row whose `key` another row of the file also has a bad row; return the rest."""
    rows_of: dict[str, list[int]] = defaultdict(list)
    for candidate in candidates:
        rows_of[candidate.values[key]].append(candidate.row.number)
    kept = []
    for candidate in candidates:
        numbers = rows_of[candidate.values[key]]
        if len(numbers) == 1:
            kept.append(candidate)
            continue
        others = ", ".join(str(n) for n in numbers if n != candidate.row.number)
        problems.append(
            Note(
                candidate.row.number,
                column,
                f"Nomor HP ini juga ada di baris {others} berkas ini: satu orang satu baris.",
                f"This phone is also in row {others} of this file: one person, one row.",
            )
        )
    return kept


def _member_candidates(sheet: Sheet, problems: list[Note]) -> tuple[list[_Candidate], dict]:
    _refuse_pin_columns(sheet)
    columns = find_columns(sheet, MEMBER_COLUMNS, required=("phone", "name"))
    candidates = []
    for row in sheet.rows:
        found: list[Note] = []
        phone = _phone(row, columns["phone"], found)
        name = _name(row, columns["name"], found)
        tier = _choice(row, columns.get("tier"), TIERS, MemberTier.BASIC, found, "Tingkat", "tier")
        if found:
            problems.extend(found)
            continue
        candidates.append(_Candidate(row, {"phone": phone, "name": name, "tier": tier}))
    return _duplicates(candidates, "phone", columns["phone"], problems), columns


def _merchant_candidates(sheet: Sheet, problems: list[Note]) -> tuple[list[_Candidate], dict]:
    _refuse_pin_columns(sheet)
    columns = find_columns(
        sheet, MERCHANT_COLUMNS, required=("name", "kind", "owner_phone", "owner_name")
    )
    candidates = []
    for row in sheet.rows:
        found: list[Note] = []
        name = _name(row, columns["name"], found)
        kind = _choice(row, columns["kind"], KINDS, None, found, "Jenis", "kind")
        if kind is None and not any(note.column == columns["kind"] for note in found):
            found.append(Note(row.number, columns["kind"], "Jenis kosong.", "The kind is empty."))
        category = _choice(
            row,
            columns.get("category"),
            CATEGORIES,
            MerchantCategory.MICRO,
            found,
            "Kategori",
            "category",
        )
        phone = _phone(row, columns["owner_phone"], found)
        owner_name = _name(row, columns["owner_name"], found)
        if found:
            problems.extend(found)
            continue
        values = {
            "name": name,
            "kind": kind,
            "category": category,
            "owner_phone": phone,
            "owner_name": owner_name,
        }
        candidates.append(_Candidate(row, values))
    return _duplicates(candidates, "owner_phone", columns["owner_phone"], problems), columns


def _chunks(values: list, size: int = LOOKUP_CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- Classifying rows against the database -----------------------------------------------------


ALREADY_MEMBER = (
    "Sudah anggota koperasi ini: tidak diubah.",
    "Already a member of this cooperative: left as it is.",
)
INVITED = (
    "Nomor ini sudah punya akun: ia diundang dan menerimanya di aplikasinya sendiri dengan PIN"
    " miliknya.",
    "This phone already has a login: the person is invited and accepts in their own app with"
    " their own PIN.",
)
ALREADY_MERCHANT = (
    "Merchant ini (pemilik dan nama yang sama) sudah ada di koperasi ini: tidak diubah.",
    "This merchant (same owner and name) is already this cooperative's: left as it is.",
)


def _among(column, values: list):
    """`column IN (...)` with the values written into the SQL (phones already normalized to
    +62 and digits, ids are ints). As bound parameters, psycopg prepares the statement after a
    few chunks and PostgreSQL's generic plan, made on statistics that a large import has just
    outdated, compares each row with the whole list: 40 s for a re-import of 10.000, not 2."""
    return column.in_(
        bindparam(f"{column.key}_values", values, expanding=True, literal_execute=True)
    )


def _classify_members(session, cooperative, candidates, columns, report) -> list[_Candidate]:
    by_phone = {candidate.values["phone"]: candidate for candidate in candidates}
    # Logins by phone, then which of them are members (and where): two indexed lookups.
    by_user: dict[int, _Candidate] = {}
    for chunk in _chunks(list(by_phone)):
        for phone, user_id in session.execute(
            select(User.phone, User.id).where(_among(User.phone, chunk))
        ):
            candidate = by_user[user_id] = by_phone[phone]
            candidate.user_id = user_id
            candidate.status = RowStatus.INVITED
    for chunk in _chunks(list(by_user)):
        for user_id, member_cooperative_id in session.execute(
            select(Member.user_id, Member.cooperative_id).where(_among(Member.user_id, chunk))
        ):
            same = member_cooperative_id == cooperative.id
            by_user[user_id].status = RowStatus.EXISTING if same else RowStatus.BAD
    return _sort(candidates, columns["phone"], report, ALREADY_MEMBER)


def _classify_merchants(session, cooperative, candidates, columns, report) -> list[_Candidate]:
    by_phone = {candidate.values["owner_phone"]: candidate for candidate in candidates}
    for chunk in _chunks(list(by_phone)):
        found = session.execute(select(User.phone, User.id).where(_among(User.phone, chunk)))
        for phone, user_id in found:
            by_phone[phone].user_id = user_id
            by_phone[phone].status = RowStatus.INVITED
    owners = [c for c in candidates if c.user_id is not None]
    by_owner = {candidate.user_id: candidate for candidate in owners}
    for chunk in _chunks(list(by_owner)):
        found = session.execute(
            select(Merchant.owner_user_id, Merchant.name).where(
                Merchant.cooperative_id == cooperative.id, _among(Merchant.owner_user_id, chunk)
            )
        )
        for owner_user_id, name in found:
            if by_owner[owner_user_id].values["name"] == name:
                by_owner[owner_user_id].status = RowStatus.EXISTING
    return _sort(candidates, columns["owner_phone"], report, ALREADY_MERCHANT)


def _sort(candidates, phone_column, report, already) -> list[_Candidate]:
    """Count each row, note the existing and invited ones, and return those to write."""
    taken = registry.PhoneTaken()
    to_write = []
    for candidate in candidates:
        number = candidate.row.number
        if candidate.status == RowStatus.BAD:
            report.problems.append(Note(number, phone_column, taken.message_id, taken.message_en))
            continue
        report.counts[candidate.status] += 1
        if candidate.status == RowStatus.EXISTING:
            report.notes.append(Note(number, phone_column, *already))
            continue
        if candidate.status == RowStatus.INVITED:
            report.notes.append(Note(number, phone_column, *INVITED))
        to_write.append(candidate)
    report.counts[RowStatus.BAD] = len({note.row for note in report.problems})
    report.problems.sort(key=lambda note: note.row)
    report.notes.sort(key=lambda note: note.row)
    return to_write


def _prepare(session, cooperative, sheet, kind) -> tuple[Report, list[_Candidate]]:
    report = Report(kind=kind, rows=len(sheet.rows))
    if kind == "members":
        candidates, columns = _member_candidates(sheet, report.problems)
        to_write = _classify_members(session, cooperative, candidates, columns, report)
    else:
        candidates, columns = _merchant_candidates(sheet, report.problems)
        to_write = _classify_merchants(session, cooperative, candidates, columns, report)
    return report, to_write


# --- The use cases -----------------------------------------------------------------------------


def check(session: Session, cooperative: Cooperative, sheet: Sheet, kind: str) -> Report:
    """Dry-run an import of `kind` ("members" or "merchants"): classify every row, write nothing."""
    report, _ = _prepare(session, cooperative, sheet, kind)
    report.pins_to_issue = pins_to_issue(session, cooperative)
    return report


def commit(
    session: Session,
    cooperative: Cooperative,
    sheet: Sheet,
    kind: str,
    *,
    invited_by_user_id: int | None = None,
) -> Report:
    """Import every valid row of `sheet` in the caller's transaction (the caller commits).

    The cooperative's row is locked first, so two imports into one cooperative take turns and
    the second sees what the first wrote (its rows come out existing): each person once.
    """
    session.execute(
        select(Cooperative.id).where(Cooperative.id == cooperative.id).with_for_update()
    )
    report, to_write = _prepare(session, cooperative, sheet, kind)
    new = [candidate for candidate in to_write if candidate.status == RowStatus.NEW]
    invited = [candidate for candidate in to_write if candidate.status == RowStatus.INVITED]
    if kind == "members":
        _create_members(session, cooperative, new)
    else:
        _create_merchants(session, cooperative, new)
    invite = _invite_member if kind == "members" else _invite_merchant_owner
    for candidate in invited:
        invite(session, cooperative, candidate, invited_by_user_id)
    report.committed = True
    session.flush()
    report.pins_to_issue = pins_to_issue(session, cooperative)
    return report


# The bulk form of registry.enrol_member / open_merchant (a login, an account owned by the
# cooperative, the member or merchant on it), in three INSERTs per thousand rows instead of
# three round trips per row (10 ms a row through the ORM: 100 s for 10.000).
WRITE_CHUNK = 1000


def _inserted(session: Session, model, columns: dict[str, list], key: str) -> dict:
    """Insert one row per position of the equally long lists in `columns`; return each new id
    by its value of `key` (a unique column).

    On PostgreSQL one INSERT ... SELECT unnest(array), ... per column: a handful of array
    parameters, not seven thousand placeholders for psycopg to split and the server to parse
    (a third of the time). Elsewhere a multi-row INSERT. Every column with a per-row default
    (public ids above all) must be given: from a SELECT, a Python default is computed once.
    """
    table = model.__table__
    if not next(iter(columns.values()), None):
        return {}
    returning = (table.c[key], table.c.id)
    if session.get_bind().dialect.name == "postgresql":
        arrays = [
            func.unnest(bindparam(f"{name}_array", values, type_=ARRAY(table.c[name].type)))
            for name, values in columns.items()
        ]
        statement = insert(table).from_select(list(columns), select(*arrays))
        found = session.execute(statement.returning(*returning))
    else:
        rows = [
            dict(zip(columns, values, strict=True))
            for values in zip(*columns.values(), strict=True)
        ]
        found = session.execute(insert(table).returning(*returning), rows)
    return {key_value: row_id for key_value, row_id in found}


def _new_logins(session: Session, people: list[tuple[str, str]]) -> list[int]:
    """Insert logins (phone, name) with no PIN yet, to be changed at first login; their ids."""
    phones = [phone for phone, _ in people]
    columns = {
        "public_id": [new_public_id("usr") for _ in people],
        "phone": phones,
        "name": [name for _, name in people],
        "pin_hash": [auth.PIN_NOT_ISSUED] * len(people),
        "pin_change_required": [True] * len(people),
    }
    ids = _inserted(session, User, columns, "phone")
    return [ids[phone] for phone in phones]


def _open_accounts(session: Session, kind: AccountKind, cooperative_id: int, count: int):
    public_ids = [new_public_id("acc") for _ in range(count)]
    columns = {
        "public_id": public_ids,
        "kind": [str(kind)] * count,
        "cooperative_id": [cooperative_id] * count,
        "balance": [0] * count,
    }
    ids = _inserted(session, Account, columns, "public_id")
    return [ids[public_id] for public_id in public_ids]


def _create_members(session: Session, cooperative: Cooperative, new: list[_Candidate]) -> None:
    for start in range(0, len(new), WRITE_CHUNK):
        chunk = new[start : start + WRITE_CHUNK]
        user_ids = _new_logins(session, [(c.values["phone"], c.values["name"]) for c in chunk])
        wallet_ids = _open_accounts(session, AccountKind.WALLET, cooperative.id, len(chunk))
        columns = {
            "public_id": [new_public_id("mem") for _ in chunk],
            "user_id": user_ids,
            "cooperative_id": [cooperative.id] * len(chunk),
            "tier": [str(candidate.values["tier"]) for candidate in chunk],
            "wallet_account_id": wallet_ids,
        }
        _inserted(session, Member, columns, "user_id")


def _create_merchants(session: Session, cooperative: Cooperative, new: list[_Candidate]) -> None:
    for start in range(0, len(new), WRITE_CHUNK):
        chunk = new[start : start + WRITE_CHUNK]
        owner_ids = _new_logins(
            session, [(c.values["owner_phone"], c.values["owner_name"]) for c in chunk]
        )
        account_ids = _open_accounts(session, AccountKind.MERCHANT, cooperative.id, len(chunk))
        columns = {
            "public_id": [new_public_id("mer") for _ in chunk],
            "cooperative_id": [cooperative.id] * len(chunk),
            "owner_user_id": owner_ids,
            "name": [candidate.values["name"] for candidate in chunk],
            "kind": [str(candidate.values["kind"]) for candidate in chunk],
            "category": [str(candidate.values["category"]) for candidate in chunk],
            "account_id": account_ids,
        }
        _inserted(session, Merchant, columns, "account_id")


def _invite_member(session, cooperative, candidate: _Candidate, invited_by_user_id) -> None:
    registry.invite(
        session,
        user=session.get(User, candidate.user_id),
        cooperative=cooperative,
        role=InvitationRole.MEMBER,
        invited_by_user_id=invited_by_user_id,
        tier=candidate.values["tier"],
    )


def _invite_merchant_owner(session, cooperative, candidate: _Candidate, invited_by_user_id):
    values = candidate.values
    registry.invite(
        session,
        user=session.get(User, candidate.user_id),
        cooperative=cooperative,
        role=InvitationRole.MERCHANT_OWNER,
        invited_by_user_id=invited_by_user_id,
        merchant_name=values["name"],
        merchant_kind=values["kind"],
        merchant_category=values["category"],
    )


# --- PIN slips ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slip:
    """One person's slip: who, their phone, the PIN to log in with once."""

    name: str
    phone: str
    pin: str

    def json(self) -> dict:
        return {"name": self.name, "phone": self.phone, "pin": self.pin}


def _waiting_for_slip(cooperative: Cooperative):
    """Logins of this cooperative (its members, its merchants' owners) whose PIN is not issued."""
    members = select(Member.user_id).where(Member.cooperative_id == cooperative.id)
    owners = select(Merchant.owner_user_id).where(Merchant.cooperative_id == cooperative.id)
    return User.pin_hash == auth.PIN_NOT_ISSUED, or_(User.id.in_(members), User.id.in_(owners))


def pins_to_issue(session: Session, cooperative: Cooperative) -> int:
    """How many of the cooperative's logins still wait for a printed slip."""
    return session.scalar(
        select(func.count()).select_from(User).where(*_waiting_for_slip(cooperative))
    )


def choose_slips(session: Session, cooperative: Cooperative, limit: int) -> list[tuple]:
    """The next logins waiting for a slip, oldest first: (user id, name, phone)."""
    return list(
        session.execute(
            select(User.id, User.name, User.phone)
            .where(*_waiting_for_slip(cooperative))
            .order_by(User.id)
            .limit(limit)
        )
    )


def hash_new_pins(chosen: list[tuple], scrypt_n: int) -> list[tuple[tuple, str, str]]:
    """Generate a PIN for each chosen login and hash it: slow, so outside any transaction."""
    made = []
    for person in chosen:
        pin = auth.generate_pin()
        made.append((person, pin, auth.hash_pin(pin, scrypt_n)))
    return made


def store_pins(session: Session, made: list[tuple[tuple, str, str]]) -> list[Slip]:
    """Store each hash if that login still has no PIN (the caller commits); return the slips
    whose PIN was stored. A login another sheet issued meanwhile keeps that sheet's PIN."""
    slips = []
    for (user_id, name, phone), pin, pin_hash in made:
        stored = session.execute(
            update(User)
            .where(User.id == user_id, User.pin_hash == auth.PIN_NOT_ISSUED)
            .values(pin_hash=pin_hash, pin_change_required=True)
            .execution_options(synchronize_session=False)
        ).rowcount
        if stored == 1:
            slips.append(Slip(name=name, phone=phone, pin=pin))
    return slips


SLIP_STYLE = """
@page { size: A4; margin: 10mm; }
body { font-family: sans-serif; margin: 0; }
.sheet { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; }
.slip { border: 1px dashed #555; padding: 4mm; break-inside: avoid; }
.slip h2 { font-size: 11pt; margin: 0 0 2mm; }
.pin { font: bold 20pt monospace; letter-spacing: 2mm; margin: 2mm 0; }
.slip p { font-size: 9pt; margin: 1mm 0; }
"""


def slip_sheet_html(cooperative_name: str, slips: list[Slip]) -> str:
    """Render slips as one printable A4 HTML page (two columns, cut along the dashes)."""
    escape = html.escape
    parts = [
        "<!doctype html><html lang='id'><meta charset='utf-8'>",
        f"<title>Slip PIN · {escape(cooperative_name)}</title><style>{SLIP_STYLE}</style>",
        "<body><div class='sheet'>",
    ]
    for slip in slips:
        parts.append(
            "<section class='slip'>"
            f"<h2>{escape(cooperative_name)}</h2>"
            f"<p>{escape(slip.name)} · {escape(slip.phone)}</p>"
            f"<div class='pin'>{escape(slip.pin)}</div>"
            "<p>Masuk di aplikasi Interkop dengan nomor HP dan PIN ini, lalu buat PIN Anda"
            " sendiri. Jangan beri tahu siapa pun.</p>"
            "<p lang='en'>Log in to the Interkop app with this phone and PIN, then set your"
            " own PIN. Tell no one.</p>"
            "</section>"
        )
    parts.append("</div></body></html>")
    return "".join(parts)


def issue_pin_slips(
    session: Session, cooperative: Cooperative, *, limit: int, scrypt_n: int
) -> tuple[list[Slip], int]:
    """Issue PINs to the next `limit` logins of the cooperative waiting for a slip; return the
    slips (the only place their clear PINs are) and how many still wait.

    Runs its own transactions: the choice is read, then the PINs are hashed holding no
    transaction (on SQLite no write lock: payments go on meanwhile), then stored in one.
    """
    chosen = choose_slips(session, cooperative, limit)
    session.rollback()
    made = hash_new_pins(chosen, scrypt_n)
    slips = transaction(session, lambda work_session: store_pins(work_session, made))
    remaining = pins_to_issue(session, cooperative)
    session.rollback()
    return slips, remaining
