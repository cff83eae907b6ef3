"""Use cases at a cooperative's counter: cash in (setor tunai), cash out (tarik tunai) and a
merchant's payout.

A teller of cooperative C may take cash in and pay cash out for a member of any partner
cooperative I: C's counter cash account is debited (cash in) or credited (cash out) and the
member's wallet at I moves the other way, so C holds the cash and owes it to I (or I owes C).
Payouts are only made at the merchant's own cooperative. The caller commits.

No use case here checks a balance or a net debit cap itself: `gateway.ledger.post` refuses a
wallet or merchant account below zero and a cooperative past its cap, for every event.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import ledger, limits, webhooks
from gateway.auth import PinPolicy, check_pin
from gateway.db import utcnow
from gateway.errors import Forbidden
from gateway.models import Account, AccountKind, Cooperative, Member, Merchant, WebhookEventType
from gateway.models.ledger import EventKind, TransferCode


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


def _receipt(session: Session, posted: ledger.PostedEvent, account_id: int) -> dict:
    return {
        "event_id": posted.public_id,
        "kind": posted.kind,
        "created_at": posted.created_at.isoformat(),
        "balance": ledger.balance(session, account_id),
        "transfers": render_event(session, posted),
    }


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
    receipt = _receipt(session, posted, member.wallet_account_id)
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
    check_pin(session, member.user_id, pin, pin_policy)
    counter_cash = ledger.system_account(session, AccountKind.COUNTER_CASH, counter.id)
    posted = ledger.post(
        session,
        kind=EventKind.CASH_OUT,
        legs=[ledger.Leg(member.wallet_account_id, counter_cash.id, amount, TransferCode.CASH_OUT)],
        cooperative_id=counter.id,
        actor_user_id=actor_user_id,
    )
    receipt = _receipt(session, posted, member.wallet_account_id)
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
    counter_cash = ledger.system_account(session, AccountKind.COUNTER_CASH, counter.id)
    posted = ledger.post(
        session,
        kind=EventKind.PAYOUT,
        legs=[ledger.Leg(merchant.account_id, counter_cash.id, amount, TransferCode.PAYOUT)],
        cooperative_id=counter.id,
        actor_user_id=actor_user_id,
    )
    receipt = _receipt(session, posted, merchant.account_id)
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
