"""Attack: an API client's credentials, and what its token can be made to do (issue 12).

- A client token never moves money: every endpoint of the OpenAPI document that does not list the
  API client scheme refuses it with 403 before its view runs — every money POST (read from the
  document: those that take an Idempotency-Key, so a new one cannot slip by), the counter,
  payments, refunds, QR codes, settlement actions, staff settings — and nothing is written.
- A client never sees another cooperative's data, and a token whose claims disagree with its
  client (another cooperative, an old secret, scopes never granted) is refused.
- A burst of token requests with wrong secrets changes nothing and leaks nothing: one answer for
  a wrong secret, an unknown client and a revoked one, one HMAC and one constant-time comparison
  per request whoever is named, no row written, no lockout of the real client.
- Rotations and revocations racing each other leave exactly one secret working, or none.

Real threads released by one barrier, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hmac
import re
import threading
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst, statuses
from attacks.clients import ALL_SCOPES, bearer, client_token, create_client, request_token
from gateway import api_clients, auth
from gateway.db import db, transaction
from gateway.models import (
    ApiClient,
    AuditEvent,
    Event,
    FeeSchedule,
    IdempotencyKey,
    Invitation,
    LimitPolicy,
    Member,
    Merchant,
    Payment,
    QrCode,
    Refund,
    SettlementWindow,
    Transfer,
)

# Money POSTs the document must mark with an Idempotency-Key (the loop below reads them from it).
MONEY_POSTS = {
    "/api/v1/counter/cash-in",
    "/api/v1/counter/cash-out",
    "/api/v1/counter/payouts",
    "/api/v1/payments",
    "/api/v1/payments/{payment_id}/refunds",
    "/api/v1/merchants/{merchant_id}/qr",
}
WRITTEN = (
    Transfer,
    Event,
    Payment,
    Refund,
    QrCode,
    IdempotencyKey,
    Member,
    Merchant,
    Invitation,
    FeeSchedule,
    LimitPolicy,
    ApiClient,
)
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def _problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == f"https://interkop.id/problems/{slug}", problem
    return problem


def _snapshot(app, city) -> dict:
    with app.app_context():
        windows = db.session.execute(
            sa.select(SettlementWindow.public_id, SettlementWindow.status).order_by(
                SettlementWindow.id
            )
        ).all()
        db.session.rollback()
    return {
        "counts": {model.__name__: city.count(model) for model in WRITTEN},
        "windows": [tuple(row) for row in windows],
        "positions": city.positions(),
    }


@pytest.fixture
def town(app, city):
    """Two cooperatives. KSM: an admin, a member with money, a shop with an open QR and a paid
    one, a closed window, an API client with every scope. KPP: its own member, shop, payment."""
    from gateway import settlement

    ksm, kpp = city.make_cooperative("KSM"), city.make_cooperative("KPP", kind="market_traders")
    admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    member, shop = city.make_member(ksm), city.make_merchant(ksm)
    kpp_member, kpp_shop = city.make_member(kpp), city.make_merchant(kpp)
    assert city.cash_in(admin, member, 300_000).status_code == 201
    assert city.cash_in(kpp_admin, kpp_member, 300_000).status_code == 201
    paid = city.pay(member, city.issue_qr(shop, 20_000)["token"])
    assert paid.status_code == 201, paid.get_json()
    # KSM's member pays at KPP's shop: a payment both cooperatives' admins may read.
    across = city.pay_sticker(member, kpp_shop, 15_000)
    assert across.status_code == 201, across.get_json()
    kpp_paid = city.pay_sticker(kpp_member, kpp_shop, 10_000)
    assert kpp_paid.status_code == 201, kpp_paid.get_json()
    with app.app_context():
        window = settlement.close(db.session, lambda work: transaction(db.session, work))
        window_id = window.public_id
        db.session.rollback()
    open_qr = city.issue_qr(shop, 5_000)
    created = create_client(city, admin, ksm)
    return SimpleNamespace(
        ksm=ksm,
        kpp=kpp,
        admin=admin,
        kpp_admin=kpp_admin,
        member=member,
        shop=shop,
        kpp_member=kpp_member,
        kpp_shop=kpp_shop,
        payment_id=paid.get_json()["id"],
        across_id=across.get_json()["id"],
        kpp_payment_id=kpp_paid.get_json()["id"],
        window_id=window_id,
        open_qr=open_qr,
        client=created,
        token=client_token(city.client, created),
    )


def _document_operations(city):
    spec = city.client.get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def _concrete(path: str, town) -> str:
    values = {
        "coop_id": town.ksm,
        "issuer_coop_id": town.ksm,
        "acquirer_coop_id": town.kpp,
        "member_id": town.member.id,
        "merchant_id": town.shop.id,
        "payment_id": town.payment_id,
        "qr_id": town.open_qr["id"],
        "window_id": "current" if path.endswith("/close") else town.window_id,
        "tier": "basic",
        "client_id": town.client["client_id"],
        "invitation_id": "inv_aaaaaaaaaaaaaaaa",
        "key": "a-key-the-client-never-sent",
        "webhook_id": "whk_aaaaaaaaaaaaaaaa",
        "event_id": "evt_aaaaaaaaaaaaaaaa",
        "shift_id": "shf_aaaaaaaaaaaaaaaa",
        "run_id": "shu_aaaaaaaaaaaaaaaa",
    }

    def value(match):
        return values[match.group(1)]

    return re.sub(r"\{(\w+)\}", value, path)


def _body(method: str, path: str, town) -> dict | None:
    """A body that the endpoint would accept from someone allowed: the refusal is for who asks,
    not for what."""
    if method not in ("post", "put"):
        return None
    bodies = {
        "/api/v1/counter/cash-in": {"member_id": town.member.id, "amount": 50_000},
        "/api/v1/counter/cash-out": {
            "member_id": town.member.id,
            "amount": 10_000,
            "pin": town.member.pin,
        },
        "/api/v1/counter/payouts": {"merchant_id": town.shop.id, "amount": 1_000},
        "/api/v1/payments": {"token": town.open_qr["token"], "pin": town.member.pin},
        "/api/v1/payments/{payment_id}/refunds": {"amount": 1_000},
        "/api/v1/merchants/{merchant_id}/qr": {"amount": 7_000},
        "/api/v1/qr/verify": {"token": town.open_qr["token"]},
        "/api/v1/cooperatives": {"code": "KBARU", "name": "Koperasi Baru", "kind": "other"},
        "/api/v1/counter/shifts": {"opening_cash_amount": 0},
    }
    return bodies.get(path, {})


def test_a_client_token_is_refused_by_every_endpoint_not_open_to_it_and_moves_nothing(
    app, city, town
):
    before = _snapshot(app, city)
    balances = (city.balance_of_member(town.member), city.balance_of_merchant(town.shop))
    money, refused = set(), []
    for method, path, operation in _document_operations(city):
        schemes = {name for item in operation.get("security", []) for name in item}
        if "bearer" not in schemes or "apiClient" in schemes:
            continue  # public, or open to API clients (tests/test_api_clients.py)
        takes_key = any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
        if takes_key:
            money.add(path)
        for body in (_body(method, path, town), {"anything": True}):
            headers = {**bearer(town.token), "Idempotency-Key": uuid.uuid4().hex}
            response = city.client.open(
                _concrete(path, town), method=method.upper(), json=body, headers=headers
            )
            _problem(response, 403, "api-client-not-allowed")
            assert "Idempotent-Replayed" not in response.headers
            refused.append((method, path))
            if body is None:
                break
    assert money >= MONEY_POSTS, sorted(MONEY_POSTS - money)
    assert len({path for _, path in refused}) >= 25, refused
    for action in (
        "/settlement/windows/{window_id}/close",
        "/settlement/windows/{window_id}/settle",
    ):
        assert ("post", "/api/v1" + action) in refused
    assert _snapshot(app, city) == before
    assert (city.balance_of_member(town.member), city.balance_of_merchant(town.shop)) == balances
    assert city.ledger_problems() == []


def test_a_client_token_cannot_pay_even_on_the_hot_path(app, city, town):
    """The pay path reads its payer in one statement, not as a Principal: it is refused all the
    same, before a wallet is read, and no Idempotency-Key is claimed."""
    keys = city.count(IdempotencyKey)
    for pin in (town.member.pin, None):
        body = {"token": town.open_qr["token"], **({"pin": pin} if pin else {})}
        response = city.client.post(
            "/api/v1/payments", json=body, headers={**bearer(town.token), "Idempotency-Key": "k"}
        )
        _problem(response, 403, "api-client-not-allowed")
    assert city.count(IdempotencyKey) == keys and city.count(Payment) == 3


def test_a_client_never_sees_another_cooperatives_data(app, city, town):
    headers = bearer(town.token)

    def get(path):
        return city.client.get(path, headers=headers)

    for path in (
        f"/api/v1/cooperatives/{town.kpp}/members",
        f"/api/v1/cooperatives/{town.kpp}/merchants",
        f"/api/v1/cooperatives/{town.kpp}/report?from=2000-01-01&to=2100-01-01",
        f"/api/v1/cooperatives/{town.kpp}/shu?year=2026&pool=1000",
    ):
        _problem(get(path), 403, "forbidden")
    unknown = {
        "payments": "pay_aaaaaaaaaaaaaaaa",
        "members": "mem_aaaaaaaaaaaaaaaa",
    }
    for path, kind in (
        (f"/api/v1/payments/{town.kpp_payment_id}", "payments"),
        (f"/api/v1/members/{town.kpp_member.id}/payments", "members"),
        (f"/api/v1/members/{town.kpp_member.id}/wallet", "members"),
        (f"/api/v1/members/{town.kpp_member.id}/limits", "members"),
    ):
        theirs = get(path)
        made_up = get(
            path.replace(town.kpp_payment_id, unknown[kind]).replace(
                town.kpp_member.id, unknown[kind]
            )
        )
        assert _problem(theirs, 404, "not-found") == _problem(made_up, 404, "not-found")
    # Its own member's payment at the other cooperative's shop is its own business.
    assert get(f"/api/v1/payments/{town.across_id}").status_code == 200
    # Settlement statements: its own lines only, never the network's or another's.
    listed = get("/api/v1/settlement/windows").get_json()["items"]
    for body in (
        next(window for window in listed if window["id"] == town.window_id),
        get(f"/api/v1/settlement/windows/{town.window_id}").get_json(),
    ):
        assert {line["cooperative_id"] for line in body["positions"]} == {town.ksm}
        assert all(town.ksm in (pair["issuer"], pair["acquirer"]) for pair in body["pairs"])
        assert "network_position" not in body
    # Registering at another cooperative: refused, and nobody is registered.
    members = city.count(Member)
    refused = city.client.post(
        f"/api/v1/cooperatives/{town.kpp}/members",
        json={"phone": "081299990001", "name": "Penyusup", "pin": "135790"},
        headers=headers,
    )
    _problem(refused, 403, "forbidden")
    assert city.count(Member) == members
    # Its listings hold its own cooperative's people only.
    listed = get(f"/api/v1/cooperatives/{town.ksm}/members").get_json()["items"]
    assert {item["cooperative_id"] for item in listed} == {town.ksm}
    assert town.kpp_member.id not in {item["id"] for item in listed}


def test_a_token_whose_claims_disagree_with_its_client_is_refused(app, city, town):
    narrow = create_client(city, town.admin, town.ksm, ["reports:read"], "Laporan")
    with app.app_context():
        generation = db.session.scalar(
            sa.select(ApiClient.secret_generation).where(ApiClient.public_id == narrow["client_id"])
        )
        db.session.rollback()
    ring = app.extensions["keyring"]
    issuer = app.config["GATEWAY_ID"]
    report = f"/api/v1/cooperatives/{town.ksm}/report?from=2000-01-01&to=2100-01-01"

    def forged(**changes):
        claims = {
            "client_id": narrow["client_id"],
            "cooperative_id": town.ksm,
            "scopes": ["reports:read"],
            "secret_generation": generation,
            **changes,
        }
        return auth.issue_client_access_token(ring, issuer=issuer, ttl_seconds=60, **claims)

    assert city.client.get(report, headers=bearer(forged())).status_code == 200
    for token in (
        forged(cooperative_id=town.kpp),  # another cooperative
        forged(secret_generation=generation - 1),  # before a rotation
        forged(secret_generation=generation + 1),
        forged(scopes=["reports:read", "members:read"]),  # a scope never granted
        forged(client_id="cli_aaaaaaaaaaaaaaaa"),  # no such client
        forged(client_id=town.admin.user_id),  # a person's id as a client
    ):
        _problem(city.client.get(report, headers=bearer(token)), 401, "invalid-token")


class CountingHmac:
    """`hmac` for gateway.api_clients, counting its constant-time comparisons."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.comparisons = 0
        self.new = hmac.new

    def compare_digest(self, first, second) -> bool:
        with self.lock:
            self.comparisons += 1
        return hmac.compare_digest(first, second)


