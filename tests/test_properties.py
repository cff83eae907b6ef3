"""Random sequences of counter operations keep every ledger invariant, on SQLite and PostgreSQL.

Cash-ins, cash-outs, merchant takings and payouts (amounts included that must be refused: too
much, nothing, negative, past the wallet's maximum, at the wrong counter) are applied through the
use cases to a few members and merchants of three cooperatives. After every step `ledger.check`
finds nothing, positions sum to zero, and every balance equals the model this test keeps.

One database serves all the examples of a run: the invariants are global, and the model starts
each example from the balances the database holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import TEST_SCRYPT_N
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import counter, ledger, limits, registry, shifts
from gateway.auth import PinPolicy
from gateway.db import db, transaction, utcnow
from gateway.errors import Forbidden, InsufficientFunds, LimitExceeded
from gateway.models import AccountKind, Cooperative, Member, Merchant
from gateway.models.ledger import EventKind, TransferCode

PIN = "123456"
PIN_POLICY = PinPolicy(attempts_max=5, lockout_seconds=900, scrypt_n=TEST_SCRYPT_N)
COOPERATIVES = 3
# (cooperative index, tier) of each member; (cooperative index) of each merchant.
MEMBERS = [(0, "basic"), (1, "basic"), (2, "verified")]
MERCHANTS = [0, 2]


@dataclass
class World:
    cooperative_ids: list[int]
    member_ids: list[int]
    wallet_ids: list[int]
    merchant_ids: list[int]
    merchant_account_ids: list[int]
    merchant_cooperative_indexes: list[int]
    counter_cash_ids: list[int]
    # A teller on an open shift at each cooperative's counter.
    teller_user_ids: list[int]


@pytest.fixture
def world(app):
    with app.app_context():

        def work(session):
            cooperatives = [
                registry.create_cooperative(
                    session, code=f"K{index}", name=f"Koperasi {index}", kind="consumer"
                )
                for index in range(COOPERATIVES)
            ]
            members = [
                registry.register_member(
                    session,
                    cooperative=cooperatives[cooperative_index],
                    phone=f"+628120000{index:04d}",
                    name=f"Anggota {index}",
                    pin=PIN,
                    tier=tier,
                    scrypt_n=TEST_SCRYPT_N,
                )
                for index, (cooperative_index, tier) in enumerate(MEMBERS)
            ]
            merchants = [
                registry.register_merchant(
                    session,
                    cooperative=cooperatives[cooperative_index],
                    name=f"Merchant {index}",
                    kind="shop",
                    category="micro",
                    owner_phone=f"+628130000{index:04d}",
                    owner_name="Pemilik",
                    owner_pin=PIN,
                    scrypt_n=TEST_SCRYPT_N,
                )
                for index, cooperative_index in enumerate(MERCHANTS)
            ]
            tellers = []
            for index, cooperative in enumerate(cooperatives):
                teller = registry.find_or_create_user(
                    session,
                    phone=f"+628140000{index:04d}",
                    name=f"Teller {index}",
                    pin=PIN,
                    scrypt_n=TEST_SCRYPT_N,
                )
                session.flush()
                shifts.open_shift(
                    session,
                    cooperative=cooperative,
                    teller_user_id=teller.id,
                    opening_cash_amount=0,
                )
                tellers.append(teller.id)
            return World(
                cooperative_ids=[cooperative.id for cooperative in cooperatives],
                member_ids=[member.id for member in members],
                wallet_ids=[member.wallet_account_id for member in members],
                merchant_ids=[merchant.id for merchant in merchants],
                merchant_account_ids=[merchant.account_id for merchant in merchants],
                merchant_cooperative_indexes=list(MERCHANTS),
                counter_cash_ids=[
                    ledger.system_account(session, AccountKind.COUNTER_CASH, cooperative.id).id
                    for cooperative in cooperatives
                ],
                teller_user_ids=tellers,
            )

        return transaction(db.session, work)


# An amount is a number of rupiah, or ("balance", delta): the account's balance plus delta,
# so that the boundaries (all of it, a rupiah too much) come up often.
amounts = st.one_of(
    st.integers(1, 400_000),
    st.sampled_from([0, -1, -50_000, 1, 1_999_999, 2_000_000, 2_000_001, 25_000_000]),
    st.tuples(st.just("balance"), st.integers(-1, 1)),
)
members = st.integers(0, len(MEMBERS) - 1)
merchants = st.integers(0, len(MERCHANTS) - 1)
counters = st.integers(0, COOPERATIVES - 1)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("cash_in"), members, counters, amounts),
        st.tuples(st.just("cash_out"), members, counters, amounts),
        st.tuples(st.just("takings"), merchants, counters, amounts),
        st.tuples(st.just("payout"), merchants, counters, amounts),
    ),
    min_size=1,
    max_size=12,
)


class Model:
    """What every balance must be: wallets, merchants and counter cash, by account id."""

    def __init__(self, session, world: World) -> None:
        self.world = world
        owned = world.wallet_ids + world.merchant_account_ids + world.counter_cash_ids
        self.balances = {account_id: ledger.balance(session, account_id) for account_id in owned}
        now = utcnow()
        self.incoming = {
            wallet_id: limits.incoming_this_month(session, wallet_id, now)
            for wallet_id in world.wallet_ids
        }
        self.limits = [
            limits.limits_for(session, world.cooperative_ids[cooperative_index], tier)
            for cooperative_index, tier in MEMBERS
        ]

    def move(self, debit_id: int, credit_id: int, amount: int) -> None:
        self.balances[debit_id] -= amount
        self.balances[credit_id] += amount

    def owner_of(self, account_id: int) -> int:
        world = self.world
        if account_id in world.wallet_ids:
            return world.cooperative_ids[MEMBERS[world.wallet_ids.index(account_id)][0]]
        if account_id in world.merchant_account_ids:
            index = world.merchant_account_ids.index(account_id)
            return world.cooperative_ids[world.merchant_cooperative_indexes[index]]
        return world.cooperative_ids[world.counter_cash_ids.index(account_id)]

    def positions(self) -> dict[int, int]:
        expected = dict.fromkeys(self.world.cooperative_ids, 0)
        for account_id, value in self.balances.items():
            expected[self.owner_of(account_id)] += value
        return expected


def resolve(amount, balance: int) -> int:
    if isinstance(amount, tuple):
        return balance + amount[1]
    return amount


def apply(session, world: World, model: Model, operation) -> str:
    """Apply one operation through its use case, updating the model; return its outcome."""
    name, index, counter_index, raw_amount = operation
    counter_cash_id = world.counter_cash_ids[counter_index]
    counter_id = world.cooperative_ids[counter_index]

    if name in ("cash_in", "cash_out"):
        wallet_id = world.wallet_ids[index]
        amount = resolve(raw_amount, model.balances[wallet_id])
        if name == "cash_in":
            limit = model.limits[index]
            too_full = model.balances[wallet_id] + amount > limit.balance_max
            too_much_this_month = model.incoming[wallet_id] + amount > limit.incoming_monthly_max
            if too_full or too_much_this_month:
                expected = LimitExceeded
            elif amount <= 0:
                expected = ledger.LedgerError
            else:
                expected = None

            def work(session):
                return counter.cash_in(
                    session,
                    counter=session.get(Cooperative, counter_id),
                    member=session.get(Member, world.member_ids[index]),
                    amount=amount,
                    actor_user_id=world.teller_user_ids[counter_index],
                )

            debit_id, credit_id = counter_cash_id, wallet_id
        else:
            expected = (
                ledger.LedgerError
                if amount <= 0
                else InsufficientFunds
                if amount > model.balances[wallet_id]
                else None
            )

            def work(session):
                return counter.cash_out(
                    session,
                    counter=session.get(Cooperative, counter_id),
                    member=session.get(Member, world.member_ids[index]),
                    amount=amount,
                    pin=PIN,
                    pin_policy=PIN_POLICY,
                    actor_user_id=world.teller_user_ids[counter_index],
                )

            debit_id, credit_id = wallet_id, counter_cash_id
    else:
        merchant_account_id = world.merchant_account_ids[index]
        own_counter = world.merchant_cooperative_indexes[index] == counter_index
        amount = resolve(raw_amount, model.balances[merchant_account_id])
        if name == "takings":
            # Merchants earn only through payments, which are tested elsewhere: credit one
            # straight from its own cooperative's counter cash with a payment leg.
            counter_cash_id = world.counter_cash_ids[world.merchant_cooperative_indexes[index]]
            expected = ledger.LedgerError if amount <= 0 else None
            legs = [ledger.Leg(counter_cash_id, merchant_account_id, amount, TransferCode.PAYMENT)]

            merchant_counter_index = world.merchant_cooperative_indexes[index]

            def work(session):
                return ledger.post(
                    session,
                    kind=EventKind.PAYMENT,
                    legs=legs,
                    cooperative_id=world.cooperative_ids[merchant_counter_index],
                    actor_user_id=world.teller_user_ids[merchant_counter_index],
                )

            debit_id, credit_id = counter_cash_id, merchant_account_id
        else:
            if not own_counter:
                expected = Forbidden
            elif amount <= 0:
                expected = ledger.LedgerError
            elif amount > model.balances[merchant_account_id]:
                expected = InsufficientFunds
            else:
                expected = None

            def work(session):
                return counter.payout(
                    session,
                    counter=session.get(Cooperative, counter_id),
                    merchant=session.get(Merchant, world.merchant_ids[index]),
                    amount=amount,
                    actor_user_id=world.teller_user_ids[counter_index],
                )

            debit_id, credit_id = merchant_account_id, counter_cash_id

    if expected is None:
        transaction(session, work)
        model.move(debit_id, credit_id, amount)
        if credit_id in model.incoming:
            model.incoming[credit_id] += amount
        return "done"
    with pytest.raises(expected):
        transaction(session, work)
    return expected.__name__


def assert_invariants(session, model: Model) -> None:
    assert ledger.check(session) == []
    positions = ledger.positions(session)
    assert sum(positions.values()) == 0
    for cooperative_id, expected in model.positions().items():
        assert positions.get(cooperative_id, 0) == expected, cooperative_id
    for account_id, expected in model.balances.items():
        assert ledger.balance(session, account_id) == expected, account_id
        assert expected >= 0 or account_id in model.world.counter_cash_ids
    session.rollback()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=operations)
def test_random_counter_operations_keep_every_ledger_invariant(app, world, steps):
    with app.app_context():
        session = db.session
        model = Model(session, world)
        session.rollback()
        for operation in steps:
            apply(session, world, model, operation)
            assert_invariants(session, model)


def test_every_kind_of_refusal_keeps_every_ledger_invariant(app, world):
    steps = [
        ("cash_in", 0, 1, 150_000),
        ("cash_in", 0, 2, 1_850_001),  # past the basic wallet's Rp 2.000.000
        ("cash_in", 0, 2, 1_850_000),  # exactly full
        ("cash_in", 1, 0, 0),
        ("cash_in", 1, 0, -5_000),
        ("cash_out", 0, 0, ("balance", 1)),
        ("cash_out", 0, 0, ("balance", 0)),
        ("cash_out", 0, 1, 1),
        ("cash_out", 2, 2, -1),
        ("payout", 0, 0, 1),
        ("takings", 0, 2, 40_000),
        ("takings", 1, 0, 0),
        ("payout", 0, 1, 10_000),  # not at the merchant's own cooperative
        ("payout", 0, 0, ("balance", 1)),
        ("payout", 0, 0, ("balance", 0)),
        ("payout", 1, 2, 1),
    ]
    with app.app_context():
        session = db.session
        model = Model(session, world)
        session.rollback()
        outcomes = []
        for operation in steps:
            outcomes.append(apply(session, world, model, operation))
            assert_invariants(session, model)
    assert outcomes == [
        "done",
        "LimitExceeded",
        "done",
        "LedgerError",
        "LedgerError",
        "InsufficientFunds",
        "done",
        "InsufficientFunds",
        "LedgerError",
        "InsufficientFunds",
        "done",
        "LedgerError",
        "Forbidden",
        "InsufficientFunds",
        "done",
        "InsufficientFunds",
    ]
    assert model.balances[world.wallet_ids[0]] == 0
    assert model.balances[world.merchant_account_ids[0]] == 0
