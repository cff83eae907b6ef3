"""Use cases for the city's directory: cooperatives, members, merchants, staff and invitations.

Plain functions taking a session and plain values; the caller commits.

An admin registers a person by phone. A new phone gets a login with the PIN the admin typed in
front of them. A phone that already has a login is never given or asked a PIN here: the admin's
registration becomes a pending invitation (to be a member of this cooperative, or the owner of
this new merchant), and the person accepts it in their own app with their own PIN (counted by
`auth.check_pin` like any other) or declines it. So an admin learns nothing about anyone's PIN.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import ledger
from gateway.auth import PinPolicy, check_pin, hash_pin
from gateway.db import utcnow
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.models import (
    AccountKind,
    Cooperative,
    Invitation,
    InvitationRole,
    InvitationStatus,
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


class InvitationNotPending(Conflict):
    slug = "invitation-not-pending"
    title = "Invitation already answered"
    message_id = "Undangan ini sudah diterima atau ditolak."
    message_en = "This invitation has already been accepted or declined."


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
    """Return the login for a phone, creating it with `pin` if there is none.

    Trusted code only (the demo, the CLI, tests): an existing login is returned as it is, its PIN
    neither checked nor changed. The API registers people through `register_member` and
    `register_merchant`, which never hand an existing login to an admin.
    """
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = _create_user(session, phone=phone, name=name, pin=pin, scrypt_n=scrypt_n)
    return user


def _create_user(session: Session, *, phone: str, name: str, pin: str, scrypt_n: int) -> User:
    user = User(phone=phone, name=name, pin_hash=hash_pin(pin, scrypt_n))
    session.add(user)
    session.flush()
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
    invited_by_user_id: int | None = None,
) -> Member | Invitation:
    """Register a member of `cooperative` (a new phone: a login with `pin` and a wallet), or
    invite the person who already has a login on `phone` (whose PIN is not looked at).

    A person is a member of one cooperative only: a phone that is already a member's is refused.
    """
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = _create_user(session, phone=phone, name=name, pin=pin, scrypt_n=scrypt_n)
        return enrol_member(session, cooperative=cooperative, user=user, tier=tier)
    if session.scalar(select(Member.id).where(Member.user_id == user.id)) is not None:
        raise PhoneTaken()
    return _invite(
        session,
        user=user,
        cooperative=cooperative,
        role=InvitationRole.MEMBER,
        invited_by_user_id=invited_by_user_id,
        tier=tier,
    )


def enrol_member(session: Session, *, cooperative: Cooperative, user: User, tier: str) -> Member:
    """Make an existing login a member of `cooperative` and open their wallet there (trusted:
    the person's consent is the caller's business)."""
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
    invited_by_user_id: int | None = None,
) -> Merchant | Invitation:
    """Register a merchant of `cooperative` owned by a new login on `owner_phone`, or invite the
    person who already has a login there to own it (their PIN is not looked at)."""
    owner = session.scalar(select(User).where(User.phone == owner_phone))
    if owner is None:
        owner = _create_user(
            session, phone=owner_phone, name=owner_name, pin=owner_pin, scrypt_n=scrypt_n
        )
        return open_merchant(
            session, cooperative=cooperative, owner=owner, name=name, kind=kind, category=category
        )
    return _invite(
        session,
        user=owner,
        cooperative=cooperative,
        role=InvitationRole.MERCHANT_OWNER,
        invited_by_user_id=invited_by_user_id,
        merchant_name=name,
        merchant_kind=kind,
        merchant_category=category,
    )


def open_merchant(
    session: Session,
    *,
    cooperative: Cooperative,
    owner: User,
    name: str,
    kind: str,
    category: str,
) -> Merchant:
    """Open a merchant of `cooperative` owned by an existing login (trusted, as `enrol_member`)."""
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


def _invite(
    session: Session,
    *,
    user: User,
    cooperative: Cooperative,
    role: str,
    invited_by_user_id: int | None,
    **offer,
) -> Invitation:
    """Return the pending invitation of this offer, creating it (so a repeat adds nothing)."""
    existing = session.scalar(
        select(Invitation).where(
            Invitation.user_id == user.id,
            Invitation.cooperative_id == cooperative.id,
            Invitation.role == role,
            Invitation.status == InvitationStatus.PENDING,
            *(getattr(Invitation, field) == value for field, value in offer.items()),
        )
    )
    if existing is not None:
        return existing
    invitation = Invitation(
        user=user,
        cooperative=cooperative,
        role=role,
        status=InvitationStatus.PENDING,
        invited_by_user_id=invited_by_user_id,
        **offer,
    )
    session.add(invitation)
    session.flush()
    return invitation


def invite(
    session: Session,
    *,
    user: User,
    cooperative: Cooperative,
    role: str,
    invited_by_user_id: int | None,
    **offer,
) -> Invitation:
    """Invite a person who already has a login to a role (an import's row, as `register_member`
    and `register_merchant` do for one): the pending invitation of this offer, made once."""
    return _invite(
        session,
        user=user,
        cooperative=cooperative,
        role=role,
        invited_by_user_id=invited_by_user_id,
        **offer,
    )


def pending_invitations(session: Session, user_id: int) -> list[Invitation]:
    """A person's invitations still waiting for an answer, oldest first."""
    return list(
        session.scalars(
            select(Invitation)
            .where(Invitation.user_id == user_id, Invitation.status == InvitationStatus.PENDING)
            .order_by(Invitation.id)
        )
    )


