"""Fixtures: an app on SQLite and on PostgreSQL, a client, a CLI runner, and a small city.

Every test that takes `app` (or anything built on it) runs twice: on a fresh SQLite file and on
a fresh PostgreSQL database. The schema is migrated once per session per database (Alembic), and
each test starts from empty tables. PostgreSQL tests skip when no server answers, except in CI
(`CI=true`), where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from gateway import create_app, ledger, payments, registry, settlement, shifts
from gateway.db import db, transaction
from gateway.models import Cooperative, Member, Merchant, StaffRole, User  # noqa: F401

POSTGRES_SERVER_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_TEST_DATABASE = os.environ.get("GATEWAY_TEST_POSTGRES_DB", "interkop_test")
TEST_SCRYPT_N = 16  # PINs hash fast in tests; production uses 2**14.


def postgres_available() -> bool:
    engine = sa.create_engine(POSTGRES_SERVER_URL)
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def base_config(database_url: str, keys_dir: str) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "KEYS_DIR": keys_dir,
        "PIN_SCRYPT_N": TEST_SCRYPT_N,
        "PUBLIC_URL": "http://gateway.test",
        # Webhook receivers in the tests listen on loopback.
        "WEBHOOK_ALLOW_PRIVATE": True,
    }


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory):
    from gateway.keys import KeyRing

    directory = tmp_path_factory.mktemp("keys")
    KeyRing(directory).ensure()
    return str(directory)


def _migrate(database_url: str, keys_dir: str) -> None:
    from flask_migrate import upgrade

    app = create_app(base_config(database_url, keys_dir))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory, keys_dir):
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    _migrate(f"sqlite:///{path}", keys_dir)
    return path


@pytest.fixture(scope="session")
def postgres_url(keys_dir):
    if not postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is required in CI but no server answers at 127.0.0.1:5432")
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432")
    server = sa.create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(
            sa.text(f"DROP DATABASE IF EXISTS {POSTGRES_TEST_DATABASE} WITH (FORCE)")
        )
        connection.execute(sa.text(f"CREATE DATABASE {POSTGRES_TEST_DATABASE}"))
    server.dispose()
    url = POSTGRES_SERVER_URL.rsplit("/", 1)[0] + "/" + POSTGRES_TEST_DATABASE
    _migrate(url, keys_dir)
    return url


def pytest_collection_modifyitems(config, items):
    """Leave out the SQLite half of a PostgreSQL-only test, rather than run it as a skip.

    A test is PostgreSQL-only by the `postgresql_only` marker, or by asking for the
    `postgresql_only` fixture (directly or through another fixture): what it attacks (a server
    to lose, a connection to cut, replication, libpq's multi-host URL) does not exist on SQLite.
    Its PostgreSQL half always runs, and fails in CI when no server answers.
    """
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        only_postgresql = item.get_closest_marker("postgresql_only") or (
            "postgresql_only" in getattr(item, "fixturenames", ())
        )
        (dropped if on_sqlite and only_postgresql else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def postgresql_only(is_postgresql):
    """Make a test PostgreSQL-only (its SQLite half is left out at collection)."""
    return is_postgresql


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, keys_dir):
    if request.param == "sqlite":
        path = tmp_path / f"{uuid.uuid4().hex}.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        tables = [
            name for name in sa.inspect(connection).get_table_names() if name != "alembic_version"
        ]
        connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def app(database_url, keys_dir):
    ledger.forget_cached_kinds()
    payments.forget_cached_names()
    application = create_app(base_config(database_url, keys_dir))
    with application.app_context():
        transaction(db.session, registry.ensure_network_accounts)
        transaction(db.session, settlement.ensure_open_window)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def is_postgresql(database_url):
    return database_url.startswith("postgresql")


# --- A small city ---------------------------------------------------------------------------


@dataclass
class Person:
    id: str  # member, merchant or user public id
    phone: str
    pin: str
    user_id: str


class City:
    """Factories over the use cases, and HTTP helpers that log in and call the API."""

    def __init__(self, app, client):
        self.app = app
        self.client = client
        self._tokens: dict[str, str] = {}
        self._counter = 0

    def _next_phone(self) -> str:
        self._counter += 1
        return f"+62812{self._counter:08d}"

    def make_cooperative(self, code: str, kind: str = "consumer") -> str:
        with self.app.app_context():
            cooperative = transaction(
                db.session,
                lambda s: registry.create_cooperative(
                    s, code=code, name=f"Koperasi {code}", kind=kind
                ),
            )
            return cooperative.public_id

    def _cooperative(self, session, public_id):
        return registry.get_cooperative(session, public_id)

    def make_admin(self, coop_id: str, pin: str = "111111", shift: bool = True) -> Person:
        """Make a cooperative's admin; with `shift`, one on an open shift at its counter (with
        no opening cash), as every teller moving cash must be (gateway/shifts.py)."""
        phone = self._next_phone()
        with self.app.app_context():

            def work(session):
                user = registry.find_or_create_user(
                    session, phone=phone, name="Admin", pin=pin, scrypt_n=TEST_SCRYPT_N
                )
                cooperative = self._cooperative(session, coop_id)
                registry.grant_staff_role(
                    session, user=user, role="coop_admin", cooperative=cooperative
                )
                if shift:
                    session.flush()
                    shifts.open_shift(
                        session,
                        cooperative=cooperative,
                        teller_user_id=user.id,
                        opening_cash_amount=0,
                    )
                return user.public_id

            user_id = transaction(db.session, work)
        return Person(id=user_id, phone=phone, pin=pin, user_id=user_id)

    def make_staff(self, role: str, pin: str = "111111") -> Person:
        phone = self._next_phone()
        with self.app.app_context():

            def work(session):
                user = registry.find_or_create_user(
                    session, phone=phone, name=role, pin=pin, scrypt_n=TEST_SCRYPT_N
                )
                registry.grant_staff_role(session, user=user, role=role)
                return user.public_id

            user_id = transaction(db.session, work)
        return Person(id=user_id, phone=phone, pin=pin, user_id=user_id)

    def make_member(
        self, coop_id: str, pin: str = "123456", tier: str = "basic", phone=None
    ) -> Person:
        phone = phone or self._next_phone()
        with self.app.app_context():

            def work(session):
                member = registry.register_member(
                    session,
                    cooperative=self._cooperative(session, coop_id),
                    phone=phone,
                    name="Anggota",
                    pin=pin,
                    tier=tier,
                    scrypt_n=TEST_SCRYPT_N,
                )
                return member.public_id, member.user.public_id

            member_id, user_id = transaction(db.session, work)
        return Person(id=member_id, phone=phone, pin=pin, user_id=user_id)

    def make_merchant(
        self, coop_id: str, kind: str = "shop", category: str = "micro", pin: str = "654321"
    ) -> Person:
        phone = self._next_phone()
        with self.app.app_context():

            def work(session):
                merchant = registry.register_merchant(
                    session,
                    cooperative=self._cooperative(session, coop_id),
                    name=f"Merchant {phone[-4:]}",
                    kind=kind,
                    category=category,
                    owner_phone=phone,
                    owner_name="Pemilik",
                    owner_pin=pin,
                    scrypt_n=TEST_SCRYPT_N,
                )
                return merchant.public_id, merchant.owner.public_id

            merchant_id, user_id = transaction(db.session, work)
        return Person(id=merchant_id, phone=phone, pin=pin, user_id=user_id)

    # HTTP helpers

    def token(self, person: Person) -> str:
        if person.phone not in self._tokens:
            response = self.client.post(
                "/api/v1/auth/login", json={"phone": person.phone, "pin": person.pin}
            )
            assert response.status_code == 200, response.get_json()
            self._tokens[person.phone] = response.get_json()["access_token"]
        return self._tokens[person.phone]

    def headers(self, person: Person, key: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.token(person)}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def post(self, person: Person, path: str, body, key: str | None = "auto"):
        if key == "auto":
            key = uuid.uuid4().hex
        return self.client.post(path, json=body, headers=self.headers(person, key))

    def get(self, person: Person, path: str):
        return self.client.get(path, headers=self.headers(person))

    def cash_in(self, admin: Person, member: Person, amount: int, key: str | None = "auto"):
        return self.post(
            admin, "/api/v1/counter/cash-in", {"member_id": member.id, "amount": amount}, key
        )

    def cash_out(
        self, admin: Person, member: Person, amount: int, pin=None, key: str | None = "auto"
    ):
        body = {"member_id": member.id, "amount": amount, "pin": pin or member.pin}
        return self.post(admin, "/api/v1/counter/cash-out", body, key)

    def payout(self, admin: Person, merchant: Person, amount: int, key: str | None = "auto"):
        return self.post(
            admin, "/api/v1/counter/payouts", {"merchant_id": merchant.id, "amount": amount}, key
        )

    # QR payments

    def issue_qr(self, merchant: Person, amount: int, **extra) -> dict:
        """Issue a dynamic QR as the merchant; return the API's answer."""
        path = f"/api/v1/merchants/{merchant.id}/qr"
        response = self.post(merchant, path, {"amount": amount, **extra})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def static_qr(self, merchant: Person) -> dict:
        """Return the merchant's sticker QR."""
        response = self.get(merchant, f"/api/v1/merchants/{merchant.id}/static-qr")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def pay(self, member: Person, token: str, amount=None, pin="auto", key=None):
        """Pay a QR token as the member (with their PIN unless told otherwise)."""
        body = {"token": token}
        if amount is not None:
            body["amount"] = amount
        if pin == "auto":
            body["pin"] = member.pin
        elif pin is not None:
            body["pin"] = pin
        return self.post(member, "/api/v1/payments", body, key or uuid.uuid4().hex)

    def pay_sticker(self, member: Person, merchant: Person, amount: int):
        """Pay `amount` on the merchant's sticker, with the member's PIN."""
        return self.pay(member, self.static_qr(merchant)["token"], amount=amount)

    # Ledger views

    def balance_of_member(self, member: Person) -> int:
        with self.app.app_context():
            found = registry.get_member(db.session, member.id)
            return ledger.balance(db.session, found.wallet_account_id)

    def balance_of_merchant(self, merchant: Person) -> int:
        with self.app.app_context():
            found = registry.get_merchant(db.session, merchant.id)
            return ledger.balance(db.session, found.account_id)

    def balance_of_system(self, coop_id: str | None, kind: str) -> int:
        with self.app.app_context():
            cooperative_id = (
                None if coop_id is None else registry.get_cooperative(db.session, coop_id).id
            )
            account = ledger.system_account(db.session, kind, cooperative_id)
            value = ledger.balance(db.session, account.id)
            db.session.rollback()
            return value

    def positions(self) -> dict[str | None, int]:
        """Each cooperative's net position by public id (None: the network)."""
        with self.app.app_context():
            raw = ledger.positions(db.session)
            names = dict(db.session.execute(sa.select(Cooperative.id, Cooperative.public_id)).all())
            return {
                names.get(key) if key is not None else None: value for key, value in raw.items()
            }

    def ledger_problems(self) -> list[str]:
        with self.app.app_context():
            return ledger.check(db.session)

    def count(self, model) -> int:
        with self.app.app_context():
            return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def city(app, client):
    return City(app, client)
