"""A model test: random sequences of every use case against a small in-memory model of the ledger.

A hypothesis `RuleBasedStateMachine` pays (static stickers and dynamic QRs), refunds, cashes in
and out, pays merchants out, replays and misuses Idempotency-Keys, closes and settles windows and
changes limit policies, each money-moving step either through the HTTP API or straight through
`gateway.idempotency.execute` around the use case (the two share keys: a key first used through
one is replayed through the other). The model predicts every outcome (the status, the problem
type, which limit) from what it knows: wallet and merchant balances, what is left to refund of
each payment, the fee shares given and given back, each member's spending, incoming money and
wrong PINs, the limit policies in force, and how many transfers each settlement window holds.

After every step every invariant of DESIGN.md ("The ledger") is checked: `ledger.check` finds
nothing; positions sum to zero; every balance the model knows equals the ledger's and no wallet or
merchant is below zero; each cooperative's position equals the model's; the closed windows'
transfer counts plus the open window's add up to every transfer in the ledger; every payment's
refunded amount, status and fee shares given back equal the model's.

One database serves every example of a run (each example registers cooperatives, members and
merchants of its own, so limits and spending never leak between examples; the network's accounts
and the windows are shared and the model reads where they stand when it starts).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import TEST_SCRYPT_N
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, func, select

from gateway import (
    counter,
    idempotency,
    ledger,
    limits,
    payments,
    qr,
    registry,
    settlement,
    shifts,
)
from gateway.api.qr import qr_settings
from gateway.api.support import keyring, pin_policy
from gateway.db import db, transaction
from gateway.errors import GatewayError
from gateway.models import (
    Account,
    AccountKind,
    Cooperative,
    LimitPolicy,
    Member,
    Merchant,
    Payment,
    Refund,
    SettlementWindow,
    Transfer,
    User,
    WindowStatus,
)

JAKARTA = ZoneInfo("Asia/Jakarta")
STARTING_BALANCE = 1_000_000
PIN, WRONG_PIN = "123456", "999999"
PIN_ATTEMPTS_MAX = 5  # gateway.config.PIN_ATTEMPTS_MAX

COOPERATIVES = 3
# (cooperative index, tier) of each member.
MEMBERS = [(0, "basic"), (1, "basic"), (2, "verified"), (0, "verified")]
# (cooperative index, kind, category) of each merchant.
MERCHANTS = [
    (0, "shop", "micro"),
    (1, "shop", "small"),
    (2, "taxi", "regular"),
    (1, "angkot", "micro"),
]
# The typo guard per merchant kind (DESIGN: a per-merchant maximum): angkot fares, taxi fares.
MERCHANT_MAX = {"angkot": 100_000, "taxi": 1_000_000}

# The default fee rule, as the README states it: micro merchants pay nothing up to Rp 500.000 and
# 0,3% above; small and regular 0,7%; split issuer 35%, acquirer 50%, network 15%.
FEE_BPS = {"micro": 30, "small": 70, "regular": 70}
FREE_UP_TO = {"micro": 500_000, "small": 0, "regular": 0}
FEE_SPLIT = (3_500, 5_000, 1_500)

_examples = itertools.count(1)
# What the runs did, by (rule, outcome): the test asserts every use case happened and succeeded.
OUTCOMES: Counter = Counter()


# --- The model's own arithmetic (independent of gateway.money and gateway.fees) ---------------


def expected_fee(amount: int, category: str) -> tuple[int, int, int]:
    """(issuer, acquirer, network): bps of the amount rounded half up, split by largest remainder
    (earlier parts first on a tie)."""
    if amount <= FREE_UP_TO[category]:
        return (0, 0, 0)
    total = min((2 * amount * FEE_BPS[category] + 10_000) // 20_000, amount)
    exact = [total * weight for weight in FEE_SPLIT]
    parts = [value // 10_000 for value in exact]
    by_remainder = sorted(range(3), key=lambda i: (-(exact[i] % 10_000), i))
    for index in by_remainder[: total - sum(parts)]:
        parts[index] += 1
    return tuple(parts)


def start_of_jakarta_day(moment: datetime) -> datetime:
    return moment.astimezone(JAKARTA).replace(hour=0, minute=0, second=0, microsecond=0)


def json_roundtrip(value):
    return json.loads(json.dumps(value))


# --- What the model keeps ----------------------------------------------------------------------


@dataclass
class Person:
    user_id: int
    user_public_id: str
    phone: str


@dataclass
class ModelMember:
    index: int
    id: int
    public_id: str
    cooperative: int  # index
    tier: str
    wallet: int  # account id
    person: Person
    failed_pins: int = 0
    locked: bool = False
    # (when, amount) of each payment made and of each credit to the wallet
    spent: list = field(default_factory=list)
    incoming: list = field(default_factory=list)


@dataclass
class ModelMerchant:
    index: int
    id: int
    public_id: str
    cooperative: int
    kind: str
    category: str
    account: int
    sticker: str
    person: Person


@dataclass
class ModelQr:
    public_id: str
    token: str
    amount: int
    merchant: int
    paid: bool = False


@dataclass
class ModelPayment:
    public_id: str
    member: int
    merchant: int
    amount: int
    fees: tuple[int, int, int]
    refunded: int = 0
    returned: list = field(default_factory=lambda: [0, 0, 0])

    @property
    def status(self) -> str:
        if self.refunded == 0:
            return "completed"
        return "refunded" if self.refunded == self.amount else "partially_refunded"


@dataclass
class StoredKey:
    """An Idempotency-Key whose answer the gateway stored: replaying it must give that answer."""

    scope: Person
    key: str
    path: str
    body: dict
    status: int
    answer: dict


@dataclass
class ModelWindow:
    public_id: str
    transfer_count: int
    positions: dict  # our cooperative index -> position over the window
    settled: bool = False


@dataclass
class Expect:
    status: int
    slug: str
    limit: str | None = None
    stored: bool = True  # False: the gateway releases the key (PIN problems)


@dataclass
class Answer:
    status: int
    body: dict
    replayed: bool


# --- Strategies --------------------------------------------------------------------------------

member_indexes = st.integers(0, len(MEMBERS) - 1)
merchant_indexes = st.integers(0, len(MERCHANTS) - 1)
cooperative_indexes = st.integers(0, COOPERATIVES - 1)
# An amount of rupiah, or "all" / "all+1": exactly what there is (or room for), and a rupiah more.
amounts = st.one_of(
    st.integers(1, 300_000),
    st.sampled_from(
        [
            1,
            49_999,
            50_000,
            50_001,
            100_000,
            100_001,
            499_999,
            500_000,
            500_001,
            1_000_001,
            2_500_000,
        ]
    ),
    st.sampled_from(["all", "all+1"]),
)
qr_amounts = st.one_of(
    st.integers(1, 300_000), st.sampled_from([1, 50_000, 100_001, 500_000, 500_001, 1_000_001])
)
pins = st.sampled_from(["right"] * 6 + ["none"] * 2 + ["wrong"])
transports = st.booleans()  # True: through the HTTP API; False: idempotency.execute directly
policies = st.builds(
    limits.Limits,
    payment_max=st.sampled_from([100_000, 1_000_000, 10_000_000]),
    balance_max=st.sampled_from([500_000, 2_000_000, 20_000_000]),
    incoming_monthly_max=st.sampled_from([1_000_000, 20_000_000, 40_000_000]),
    daily_max=st.sampled_from([200_000, 2_000_000, 20_000_000]),
    monthly_max=st.sampled_from([500_000, 20_000_000, 40_000_000]),
    payments_per_minute=st.sampled_from([2, 10, 10_000]),
    no_pin_max=st.sampled_from([0, 50_000, 1_000_000]),
)


class LedgerMachine(RuleBasedStateMachine):
    payments = Bundle("payments")
    qrs = Bundle("qrs")
    windows = Bundle("windows")

    def __init__(self, app):
        super().__init__()
        self.app = app
        self.client = app.test_client()
        self.tokens: dict[str, str] = {}
        self.started = time.monotonic()
        example = next(_examples)
        tag = f"X{example}{uuid.uuid4().hex[:4].upper()}"
        self.balances: dict[int, int] = {}  # account id -> balance
        self.owner: dict[int, int | None] = {}  # account id -> cooperative index (None: network)
        self.window_positions = dict.fromkeys(range(COOPERATIVES), 0)
        self.policies: dict[tuple[int | None, str], limits.Limits] = {}
        self.closed: list[ModelWindow] = []
        self.model_payments: list[ModelPayment] = []
        self.stored_keys: list[StoredKey] = []
        phones = iter(range(100))

        def phone() -> str:
            return f"+6289{example:06d}{next(phones):02d}"

        with app.app_context():

            def person(session, role: str | None, cooperative=None) -> Person:
                number = phone()
                user = registry.find_or_create_user(
                    session,
                    phone=number,
                    name=f"{role or 'x'} {number[-4:]}",
                    pin=PIN,
                    scrypt_n=TEST_SCRYPT_N,
                )
                if role is not None:
                    registry.grant_staff_role(
                        session, user=user, role=role, cooperative=cooperative
                    )
                return Person(user.id, user.public_id, number)

            def build(session):
                cooperatives = [
                    registry.create_cooperative(
                        session, code=f"{tag}{i}", name=f"Koperasi {tag}{i}", kind="consumer"
                    )
                    for i in range(COOPERATIVES)
                ]
                self.cooperative_ids = [c.id for c in cooperatives]
                self.cooperative_public_ids = [c.public_id for c in cooperatives]
                self.tellers = [person(session, "coop_admin", c) for c in cooperatives]
                session.flush()
                for teller, cooperative in zip(self.tellers, cooperatives, strict=True):
                    shifts.open_shift(
                        session,
                        cooperative=cooperative,
                        teller_user_id=teller.user_id,
                        opening_cash_amount=0,
                    )
                self.system = {}
                for index, cooperative in enumerate(cooperatives):
                    for kind in (
                        AccountKind.FEES,
                        AccountKind.COUNTER_CASH,
                        AccountKind.SETTLEMENT,
                    ):
                        account = ledger.system_account(session, kind, cooperative.id)
                        self.system[(kind, index)] = account.id
                        self.owner[account.id] = index
                        self.balances[account.id] = 0
                self.members = []
                for index, (cooperative_index, tier) in enumerate(MEMBERS):
                    number = phone()
                    member = registry.register_member(
                        session,
                        cooperative=cooperatives[cooperative_index],
                        phone=number,
                        name=f"Anggota {index}",
                        pin=PIN,
                        tier=tier,
                        scrypt_n=TEST_SCRYPT_N,
                    )
                    self.members.append(
                        ModelMember(
                            index,
                            member.id,
                            member.public_id,
                            cooperative_index,
                            tier,
                            member.wallet_account_id,
                            Person(member.user.id, member.user.public_id, number),
                        )
                    )
                    self.owner[member.wallet_account_id] = cooperative_index
                    self.balances[member.wallet_account_id] = 0
                self.merchants = []
                ring, qr_config = keyring(), qr_settings()
                for index, (cooperative_index, kind, category) in enumerate(MERCHANTS):
                    number = phone()
                    merchant = registry.register_merchant(
                        session,
                        cooperative=cooperatives[cooperative_index],
                        name=f"Merchant {index}",
                        kind=kind,
                        category=category,
                        owner_phone=number,
                        owner_name="Pemilik",
                        owner_pin=PIN,
                        scrypt_n=TEST_SCRYPT_N,
                    )
                    sticker = qr.static_for(session, ring, qr_config, merchant)
                    self.merchants.append(
                        ModelMerchant(
                            index,
                            merchant.id,
                            merchant.public_id,
                            cooperative_index,
                            kind,
                            category,
                            merchant.account_id,
                            sticker.token,
                            Person(merchant.owner.id, merchant.owner.public_id, number),
                        )
                    )
                    self.owner[merchant.account_id] = cooperative_index
                    self.balances[merchant.account_id] = 0
                # The network's accounts and the open window are shared with earlier examples.
                network_fees = ledger.system_account(session, AccountKind.FEES, None)
                self.system[(AccountKind.FEES, None)] = network_fees.id
                self.owner[network_fees.id] = None
                self.balances[network_fees.id] = ledger.balance(session, network_fees.id)
                self.network_settlement = self._network_settlement_balance(session)
                self.open_count = self._open_window_count(session)
                for row in session.scalars(
                    select(LimitPolicy).where(LimitPolicy.cooperative_id.is_(None))
                ):
                    self.policies[(None, row.tier)] = limits.Limits.model_validate(row.limits)

            transaction(db.session, build)
        for m in self.members:  # before any wrong PIN can lock one out
            self.token(m.person)

    @initialize(via_http=transports)
    def open_with_money(self, via_http):
        """Every member starts with Rp 1.000.000 cashed in at their own cooperative's counter."""
        for m in self.members:
            self.cash_in(m.index, m.cooperative, STARTING_BALANCE, via_http)

    def teardown(self):
        # A city-wide policy would outlive this example: later examples start from the defaults.
        with self.app.app_context():
            transaction(
                db.session,
                lambda s: s.execute(
                    delete(LimitPolicy).where(LimitPolicy.cooperative_id.is_(None))
                ),
            )

    # --- Helpers -------------------------------------------------------------------------------

    @staticmethod
    def _network_settlement_account(session) -> int | None:
        return session.scalar(
            select(Account.id)
            .where(Account.kind == AccountKind.SETTLEMENT, Account.cooperative_id.is_(None))
            .order_by(Account.id)
            .limit(1)
        )

    def _network_settlement_balance(self, session) -> int:
        account_id = self._network_settlement_account(session)
        return 0 if account_id is None else ledger.balance(session, account_id)

    @staticmethod
    def _open_window_count(session) -> int:
        open_id = select(SettlementWindow.id).where(SettlementWindow.status == WindowStatus.OPEN)
        return session.scalar(
            select(func.count())
            .select_from(Transfer)
            .where(Transfer.window_id == open_id.scalar_subquery())
        )

    def move(self, debit: int, credit: int, amount: int, *, settlement_leg: bool = False) -> None:
        """The model's ledger: one transfer."""
        assert amount > 0 and debit != credit
        self.balances[debit] -= amount
        self.balances[credit] += amount
        self.open_count += 1
        if not settlement_leg:
            for account, sign in ((debit, -1), (credit, 1)):
                owner = self.owner[account]
                if owner is not None:
                    self.window_positions[owner] += sign * amount

    def limits_of(self, member: ModelMember) -> limits.Limits:
        return (
            self.policies.get((member.cooperative, member.tier))
            or self.policies.get((None, member.tier))
            or limits.DEFAULT_LIMITS[member.tier]
        )

    def token(self, person: Person) -> str:
        if person.phone not in self.tokens:
            response = self.client.post(
                "/api/v1/auth/login", json={"phone": person.phone, "pin": PIN}
            )
            assert response.status_code == 200, response.get_json()
            self.tokens[person.phone] = response.get_json()["access_token"]
        return self.tokens[person.phone]

    def call(
        self, actor: Person, path: str, body: dict, work, *, key: str, via_http: bool
    ) -> Answer:
        """Run a money-moving request under `key`, as POST `path` with `body`.

        Through HTTP, or straight through `idempotency.execute` around `work(session)`, which must
        do what the route does (the fingerprint is the same, so keys are shared between the two).
        """
        if via_http:
            response = self.client.post(
                path,
                json=body,
                headers={"Authorization": f"Bearer {self.token(actor)}", "Idempotency-Key": key},
            )
            answer = response.get_json()
            if response.status_code >= 400:
                assert response.mimetype == "application/problem+json", response.mimetype
            return Answer(
                response.status_code, answer, response.headers.get("Idempotent-Replayed") == "true"
            )
        with self.app.app_context():
            config = self.app.config
            try:
                outcome = idempotency.execute(
                    db.session,
                    scope=actor.user_public_id,
                    key=key,
                    request_hash=idempotency.fingerprint("POST", path, body),
                    policy=idempotency.Policy(
                        retention_seconds=config["IDEMPOTENCY_RETENTION_SECONDS"]
                    ),
                    work=lambda session: (201, *work(session)),
                    render_error=lambda error: error.problem("id"),
                )
            except GatewayError as error:
                db.session.rollback()
                return Answer(error.status, json_roundtrip(error.problem("id")), False)
            return Answer(outcome.status, json_roundtrip(outcome.body), outcome.replayed)

    def settle_answer(self, expect: Expect | None, answer: Answer, actor, path, body, key):
        """Compare an answer with the model's prediction; keep the key if its answer was stored."""
        slug = answer.body.get("type", "").rsplit("/", 1)[-1]
        self.last, self.last_limit = (answer.status, slug), answer.body.get("limit")
        OUTCOMES[(path.rsplit("/", 1)[-1], answer.status, slug)] += 1
        if expect is None:
            assert answer.status == 201, answer.body
        else:
            assert answer.status == expect.status, (expect, answer.body)
            assert answer.body["type"].endswith("/" + expect.slug), (expect, answer.body)
            if expect.limit is not None:
                assert answer.body["limit"] == expect.limit, (expect, answer.body)
        assert not answer.replayed
        if expect is None or expect.stored:
            self.stored_keys.append(StoredKey(actor, key, path, body, answer.status, answer.body))

    def pin_outcome(self, member: ModelMember, choice: str) -> Expect | None:
        """What checking the PIN gives (a wrong PIN is counted at once, in a transaction of its
        own); None when the PIN is right (the count is reset only if the operation commits)."""
        if member.locked:
            return Expect(423, "pin-locked", stored=False)
        if choice == "right":
            return None
        member.failed_pins += 1
        if member.failed_pins >= PIN_ATTEMPTS_MAX:
            member.locked = True
            return Expect(423, "pin-locked", stored=False)
        return Expect(403, "wrong-pin", stored=False)

    def resolve(self, amount, available: int) -> int:
        if amount == "half":
            return max(available // 2, 1)
        if amount == "all":
            return max(available, 1)
        if amount == "all+1":
            return max(available, 0) + 1
        return amount

    # --- Counter: cash in, cash out, payouts ---------------------------------------------------

    @rule(member=member_indexes, at=cooperative_indexes, amount=amounts, via_http=transports)
    def cash_in(self, member, at, amount, via_http):
        m = self.members[member]
        policy = self.limits_of(m)
        amount = self.resolve(amount, policy.balance_max - self.balances[m.wallet])
        now = datetime.now(UTC)
        month = start_of_jakarta_day(now).replace(day=1)
        incoming = sum(value for moment, value in m.incoming if moment >= month)
        if self.balances[m.wallet] + amount > policy.balance_max:
            expect = Expect(422, "limit-exceeded", "balance_max")
        elif incoming + amount > policy.incoming_monthly_max:
            expect = Expect(422, "limit-exceeded", "incoming_monthly_max")
        else:
            expect = None
        counter_id, member_public_id = self.cooperative_ids[at], m.public_id

        def work(session):
            return counter.cash_in(
                session,
                counter=session.get(Cooperative, counter_id),
                member=registry.get_member(session, member_public_id),
                amount=amount,
                actor_user_id=self.tellers[at].user_id,
            )

        path, body, key = (
            "/api/v1/counter/cash-in",
            {"member_id": m.public_id, "amount": amount},
            uuid.uuid4().hex,
        )
        answer = self.call(self.tellers[at], path, body, work, key=key, via_http=via_http)
        self.settle_answer(expect, answer, self.tellers[at], path, body, key)
        if expect is None:
            self.move(self.system[(AccountKind.COUNTER_CASH, at)], m.wallet, amount)
            m.incoming.append((now, amount))
            assert answer.body["balance"] == self.balances[m.wallet]
            assert [t["amount"] for t in answer.body["transfers"]] == [amount]

    @rule(
        member=member_indexes,
        at=cooperative_indexes,
        amount=amounts,
        pin=st.sampled_from(["right"] * 8 + ["wrong"]),
        via_http=transports,
    )
    def cash_out(self, member, at, amount, pin, via_http):
        m = self.members[member]
        amount = self.resolve(amount, self.balances[m.wallet])
        expect = self.pin_outcome(m, pin)
        if expect is None and amount > self.balances[m.wallet]:
            expect = Expect(422, "insufficient-funds")
        counter_id, member_public_id = self.cooperative_ids[at], m.public_id
        typed = PIN if pin == "right" else WRONG_PIN

        def work(session):
            return counter.cash_out(
                session,
                counter=session.get(Cooperative, counter_id),
                member=registry.get_member(session, member_public_id),
                amount=amount,
                pin=typed,
                pin_policy=pin_policy(),
                actor_user_id=self.tellers[at].user_id,
            )

        path, key = "/api/v1/counter/cash-out", uuid.uuid4().hex
        body = {"member_id": m.public_id, "amount": amount, "pin": typed}
        answer = self.call(self.tellers[at], path, body, work, key=key, via_http=via_http)
        self.settle_answer(expect, answer, self.tellers[at], path, body, key)
        if expect is None:
            m.failed_pins = 0
            self.move(m.wallet, self.system[(AccountKind.COUNTER_CASH, at)], amount)
            assert answer.body["balance"] == self.balances[m.wallet]

    @rule(
        merchant=merchant_indexes,
        at=st.sampled_from([None, None, None, *range(COOPERATIVES)]),
        amount=st.one_of(st.sampled_from(["half", "all", "all+1"]), amounts),
        via_http=transports,
    )
    def payout(self, merchant, at, amount, via_http):
        """A merchant's takings paid out, mostly at its own cooperative's counter (None)."""
        shop = self.merchants[merchant]
        at = shop.cooperative if at is None else at
        amount = self.resolve(amount, self.balances[shop.account])
        if shop.cooperative != at:
            expect = Expect(403, "forbidden")
        elif amount > self.balances[shop.account]:
            expect = Expect(422, "insufficient-funds")
        else:
            expect = None
        counter_id, merchant_id = self.cooperative_ids[at], shop.id

        def work(session):
            return counter.payout(
                session,
                counter=session.get(Cooperative, counter_id),
                merchant=session.get(Merchant, merchant_id),
                amount=amount,
                actor_user_id=self.tellers[at].user_id,
            )

        path, key = "/api/v1/counter/payouts", uuid.uuid4().hex
        body = {"merchant_id": shop.public_id, "amount": amount}
        answer = self.call(self.tellers[at], path, body, work, key=key, via_http=via_http)
        self.settle_answer(expect, answer, self.tellers[at], path, body, key)
        if expect is None:
            self.move(shop.account, self.system[(AccountKind.COUNTER_CASH, at)], amount)
            assert answer.body["balance"] == self.balances[shop.account]

    # --- Payments ------------------------------------------------------------------------------

    def payment_outcome(
        self, m: ModelMember, shop: ModelMerchant, amount: int, pin: str
    ) -> Expect | None:
        """Everything `pay` checks once the QR and the amount are settled, in its order."""
        if m.locked:
            # While locked no money leaves the wallet, with or without a PIN.
            return Expect(423, "pin-locked", stored=False)
        policy = self.limits_of(m)
        if amount > policy.no_pin_max or pin != "none":
            if pin == "none":
                return Expect(422, "pin-required", stored=False)
            refused = self.pin_outcome(m, pin)
            if refused is not None:
                return refused
        if amount > MERCHANT_MAX.get(shop.kind, amount):
            return Expect(422, "limit-exceeded", "merchant_payment_max")
        if amount > policy.payment_max:
            return Expect(422, "limit-exceeded", "payment_max")
        now, elapsed = datetime.now(UTC), time.monotonic() - self.started
        # Every payment of this example was made less than a minute ago (the example is short).
        assert elapsed < 50, "an example ran for longer than the payments-per-minute window"
        if len(m.spent) >= policy.payments_per_minute:
            return Expect(422, "limit-exceeded", "payments_per_minute")
        day = start_of_jakarta_day(now)
        today = sum(value for moment, value in m.spent if moment >= day)
        month = sum(value for moment, value in m.spent if moment >= day.replace(day=1))
        if today + amount > policy.daily_max:
            return Expect(422, "limit-exceeded", "daily_max")
        if month + amount > policy.monthly_max:
            return Expect(422, "limit-exceeded", "monthly_max")
        if amount > self.balances[m.wallet]:
            return Expect(422, "insufficient-funds")
        return None

    def pay(
        self,
        m: ModelMember,
        shop: ModelMerchant,
        body: dict,
        amount: int,
        pin: str,
        via_http: bool,
        expect: Expect | None,
        code: ModelQr | None,
    ):
        if pin != "none":
            body["pin"] = PIN if pin == "right" else WRONG_PIN
        member_id, request = m.id, dict(body)

        def work(session):
            return payments.pay(
                session,
                ring=keyring(),
                settings=qr_settings(),
                payer=session.get(Member, member_id),
                token=request["token"],
                amount=request.get("amount"),
                pin=request.get("pin"),
                pin_policy=pin_policy(),
            )

        path, key = "/api/v1/payments", uuid.uuid4().hex
        answer = self.call(m.person, path, body, work, key=key, via_http=via_http)
        self.settle_answer(expect, answer, m.person, path, body, key)
        OUTCOMES[("static" if code is None else "dynamic", answer.status)] += 1
        if expect is not None:
            return multiple()
        fees = expected_fee(amount, shop.category)
        receipt = answer.body
        assert receipt["amount"] == amount and receipt["status"] == "completed"
        assert receipt["fee_amount"] == sum(fees)
        assert (
            receipt["fees"]["issuer"],
            receipt["fees"]["acquirer"],
            receipt["fees"]["network"],
        ) == fees
        assert receipt["payer_cooperative"] == self.cooperative_public_ids[m.cooperative]
        assert receipt["merchant_cooperative"] == self.cooperative_public_ids[shop.cooperative]
        if pin != "none":
            m.failed_pins = 0  # the right PIN resets the count, with the payment
        m.spent.append((datetime.now(UTC), amount))
        self.move(m.wallet, shop.account, amount)
        for share, owner in zip(fees, (m.cooperative, shop.cooperative, None), strict=True):
            if share:
                self.move(shop.account, self.system[(AccountKind.FEES, owner)], share)
        assert receipt["balance"] == self.balances[m.wallet]
        if code is not None:
            code.paid = True
        payment = ModelPayment(receipt["id"], m.index, shop.index, amount, fees)
        self.model_payments.append(payment)
        return multiple(payment)

    @rule(
        target=payments,
        member=member_indexes,
        merchant=merchant_indexes,
        amount=amounts,
        pin=pins,
        via_http=transports,
    )
    def pay_static(self, member, merchant, amount, pin, via_http):
        m, shop = self.members[member], self.merchants[merchant]
        amount = self.resolve(amount, self.balances[m.wallet])
        expect = self.payment_outcome(m, shop, amount, pin)
        body = {"token": shop.sticker, "amount": amount}
        return self.pay(m, shop, body, amount, pin, via_http, expect, None)

    @rule(target=qrs, merchant=merchant_indexes, amount=qr_amounts)
    def issue_qr(self, merchant, amount):
        shop = self.merchants[merchant]
        with self.app.app_context():

            def work(session):
                code = qr.issue_dynamic(
                    session,
                    keyring(),
                    qr_settings(),
                    session.get(Merchant, shop.id),
                    amount,
                    f"INV-{amount}",
                    None,
                )
                return code.public_id, code.token

            public_id, token = transaction(db.session, work)
        return ModelQr(public_id, token, amount, merchant)

    @rule(
        target=payments,
        merchant=merchant_indexes,
        amount=qr_amounts,
        member=member_indexes,
        pin=pins,
        twice=st.booleans(),
        via_http=transports,
    )
    def sell(self, merchant, amount, member, pin, twice, via_http):
        """A shop's usual sale: a dynamic QR for the amount, scanned and paid at once (and, if
        `twice`, scanned and paid again with a new key: a double tap)."""
        code = self.issue_qr(merchant, amount)
        made = self.pay_dynamic(code, member, pin, "omit", via_http)
        if twice:
            again = self.pay_dynamic(code, member, pin, "omit", via_http)
            assert not again.values or not made.values
            return multiple(*made.values, *again.values)
        return made

    @rule(
        target=payments,
        code=qrs,
        member=member_indexes,
        pin=pins,
        amount=st.sampled_from(["omit", "same", "other"]),
        via_http=transports,
    )
    def pay_dynamic(self, code, member, pin, amount, via_http):
        m, shop = self.members[member], self.merchants[code.merchant]
        body = {"token": code.token}
        if amount == "same":
            body["amount"] = code.amount
        elif amount == "other":
            body["amount"] = code.amount + 1
        if code.paid:
            expect = Expect(409, "qr-already-paid")
        elif amount == "other":
            expect = Expect(422, "amount-mismatch")
        else:
            expect = self.payment_outcome(m, shop, code.amount, pin)
        return self.pay(m, shop, body, code.amount, pin, via_http, expect, code)

    @rule(
        payment=payments,
        amount=st.one_of(st.none(), st.integers(1, 200_000), st.sampled_from(["all", "all+1"])),
        via_http=transports,
    )
    def refund(self, payment, amount, via_http):
        shop, m = self.merchants[payment.merchant], self.members[payment.member]
        left = payment.amount - payment.refunded
        if amount in ("all", "all+1"):
            amount = left + (amount == "all+1")
            amount = max(amount, 1)
        wanted = left if amount is None else amount
        before, after = payment.refunded, payment.refunded + wanted
        shares = [
            share - share * before // payment.amount
            if after == payment.amount
            else share * after // payment.amount - share * before // payment.amount
            for share in payment.fees
        ]
        if wanted <= 0 or wanted > left:
            expect = Expect(422, "refund-exceeds-payment")
        elif self.balances[shop.account] - wanted + sum(shares) < 0:
            expect = Expect(422, "insufficient-funds")
        else:
            expect = None
        payment_public_id = payment.public_id
        path, key = f"/api/v1/payments/{payment.public_id}/refunds", uuid.uuid4().hex
        body = {} if amount is None else {"amount": amount}

        def work(session):
            return payments.refund(
                session,
                payment=payments.get_payment(session, payment_public_id),
                amount=amount,
                actor_user_id=shop.person.user_id,
            )

        answer = self.call(shop.person, path, body, work, key=key, via_http=via_http)
        self.settle_answer(expect, answer, shop.person, path, body, key)
        if expect is None:
            now = datetime.now(UTC)
            self.move(shop.account, m.wallet, wanted)
            for index, (share, owner) in enumerate(
                zip(shares, (m.cooperative, shop.cooperative, None), strict=True)
            ):
                if share:
                    self.move(self.system[(AccountKind.FEES, owner)], shop.account, share)
                payment.returned[index] += share
            payment.refunded = after
            m.incoming.append((now, wanted))
            body_shares = answer.body["fees_returned"]
            assert [
                body_shares["issuer"],
                body_shares["acquirer"],
                body_shares["network"],
            ] == shares
            assert answer.body["amount"] == wanted
            assert answer.body["payment"]["refunded_amount"] == payment.refunded
            assert answer.body["payment"]["status"] == payment.status

    # --- Idempotency-Keys ----------------------------------------------------------------------

    def _never(self, session):
        raise AssertionError("a replayed key ran its work again")

    @precondition(lambda self: self.stored_keys)
    @rule(data=st.data(), via_http=transports)
    def replay(self, data, via_http):
        self.replay_key(data.draw(st.sampled_from(self.stored_keys), label="stored key"), via_http)

    @precondition(lambda self: self.stored_keys)
    @rule(data=st.data(), via_http=transports)
    def reuse_key_for_another_request(self, data, via_http):
        self.reuse_key(data.draw(st.sampled_from(self.stored_keys), label="stored key"), via_http)

    def replay_key(self, stored: StoredKey, via_http: bool) -> None:
        """The same key with the same request answers the first answer again; nothing moves."""
        answer = self.call(
            stored.scope, stored.path, stored.body, self._never, key=stored.key, via_http=via_http
        )
        assert answer.replayed, answer
        OUTCOMES[("replay", via_http)] += 1
        assert (answer.status, answer.body) == (stored.status, stored.answer)

    def reuse_key(self, stored: StoredKey, via_http: bool) -> None:
        """The same key with a different request is refused (422); nothing moves."""
        body = dict(stored.body)
        body["amount"] = body["amount"] + 1 if "amount" in body else 1
        answer = self.call(
            stored.scope, stored.path, body, self._never, key=stored.key, via_http=via_http
        )
        assert answer.status == 422 and answer.body["type"].endswith("/idempotency-key-reused"), (
            answer
        )
        assert not answer.replayed
        OUTCOMES[("reuse", via_http)] += 1

    # --- Settlement ----------------------------------------------------------------------------

    @rule(target=windows, settle=st.booleans())
    def close_window(self, settle):
        """Close the open window (and settle it at once, or later through `settle`); a window
        with no transfers is not closed."""
        with self.app.app_context():
            if self.open_count == 0:
                with pytest.raises(settlement.WindowEmpty):
                    settlement.close(db.session, lambda work: transaction(db.session, work))
                db.session.rollback()
                OUTCOMES[("close", "empty")] += 1
                return multiple()
            window = settlement.close(db.session, lambda work: transaction(db.session, work))
            public_id, status, count = window.public_id, window.status, window.transfer_count
            report = window.report
            db.session.rollback()
        assert status == WindowStatus.CLOSED
        assert count == self.open_count, (count, self.open_count)
        lines = {line["cooperative_id"]: line["position"] for line in report["positions"]}
        assert sum(lines.values()) + report["network_position"] == 0
        for index, public_id_of in enumerate(self.cooperative_public_ids):
            assert lines[public_id_of] == self.window_positions[index], (
                index,
                lines,
                self.window_positions,
            )
        OUTCOMES[("close",)] += 1
        closed = ModelWindow(public_id, count, dict(self.window_positions))
        self.closed.append(closed)
        self.open_count = 0
        self.window_positions = dict.fromkeys(range(COOPERATIVES), 0)
        if settle:
            self.settle(closed)
        return closed

    @rule(window=windows)
    def settle(self, window):
        """Mark a window of this example settled (again: a repeat writes nothing)."""
        with self.app.app_context():
            settled = transaction(
                db.session,
                lambda s: settlement.mark_settled(
                    s, settlement.get_window(s, window.public_id), None
                ),
            )
            status, report = settled.status, settled.report
            db.session.rollback()
        assert status == WindowStatus.SETTLED
        if window.settled:
            return  # a repeat writes nothing
        window.settled = True
        OUTCOMES[("settle",)] += 1
        ours = {self.cooperative_public_ids[i]: i for i in range(COOPERATIVES)}
        for line in report["positions"]:
            position = line["position"]
            if not position:
                continue
            self.network_settlement += position
            if line["cooperative_id"] in ours:
                index = ours[line["cooperative_id"]]
                assert position == window.positions[index]
                account = self.system[(AccountKind.SETTLEMENT, index)]
                self.balances[account] -= position
            self.open_count += 1  # one settlement transfer per cooperative with a position

    # --- Limits --------------------------------------------------------------------------------

    @rule(
        target_cooperative=st.one_of(st.none(), cooperative_indexes),
        tier=st.sampled_from(["basic", "verified"]),
        policy=policies,
    )
    def change_limit(self, target_cooperative, tier, policy):
        cooperative_id = (
            None if target_cooperative is None else self.cooperative_ids[target_cooperative]
        )
        with self.app.app_context():
            transaction(db.session, lambda s: limits.put_policy(s, cooperative_id, tier, policy))
        self.policies[(target_cooperative, tier)] = policy
        OUTCOMES[("limits",)] += 1

    # --- Invariants ----------------------------------------------------------------------------

    @invariant()
    def the_ledger_agrees_with_the_model(self):
        with self.app.app_context():
            session = db.session
            assert ledger.check(session) == []
            positions = ledger.positions(session)
            assert sum(positions.values()) == 0
            # Each balance, and no wallet or merchant below zero.
            # (ledger.check has already compared every stored balance with its transfers)
            derived = ledger.derived_balances(session)
            for account_id, expected in self.balances.items():
                assert derived[account_id] == expected, (account_id, expected)
            for m in self.members:
                assert self.balances[m.wallet] >= 0
            for shop in self.merchants:
                assert self.balances[shop.account] >= 0
            assert self._network_settlement_balance(session) == self.network_settlement
            # Each of our cooperatives' position: the balances of the accounts it owns.
            for index, cooperative_id in enumerate(self.cooperative_ids):
                expected = sum(v for a, v in self.balances.items() if self.owner[a] == index)
                assert positions.get(cooperative_id, 0) == expected, index
            # Windows: the closed ones' counts and the open one's add up to the whole ledger.
            total = session.scalar(select(func.count()).select_from(Transfer))
            sealed = session.scalar(
                select(func.coalesce(func.sum(SettlementWindow.transfer_count), 0)).where(
                    SettlementWindow.status.in_([WindowStatus.CLOSED, WindowStatus.SETTLED])
                )
            )
            statuses = list(session.scalars(select(SettlementWindow.status)))
            assert statuses.count(WindowStatus.OPEN) == 1
            assert WindowStatus.CLOSING not in statuses
            assert self._open_window_count(session) == self.open_count
            assert int(sealed) + self.open_count == total
            for window in self.closed:
                settlement.verify(session, settlement.get_window(session, window.public_id))
            # Payments: what is refunded, their status and the fee shares given back.
            if self.model_payments:
                by_id = {p.public_id: p for p in self.model_payments}
                rows = session.execute(
                    select(
                        Payment.id,
                        Payment.public_id,
                        Payment.refunded_amount,
                        Payment.status,
                        Payment.fee_issuer_amount,
                        Payment.fee_acquirer_amount,
                        Payment.fee_network_amount,
                    ).where(Payment.public_id.in_(by_id))
                ).all()
                assert len(rows) == len(by_id)
                returned = {
                    payment_id: (int(i), int(a), int(n))
                    for payment_id, i, a, n in session.execute(
                        select(
                            Refund.payment_id,
                            func.sum(Refund.fee_issuer_amount),
                            func.sum(Refund.fee_acquirer_amount),
                            func.sum(Refund.fee_network_amount),
                        )
                        .where(Refund.payment_id.in_([row.id for row in rows]))
                        .group_by(Refund.payment_id)
                    )
                }
                for row in rows:
                    p = by_id[row.public_id]
                    assert row.refunded_amount == p.refunded and row.status == p.status, p
                    assert (
                        row.fee_issuer_amount,
                        row.fee_acquirer_amount,
                        row.fee_network_amount,
                    ) == p.fees
                    assert returned.get(row.id, (0, 0, 0)) == tuple(p.returned), p
                    assert all(0 <= g <= s for g, s in zip(p.returned, p.fees, strict=True))
                    if p.refunded == p.amount:
                        assert tuple(p.returned) == p.fees
            # Wrong PINs are counted once each, and a lock is where the model put it.
            for m in self.members:
                failed, locked_until = session.execute(
                    select(User.failed_pin_attempts, User.locked_until).where(
                        User.id == m.person.user_id
                    )
                ).one()
                assert (locked_until is not None) == m.locked, m
                if not m.locked:
                    assert failed == m.failed_pins, (m, failed)
            session.rollback()


def test_every_use_case_in_any_order_keeps_the_ledger_and_the_model_in_step(app):
    OUTCOMES.clear()
    run_state_machine_as_test(
        lambda: LedgerMachine(app),
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            # The same programs every run: the coverage assertion below must not hang on luck.
            derandomize=True,
            database=None,
        ),
    )
    print(_report_outcomes())
    # The random runs did do things (the scripted test below goes through every rule and every
    # refusal for certain): the model does not just agree with the gateway on refusing everything.
    # A successful dynamic-QR payment is left to the scripted test: even derandomized, which
    # rules the random programs draw shifts with the process's state (seen: after test_demo's
    # first test, 5 dynamic attempts in 500 steps, all refused, as the model also said).
    done = {outcome[0] for outcome in OUTCOMES if len(outcome) == 1 or outcome[1] in (201, True)}
    assert done >= {"cash-in", "cash-out", "static", "replay", "close"}, _report_outcomes()
    assert "dynamic" in {outcome[0] for outcome in OUTCOMES}, _report_outcomes()
    refusals = {outcome[2] for outcome in OUTCOMES if len(outcome) == 3 and outcome[1] != 201}
    assert refusals >= {"limit-exceeded", "insufficient-funds"}, _report_outcomes()


