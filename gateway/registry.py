"""Use cases for the city's directory: cooperatives, members, merchants and staff.

Plain functions taking a session and plain values; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import ledger
from gateway.auth import hash_pin, pin_matches
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.models import (
    AccountKind,
    Cooperative,
    Member,
    Merchant,
    StaffRole,
    User,
)

SYSTEM_ACCOUNT_KINDS = (AccountKind.FEES, AccountKind.COUNTER_CASH, AccountKind.SETTLEMENT)


class PhoneTaken(Conflict):
    slug = "phone-taken"
    title = "Phone number already registered"
    message_id = "Nomor HP ini sudah terdaftar sebagai anggota."
    message_en = "This phone number is already registered as a member."


class PinMismatch(Conflict):
    slug = "pin-mismatch"
    title = "PIN does not match the existing login"
    message_id = "Nomor HP ini sudah punya PIN; masukkan PIN yang sama."
    message_en = "This phone number already has a login; enter its existing PIN."


def ensure_network_accounts(session: Session) -> None:
    """Create the network operator's fee account if it does not exist yet."""
    ledger.system_account(session, AccountKind.FEES, None)


def create_cooperative(session: Session, *, code: str, name: str, kind: str) -> Cooperative:
    """Register a cooperative with its fee, counter cash and settlement accounts."""
    if session.scalar(select(Cooperative.id).where(Cooperative.code == code)) is not None:
        raise Conflict(
            f"A cooperative with code {code} already exists.",
            f"Koperasi dengan kode {code} sudah ada.",
        )
    cooperative = Cooperative(code=code, name=name, kind=kind)
    session.add(cooperative)
    session.flush()
    for kind_of_account in SYSTEM_ACCOUNT_KINDS:
        ledger.open_account(session, kind_of_account, cooperative.id)
    return cooperative


def find_or_create_user(
    session: Session, *, phone: str, name: str, pin: str, scrypt_n: int
) -> User:
    """Return the login for a phone, creating it; an existing login must be given its own PIN."""
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = User(phone=phone, name=name, pin_hash=hash_pin(pin, scrypt_n))
        session.add(user)
        session.flush()
        return user
    if not pin_matches(pin, user.pin_hash):
        raise PinMismatch()
    return user


def register_member(
    session: Session,
    *,
    cooperative: Cooperative,
    phone: str,
    name: str,
    pin: str,
    tier: str,
    scrypt_n: int,
) -> Member:
    """Register a member of `cooperative` and open their wallet there."""
    user = find_or_create_user(session, phone=phone, name=name, pin=pin, scrypt_n=scrypt_n)
    if session.scalar(select(Member.id).where(Member.user_id == user.id)) is not None:
        raise PhoneTaken()
    wallet = ledger.open_account(session, AccountKind.WALLET, cooperative.id)
    member = Member(user=user, cooperative=cooperative, tier=tier, wallet_account_id=wallet.id)
    session.add(member)
    session.flush()
    return member


def register_merchant(
    session: Session,
    *,
    cooperative: Cooperative,
    name: str,
    kind: str,
    category: str,
    owner_phone: str,
    owner_name: str,
    owner_pin: str,
    scrypt_n: int,
) -> Merchant:
    """Register a merchant of `cooperative`, owned by the login of `owner_phone`."""
    owner = find_or_create_user(
        session, phone=owner_phone, name=owner_name, pin=owner_pin, scrypt_n=scrypt_n
    )
    account = ledger.open_account(session, AccountKind.MERCHANT, cooperative.id)
    merchant = Merchant(
        cooperative=cooperative,
        owner=owner,
        name=name,
        kind=kind,
        category=category,
        account_id=account.id,
    )
    session.add(merchant)
    session.flush()
    return merchant


def grant_staff_role(
    session: Session, *, user: User, role: str, cooperative: Cooperative | None = None
) -> StaffRole:
    """Give a user a staff role (once)."""
    cooperative_id = cooperative.id if cooperative is not None else None
    existing = session.scalar(
        select(StaffRole).where(
            StaffRole.user_id == user.id,
            StaffRole.role == role,
            StaffRole.cooperative_id.is_(None)
            if cooperative_id is None
            else StaffRole.cooperative_id == cooperative_id,
        )
    )
    if existing is not None:
        return existing
    grant = StaffRole(user_id=user.id, role=role, cooperative_id=cooperative_id)
    session.add(grant)
    session.flush()
    return grant


def get_cooperative(session: Session, public_id: str) -> Cooperative:
    cooperative = session.scalar(select(Cooperative).where(Cooperative.public_id == public_id))
    if cooperative is None:
        raise NotFound("No such cooperative.", "Koperasi tidak ditemukan.")
    return cooperative


def get_member(session: Session, public_id: str) -> Member:
    member = session.scalar(select(Member).where(Member.public_id == public_id))
    if member is None:
        raise NotFound("No such member.", "Anggota tidak ditemukan.")
    return member


def get_merchant(session: Session, public_id: str) -> Merchant:
    merchant = session.scalar(select(Merchant).where(Merchant.public_id == public_id))
    if merchant is None:
        raise NotFound("No such merchant.", "Merchant tidak ditemukan.")
    return merchant


@dataclass
class Page:
    items: list
    next_cursor: str | None


def list_page(session: Session, model, cooperative_id: int, cursor: str | None, limit: int) -> Page:
    """Return one page of a cooperative's members or merchants, oldest first, by opaque cursor.

    The cursor is looked up among this cooperative's own rows only: the id of another
    cooperative's member answers exactly as an unknown one does (422), so ids cannot be probed.
    """
    statement = select(model).where(model.cooperative_id == cooperative_id)
    if cursor:
        after = session.scalar(
            select(model.id).where(
                model.public_id == cursor, model.cooperative_id == cooperative_id
            )
        )
        if after is None:
            raise ValidationFailed("The cursor is not valid.", "Kursor tidak sah.")
        statement = statement.where(model.id > after)
    rows = list(session.scalars(statement.order_by(model.id).limit(limit + 1)))
    next_cursor = rows[limit - 1].public_id if len(rows) > limit else None
    return Page(items=rows[:limit], next_cursor=next_cursor)


def get_cooperative_by_id(session: Session, cooperative_id: int) -> Cooperative:
    return session.get(Cooperative, cooperative_id)
