"""API clients: a cooperative's admin creates, lists, rotates and revokes them; a back office
trades a client's id and secret for a token (OAuth 2.0 client credentials, RFC 6749 §4.4) and
reads its cooperative's reports, members and payments, or registers members and merchants, within
its scopes; every OAuth refusal is RFC 6749 §5.2's; every use is in the audit trail.

On SQLite and PostgreSQL. The attacks (money, other cooperatives, bursts, races) are in
tests/attacks/test_client_credentials.py.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import jwt
import pytest
import sqlalchemy as sa
from attacks.clients import (
    ALL_SCOPES,
    TOKEN_PATH,
    basic,
    bearer,
    client_token,
    create_client,
    request_token,
)
from problems import assert_problem

from gateway.db import db
from gateway.models import ApiClient, AuditEvent, Member, Merchant

PERIOD = "from=2000-01-01&to=2100-12-31"


def assert_oauth_error(response, status: int, error: str) -> dict:
    """RFC 6749 §5.2: the status, application/json, `error`; and a problem document as well."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == error, body
    assert body["error_description"].isascii()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status
    assert body["type"].startswith("https://interkop.id/problems/oauth-"), body
    assert response.headers["Cache-Control"] == "no-store"
    if error == "invalid_client":
        assert response.headers["WWW-Authenticate"] == 'Basic realm="interkop"'
    return body


@pytest.fixture
def coop(city):
    """A cooperative with its admin and an API client holding every scope."""
    coop_id = city.make_cooperative("KSM")
    admin = city.make_admin(coop_id)
    return {"id": coop_id, "admin": admin, "client": create_client(city, admin, coop_id)}


def stored(app, client_id: str) -> ApiClient:
    with app.app_context():
        row = db.session.scalar(sa.select(ApiClient).where(ApiClient.public_id == client_id))
        db.session.expunge_all()
        db.session.rollback()
        return row


def audit_rows(app, **where) -> list[AuditEvent]:
    with app.app_context():
        statement = sa.select(AuditEvent).order_by(AuditEvent.id)
        for name, value in where.items():
            statement = statement.where(getattr(AuditEvent, name) == value)
        rows = list(db.session.scalars(statement))
        db.session.expunge_all()
        db.session.rollback()
        return rows


# --- Managing clients ---------------------------------------------------------------------------


def test_an_admin_creates_a_client_whose_secret_is_shown_once_and_stored_hashed(app, city, coop):
    created = create_client(
        city, coop["admin"], coop["id"], ["payments:read", "reports:read", "payments:read"], "Excel"
    )
    assert created["client_id"].startswith("cli_")
    assert created["client_secret"].startswith("ics_") and len(created["client_secret"]) == 47
    assert created["scopes"] == ["payments:read", "reports:read"]  # sorted, once each
    assert (created["name"], created["cooperative_id"], created["status"]) == (
        "Excel",
        coop["id"],
        "active",
    )
    assert created["rotated_at"] is None and created["revoked_at"] is None

    listed = city.get(coop["admin"], f"/api/v1/cooperatives/{coop['id']}/api-clients")
    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert [item["client_id"] for item in items] == [
        coop["client"]["client_id"],
        created["client_id"],
    ]
    one = city.get(
        coop["admin"], f"/api/v1/cooperatives/{coop['id']}/api-clients/{created['client_id']}"
    )
    assert one.status_code == 200
    for answer in (*items, one.get_json()):
        assert "client_secret" not in answer
        assert created["client_secret"] not in str(answer)

    row = stored(app, created["client_id"])
    expected = hmac.new(
        created["client_id"].encode(), created["client_secret"].encode(), hashlib.sha256
    ).hexdigest()
    assert row.secret_hash == expected
    assert created["client_secret"] not in str(
        {column.name: getattr(row, column.name) for column in ApiClient.__table__.columns}
    )
    (event,) = audit_rows(app, action="api_clients.create_client", target=coop["id"])[-1:]
    assert event.outcome == "ok" and event.actor_user_id is not None