def test_a_scripted_day_takes_every_rule_and_every_refusal(app):
    """The same machine, driven by hand through each rule and each refusal, checked after each."""
    machine = LedgerMachine(app)

    def step(rule, *args, expect=None, **kwargs):
        machine.last = None
        result = rule(*args, **kwargs)
        if expect is not None:
            assert machine.last == expect, (rule.__name__, machine.last, expect)
        machine.the_ledger_agrees_with_the_model()
        return result

    def paid(result) -> ModelPayment:
        (payment,) = result.values
        return payment

    try:
        machine.the_ledger_agrees_with_the_model()
        step(machine.open_with_money, via_http=False)
        # Members: 0 (K0 basic), 1 (K1 basic), 2 (K2 verified), 3 (K0 verified); merchants:
        # 0 (K0 micro shop), 1 (K1 small shop), 2 (K2 taxi), 3 (K1 angkot); Rp 1.000.000 each.
        groceries = paid(step(machine.pay_static, 0, 1, 27_500, "right", True, expect=(201, "")))
        assert groceries.fees == (68, 96, 29)
        step(
            machine.pay_static, 1, 3, 150_000, "right", False, expect=(422, "limit-exceeded")
        )  # the angkot typo guard
        step(machine.pay_static, 1, 3, 5_000, "none", True, expect=(201, ""))  # no PIN needed
        step(machine.pay_static, 0, 1, 60_000, "none", False, expect=(422, "pin-required"))
        step(machine.pay_static, 0, 1, 10_000, "wrong", True, expect=(403, "wrong-pin"))
        # The right PIN, then refused for the funds: the wrong PIN before still counts.
        step(machine.cash_out, 0, 2, "all+1", "right", True, expect=(422, "insufficient-funds"))
        assert machine.members[0].failed_pins == 1
        step(machine.cash_in, 0, 1, "all+1", False, expect=(422, "limit-exceeded"))
        step(machine.cash_in, 0, 1, "all", True, expect=(201, ""))  # exactly full
        assert machine.balances[machine.members[0].wallet] == 2_000_000
        fare = machine.sell(2, 100_000, 2, "right", True, False)  # and scanned twice
        assert machine.last == (409, "qr-already-paid")
        fare = paid(fare)
        machine.the_ledger_agrees_with_the_model()
        step(machine.refund, fare, 30_000, False, expect=(201, ""))
        step(machine.refund, fare, "all+1", True, expect=(422, "refund-exceeds-payment"))
        step(machine.refund, fare, None, False, expect=(201, ""))
        assert fare.status == "refunded" and tuple(fare.returned) == fare.fees == (245, 350, 105)
        step(machine.payout, 1, 0, "all", True, expect=(403, "forbidden"))  # not its counter
        step(machine.payout, 1, None, "all", False, expect=(201, ""))
        # The merchant has been paid out: it cannot give the groceries back.
        step(machine.refund, groceries, None, True, expect=(422, "insufficient-funds"))
        step(
            machine.change_limit,
            0,
            "basic",
            limits.DEFAULT_LIMITS["basic"].model_copy(update={"payments_per_minute": 2}),
        )
        step(machine.pay_static, 0, 0, 1_000, "none", False, expect=(201, ""))
        step(machine.pay_static, 0, 0, 1_000, "none", True, expect=(422, "limit-exceeded"))
        assert machine.last_limit == "payments_per_minute"
        step(
            machine.change_limit,
            None,
            "verified",
            limits.DEFAULT_LIMITS["verified"].model_copy(update={"daily_max": 200_000}),
        )
        step(machine.pay_static, 3, 1, 200_001, "right", True, expect=(422, "limit-exceeded"))
        assert machine.last_limit == "daily_max"
        code = step(machine.issue_qr, 0, 20_000)
        step(machine.pay_dynamic, code, 3, "right", "other", False, expect=(422, "amount-mismatch"))
        step(machine.pay_dynamic, code, 3, "none", "same", True, expect=(201, ""))
        step(machine.pay_dynamic, code, 1, "none", "omit", False, expect=(409, "qr-already-paid"))
        for stored in list(machine.stored_keys):
            for via_http in (True, False):
                step(machine.replay_key, stored, via_http)
                step(machine.reuse_key, stored, via_http)
        window = step(machine.close_window, False)
        step(machine.settle, window)
        step(machine.settle, window)  # a repeat writes nothing
        step(machine.close_window, True)
        for attempt in range(1, PIN_ATTEMPTS_MAX):
            step(machine.cash_out, 2, 0, 1, "wrong", attempt % 2 == 0, expect=(403, "wrong-pin"))
        step(machine.cash_out, 2, 0, 1, "wrong", True, expect=(423, "pin-locked"))
        step(machine.cash_out, 2, 0, 1, "right", False, expect=(423, "pin-locked"))
        # Locked: no money leaves the wallet, not even below the no-PIN threshold.
        step(machine.pay_static, 2, 0, 1_000, "none", True, expect=(423, "pin-locked"))
    finally:
        machine.teardown()


def test_the_models_fee_arithmetic_matches_the_worked_examples():
    # README / tests/test_payments.py: 0,7% of 27.500 = 192,5 -> 193, split 35/50/15.
    assert expected_fee(27_500, "small") == (68, 96, 29)
    assert expected_fee(100_000, "regular") == (245, 350, 105)
    assert expected_fee(500_000, "micro") == (0, 0, 0)
    assert expected_fee(500_001, "micro") == (525, 750, 225)


def _report_outcomes():
    return "\n".join(f"{count:5} {outcome}" for outcome, count in sorted(OUTCOMES.items(), key=str))
