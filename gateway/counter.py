"""Use cases at a cooperative's counter: cash in (setor tunai), cash out (tarik tunai) and a
merchant's payout.

A teller of cooperative C may take cash in and pay cash out for a member of any partner
cooperative I: C's counter cash account is debited (cash in) or credited (cash out) and the
member's wallet at I moves the other way, so C holds the cash and owes it to I (or I owes C).
Payouts are only made at the merchant's own cooperative. The caller commits.

Every cooperative of the network is a partner of every other: there is no list of partners, and
a teller serves a member of any cooperative registered here. So a teller finds a member of the
whole network by exact phone number or by the member's card, but by name only among their own
cooperative's members (a name is not enough to tell people apart, and a substring search over the
network would let anyone at a counter list everyone). What a teller is shown of a member is what
they need to confirm who stands at the counter: name, cooperative, tier and a masked phone number,
never the balance.

Each use case answers with a receipt that a printed proof (*bukti setor / tarik tunai*) needs:
who, at which counter, how much, the balance after, when, which teller, and the event's id.

No use case here checks a balance or a net debit cap itself: `gateway.ledger.post` refuses a
wallet or merchant account below zero and a cooperative past its cap, for every event. It also
refuses counter cash without the teller's open shift at the counter and records the event on the
shift (gateway/shifts.py); each use case here asks for the shift first as well (`_teller_on_shift`),
only so that the refusal comes before anything else is looked at or counted (a member's PIN).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import ledger, limits, shifts, webhooks
from gateway.auth import PinPolicy, check_pin
from gateway.db import utcnow
from gateway.errors import Forbidden, NotFound
from gateway.models import (
    Account,
    AccountKind,
    Cooperative,
    Member,
    Merchant,
    User,
    WebhookEventType,
)
from gateway.models.ledger import EventKind, TransferCode

# What a member's card QR holds: the member's public id behind a fixed prefix. It proves nothing
# by itself (anyone may copy it): the teller still checks the name and cooperative on screen, and
# cash-out still needs the member's PIN.
MEMBER_CARD_PREFIX = "interkop:member:"
# A search answers with at most this many people (a name search needs 3 letters: api/schemas.py).
FOUND_MAX = 10


def render_event(session: Session, posted: ledger.PostedEvent) -> list[dict]:
    """Return the event's transfers with the accounts' public ids."""
    account_ids = {t["debit_account_id"] for t in posted.transfers} | {
        t["credit_account_id"] for t in posted.transfers
    }
    public_ids = dict(
        session.execute(
            select(Account.id, Account.public_id).where(Account.id.in_(account_ids))
        ).all()
    )
    return [
        {
            "id": transfer["id"],
            "debit_account": public_ids[transfer["debit_account_id"]],
            "credit_account": public_ids[transfer["credit_account_id"]],
            "amount": transfer["amount"],
            "code": transfer["code"],
        }
        for transfer in posted.transfers
    ]


def member_card_text(member_public_id: str) -> str:
    """Return the text a member's card QR holds."""
    return MEMBER_CARD_PREFIX + member_public_id


def mask_phone(phone: str) -> str:
    """Hide the middle of a phone number: +6281200000003 -> +62812****0003.

    Enough for the person at the counter to recognise their own number; the mask is always four
    stars, so it does not tell the number's length either.
    """
    tail = 4 if len(phone) >= 14 else 2
    return phone[:6] + "****" + phone[-tail:]


def cooperative_ref(cooperative: Cooperative) -> dict:
    return {"id": cooperative.public_id, "name": cooperative.name}


def _found_member(member: Member, user: User, cooperative: Cooperative) -> dict:
    return {
        "id": member.public_id,
        "name": user.name,
        "cooperative": cooperative_ref(cooperative),
        "tier": member.tier,
        "phone_masked": mask_phone(user.phone),
    }


def _members():
    return (
        select(Member, User, Cooperative)
        .join(User, User.id == Member.user_id)
        .join(Cooperative, Cooperative.id == Member.cooperative_id)
    )