def test_only_the_cooperatives_own_admin_manages_its_clients(city, coop):
    other_coop = city.make_cooperative("KPP")
    other_admin = city.make_admin(other_coop)
    path = f"/api/v1/cooperatives/{coop['id']}/api-clients"
    client_path = f"{path}/{coop['client']['client_id']}"
    for outsider in (
        other_admin,
        city.make_member(coop["id"]),
        city.make_staff("network_admin"),
        city.make_staff("observer"),
    ):
        assert_problem(city.get(outsider, path), 403, "forbidden")
        body = {"name": "Mine", "scopes": ["members:read"]}
        assert_problem(city.post(outsider, path, body, key=None), 403, "forbidden")
        assert_problem(
            city.post(outsider, f"{client_path}/rotate", None, key=None), 403, "forbidden"
        )
        assert_problem(
            city.client.delete(client_path, headers=city.headers(outsider)), 403, "forbidden"
        )
    # Another cooperative's client, asked for under one's own: as unknown as a made-up id.
    theirs = create_client(city, other_admin, other_coop)
    for client_id in (theirs["client_id"], "cli_aaaaaaaaaaaaaaaa"):
        mine = f"/api/v1/cooperatives/{coop['id']}/api-clients/{client_id}"
        assert_problem(city.get(coop["admin"], mine), 404, "not-found")
        assert_problem(city.post(coop["admin"], f"{mine}/rotate", None, key=None), 404, "not-found")
    assert_problem(
        city.get(coop["admin"], "/api/v1/cooperatives/coop_aaaaaaaaaaaaaaaa/api-clients"),
        404,
        "not-found",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"name": "X", "scopes": []},
        {"name": "X", "scopes": ["payments:write"]},
        {"name": "X", "scopes": ["admin"]},
        {"name": "X", "scopes": "reports:read"},
        {"name": "\u202eX", "scopes": ["reports:read"]},
        {"name": "X", "scopes": ["reports:read"], "secret": "mine"},
        {"scopes": ["reports:read"]},
    ],
)
def test_a_client_with_unknown_scopes_or_a_bad_name_is_refused(city, coop, body):
    path = f"/api/v1/cooperatives/{coop['id']}/api-clients"
    assert_problem(city.post(coop["admin"], path, body, key=None), 422, "validation-failed")
    assert len(city.get(coop["admin"], path).get_json()["items"]) == 1


# --- Tokens -----------------------------------------------------------------------------------


def test_a_token_by_http_basic_and_by_the_form(app, city, coop):
    created = coop["client"]
    for in_form in (False, True):
        response = request_token(
            city.client, created["client_id"], created["client_secret"], in_form=in_form
        )
        assert response.status_code == 200, response.get_json()
        assert response.mimetype == "application/json"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"
        body = response.get_json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == app.config["API_CLIENT_TOKEN_TTL_SECONDS"] == 300
        assert body["scope"] == " ".join(ALL_SCOPES)
        header = jwt.get_unverified_header(body["access_token"])
        assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt"
        assert header["kid"] in {
            key["kid"] for key in city.client.get("/.well-known/jwks.json").get_json()["keys"]
        }
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["sub"] == claims["client_id"] == created["client_id"]
        assert claims["coop"] == coop["id"] and claims["scope"] == body["scope"]
        assert claims["aud"] == "interkop-api" and claims["iss"] == app.config["GATEWAY_ID"]
        assert claims["exp"] - claims["iat"] == 300
        assert "pin" not in claims and "member" not in claims
    # A client id and secret percent-encoded inside Basic, as RFC 6749 §2.3.1 says to send them.
    encoded = created["client_secret"].replace("_", "%5F").replace("-", "%2D")
    response = city.client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(created["client_id"], encoded)},
    )
    assert response.status_code == 200, response.get_json()
    # Unknown parameters are ignored (RFC 6749 §3.2).
    extra = request_token(
        city.client, created["client_id"], created["client_secret"], audience="anything"
    )
    assert extra.status_code == 200
    issued = audit_rows(app, action="api_clients.token", outcome="ok")
    assert len(issued) == 4
    assert {event.actor_client_id for event in issued} == {stored(app, created["client_id"]).id}
    assert {event.actor_user_id for event in issued} == {None}


