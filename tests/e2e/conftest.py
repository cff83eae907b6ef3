"""Real-browser fixtures: the gateway on a free loopback port over a fresh database with the demo
city seeded, and Debian's chromium driven by playwright with a fake camera.

The gateway runs once on SQLite and once on PostgreSQL (a database `interkop_e2e_<pid>` made for
the run on the server of tests/conftest.py, dropped after), so every browser test runs on both.
Without chromium (or playwright) these tests skip with the reason, and without a PostgreSQL
server the PostgreSQL half skips, except in CI (`CI=true`), where either is a failure. `make
test` installs chromium first when it runs as root.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import threading
import uuid
from dataclasses import dataclass

import live_http
import pytest
import sqlalchemy as sa

from e2e.pwa_helpers import write_qr_video
from gateway import create_app, demo, ledger, payments
from gateway.db import db

CHROMIUM = os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 360, "height": 740}
SCRYPT_N = 16
FRESH_PIN = "246810"
_fresh_numbers = itertools.count(1)
# The server tests/conftest.py uses (same variable, same default).
POSTGRES_SERVER_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DATABASES = ["sqlite", "postgresql"]


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path():
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        _missing(f"no chromium at {CHROMIUM}: apt-get install chromium (make test does it as root)")
    return path


@dataclass
class Gateway:
    url: str
    city: dict
    app: object

    def call(
        self,
        method: str,
        path: str,
        body=None,
        token: str | None = None,
        key: str | None = None,
        language: str = "id",
    ):
        """Call the live API; return (status, JSON body)."""
        status, _, answer = live_http.call(
            self.url, method, path, token=token, body=body, key=key, language=language
        )
        return status, answer

    def login(self, person: dict) -> str:
        status, body = self.call(
            "POST", "/api/v1/auth/login", {"phone": person["phone"], "pin": person["pin"]}
        )
        assert status == 200, body
        return body["access_token"]

    def money(self, path: str, body: dict, token: str, language: str = "id"):
        return self.call("POST", path, body, token=token, key=uuid.uuid4().hex, language=language)

    def person(self, kind: str, name: str) -> dict:
        return next(p for p in self.city[kind] if p["name"] == name)

    def admin(self, code: str) -> dict:
        """The demo admin (teller) of the cooperative with `code` (KSM, KPP, KAM, KTS)."""
        return next(a for a in self.city["admins"] if a["name"] == f"Admin {code}")

    def new_member(
        self, code: str = "KSM", balance: int = 0, name: str | None = None, tier: str = "basic"
    ) -> dict:
        """A member nobody else's test touches: registered and (with `balance`) cashed in at
        the counter of `code` by its admin, through the live API. Returns {id, phone, pin,
        name, cooperative_id}."""
        number = next(_fresh_numbers)
        admin = self.admin(code)
        token = self.login(admin)
        person = {
            "phone": f"+62857{os.getpid() % 10_000:04d}{number:04d}",
            "pin": FRESH_PIN,
            "name": name or f"Anggota Uji {number}",
        }
        status, member = self.call(
            "POST",
            f"/api/v1/cooperatives/{admin['cooperative_id']}/members",
            {**person, "tier": tier},
            token=token,
        )
        assert status == 201 and member["id"].startswith("mem_"), member
        if balance:
            status, answer = self.money(
                "/api/v1/counter/cash-in", {"member_id": member["id"], "amount": balance}, token
            )
            assert status == 201, answer
        return {**person, "id": member["id"], "cooperative_id": admin["cooperative_id"]}

    def new_merchant(
        self,
        code: str = "KPP",
        kind: str = "shop",
        name: str | None = None,
        category: str = "micro",
    ) -> dict:
        """A merchant with a new owner login, registered by the admin of `code`. Returns
        {id, phone, pin, name, owner_name, cooperative_id}."""
        number = next(_fresh_numbers)
        admin = self.admin(code)
        person = {
            "owner_phone": f"+62858{os.getpid() % 10_000:04d}{number:04d}",
            "owner_pin": FRESH_PIN,
            "owner_name": f"Pemilik Uji {number}",
        }
        body = {**person, "name": name or f"Usaha Uji {number}", "kind": kind, "category": category}
        status, merchant = self.call(
            "POST",
            f"/api/v1/cooperatives/{admin['cooperative_id']}/merchants",
            body,
            token=self.login(admin),
        )
        assert status == 201 and merchant["id"].startswith("mer_"), merchant
        return {
            "id": merchant["id"],
            "phone": person["owner_phone"],
            "pin": FRESH_PIN,
            "name": body["name"],
            "owner_name": person["owner_name"],
            "cooperative_id": admin["cooperative_id"],
        }

    def ledger_problems(self) -> list[str]:
        with self.app.app_context():
            problems = ledger.check(db.session)
            db.session.rollback()
            return problems


def forget_cached_ids() -> None:
    """Forget the ledger's and the payments' caches of ids, which belong to one database."""
    ledger.forget_cached_kinds()
    payments.forget_cached_names()


@contextlib.contextmanager
def fresh_database(kind: str, tmp_path_factory):
    """Yield the URL of an empty database of `kind`, dropped afterwards (PostgreSQL)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.sqlite3'}"
        return
    server = sa.create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    name = f"interkop_e2e_{os.getpid()}"
    try:
        with server.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as error:
        server.dispose()
        _missing(f"no PostgreSQL server answers at {POSTGRES_SERVER_URL}: {error.orig}")
    try:
        yield POSTGRES_SERVER_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


@pytest.fixture(scope="session", params=DATABASES)
def gateway(request, tmp_path_factory, keys_dir):
    """The gateway, served for real (threaded, so the long poll holds only its own thread), on
    SQLite and then on PostgreSQL."""
    with fresh_database(request.param, tmp_path_factory) as database_url:
        yield from _serve(database_url, keys_dir)


@pytest.fixture(autouse=True)
def _ids_of_the_gateways_database(request):
    """Before each test of the live gateway, drop the caches of ids that another test's database
    (tests that run between two browser tests) may have filled."""
    if "gateway" in request.fixturenames:
        forget_cached_ids()


def _serve(database_url: str, keys_dir: str):
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    forget_cached_ids()
    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": keys_dir, "PIN_SCRYPT_N": SCRYPT_N})
    with app.app_context():
        upgrade()
        city = demo.seed(db.session, scrypt_n=SCRYPT_N)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)  # port 0: a free port
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = url  # QR codes point at this server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Gateway(url=url, city=city, app=app)
    server.shutdown()
    server.server_close()
    with app.app_context():
        db.engine.dispose()
    forget_cached_ids()


@pytest.fixture(scope="session")
def camera_file(tmp_path_factory):
    """The fake camera's Y4M file; `show_qr(text)` puts a QR code in front of the camera."""
    return tmp_path_factory.mktemp("camera") / "camera.y4m"


@pytest.fixture(scope="session")
def browser(chromium_path, camera_file):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: pip install -e '.[dev]'")
    write_qr_video(camera_file, "nothing yet")
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=chromium_path,
        headless=True,
        args=CHROMIUM_FLAGS
        + [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_file}",
        ],
    )
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def context(browser, gateway):
    context = browser.new_context(
        base_url=gateway.url,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="id-ID",
        permissions=["camera"],
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    assert not page.errors, page.errors