def find_member_by_phone(session: Session, phone: str) -> list[dict]:
    """Return the member (of any cooperative) whose login is `phone`, normalised, or nobody."""
    return [_found_member(*row) for row in session.execute(_members().where(User.phone == phone))]


def find_member_by_card(session: Session, member_public_id: str) -> dict:
    """Return the member (of any cooperative) a card names; NotFound if none."""
    row = session.execute(_members().where(Member.public_id == member_public_id)).first()
    if row is None:
        raise NotFound("No member has this card.", "Tidak ada anggota dengan kartu ini.")
    return _found_member(*row)


def find_members_by_name(
    session: Session, cooperative: Cooperative, text: str
) -> tuple[list[dict], bool]:
    """Return up to FOUND_MAX of `cooperative`'s own members whose name contains `text` (any
    case), by name, and whether there are more."""
    rows = session.execute(
        _members()
        .where(Member.cooperative_id == cooperative.id, User.name.icontains(text, autoescape=True))
        .order_by(User.name, Member.id)
        .limit(FOUND_MAX + 1)
    ).all()
    return [_found_member(*row) for row in rows[:FOUND_MAX]], len(rows) > FOUND_MAX


def find_merchants(
    session: Session, cooperative: Cooperative, *, owner_phone: str | None, text: str | None
) -> tuple[list[dict], bool]:
    """Return up to FOUND_MAX of `cooperative`'s own merchants (the only ones its counter pays
    out) whose owner has `owner_phone` or whose name contains `text`, and whether there are more."""
    statement = (
        select(Merchant, User)
        .join(User, User.id == Merchant.owner_user_id)
        .where(Merchant.cooperative_id == cooperative.id)
    )
    if owner_phone is not None:
        statement = statement.where(User.phone == owner_phone)
    if text is not None:
        statement = statement.where(Merchant.name.icontains(text, autoescape=True))
    rows = session.execute(
        statement.order_by(Merchant.name, Merchant.id).limit(FOUND_MAX + 1)
    ).all()
    found = [
        {
            "id": merchant.public_id,
            "name": merchant.name,
            "kind": merchant.kind,
            "category": merchant.category,
            "cooperative": cooperative_ref(cooperative),
            "owner_name": owner.name,
            "owner_phone_masked": mask_phone(owner.phone),
        }
        for merchant, owner in rows[:FOUND_MAX]
    ]
    return found, len(rows) > FOUND_MAX


def _receipt(
    session: Session,
    posted: ledger.PostedEvent,
    *,
    account_id: int,
    amount: int,
    counter: Cooperative,
    actor_user_id: int,
    member: Member | None = None,
    merchant: Merchant | None = None,
) -> dict:
    """Render what a printed proof of a counter event needs (and the event's transfers)."""
    body = {
        "event_id": posted.public_id,
        "kind": posted.kind,
        "created_at": posted.created_at.isoformat(),
        "amount": amount,
        "balance": ledger.balance(session, account_id),
        "counter": cooperative_ref(counter),
        "teller": {"name": session.scalar(select(User.name).where(User.id == actor_user_id))},
        "transfers": render_event(session, posted),
    }
    if member is not None:
        body["member"] = {
            "id": member.public_id,
            "name": member.user.name,
            "cooperative": cooperative_ref(member.cooperative),
        }
    if merchant is not None:
        body["merchant"] = {
            "id": merchant.public_id,
            "name": merchant.name,
            "cooperative": cooperative_ref(merchant.cooperative),
        }
    return body


def _teller_on_shift(session: Session, counter: Cooperative, actor_user_id: int) -> None:
    """Refuse (409 `shift-required`) a teller with no open shift at this counter, up front."""
    shifts.hold_open_shift(session, cooperative_id=counter.id, teller_user_id=actor_user_id)


def _emit(
    session: Session,
    event_type: str,
    posted: ledger.PostedEvent,
    receipt: dict,
    counter: Cooperative,
    cooperative_ids: set[int],
    **who: str,
) -> None:
    """Tell the cooperatives concerned (the counter's, the member's) of a counter event: the
    receipt the API answers with, and whose money it is (`member_id` or `merchant_id`)."""
    data = {**receipt, **who, "counter_cooperative": counter.public_id}
    webhooks.emit(
        session,
        event_type,
        data,
        cooperative_ids=cooperative_ids,
        event_id=posted.id,
        created_at=posted.created_at,
    )