def test_a_token_for_some_of_the_clients_scopes(city, coop):
    created = coop["client"]
    response = request_token(
        city.client,
        created["client_id"],
        created["client_secret"],
        scope="reports:read members:read reports:read",
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scope"] == "members:read reports:read"
    token = response.get_json()["access_token"]
    members = city.client.get(f"/api/v1/cooperatives/{coop['id']}/members", headers=bearer(token))
    assert members.status_code == 200
    refused = city.client.post(
        f"/api/v1/cooperatives/{coop['id']}/members",
        json={"phone": "081234560001", "name": "Siti", "pin": "135790"},
        headers=bearer(token),
    )
    problem = assert_problem(refused, 403, "insufficient-scope")
    assert problem["scope"] == "members:write"
    assert refused.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="members:write"'
    )


def test_the_token_endpoints_refusals_are_oauth_errors(city, coop):
    created = coop["client"]
    client_id, secret = created["client_id"], created["client_secret"]
    http = city.client

    wrong = assert_oauth_error(request_token(http, client_id, secret + "x"), 401, "invalid_client")
    for answer in (
        request_token(http, client_id, secret[:-1]),
        request_token(http, client_id, secret + "x", in_form=True),
        request_token(http, "cli_aaaaaaaaaaaaaaaa", secret),
        request_token(http, "not-a-client\x00", secret, in_form=True),
        request_token(http, client_id, "", in_form=True),
        request_token(http),  # no client authentication at all
        http.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic !!!"},
        ),
        http.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + "bm9jb2xvbg=="},
        ),
        http.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            headers=bearer(city.token(coop["admin"])),
        ),
    ):
        # One answer for all of them: nothing tells a wrong secret from an unknown client.
        assert assert_oauth_error(answer, 401, "invalid_client") == wrong

    assert_oauth_error(
        request_token(http, client_id, secret, scope="payments:write"), 400, "invalid_scope"
    )
    assert_oauth_error(
        request_token(http, client_id, secret, scope="reports:read  members:read"),
        400,
        "invalid_scope",
    )
    assert_oauth_error(
        http.post(
            TOKEN_PATH,
            data={"grant_type": "password", "username": "x"},
            headers={"Authorization": basic(client_id, secret)},
        ),
        400,
        "unsupported_grant_type",
    )
    assert_oauth_error(
        http.post(TOKEN_PATH, data={"grant_type": "authorization_code"}),
        400,
        "unsupported_grant_type",
    )
    for refused in (
        http.post(TOKEN_PATH, data={}, headers={"Authorization": basic(client_id, secret)}),
        http.post(
            TOKEN_PATH, data={"grant_type": ""}, headers={"Authorization": basic(client_id, secret)}
        ),
        http.post(
            TOKEN_PATH,
            json={"grant_type": "client_credentials"},
            headers={"Authorization": basic(client_id, secret)},
        ),
        http.post(
            TOKEN_PATH,
            data="grant_type=client_credentials",
            content_type="text/plain",
            headers={"Authorization": basic(client_id, secret)},
        ),
        http.post(
            TOKEN_PATH,
            data="grant_type=client_credentials&grant_type=client_credentials",
            content_type="application/x-www-form-urlencoded",
            headers={"Authorization": basic(client_id, secret)},
        ),
        http.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials", "client_secret": secret},
            headers={"Authorization": basic(client_id, secret)},
        ),
        http.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials", "client_id": "cli_bbbbbbbbbbbbbbbb"},
            headers={"Authorization": basic(client_id, secret)},
        ),
        http.post(
            f"{TOKEN_PATH}?client_secret={secret}",
            data={"grant_type": "client_credentials", "client_id": client_id},
        ),
    ):
        assert_oauth_error(refused, 400, "invalid_request")
    assert_problem(http.get(TOKEN_PATH), 405, "method-not-allowed")

    english = http.post(
        TOKEN_PATH, data={"grant_type": "client_credentials"}, headers={"Accept-Language": "en"}
    )
    body = assert_oauth_error(english, 401, "invalid_client")
    assert body["detail"] == body["error_description"]
    assert wrong["detail"] != wrong["error_description"]  # Bahasa Indonesia by default