BURST = 24


def test_a_burst_of_wrong_secrets_changes_nothing_and_leaks_nothing(app, city, town, monkeypatch):
    real = town.client
    revoked = create_client(city, town.admin, town.ksm, name="Lama")
    path = f"/api/v1/cooperatives/{town.ksm}/api-clients/{revoked['client_id']}"
    assert city.client.delete(path, headers=city.headers(town.admin)).status_code == 200
    attempts = [
        (real["client_id"], real["client_secret"][:-2] + "xx"),  # a wrong secret
        ("cli_aaaaaaaaaaaaaaaa", real["client_secret"]),  # an unknown client
        (revoked["client_id"], revoked["client_secret"]),  # a revoked one, its right secret
        (real["client_id"], ""),  # no secret
    ]

    def rows():
        with app.app_context():
            found = db.session.execute(sa.select(ApiClient.__table__).order_by(ApiClient.id)).all()
            db.session.rollback()
            return [tuple(row) for row in found]

    before, audit_before = rows(), city.count(AuditEvent)
    counting = CountingHmac()
    monkeypatch.setattr(api_clients, "hmac", counting)
    hashes = []
    real_hash = api_clients.secret_hash
    monkeypatch.setattr(
        api_clients, "secret_hash", lambda *args: hashes.append(args[0]) or real_hash(*args)
    )

    responses = burst(
        BURST,
        lambda index: request_token(app.test_client(), *attempts[index % len(attempts)]),
    )

    assert_no_server_error(responses)
    assert statuses(responses) == {401: BURST}
    answers = {
        (
            response.get_data(),
            response.mimetype,
            response.headers["WWW-Authenticate"],
            response.headers["Cache-Control"],
        )
        for response in responses
    }
    assert len(answers) == 1, answers  # nothing tells the four apart
    assert responses[0].get_json()["error"] == "invalid_client"
    # One HMAC and one constant-time comparison per request, whoever was named.
    assert counting.comparisons == BURST and len(hashes) == BURST
    assert rows() == before and city.count(AuditEvent) == audit_before
    # No lockout: the real client's right secret works at once.
    assert request_token(city.client, real["client_id"], real["client_secret"]).status_code == 200
    assert counting.comparisons == BURST + 1