def _own_invitation(session: Session, user_id: int, public_id: str) -> Invitation:
    """The caller's invitation, locked and read afresh; anyone else's is 404 exactly like an
    unknown id. (The person's own row is never locked here: `check_pin` claims on it.)"""
    invitation = session.scalar(
        select(Invitation)
        .where(Invitation.public_id == public_id, Invitation.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invitation is None:
        raise NotFound("No such invitation.", "Undangan tidak ditemukan.")
    return invitation


def _decide(session: Session, invitation: Invitation, status: str, **made) -> None:
    """Move a pending invitation to `status` once: a conditional UPDATE, so of two concurrent
    answers exactly one lands and the other is refused."""
    changed = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.status == InvitationStatus.PENDING)
        .values(status=status, decided_at=utcnow(), **made)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise InvitationNotPending()
    session.refresh(invitation)


def accept_invitation(
    session: Session, *, user_id: int, invitation_id: str, pin: str, policy: PinPolicy
) -> Invitation:
    """Accept one of the caller's invitations on their own PIN: only now does the member (with a
    wallet) or the merchant exist."""
    invitation = _own_invitation(session, user_id, invitation_id)
    if invitation.status != InvitationStatus.PENDING:
        raise InvitationNotPending()
    check_pin(session, user_id, pin, policy)
    user = session.get(User, user_id)
    if invitation.role == InvitationRole.MEMBER:
        member = enrol_member(
            session, cooperative=invitation.cooperative, user=user, tier=invitation.tier
        )
        _decide(session, invitation, InvitationStatus.ACCEPTED, member_id=member.id)
    else:
        merchant = open_merchant(
            session,
            cooperative=invitation.cooperative,
            owner=user,
            name=invitation.merchant_name,
            kind=invitation.merchant_kind,
            category=invitation.merchant_category,
        )
        _decide(session, invitation, InvitationStatus.ACCEPTED, merchant_id=merchant.id)
    return invitation


def decline_invitation(session: Session, *, user_id: int, invitation_id: str) -> Invitation:
    """Decline one of the caller's invitations (no PIN: declining gives nobody anything)."""
    invitation = _own_invitation(session, user_id, invitation_id)
    _decide(session, invitation, InvitationStatus.DECLINED)
    return invitation


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