def test_a_rotation_ends_the_old_secret_and_its_tokens(app, city, coop):
    created = coop["client"]
    old_token = client_token(city.client, created)
    report = f"/api/v1/cooperatives/{coop['id']}/report?{PERIOD}"
    assert city.client.get(report, headers=bearer(old_token)).status_code == 200
    path = f"/api/v1/cooperatives/{coop['id']}/api-clients/{created['client_id']}"

    rotated = city.post(coop["admin"], f"{path}/rotate", None, key=None)

    assert rotated.status_code == 200, rotated.get_json()
    fresh = rotated.get_json()
    assert fresh["client_id"] == created["client_id"] and fresh["rotated_at"] is not None
    assert fresh["client_secret"] != created["client_secret"]
    assert_oauth_error(
        request_token(city.client, created["client_id"], created["client_secret"]),
        401,
        "invalid_client",
    )
    refused = city.client.get(report, headers=bearer(old_token))
    assert_problem(refused, 401, "invalid-token")
    assert refused.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    new_token = client_token(city.client, {**created, "client_secret": fresh["client_secret"]})
    assert city.client.get(report, headers=bearer(new_token)).status_code == 200
    assert stored(app, created["client_id"]).secret_generation == 2
    assert "client_secret" not in city.get(coop["admin"], path).get_json()


def test_a_revocation_ends_the_secret_and_its_tokens_for_good(app, city, coop):
    created = coop["client"]
    token = client_token(city.client, created)
    members = f"/api/v1/cooperatives/{coop['id']}/members"
    assert city.client.get(members, headers=bearer(token)).status_code == 200
    path = f"/api/v1/cooperatives/{coop['id']}/api-clients/{created['client_id']}"

    revoked = city.client.delete(path, headers=city.headers(coop["admin"]))

    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["status"] == "revoked" and revoked.get_json()["revoked_at"]
    assert_problem(city.client.get(members, headers=bearer(token)), 401, "invalid-token")
    assert_oauth_error(
        request_token(city.client, created["client_id"], created["client_secret"]),
        401,
        "invalid_client",
    )
    again = city.client.delete(path, headers=city.headers(coop["admin"]))
    assert again.status_code == 200 and again.get_json() == revoked.get_json()  # a no-op
    assert_problem(
        city.post(coop["admin"], f"{path}/rotate", None, key=None), 409, "api-client-revoked"
    )
    listed = city.get(coop["admin"], f"/api/v1/cooperatives/{coop['id']}/api-clients").get_json()
    assert [item["status"] for item in listed["items"]] == ["revoked"]
    # The refused use is attributable too.
    (event,) = audit_rows(app, action="cooperatives.list_members", outcome="refused 401")
    assert event.actor_client_id == stored(app, created["client_id"]).id


# --- Using a token --------------------------------------------------------------------------


@pytest.fixture
def busy_coop(app, city, coop):
    """The cooperative with a member who paid one of its shops, and a closed window."""
    from gateway import settlement
    from gateway.db import transaction

    member = city.make_member(coop["id"])
    shop = city.make_merchant(coop["id"])
    assert city.cash_in(coop["admin"], member, 100_000).status_code == 201
    paid = city.pay_sticker(member, shop, 25_000)
    assert paid.status_code == 201, paid.get_json()
    with app.app_context():
        window = settlement.close(db.session, lambda work: transaction(db.session, work))
        window_id = window.public_id
        db.session.rollback()
    return {
        **coop,
        "member": member,
        "shop": shop,
        "payment_id": paid.get_json()["id"],
        "window_id": window_id,
    }