def cash_in(
    session: Session,
    *,
    counter: Cooperative,
    member: Member,
    amount: int,
    actor_user_id: int,
) -> tuple[dict, int]:
    """Take `amount` in cash at `counter` into a member's wallet; return (receipt, event id).

    The wallet is locked first so that two cash-ins cannot together pass its maximum balance.
    """
    _teller_on_shift(session, counter, actor_user_id)
    stored = ledger.lock_accounts(session, [member.wallet_account_id])
    limits.check_incoming(session, member, amount, stored[member.wallet_account_id], utcnow())
    counter_cash = ledger.system_account(session, AccountKind.COUNTER_CASH, counter.id)
    posted = ledger.post(
        session,
        kind=EventKind.CASH_IN,
        legs=[ledger.Leg(counter_cash.id, member.wallet_account_id, amount, TransferCode.CASH_IN)],
        cooperative_id=counter.id,
        actor_user_id=actor_user_id,
    )
    receipt = _receipt(
        session,
        posted,
        account_id=member.wallet_account_id,
        amount=amount,
        counter=counter,
        actor_user_id=actor_user_id,
        member=member,
    )
    _emit(
        session,
        WebhookEventType.COUNTER_CASH_IN,
        posted,
        receipt,
        counter,
        {counter.id, member.cooperative_id},
        member_id=member.public_id,
    )
    return receipt, posted.id


def cash_out(
    session: Session,
    *,
    counter: Cooperative,
    member: Member,
    amount: int,
    pin: str,
    pin_policy: PinPolicy,
    actor_user_id: int,
) -> tuple[dict, int]:
    """Pay `amount` in cash at `counter` out of a member's wallet, on the member's PIN (counted,
    and refused while the member is locked)."""
    _teller_on_shift(session, counter, actor_user_id)
    check_pin(session, member.user_id, pin, pin_policy)
    counter_cash = ledger.system_account(session, AccountKind.COUNTER_CASH, counter.id)
    posted = ledger.post(
        session,
        kind=EventKind.CASH_OUT,
        legs=[ledger.Leg(member.wallet_account_id, counter_cash.id, amount, TransferCode.CASH_OUT)],
        cooperative_id=counter.id,
        actor_user_id=actor_user_id,
    )
    receipt = _receipt(
        session,
        posted,
        account_id=member.wallet_account_id,
        amount=amount,
        counter=counter,
        actor_user_id=actor_user_id,
        member=member,
    )
    _emit(
        session,
        WebhookEventType.COUNTER_CASH_OUT,
        posted,
        receipt,
        counter,
        {counter.id, member.cooperative_id},
        member_id=member.public_id,
    )
    return receipt, posted.id


def payout(
    session: Session,
    *,
    counter: Cooperative,
    merchant: Merchant,
    amount: int,
    actor_user_id: int,
) -> tuple[dict, int]:
    """Pay a merchant's takings out in cash at its own cooperative's counter."""
    if merchant.cooperative_id != counter.id:
        raise Forbidden(
            "A merchant is paid out only at its own cooperative's counter.",
            "Pencairan merchant hanya di loket koperasinya sendiri.",
        )
    _teller_on_shift(session, counter, actor_user_id)
    counter_cash = ledger.system_account(session, AccountKind.COUNTER_CASH, counter.id)
    posted = ledger.post(
        session,
        kind=EventKind.PAYOUT,
        legs=[ledger.Leg(merchant.account_id, counter_cash.id, amount, TransferCode.PAYOUT)],
        cooperative_id=counter.id,
        actor_user_id=actor_user_id,
    )
    receipt = _receipt(
        session,
        posted,
        account_id=merchant.account_id,
        amount=amount,
        counter=counter,
        actor_user_id=actor_user_id,
        merchant=merchant,
    )
    _emit(
        session,
        WebhookEventType.COUNTER_PAYOUT,
        posted,
        receipt,
        counter,
        {counter.id},
        merchant_id=merchant.public_id,
    )
    return receipt, posted.id
