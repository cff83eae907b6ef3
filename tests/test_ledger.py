"""The ledger on SQLite and PostgreSQL: what `post` refuses and writes (overdrafts, net debit
caps), immutable transfers, `check` catching a tampered balance, and one wallet emptied by twenty
tellers at once."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import TEST_SCRYPT_N

from gateway import counter, ledger, registry, shifts
from gateway.db import db, transaction
from gateway.errors import PROBLEM_BASE, InsufficientFunds, LimitExceeded
from gateway.models import Account, AccountKind, Cooperative, Event, SettlementWindow, Transfer
from gateway.models.ledger import EventKind, TransferCode
from gateway.money import AMOUNT_MAX

OPENING_BALANCE = 10_000


@dataclass
class Books:
    """Account ids of two cooperatives, a member of the first and a merchant of the second."""

    actor_user_id: int
    # A teller on an open shift at each counter: counter cash moves only in one.
    consumer_teller_id: int
    market_teller_id: int
    consumer_id: int
    market_id: int
    wallet: int
    merchant: int
    consumer_counter_cash: int
    market_counter_cash: int
    consumer_fees: int
    market_fees: int
    network_fees: int


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session


@pytest.fixture
def books(session) -> Books:
    """A member of KSM with Rp 10.000 (cashed in at KSM's counter), a shop of KPP with nothing."""

    def work(session):
        consumer = registry.create_cooperative(
            session, code="KSM", name="Konsumen", kind="consumer"
        )
        market = registry.create_cooperative(
            session, code="KPP", name="Pasar", kind="market_traders"
        )
        member = registry.register_member(
            session,
            cooperative=consumer,
            phone="+6281200000001",
            name="Siti",
            pin="123456",
            tier="basic",
            scrypt_n=TEST_SCRYPT_N,
        )
        shop = registry.register_merchant(
            session,
            cooperative=market,
            name="Warung",
            kind="shop",
            category="micro",
            owner_phone="+6281300000001",
            owner_name="Darmo",
            owner_pin="654321",
            scrypt_n=TEST_SCRYPT_N,
        )
        tellers = {}
        for cooperative, phone in ((consumer, "+6281400000001"), (market, "+6281400000002")):
            teller = registry.find_or_create_user(
                session, phone=phone, name="Teller", pin="111111", scrypt_n=TEST_SCRYPT_N
            )
            registry.grant_staff_role(
                session, user=teller, role="coop_admin", cooperative=cooperative
            )
            session.flush()
            shifts.open_shift(
                session, cooperative=cooperative, teller_user_id=teller.id, opening_cash_amount=0
            )
            tellers[cooperative.id] = teller.id
        counter.cash_in(
            session,
            counter=consumer,
            member=member,
            amount=OPENING_BALANCE,
            actor_user_id=tellers[consumer.id],
        )

        def system(kind, cooperative):
            return ledger.system_account(session, kind, cooperative).id

        return Books(
            actor_user_id=member.user_id,
            consumer_teller_id=tellers[consumer.id],
            market_teller_id=tellers[market.id],
            consumer_id=consumer.id,
            market_id=market.id,
            wallet=member.wallet_account_id,
            merchant=shop.account_id,
            consumer_counter_cash=system(AccountKind.COUNTER_CASH, consumer.id),
            market_counter_cash=system(AccountKind.COUNTER_CASH, market.id),
            consumer_fees=system(AccountKind.FEES, consumer.id),
            market_fees=system(AccountKind.FEES, market.id),
            network_fees=system(AccountKind.FEES, None),
        )

    return transaction(session, work)


def post(session, books: Books, **arguments) -> ledger.PostedEvent:
    """`ledger.post`, as the teller on shift at the counter whose cash the legs move (if any)."""
    tellers = {
        books.consumer_counter_cash: (books.consumer_id, books.consumer_teller_id),
        books.market_counter_cash: (books.market_id, books.market_teller_id),
    }
    for leg in arguments["legs"]:
        for account_id in (leg.debit_account_id, leg.credit_account_id):
            if account_id in tellers:
                cooperative_id, teller_id = tellers[account_id]
                arguments.setdefault("cooperative_id", cooperative_id)
                arguments.setdefault("actor_user_id", teller_id)
    return ledger.post(session, **arguments)


def count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def payment_legs(books: Books, amount: int, fees: tuple[int, int, int]) -> list[ledger.Leg]:
    issuer, acquirer, network = fees
    return [
        ledger.Leg(books.wallet, books.merchant, amount, TransferCode.PAYMENT),
        ledger.Leg(books.merchant, books.consumer_fees, issuer, TransferCode.FEE_ISSUER),
        ledger.Leg(books.merchant, books.market_fees, acquirer, TransferCode.FEE_ACQUIRER),
        ledger.Leg(books.merchant, books.network_fees, network, TransferCode.FEE_NETWORK),
    ]


def test_post_refuses_to_overdraw_a_wallet_and_writes_nothing(session, books):
    transfers_before, events_before = count(session, Transfer), count(session, Event)
    legs = [
        ledger.Leg(
            books.wallet, books.consumer_counter_cash, OPENING_BALANCE + 1, TransferCode.CASH_OUT
        )
    ]

    with pytest.raises(InsufficientFunds) as refused:
        post(session, books, kind=EventKind.CASH_OUT, legs=legs)

    wallet_public_id = session.scalar(
        sa.select(Account.public_id).where(Account.id == books.wallet)
    )
    assert refused.value.extensions == {
        "account": wallet_public_id,
        "balance": OPENING_BALANCE,
        "kind": AccountKind.WALLET,
    }
    assert count(session, Transfer) == transfers_before
    assert count(session, Event) == events_before
    session.rollback()
    assert ledger.balance(session, books.wallet) == OPENING_BALANCE
    assert ledger.check(session) == []


def test_post_lets_a_wallet_be_emptied_to_exactly_zero(session, books):
    legs = [
        ledger.Leg(
            books.wallet, books.consumer_counter_cash, OPENING_BALANCE, TransferCode.CASH_OUT
        )
    ]
    transaction(session, lambda s: post(s, books, kind=EventKind.CASH_OUT, legs=legs))
    assert ledger.balance(session, books.wallet) == 0
    with pytest.raises(InsufficientFunds):
        post(
            session,
            books,
            kind=EventKind.CASH_OUT,
            legs=[ledger.Leg(books.wallet, books.consumer_counter_cash, 1, TransferCode.CASH_OUT)],
        )
    session.rollback()
    assert ledger.check(session) == []


def test_post_refuses_a_merchant_debit_below_zero(session, books):
    payout = [ledger.Leg(books.merchant, books.market_counter_cash, 1, TransferCode.PAYOUT)]
    with pytest.raises(InsufficientFunds) as refused:
        post(session, books, kind=EventKind.PAYOUT, legs=payout)
    assert refused.value.extensions["balance"] == 0
    assert refused.value.extensions["kind"] == AccountKind.MERCHANT
    session.rollback()

    # The shop takes Rp 5.000 with Rp 50 of fees: it holds Rp 4.950, not a rupiah more.
    transaction(
        session,
        lambda s: post(
            s, books, kind=EventKind.PAYMENT, legs=payment_legs(books, 5_000, (20, 20, 10))
        ),
    )
    assert ledger.balance(session, books.merchant) == 4_950
    too_much = [ledger.Leg(books.merchant, books.market_counter_cash, 4_951, TransferCode.PAYOUT)]
    with pytest.raises(InsufficientFunds) as refused:
        post(session, books, kind=EventKind.PAYOUT, legs=too_much)
    assert refused.value.extensions["balance"] == 4_950
    session.rollback()

    exact = [ledger.Leg(books.merchant, books.market_counter_cash, 4_950, TransferCode.PAYOUT)]
    transaction(session, lambda s: post(s, books, kind=EventKind.PAYOUT, legs=exact))
    assert ledger.balance(session, books.merchant) == 0
    assert ledger.check(session) == []


def test_post_writes_all_legs_of_an_event_atomically_with_one_event_id(session, books):
    transfers_before = count(session, Transfer)
    posted = transaction(
        session,
        lambda s: post(
            s,
            books,
            kind=EventKind.PAYMENT,
            legs=payment_legs(books, 7_000, (25, 35, 10)),
            cooperative_id=books.market_id,
            actor_user_id=books.actor_user_id,
        ),
    )

    rows = session.execute(
        sa.select(Transfer.event_id, Transfer.public_id, Transfer.amount, Transfer.code)
        .where(Transfer.event_id == posted.id)
        .order_by(Transfer.id)
    ).all()
    assert [(amount, code) for _, _, amount, code in rows] == [
        (7_000, "payment"),
        (25, "fee_issuer"),
        (35, "fee_acquirer"),
        (10, "fee_network"),
    ]
    assert [public_id for _, public_id, _, _ in rows] == [t["id"] for t in posted.transfers]
    assert count(session, Transfer) == transfers_before + 4
    event = session.get(Event, posted.id)
    assert (event.public_id, event.kind, event.cooperative_id) == (
        posted.public_id,
        "payment",
        books.market_id,
    )

    assert ledger.balance(session, books.wallet) == OPENING_BALANCE - 7_000
    assert ledger.balance(session, books.merchant) == 7_000 - 70
    assert ledger.balance(session, books.consumer_fees) == 25
    assert ledger.balance(session, books.market_fees) == 35
    assert ledger.balance(session, books.network_fees) == 10
    # The on-us cash-in nets to 0 at KSM. KSM pays 7.000 and earns 25; KPP receives 7.000 less
    # 25 and 10; the network earns 10.
    assert ledger.positions(session) == {
        books.consumer_id: -7_000 + 25,
        books.market_id: 7_000 - 25 - 10,
        None: 10,
    }
    assert ledger.check(session) == []


def test_an_event_whose_legs_together_overdraw_an_account_writes_no_leg(session, books):
    # The merchant is credited 1.000 by the first leg but the second debits it 2.000.
    legs = [
        ledger.Leg(books.wallet, books.merchant, 1_000, TransferCode.PAYMENT),
        ledger.Leg(books.merchant, books.network_fees, 2_000, TransferCode.FEE_NETWORK),
    ]
    transfers_before, events_before = count(session, Transfer), count(session, Event)
    with pytest.raises(InsufficientFunds):
        transaction(session, lambda s: post(s, books, kind=EventKind.PAYMENT, legs=legs))
    assert (count(session, Transfer), count(session, Event)) == (transfers_before, events_before)
    assert ledger.balance(session, books.wallet) == OPENING_BALANCE
    assert ledger.balance(session, books.merchant) == 0


def test_an_event_the_database_refuses_halfway_leaves_no_event_and_no_transfer(session, books):
    # The second leg breaks the code's CHECK constraint only when the rows are inserted, after
    # the event row: the transaction rolls back as one.
    legs = [
        ledger.Leg(books.wallet, books.merchant, 1_000, TransferCode.PAYMENT),
        ledger.Leg(books.merchant, books.network_fees, 10, "not_a_code"),
    ]
    transfers_before, events_before = count(session, Transfer), count(session, Event)
    with pytest.raises(sa.exc.IntegrityError):
        transaction(session, lambda s: post(s, books, kind=EventKind.PAYMENT, legs=legs))
    assert (count(session, Transfer), count(session, Event)) == (transfers_before, events_before)
    assert ledger.balance(session, books.wallet) == OPENING_BALANCE
    assert ledger.check(session) == []


NOT_RUPIAH = [0, -1, -OPENING_BALANCE, 1.0, 0.5, 5_000.0, True, False, Decimal(5_000), "5000"]


def test_post_raises_ledger_error_for_an_amount_that_is_not_positive_int_rupiah(session, books):
    transfers_before = count(session, Transfer)
    for amount in [*NOT_RUPIAH, AMOUNT_MAX + 1]:
        legs = [ledger.Leg(books.consumer_counter_cash, books.wallet, amount, TransferCode.CASH_IN)]
        with pytest.raises(ledger.LedgerError):
            post(session, books, kind=EventKind.CASH_IN, legs=legs)
        # A bad leg spoils the whole event, however good the others are.
        good = ledger.Leg(books.consumer_counter_cash, books.wallet, 100, TransferCode.CASH_IN)
        with pytest.raises(ledger.LedgerError):
            post(session, books, kind=EventKind.CASH_IN, legs=[good, *legs])
    assert count(session, Transfer) == transfers_before
    session.rollback()
    assert ledger.balance(session, books.wallet) == OPENING_BALANCE


def test_post_raises_ledger_error_for_the_same_account_on_both_sides(session, books):
    transfers_before = count(session, Transfer)
    legs = [
        ledger.Leg(books.consumer_counter_cash, books.wallet, 100, TransferCode.CASH_IN),
        ledger.Leg(books.wallet, books.wallet, 100, TransferCode.CASH_IN),
    ]
    with pytest.raises(ledger.LedgerError, match="two different accounts"):
        post(session, books, kind=EventKind.CASH_IN, legs=legs)
    with pytest.raises(ledger.LedgerError, match="at least one transfer"):
        post(session, books, kind=EventKind.CASH_IN, legs=[])
    with pytest.raises(ledger.LedgerError, match="unknown accounts"):
        ledger.post(
            session,
            kind=EventKind.CASH_IN,
            legs=[ledger.Leg(books.consumer_counter_cash, 10**9, 100, TransferCode.CASH_IN)],
        )
    assert count(session, Transfer) == transfers_before
    session.rollback()


def set_cap(session, cooperative_id: int, cap: int | None) -> None:
    session.execute(
        sa.update(Cooperative).where(Cooperative.id == cooperative_id).values(net_debit_cap=cap)
    )
    session.commit()


def cash_out_at_the_market(books: Books, amount: int) -> list[ledger.Leg]:
    """A member of KSM takes cash at KPP's counter: KSM's position falls by the amount."""
    return [ledger.Leg(books.wallet, books.market_counter_cash, amount, TransferCode.CASH_OUT)]


def test_post_refuses_any_event_that_takes_a_cooperative_past_its_net_debit_cap(session, books):
    set_cap(session, books.consumer_id, 3_000)
    transaction(
        session,
        lambda s: post(
            s, books, kind=EventKind.CASH_OUT, legs=cash_out_at_the_market(books, 2_000)
        ),
    )
    transfers_before, events_before = count(session, Transfer), count(session, Event)
    with pytest.raises(LimitExceeded) as refused:
        post(session, books, kind=EventKind.CASH_OUT, legs=cash_out_at_the_market(books, 1_001))
    assert refused.value.extensions == {
        "limit": "net_debit_cap",
        "limit_amount": 3_000,
        "remaining": 1_000,
    }
    session.rollback()
    assert (count(session, Transfer), count(session, Event)) == (transfers_before, events_before)

    # The cap weighs each owner's net change: a payment of 1.000 whose issuer share is 100
    # lowers KSM by 900, and KPP, which receives, is not asked.
    set_cap(session, books.market_id, 1)
    transaction(
        session,
        lambda s: post(
            s, books, kind=EventKind.PAYMENT, legs=payment_legs(books, 1_000, (100, 10, 10))
        ),
    )
    assert ledger.positions(session)[books.consumer_id] == -2_900
    with pytest.raises(LimitExceeded):
        post(session, books, kind=EventKind.CASH_OUT, legs=cash_out_at_the_market(books, 101))
    session.rollback()
    transaction(
        session,
        lambda s: post(s, books, kind=EventKind.CASH_OUT, legs=cash_out_at_the_market(books, 100)),
    )
    assert ledger.positions(session)[books.consumer_id] == -3_000
    # Money within one cooperative moves no position: its own counter pays out past the cap.
    own = [ledger.Leg(books.wallet, books.consumer_counter_cash, 1_000, TransferCode.CASH_OUT)]
    transaction(session, lambda s: post(s, books, kind=EventKind.CASH_OUT, legs=own))
    assert ledger.check(session) == []


def test_settlement_transfers_are_never_refused_by_a_net_debit_cap(session, books):
    # A settlement pays a closed window's positions back to zero, and the window drops out of
    # what is unsettled at once: its transfers add nothing to what a cooperative owes, even when
    # the cooperative receives (its settlement account is debited).
    set_cap(session, books.consumer_id, 1)
    consumer = ledger.system_account_id(session, AccountKind.SETTLEMENT, books.consumer_id)
    network = ledger.system_account_id(session, AccountKind.SETTLEMENT, None)
    legs = [ledger.Leg(consumer, network, 50_000, TransferCode.SETTLEMENT)]
    assert ledger.position_changes(legs, ledger.account_facts(session, [consumer, network])) == {}
    transaction(session, lambda s: post(s, books, kind=EventKind.SETTLEMENT, legs=legs))
    assert ledger.balance(session, consumer) == -50_000


def test_post_reads_no_cap_of_a_cooperative_its_caller_knows_has_none(session, books):
    statements: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        # The pay path knows the issuer's cap from the QR scan: None reads and locks nothing.
        transaction(
            session,
            lambda s: post(
                s,
                books,
                kind=EventKind.CASH_OUT,
                legs=cash_out_at_the_market(books, 100),
                net_debit_caps={books.consumer_id: None},
            ),
        )
        assert not [statement for statement in statements if "cooperatives" in statement]
        # Unknown: one statement reads the caps of the cooperatives the event lowers.
        transaction(
            session,
            lambda s: post(
                s, books, kind=EventKind.CASH_OUT, legs=cash_out_at_the_market(books, 100)
            ),
        )
        assert len([statement for statement in statements if "cooperatives" in statement]) == 1
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


IMMUTABILITY_BREACHES = [
    "UPDATE transfers SET amount = amount + 1",
    "UPDATE transfers SET code = 'refund'",
    "DELETE FROM transfers",
]


def test_transfers_are_immutable_raw_update_or_delete_raises(session, books):
    transaction(
        session,
        lambda s: post(
            s, books, kind=EventKind.PAYMENT, legs=payment_legs(books, 3_000, (9, 9, 3))
        ),
    )
    before = session.execute(
        sa.select(Transfer.id, Transfer.amount, Transfer.code).order_by(Transfer.id)
    ).all()
    assert len(before) == 5

    for statement in IMMUTABILITY_BREACHES:
        with pytest.raises(sa.exc.DBAPIError, match="transfers are immutable"):
            session.execute(sa.text(statement))
        session.rollback()

    after = session.execute(
        sa.select(Transfer.id, Transfer.amount, Transfer.code).order_by(Transfer.id)
    ).all()
    assert after == before
    assert ledger.check(session) == []


def test_check_returns_nothing_on_a_clean_ledger(session, books):
    transaction(
        session,
        lambda s: post(
            s, books, kind=EventKind.PAYMENT, legs=payment_legs(books, 3_000, (9, 9, 3))
        ),
    )
    assert ledger.check(session) == []
    assert sum(ledger.positions(session).values()) == 0
    assert sum(ledger.derived_balances(session).values()) == 0


def test_check_names_a_wallet_whose_stored_balance_was_tampered_with(session, books):
    # The CHECK constraint keeps a balance at or above zero, so the tampering is upwards.
    session.execute(
        sa.text("UPDATE accounts SET balance = :balance WHERE id = :id"),
        {"balance": OPENING_BALANCE + 500, "id": books.wallet},
    )
    session.commit()
    wallet_public_id = session.scalar(
        sa.select(Account.public_id).where(Account.id == books.wallet)
    )

    problems = ledger.check(session)

    assert problems == [
        f"account {wallet_public_id} (wallet) stores balance {OPENING_BALANCE + 500}"
        f" but its transfers add up to {OPENING_BALANCE}"
    ]


def test_a_merchant_account_cannot_store_a_running_balance(session, books):
    # Only wallets keep a running balance; a merchant's stays 0 (its transfers are the truth).
    with pytest.raises(sa.exc.IntegrityError):
        session.execute(
            sa.text("UPDATE accounts SET balance = 5 WHERE id = :id"), {"id": books.merchant}
        )
    session.rollback()
    assert ledger.check(session) == []


# --- Concurrency -----------------------------------------------------------------------------

THREADS = 20


def slug(body: dict) -> str:
    return body["type"].removeprefix(PROBLEM_BASE)


def test_twenty_tellers_cashing_out_of_one_wallet_at_once_never_overdraw_it(app, city):
    consumer = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    tellers = [city.make_admin(consumer), city.make_admin(market)]
    member = city.make_member(consumer)
    initial, amount = 100_000, 7_000
    assert city.cash_in(tellers[0], member, initial).status_code == 201
    counter_cash_before = {
        coop: city.balance_of_system(coop, "counter_cash") for coop in (consumer, market)
    }
    transfers_before = city.count(Transfer)
    # Log in before the race, so that only the cash-outs race.
    headers = [city.headers(tellers[index % 2], uuid.uuid4().hex) for index in range(THREADS)]

    barrier = threading.Barrier(THREADS)
    results: list = [None] * THREADS

    def cash_out(index):
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            response = client.post(
                "/api/v1/counter/cash-out",
                json={"member_id": member.id, "amount": amount, "pin": member.pin},
                headers=headers[index],
            )
            results[index] = (response.status_code, response.get_json())
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            results[index] = error

    threads = [threading.Thread(target=cash_out, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a cash-out thread hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result

    successes = [body for status, body in results if status == 201]
    failures = [(status, body) for status, body in results if status != 201]
    for status, body in failures:
        if status == 422:
            assert slug(body) == "insufficient-funds", body
        else:
            # Only a retryable refusal may stand in for a 422; never a 500.
            assert status in (409, 503), (status, body)
    assert len(successes) <= initial // amount
    if all(status == 422 for status, _ in failures):
        assert len(successes) == initial // amount

    final = city.balance_of_member(member)
    assert final >= 0
    assert final == initial - len(successes) * amount
    paid_out = sum(
        city.balance_of_system(coop, "counter_cash") - counter_cash_before[coop]
        for coop in (consumer, market)
    )
    assert paid_out == len(successes) * amount == initial - final
    assert city.count(Transfer) == transfers_before + len(successes)
    # Every receipt showed a balance the wallet really had, each one different.
    receipts = sorted(body["balance"] for body in successes)
    assert receipts == [final + index * amount for index in range(len(successes))]
    assert city.ledger_problems() == []
    assert sum(city.positions().values()) == 0


def settled_window(city) -> str:
    """Close and settle a window in which KSM owes KPP; return its public id."""
    consumer = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    teller = city.make_admin(market)
    network = city.make_staff("network_admin")
    siti = city.make_member(consumer)
    assert city.cash_in(teller, siti, 40_000).status_code == 201  # KPP holds cash for KSM
    closed = city.post(network, "/api/v1/settlement/windows/current/close", None, key=None)
    window_id = closed.get_json()["id"]
    settled = city.post(network, f"/api/v1/settlement/windows/{window_id}/settle", None, key=None)
    assert settled.status_code == 200, settled.get_json()
    assert city.ledger_problems() == []
    return window_id


def test_check_names_a_window_settled_twice(app, city):
    window_public_id = settled_window(city)
    with app.app_context():
        window = db.session.scalar(
            sa.select(SettlementWindow).where(SettlementWindow.public_id == window_public_id)
        )
        first = db.session.get(Event, window.settlement_event_id)
        legs = [
            ledger.Leg(t.debit_account_id, t.credit_account_id, t.amount, t.code)
            for t in db.session.scalars(sa.select(Transfer).where(Transfer.event_id == first.id))
        ]

        # What a racing settle used to do: write the window's settlement transfers again.
        def settle_again(session):
            posted = ledger.post(session, kind=EventKind.SETTLEMENT, legs=legs)
            session.execute(
                sa.update(Event).where(Event.id == posted.id).values(settles_window_id=window.id)
            )

        transaction(db.session, settle_again)

    assert city.ledger_problems() == [f"window {window_public_id} was settled 2 times, not once"]


def test_check_names_a_settlement_event_without_a_settled_window(app, city):
    window_public_id = settled_window(city)
    with app.app_context():
        event_public_id = db.session.scalar(
            sa.select(Event.public_id).where(Event.kind == EventKind.SETTLEMENT)
        )
        db.session.execute(
            sa.text("UPDATE settlement_windows SET status = 'closed' WHERE public_id = :id"),
            {"id": window_public_id},
        )
        db.session.execute(sa.text("UPDATE events SET settles_window_id = NULL"))
        db.session.commit()

    assert city.ledger_problems() == [f"settlement event {event_public_id} settles no window"]

    with app.app_context():
        db.session.execute(
            sa.text(
                "UPDATE events SET settles_window_id ="
                " (SELECT id FROM settlement_windows WHERE public_id = :id)"
            ),
            {"id": window_public_id},
        )
        db.session.commit()

    assert city.ledger_problems() == [
        f"settlement event {event_public_id} settles window {window_public_id},"
        " which is closed, not settled"
    ]