def test_a_client_reads_what_its_cooperatives_admin_reads(city, busy_coop):
    coop, admin = busy_coop["id"], busy_coop["admin"]
    token = client_token(city.client, busy_coop["client"])
    member, payment_id, window_id = (
        busy_coop["member"],
        busy_coop["payment_id"],
        busy_coop["window_id"],
    )
    for path in (
        f"/api/v1/cooperatives/{coop}/report?{PERIOD}",
        f"/api/v1/cooperatives/{coop}/report?{PERIOD}&format=csv",
        f"/api/v1/cooperatives/{coop}/shu?year=2026&pool=1000000",
        "/api/v1/settlement/windows",
        f"/api/v1/settlement/windows/{window_id}",
        f"/api/v1/settlement/windows/{window_id}.csv",
        f"/api/v1/cooperatives/{coop}/members",
        f"/api/v1/cooperatives/{coop}/merchants",
        f"/api/v1/payments/{payment_id}",
        f"/api/v1/members/{member.id}/payments",
        f"/api/v1/members/{member.id}/wallet",
        f"/api/v1/members/{member.id}/limits",
    ):
        as_client = city.client.get(path, headers=bearer(token))
        as_admin = city.get(admin, path)
        assert as_client.status_code == 200, (path, as_client.get_data(as_text=True)[:300])
        if as_client.mimetype == "application/json":
            # A feed's first page starts its cursor at the time it was read.
            answers = [answer.get_json() for answer in (as_client, as_admin)]
            for answer in answers:
                answer.pop("feed_cursor", None)
            assert answers[0] == answers[1], path
        else:
            assert as_client.get_data() == as_admin.get_data(), path
        assert as_client.headers["Cache-Control"] == "no-store", path


def test_a_client_registers_members_and_merchants(app, city, coop):
    token = client_token(city.client, coop["client"], scope="members:write")
    member = city.client.post(
        f"/api/v1/cooperatives/{coop['id']}/members",
        json={"phone": "081234560001", "name": "Siti Aminah", "pin": "135790"},
        headers=bearer(token),
    )
    assert member.status_code == 201, member.get_json()
    assert member.get_json()["cooperative_id"] == coop["id"]
    merchant = city.client.post(
        f"/api/v1/cooperatives/{coop['id']}/merchants",
        json={
            "name": "Warung Bu Sri",
            "kind": "shop",
            "owner_phone": "081234560002",
            "owner_name": "Sri",
            "owner_pin": "246801",
        },
        headers=bearer(token),
    )
    assert merchant.status_code == 201, merchant.get_json()
    # The registered member logs in with the PIN given: a person, unlike the client.
    login = city.client.post("/api/v1/auth/login", json={"phone": "081234560001", "pin": "135790"})
    assert login.status_code == 200
    assert city.count(Member) == 1 and city.count(Merchant) == 1
    client_row = stored(app, coop["client"]["client_id"])
    registered = audit_rows(app, actor_client_id=client_row.id, outcome="ok")
    assert [event.action for event in registered] == [
        "api_clients.token",
        "cooperatives.register_member",
        "cooperatives.register_merchant",
    ]
    for event in registered:
        assert event.actor_user_id is None
        assert event.cooperative_id == client_row.cooperative_id


