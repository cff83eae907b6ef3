"""The double-entry ledger: the only code that changes balances.

Money moves as transfers (TigerBeetle's model): each debits one account and credits another by a
positive amount, so every row balances by construction. The transfers of one business event are
written together by `post`, inside the caller's database transaction, after locking every
account that must not go negative and whose balance the event lowers.

`post` is also where the balance limits live, as TigerBeetle keeps them with the transfer: no
wallet or merchant account below zero, and no cooperative's unsettled position below minus its
net debit cap (`gateway.limits.check_net_debit_caps`). And where counter cash needs the teller's
open shift (`gateway.shifts`): an event that moves a counter_cash account belongs to the open
shift of its actor at its cooperative, or is refused. Every use case that moves money goes
through `post`, so none can forget any of these rules.

Balances are credit-normal (credits minus debits). Wallets keep a running balance in
`accounts.balance`; every other account's balance is the sum of its transfers (see
`gateway.models.ledger.STORED_BALANCE_KINDS` for why).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, text, union_all, update
from sqlalchemy.orm import Session

from gateway import limits, shifts
from gateway.db import HotStatement, is_postgresql, new_public_id, utcnow
from gateway.errors import InsufficientFunds
from gateway.models import Account, AccountKind, Event, SettlementWindow, Transfer, WindowStatus
from gateway.models.ledger import (
    NON_NEGATIVE_KINDS,
    STORED_BALANCE_KINDS,
    EventKind,
    TransferCode,
)
from gateway.money import AMOUNT_MAX

# An account's kind and owner never change, so they are cached per process (and database) once
# read: account id -> (kind, owner cooperative id, None for the network).
_account_facts: dict[str, dict[int, tuple[str, int | None]]] = {}


def _database(session: Session):
    """Name the database a session talks to: the caches below are kept per database (the
    engine's URL, hashable and the same for every engine on one database)."""
    return session.get_bind().url


@dataclass(frozen=True)
class Leg:
    """One transfer to write: debit, credit, amount, and why (`code`)."""

    debit_account_id: int
    credit_account_id: int
    amount: int
    code: str


@dataclass
class PostedEvent:
    """What `post` wrote: the event and its transfers, with public ids."""

    id: int
    public_id: str
    kind: str
    created_at: datetime
    transfers: list[dict] = field(default_factory=list)


class LedgerError(ValueError):
    """A programming error: a transfer that can never be valid (not a client's mistake)."""


def _validate(legs: list[Leg]) -> None:
    if not legs:
        raise LedgerError("an event needs at least one transfer")
    for leg in legs:
        if type(leg.amount) is not int:
            raise LedgerError(f"amount must be an int of rupiah, not {type(leg.amount).__name__}")
        if not 0 < leg.amount <= AMOUNT_MAX:
            raise LedgerError(f"amount {leg.amount} out of range")
        if leg.debit_account_id == leg.credit_account_id:
            raise LedgerError("a transfer must be between two different accounts")


def account_facts(
    session: Session, account_ids: Iterable[int]
) -> dict[int, tuple[str, int | None]]:
    """Return the kind and the owner of each account (cached: neither ever changes)."""
    wanted = set(account_ids)
    cache = _account_facts.setdefault(_database(session), {})
    missing = [account_id for account_id in wanted if account_id not in cache]
    if missing:
        rows = session.execute(
            select(Account.id, Account.kind, Account.cooperative_id).where(Account.id.in_(missing))
        )
        for account_id, kind, owner in rows:
            cache[account_id] = (kind, owner)
        # Only what was missing can still be unknown (`set - dict.keys()` walks every key).
        unknown = [account_id for account_id in missing if account_id not in cache]
        if unknown:
            raise LedgerError(f"unknown accounts {sorted(unknown)}")
    return {account_id: cache[account_id] for account_id in wanted}


def account_kinds(session: Session, account_ids: Iterable[int]) -> dict[int, str]:
    """Return the kind of each account (cached: kinds never change)."""
    return {
        account_id: kind for account_id, (kind, _) in account_facts(session, account_ids).items()
    }


def derived_balance(session: Session, account_id: int) -> int:
    """Sum an account's transfers: credits minus debits."""
    credits = select(func.coalesce(func.sum(Transfer.amount), 0)).where(
        Transfer.credit_account_id == account_id
    )
    debits = select(func.coalesce(func.sum(Transfer.amount), 0)).where(
        Transfer.debit_account_id == account_id
    )
    return int(session.scalar(credits)) - int(session.scalar(debits))


def balance(session: Session, account_id: int) -> int:
    """Return an account's balance in rupiah."""
    kind = account_kinds(session, [account_id])[account_id]
    if kind in STORED_BALANCE_KINDS:
        return int(session.scalar(select(Account.balance).where(Account.id == account_id)))
    return derived_balance(session, account_id)


# FOR NO KEY UPDATE, not FOR UPDATE: it serialises the callers of `lock_accounts` (and the
# balance UPDATE) as well, but does not wait for, or hold back, the KEY SHARE lock that inserting
# a transfer takes on the accounts it names (its foreign keys). With FOR UPDATE, a payment (wallet
# locked, then a transfer naming the merchant) and a refund (merchant locked, then a transfer
# naming the wallet) could each wait for the other.
_FACTS = (Account.id, Account.balance, Account.kind, Account.cooperative_id)
_LOCK = select(*_FACTS).where(Account.id.in_(bindparam("ids", expanding=True)))
_LOCK_ORDERED = _LOCK.order_by(Account.id)
_LOCK_FOR_UPDATE = _LOCK_ORDERED.with_for_update(key_share=True)
# One account (a payment locks the payer's wallet alone), as a hot statement.
_ONE_ACCOUNT = select(*_FACTS).where(Account.id == bindparam("account_id"))
_LOCK_ONE_FOR_UPDATE = HotStatement(_ONE_ACCOUNT.with_for_update(key_share=True))
_LOCK_ONE = HotStatement(_ONE_ACCOUNT)


def lock_accounts(session: Session, account_ids: Iterable[int]) -> dict[int, int]:
    """Lock accounts in id order (so two events never deadlock) and return their stored balances.

    PostgreSQL: SELECT ... FOR NO KEY UPDATE. SQLite: the transaction began IMMEDIATE and already
    holds the database's write lock.
    """
    ordered = sorted(set(account_ids))
    if not ordered:
        return {}
    postgresql = is_postgresql(session)
    if len(ordered) == 1:
        statement = _LOCK_ONE_FOR_UPDATE if postgresql else _LOCK_ONE
        rows = statement.rows(session, {"account_id": ordered[0]})
    else:
        statement = _LOCK_FOR_UPDATE if postgresql else _LOCK_ORDERED
        rows = session.connection().execute(statement, {"ids": ordered}).all()
    # The kinds and owners come along for free: `post` then need not read them.
    _account_facts.setdefault(_database(session), {}).update(
        (row[0], (row[2], row[3])) for row in rows
    )
    return {row[0]: int(row[1]) for row in rows}


# The statements `post` issues, built once (the pay path runs them on every payment). The window
# is read by the transfers' INSERT itself: a close that switches windows (under a SHARE lock on
# transfers, see gateway.settlement) either waits for this transaction or comes first.
_INSERT_EVENT = HotStatement(insert(Event).returning(Event.id))
_INSERT_TRANSFERS = HotStatement(
    insert(Transfer).values(
        window_id=select(SettlementWindow.id)
        .where(SettlementWindow.status == WindowStatus.OPEN)
        .scalar_subquery()
    )
)
# On PostgreSQL the event, its transfers and the stored balances they move are one statement
# (one round trip): data-modifying CTEs, the legs as arrays. Same window rule as above.
_POST_POSTGRESQL = HotStatement(
    text(
        """
WITH event AS (
    INSERT INTO events (public_id, kind, cooperative_id, actor_user_id, created_at)
    VALUES (:event_public_id, :kind, :cooperative_id, :actor_user_id, :created_at)
    RETURNING id
), written AS (
    INSERT INTO transfers (public_id, event_id, debit_account_id, credit_account_id, amount, code,
                           created_at, window_id)
    SELECT leg.public_id, event.id, leg.debit_account_id, leg.credit_account_id, leg.amount,
           leg.code, CAST(:created_at AS timestamptz),
           (SELECT id FROM settlement_windows WHERE status = 'open')
    FROM event,
         unnest(CAST(:transfer_public_ids AS text[]), CAST(:debit_account_ids AS bigint[]),
                CAST(:credit_account_ids AS bigint[]), CAST(:amounts AS bigint[]),
                CAST(:codes AS text[]))
           AS leg(public_id, debit_account_id, credit_account_id, amount, code)
), moved AS (
    UPDATE accounts SET balance = accounts.balance + move.delta
    FROM unnest(CAST(:moved_account_ids AS bigint[]), CAST(:deltas AS bigint[]))
           AS move(account_id, delta)
    WHERE accounts.id = move.account_id
)
SELECT id FROM event
"""
    )
)
_MOVE_BALANCE = HotStatement(
    update(Account)
    .where(Account.id == bindparam("account_id"))
    .values(balance=Account.balance + bindparam("delta"))
)


def position_changes(
    legs: list[Leg], facts: dict[int, tuple[str, int | None]]
) -> dict[int | None, int]:
    """Return how an event's legs change each owner's net position (None: the network).

    Settlement transfers are left out, as positions leave them out (gateway.settlement): they
    pay a window's positions back to zero, and the window they settle drops out of what is
    unsettled at the same moment, so they never add to what a cooperative owes.
    """
    changes: dict[int | None, int] = defaultdict(int)
    for leg in legs:
        if leg.code == TransferCode.SETTLEMENT:
            continue
        changes[facts[leg.debit_account_id][1]] -= leg.amount
        changes[facts[leg.credit_account_id][1]] += leg.amount
    return changes


def post(
    session: Session,
    *,
    kind: str,
    legs: list[Leg],
    cooperative_id: int | None = None,
    actor_user_id: int | None = None,
    locked: dict[int, int] | None = None,
    net_debit_caps: dict[int, int | None] | None = None,
) -> PostedEvent:
    """Write one business event's transfers, refusing any that would overdraw a guarded account
    or take a cooperative's unsettled position past its net debit cap.

    Runs inside the caller's transaction; the caller commits. Raises `InsufficientFunds` (with the
    account's public id and balance) or `LimitExceeded` (limit "net_debit_cap") before anything
    is written. `locked`: stored balances of accounts the caller already locked in this
    transaction. `net_debit_caps`: caps the caller has already read (None: no cap), so that a
    payment of an uncapped cooperative's member reads nothing more.
    """
    _validate(legs)
    deltas: dict[int, int] = defaultdict(int)
    for leg in legs:
        deltas[leg.debit_account_id] -= leg.amount
        deltas[leg.credit_account_id] += leg.amount
    facts = account_facts(session, deltas)
    kinds = {account_id: kind for account_id, (kind, _) in facts.items()}

    lowered = [
        account_id
        for account_id, delta in deltas.items()
        if delta < 0 and kinds[account_id] in NON_NEGATIVE_KINDS
    ]
    locked = locked or {}
    stored = {**lock_accounts(session, [a for a in lowered if a not in locked]), **locked}
    for account_id in sorted(lowered):
        if kinds[account_id] in STORED_BALANCE_KINDS:
            current = stored[account_id]
        else:
            # Read after taking the row lock: every earlier debit has committed, and credits
            # still in flight only make the balance larger than what is seen here.
            current = derived_balance(session, account_id)
        if current + deltas[account_id] < 0:
            public_id = session.scalar(select(Account.public_id).where(Account.id == account_id))
            raise InsufficientFunds(
                account=public_id,
                balance=current,
                kind=kinds[account_id],
            )
    # Accounts first, then cooperatives (in id order): every event takes its locks in that
    # order, so two events never wait for each other in a circle.
    shift_id = _hold_counter_shift(session, facts, cooperative_id, actor_user_id)
    lowering = {
        owner: -change
        for owner, change in position_changes(legs, facts).items()
        if change < 0 and owner is not None
    }
    if lowering:
        limits.check_net_debit_caps(session, lowering, net_debit_caps or {})

    now = utcnow()
    event_public_id = new_public_id("evt")
    moves = [
        (account_id, delta)
        for account_id, delta in sorted(deltas.items())
        if delta and kinds[account_id] in STORED_BALANCE_KINDS
    ]
    if is_postgresql(session):
        transfer_public_ids = [new_public_id("trf") for _ in legs]
        event_id = _POST_POSTGRESQL.first(
            session,
            {
                "event_public_id": event_public_id,
                "kind": str(kind),
                "cooperative_id": cooperative_id,
                "actor_user_id": actor_user_id,
                "created_at": now,
                "transfer_public_ids": transfer_public_ids,
                "debit_account_ids": [leg.debit_account_id for leg in legs],
                "credit_account_ids": [leg.credit_account_id for leg in legs],
                "amounts": [leg.amount for leg in legs],
                "codes": [str(leg.code) for leg in legs],
                "moved_account_ids": [account_id for account_id, _ in moves],
                "deltas": [delta for _, delta in moves],
            },
        )[0]
        if shift_id is not None:
            shifts.record_event(session, shift_id, event_id)
        return _posted(event_id, event_public_id, kind, now, legs, transfer_public_ids)
    event_id = _INSERT_EVENT.first(
        session,
        {
            "public_id": event_public_id,
            "kind": kind,
            "cooperative_id": cooperative_id,
            "actor_user_id": actor_user_id,
            "created_at": now,
        },
    )[0]
    rows = [
        {
            "public_id": new_public_id("trf"),
            "event_id": event_id,
            "debit_account_id": leg.debit_account_id,
            "credit_account_id": leg.credit_account_id,
            "amount": leg.amount,
            "code": leg.code,
            "created_at": now,
        }
        for leg in legs
    ]
    _INSERT_TRANSFERS.run(session, rows)
    if moves:
        _MOVE_BALANCE.run(
            session, [{"account_id": account_id, "delta": delta} for account_id, delta in moves]
        )
    if shift_id is not None:
        shifts.record_event(session, shift_id, event_id)
    return _posted(event_id, event_public_id, kind, now, legs, [row["public_id"] for row in rows])


def _hold_counter_shift(
    session: Session,
    facts: dict[int, tuple[str, int | None]],
    cooperative_id: int | None,
    actor_user_id: int | None,
) -> int | None:
    """Return the open shift an event that moves counter cash belongs to, held (FOR SHARE) so
    that it cannot close before the event commits; None for an event that moves no counter cash.

    The one place that refuses cash at a counter without an open shift of its teller there
    (`ShiftRequired`, 409): every cash-in, cash-out and payout, whichever use case posts it.
    """
    counters = {owner for kind, owner in facts.values() if kind == AccountKind.COUNTER_CASH}
    if not counters:
        return None
    if counters != {cooperative_id} or actor_user_id is None:
        raise LedgerError("counter cash moves only at the event's own counter, by its teller")
    return shifts.hold_open_shift(
        session, cooperative_id=cooperative_id, teller_user_id=actor_user_id
    )


def _posted(event_id, event_public_id, kind, now, legs, transfer_public_ids) -> PostedEvent:
    return PostedEvent(
        id=event_id,
        public_id=event_public_id,
        kind=kind,
        created_at=now,
        transfers=[
            {
                "id": public_id,
                "debit_account_id": leg.debit_account_id,
                "credit_account_id": leg.credit_account_id,
                "amount": leg.amount,
                "code": leg.code,
            }
            for leg, public_id in zip(legs, transfer_public_ids, strict=True)
        ],
    )


def open_account(session: Session, kind: AccountKind, cooperative_id: int | None) -> Account:
    """Create an account owned by a cooperative (or the network when `cooperative_id` is None)."""
    account = Account(kind=kind, cooperative_id=cooperative_id, balance=0)
    session.add(account)
    session.flush()
    return account


def system_account(session: Session, kind: AccountKind, cooperative_id: int | None) -> Account:
    """Return the one fees / counter_cash / settlement account of an owner, creating it once."""
    if kind in (AccountKind.WALLET, AccountKind.MERCHANT):
        raise LedgerError("wallets and merchant accounts are opened per member or merchant")
    owner = (
        Account.cooperative_id.is_(None)
        if cooperative_id is None
        else Account.cooperative_id == cooperative_id
    )
    account = session.scalar(
        select(Account).where(Account.kind == kind, owner).order_by(Account.id).limit(1)
    )
    return account or open_account(session, kind, cooperative_id)


# System accounts never change owner or go away, so their ids are cached per process.
_system_account_ids: dict[tuple[str, str, int | None], int] = {}


def system_account_id(session: Session, kind: AccountKind, cooperative_id: int | None) -> int:
    """Return the id of an owner's system account (cached; created once if missing)."""
    key = (_database(session), str(kind), cooperative_id)
    if key in _system_account_ids:
        return _system_account_ids[key]
    owner = (
        Account.cooperative_id.is_(None)
        if cooperative_id is None
        else Account.cooperative_id == cooperative_id
    )
    found = session.scalar(
        select(Account.id).where(Account.kind == kind, owner).order_by(Account.id).limit(1)
    )
    if found is None:
        # Not cached: the account is new in this transaction, which may yet roll back.
        return open_account(session, kind, cooperative_id).id
    _system_account_ids[key] = found
    return found


def _movements(session: Session, since: datetime | None = None, until: datetime | None = None):
    """Return a selectable of (account_id, signed amount) for every transfer leg in a period."""
    credits = select(
        Transfer.credit_account_id.label("account_id"), Transfer.amount.label("amount")
    )
    debits = select(
        Transfer.debit_account_id.label("account_id"), (-Transfer.amount).label("amount")
    )
    if since is not None:
        credits = credits.where(Transfer.created_at >= since)
        debits = debits.where(Transfer.created_at >= since)
    if until is not None:
        credits = credits.where(Transfer.created_at < until)
        debits = debits.where(Transfer.created_at < until)
    return union_all(credits, debits).subquery()


def derived_balances(session: Session) -> dict[int, int]:
    """Return every account's balance as its transfers add up (accounts without any are 0)."""
    movements = _movements(session)
    sums = dict(
        session.execute(
            select(movements.c.account_id, func.sum(movements.c.amount)).group_by(
                movements.c.account_id
            )
        ).all()
    )
    return {
        account_id: int(sums.get(account_id, 0))
        for account_id in session.scalars(select(Account.id))
    }


def positions(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> dict[int | None, int]:
    """Return each owner's net position over a period: the change in the balances of the accounts
    it owns (key None is the network). Positions always sum to zero."""
    movements = _movements(session, since, until)
    rows = session.execute(
        select(Account.cooperative_id, func.sum(movements.c.amount))
        .join(Account, Account.id == movements.c.account_id)
        .group_by(Account.cooperative_id)
    ).all()
    return {cooperative_id: int(total) for cooperative_id, total in rows}


def check(session: Session) -> list[str]:
    """Verify every ledger invariant over the whole database; return one line per violation."""
    problems: list[str] = []
    bad_transfers = session.execute(
        select(
            Transfer.public_id,
            Transfer.amount,
            Transfer.debit_account_id,
            Transfer.credit_account_id,
        ).where((Transfer.amount <= 0) | (Transfer.debit_account_id == Transfer.credit_account_id))
    ).all()
    for public_id, amount, debit_id, credit_id in bad_transfers:
        problems.append(
            f"transfer {public_id}: amount {amount} from account {debit_id} to {credit_id}"
            " is not a positive amount between two accounts"
        )
    windowless = session.scalar(
        select(func.count()).select_from(Transfer).where(Transfer.window_id.is_(None))
    )
    if windowless:
        problems.append(f"{windowless} transfers belong to no settlement window")
    # NOT EXISTS, an anti-join: NOT IN (subquery) cannot be hashed once the event ids pass
    # work_mem, and PostgreSQL then rescans the events for every transfer (hours at 10^6).
    orphans = session.scalar(
        select(func.count())
        .select_from(Transfer)
        .where(~select(Event.id).where(Event.id == Transfer.event_id).exists())
    )
    if orphans:
        problems.append(f"{orphans} transfers belong to no event")

    derived = derived_balances(session)
    accounts = session.execute(
        select(Account.id, Account.public_id, Account.kind, Account.balance)
    ).all()
    total = 0
    for account_id, public_id, kind, stored in accounts:
        value = derived[account_id]
        total += value
        if kind in NON_NEGATIVE_KINDS and value < 0:
            problems.append(f"account {public_id} ({kind}) is below zero: {value}")
        if kind in STORED_BALANCE_KINDS and stored != value:
            problems.append(
                f"account {public_id} ({kind}) stores balance {stored} but its transfers add up"
                f" to {value}"
            )
        if kind not in STORED_BALANCE_KINDS and stored != 0:
            problems.append(f"account {public_id} ({kind}) stores a balance it must not keep")
    if total != 0:
        problems.append(f"the balances of all accounts sum to {total}, not 0")
    position_total = sum(positions(session).values())
    if position_total != 0:
        problems.append(f"the net positions of all owners sum to {position_total}, not 0")
    problems.extend(_settlement_problems(session))
    return problems


def _settlement_problems(session: Session) -> list[str]:
    """Name each window settled more than once, and each settlement event that settles no
    window in state settled (a window's settlement is written once: gateway.settlement)."""
    problems = []
    settled_twice = session.execute(
        select(SettlementWindow.public_id, func.count(Event.id))
        .join(Event, Event.settles_window_id == SettlementWindow.id)
        .where(Event.kind == EventKind.SETTLEMENT)
        .group_by(SettlementWindow.id, SettlementWindow.public_id)
        .having(func.count(Event.id) > 1)
        .order_by(SettlementWindow.id)
    ).all()
    for window_public_id, count in settled_twice:
        problems.append(f"window {window_public_id} was settled {count} times, not once")
    stray = session.execute(
        select(Event.public_id, SettlementWindow.public_id, SettlementWindow.status)
        .outerjoin(SettlementWindow, SettlementWindow.id == Event.settles_window_id)
        .where(
            Event.kind == EventKind.SETTLEMENT,
            (SettlementWindow.id.is_(None)) | (SettlementWindow.status != WindowStatus.SETTLED),
        )
        .order_by(Event.id)
    ).all()
    for event_public_id, window_public_id, status in stray:
        if window_public_id is None:
            problems.append(f"settlement event {event_public_id} settles no window")
        else:
            problems.append(
                f"settlement event {event_public_id} settles window {window_public_id},"
                f" which is {status}, not settled"
            )
    return problems


def forget_cached_kinds() -> None:
    """Forget cached account kinds and system account ids (tests that empty a database and
    reuse its ids need this; in production ids are never reused)."""
    _account_facts.clear()
    _system_account_ids.clear()