def _rotate(app, admin_headers, path):
    return app.test_client().post(f"{path}/rotate", headers=admin_headers)


def test_concurrent_rotations_leave_exactly_one_secret_working(app, city, town):
    created = town.client
    path = f"/api/v1/cooperatives/{town.ksm}/api-clients/{created['client_id']}"
    headers = city.headers(town.admin)
    rotations = 8

    responses = burst(rotations, lambda index: _rotate(app, headers, path))

    assert_no_server_error(responses)
    assert statuses(responses) == {200: rotations}
    secrets = [created["client_secret"]] + [r.get_json()["client_secret"] for r in responses]
    working = [
        secret
        for secret in secrets
        if request_token(city.client, created["client_id"], secret).status_code == 200
    ]
    assert len(working) == 1 and working[0] != created["client_secret"]
    with app.app_context():
        generation = db.session.scalar(
            sa.select(ApiClient.secret_generation).where(
                ApiClient.public_id == created["client_id"]
            )
        )
        db.session.rollback()
    assert generation == 1 + rotations
    report = f"/api/v1/cooperatives/{town.ksm}/report?from=2000-01-01&to=2100-01-01"
    _problem(city.client.get(report, headers=bearer(town.token)), 401, "invalid-token")


def test_rotations_racing_a_revocation_leave_no_secret_working(app, city, town):
    created = town.client
    path = f"/api/v1/cooperatives/{town.ksm}/api-clients/{created['client_id']}"
    headers = city.headers(town.admin)

    def act(index):
        if index % 2:
            return app.test_client().delete(path, headers=headers)
        return _rotate(app, headers, path)

    responses = burst(8, act)

    assert_no_server_error(responses)
    revokes, rotates = responses[1::2], responses[0::2]
    assert {r.status_code for r in revokes} == {200}
    assert {r.status_code for r in rotates} <= {200, 409}
    secrets = [created["client_secret"]] + [
        r.get_json()["client_secret"] for r in rotates if r.status_code == 200
    ]
    for secret in secrets:
        assert request_token(city.client, created["client_id"], secret).status_code == 401
    final = city.get(town.admin, path).get_json()
    assert final["status"] == "revoked"
    assert final["scopes"] == ALL_SCOPES
