"""Accounts, business events and transfers: the double-entry ledger's tables.

Only `gateway/ledger.py` writes to them. Transfers are immutable: the migration installs
triggers that refuse UPDATE and DELETE on both databases.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import db, new_public_id, utcnow
from gateway.models.types import BigId, UTCDateTime, one_of


class AccountKind(StrEnum):
    WALLET = "wallet"
    MERCHANT = "merchant"
    FEES = "fees"
    COUNTER_CASH = "counter_cash"
    SETTLEMENT = "settlement"


# Accounts that must never go below zero: a transfer that debits one locks it first.
NON_NEGATIVE_KINDS = frozenset({AccountKind.WALLET, AccountKind.MERCHANT})

# Accounts with a running balance in `accounts.balance`. Only wallets: every debit of a wallet
# locks it anyway, and a wallet is never hot. A merchant, a cooperative's fee income, counter cash
# and settlement accounts are credited by many concurrent payments, so their balance is read from
# their transfers instead: a payment only inserts rows and never waits on one hot balance row.
STORED_BALANCE_KINDS = frozenset({AccountKind.WALLET})


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        one_of("kind", AccountKind, "kind"),
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("kind = 'wallet' OR balance = 0", name="balance_stored_for_wallets"),
        Index("ix_accounts_kind_cooperative", "kind", "cooperative_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("acc")
    )
    kind: Mapped[str] = mapped_column(String(16))
    # The owner: a cooperative, or the network operator when NULL.
    cooperative_id: Mapped[int | None] = mapped_column(ForeignKey("cooperatives.id"))
    # Running balance (credit-normal) of a wallet; always 0 for the other kinds.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventKind(StrEnum):
    CASH_IN = "cash_in"
    CASH_OUT = "cash_out"
    PAYOUT = "payout"
    PAYMENT = "payment"
    REFUND = "refund"
    SETTLEMENT = "settlement"


class Event(db.Model):
    """One business event (a cash-in, a payment, ...): the transfers it wrote share its id."""

    __tablename__ = "events"
    __table_args__ = (one_of("kind", EventKind, "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("evt")
    )
    kind: Mapped[str] = mapped_column(String(16))
    # Where it happened (the counter's cooperative for cash, the acquirer for payments).
    cooperative_id: Mapped[int | None] = mapped_column(ForeignKey("cooperatives.id"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A settlement event: the window it settles (`gateway ledger check` finds a window settled
    # twice by it). The window points back at its one event, hence use_alter.
    settles_window_id: Mapped[int | None] = mapped_column(
        ForeignKey("settlement_windows.id", use_alter=True)
    )


class TransferCode(StrEnum):
    CASH_IN = "cash_in"
    CASH_OUT = "cash_out"
    PAYOUT = "payout"
    PAYMENT = "payment"
    FEE_ISSUER = "fee_issuer"
    FEE_ACQUIRER = "fee_acquirer"
    FEE_NETWORK = "fee_network"
    REFUND = "refund"
    FEE_ISSUER_REFUND = "fee_issuer_refund"
    FEE_ACQUIRER_REFUND = "fee_acquirer_refund"
    FEE_NETWORK_REFUND = "fee_network_refund"
    SETTLEMENT = "settlement"


class Transfer(db.Model):
    """Debit one account, credit another, by a positive amount. Never updated, never deleted."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        one_of("code", TransferCode, "code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: new_public_id("trf")
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The settlement window that was open when the transfer was written (set by the INSERT itself).
    window_id: Mapped[int | None] = mapped_column(ForeignKey("settlement_windows.id"), index=True)