def test_scopes_open_only_their_endpoints(city, busy_coop):
    coop, created = busy_coop["id"], busy_coop["client"]
    member = busy_coop["member"]
    by_scope = {
        "reports:read": [
            f"/api/v1/cooperatives/{coop}/report?{PERIOD}",
            "/api/v1/settlement/windows",
        ],
        "members:read": [
            f"/api/v1/cooperatives/{coop}/members",
            f"/api/v1/cooperatives/{coop}/merchants",
        ],
        "payments:read": [
            f"/api/v1/payments/{busy_coop['payment_id']}",
            f"/api/v1/members/{member.id}/wallet",
        ],
    }
    tokens = {scope: client_token(city.client, created, scope=scope) for scope in ALL_SCOPES}
    for scope, token in tokens.items():
        for needed, paths in by_scope.items():
            for path in paths:
                answer = city.client.get(path, headers=bearer(token))
                if needed == scope:
                    assert answer.status_code == 200, (scope, path)
                else:
                    problem = assert_problem(answer, 403, "insufficient-scope")
                    assert problem["scope"] == needed
    # A client created with fewer scopes cannot ask for more.
    narrow = create_client(city, busy_coop["admin"], coop, ["reports:read"], "Laporan")
    assert_oauth_error(
        request_token(
            city.client, narrow["client_id"], narrow["client_secret"], scope="members:read"
        ),
        400,
        "invalid_scope",
    )
    token = client_token(city.client, narrow)
    assert city.client.get(by_scope["reports:read"][0], headers=bearer(token)).status_code == 200
    assert_problem(
        city.client.get(by_scope["members:read"][0], headers=bearer(token)),
        403,
        "insufficient-scope",
    )


def test_a_client_is_no_person(city, coop):
    token = client_token(city.client, coop["client"])
    for path in ("/api/v1/me", "/api/v1/me/invitations", "/api/v1/audit", "/api/v1/fee-schedules"):
        assert_problem(city.client.get(path, headers=bearer(token)), 403, "api-client-not-allowed")
    # Its token is no login either: it manages no API clients, not even itself.
    path = f"/api/v1/cooperatives/{coop['id']}/api-clients"
    assert_problem(city.client.get(path, headers=bearer(token)), 403, "api-client-not-allowed")
    assert_problem(
        city.client.post(path, json={"name": "More", "scopes": ALL_SCOPES}, headers=bearer(token)),
        403,
        "api-client-not-allowed",
    )


def test_every_use_of_a_client_is_in_its_cooperatives_audit_trail(app, city, busy_coop):
    coop, admin, created = busy_coop["id"], busy_coop["admin"], busy_coop["client"]
    other_coop = city.make_cooperative("KPP")
    other_admin = city.make_admin(other_coop)
    token = client_token(city.client, created)
    report = f"/api/v1/cooperatives/{coop}/report?{PERIOD}"
    assert (
        city.client.get(
            report, headers=bearer(token), environ_base={"REMOTE_ADDR": "198.51.100.20"}
        ).status_code
        == 200
    )
    refused = city.client.post(
        "/api/v1/counter/cash-in",
        json={"member_id": busy_coop["member"].id, "amount": 10_000},
        headers={**bearer(token), "Idempotency-Key": "k1"},
    )
    assert_problem(refused, 403, "api-client-not-allowed")

    events = city.get(admin, "/api/v1/audit").get_json()["items"]
    by_client = [event for event in reversed(events) if event["client"] == created["client_id"]]
    assert [(event["action"], event["outcome"]) for event in by_client] == [
        ("api_clients.token", "ok"),
        ("settlement.cooperative_report", "ok"),
        ("counter.cash_in", "refused 403"),
    ]
    for event in by_client:
        assert event["actor"] is None and event["cooperative_id"] == coop
    read = by_client[1]
    assert read["remote_address"] == "198.51.100.20"
    assert read["detail"] == {"method": "GET", "path": f"/api/v1/cooperatives/{coop}/report"}
    assert by_client[0]["detail"] == {"method": "POST", "path": TOKEN_PATH}
    # Another cooperative's admin sees none of it.
    theirs = city.get(other_admin, "/api/v1/audit").get_json()["items"]
    assert not [event for event in theirs if event["client"] is not None]
    times = [datetime.fromisoformat(event["created_at"]) for event in by_client]
    assert times == sorted(times)
