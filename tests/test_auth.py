"""Login, PIN lockout, access and refresh tokens, and who may see and do what, on SQLite and
PostgreSQL."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from freezegun import freeze_time
from problems import assert_problem

from gateway.auth import ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYPE
from gateway.db import db
from gateway.models import Member, Transfer, User

LOCKOUT = timedelta(minutes=15)


def login(client, person, pin=None):
    return client.post("/api/v1/auth/login", json={"phone": person.phone, "pin": pin or person.pin})


def me(client, access_token):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {access_token}"})


def wrong(pin: str) -> str:
    """Return another six-digit PIN."""
    return "000000" if pin != "000000" else "999999"


def user_row(app, person) -> User:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.public_id == person.user_id))
        db.session.expunge(user)
        return user


# --- Login and "who am I" -----------------------------------------------------------------------


def test_login_returns_an_access_token_a_refresh_token_and_their_lifetime(app, city):
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    response = login(city.client, siti)
    assert response.status_code == 200, response.get_json()
    tokens = response.get_json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == app.config["ACCESS_TOKEN_TTL_SECONDS"] == 15 * 60
    assert tokens["refresh_token"] and tokens["refresh_token"] != tokens["access_token"]

    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "EdDSA" and header["typ"] == ACCESS_TOKEN_TYPE
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["sub"] == siti.user_id
    assert claims["aud"] == ACCESS_TOKEN_AUDIENCE
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_me_shows_a_members_roles_member_id_and_wallet_balance(city):
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    assert city.cash_in(teller, siti, 50_000).status_code == 201

    response = city.get(siti, "/api/v1/me")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == siti.user_id
    assert body["phone"] == siti.phone
    assert body["roles"] == ["member"]
    assert body["member_id"] == siti.id
    assert body["cooperative_id"] == coop
    assert body["wallet_balance"] == 50_000
    assert body["merchant_ids"] == [] and body["admin_cooperative_ids"] == []


def test_a_driver_who_is_also_a_member_has_both_roles(city):
    # The driver already has a login, so the admin's registration is an invitation that the
    # driver accepts in their own app with their own PIN (tests/test_invitations.py).
    coop = city.make_cooperative("KAM", kind="transport")
    admin = city.make_admin(coop)
    driver = city.make_merchant(coop, kind="angkot")
    body = {"phone": driver.phone, "name": "Pak Darmo", "pin": "000000"}
    invited = city.post(admin, f"/api/v1/cooperatives/{coop}/members", body, key=None)
    assert invited.status_code == 201, invited.get_json()
    path = f"/api/v1/me/invitations/{invited.get_json()['id']}/accept"
    accepted = city.post(driver, path, {"pin": driver.pin}, key=None)
    assert accepted.status_code == 200, accepted.get_json()
    member_id = accepted.get_json()["member_id"]

    body = city.get(driver, "/api/v1/me").get_json()
    assert body["roles"] == ["member", "merchant"]
    assert body["member_id"] == member_id
    assert body["merchant_ids"] == [driver.id]
    assert body["wallet_balance"] == 0


def test_a_cooperative_admin_has_the_coop_admin_role_and_no_wallet(city):
    coop = city.make_cooperative("KSM")
    admin = city.make_admin(coop)
    body = city.get(admin, "/api/v1/me").get_json()
    assert body["roles"] == ["coop_admin"]
    assert body["admin_cooperative_ids"] == [coop]
    assert body["member_id"] is None
    assert body["wallet_balance"] is None


def test_no_authorization_header_is_refused_as_authentication_required(city):
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    assert_problem(city.client.get("/api/v1/me"), 401, "authentication-required")
    assert_problem(
        city.client.get(f"/api/v1/members/{siti.id}/wallet"), 401, "authentication-required"
    )
    assert_problem(
        city.client.get("/api/v1/me", headers={"Authorization": "Basic c2l0aTpwaW4="}),
        401,
        "authentication-required",
    )
    response = city.client.post(
        "/api/v1/counter/cash-in",
        json={"member_id": siti.id, "amount": 10_000},
        headers={"Idempotency-Key": "no-login"},
    )
    assert_problem(response, 401, "authentication-required")
    assert city.count(Transfer) == 0


# --- Wrong PINs and the lockout -----------------------------------------------------------------


def test_wrong_pin_at_login_is_refused_and_counted_without_telling_attempts_left(app, city):
    # An unknown phone cannot say how many attempts are left, so a known one does not either:
    # the answer must not tell whether a phone number is registered.
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    body = assert_problem(login(city.client, siti, wrong(siti.pin)), 401, "invalid-credentials")
    assert "attempts_left" not in body
    assert user_row(app, siti).failed_pin_attempts == 1
    body = assert_problem(login(city.client, siti, wrong(siti.pin)), 401, "invalid-credentials")
    assert user_row(app, siti).failed_pin_attempts == 2
    assert "access_token" not in body


def test_unknown_phone_is_refused_like_a_wrong_pin(city):
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    known = assert_problem(login(city.client, siti, wrong(siti.pin)), 401, "invalid-credentials")
    unknown = assert_problem(
        city.client.post("/api/v1/auth/login", json={"phone": "+6281299999999", "pin": "123456"}),
        401,
        "invalid-credentials",
    )
    assert unknown["title"] == known["title"] and unknown["detail"] == known["detail"]


def test_unknown_and_known_phones_answer_alike_through_the_lock(app, city):
    # Wrong PINs for a phone without a login are counted and locked like a person's, so not
    # even the fifth try tells a registered number from an unknown one.
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    unknown = {"phone": "+6281299999999", "pin": "123456"}

    def shape(response):
        body = dict(response.get_json())
        body.pop("locked_until", None)
        return response.status_code, body, "locked_until" in response.get_json()

    for _ in range(app.config["PIN_ATTEMPTS_MAX"] + 2):
        known = login(city.client, siti, wrong(siti.pin))
        stranger = city.client.post("/api/v1/auth/login", json=unknown)
        assert shape(known) == shape(stranger)
    assert known.status_code == 423


def test_the_lock_message_says_the_settings_in_force(app, city):
    app.config.update(PIN_ATTEMPTS_MAX=3, PIN_LOCKOUT_SECONDS=30 * 60)
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    for _ in range(2):
        assert_problem(login(city.client, siti, wrong(siti.pin)), 401, "invalid-credentials")
    indonesian = assert_problem(login(city.client, siti, wrong(siti.pin)), 423, "pin-locked")
    assert indonesian["detail"] == "PIN salah 3 kali berturut-turut. Coba lagi dalam 30 menit."
    english = city.client.post(
        "/api/v1/auth/login",
        json={"phone": siti.phone, "pin": siti.pin},
        headers={"Accept-Language": "en"},
    )
    body = assert_problem(english, 423, "pin-locked")
    assert body["detail"] == "3 wrong PINs in a row. Try again in 30 minutes."


def test_fifth_wrong_pin_locks_login_for_15_minutes(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        coop = city.make_cooperative("KSM")
        siti = city.make_member(coop)
        for failures in (1, 2, 3, 4):
            assert_problem(login(city.client, siti, wrong(siti.pin)), 401, "invalid-credentials")
            assert user_row(app, siti).failed_pin_attempts == failures

        locked = assert_problem(login(city.client, siti, wrong(siti.pin)), 423, "pin-locked")
        assert datetime.fromisoformat(locked["locked_until"]) == start + LOCKOUT
        stored = user_row(app, siti)
        assert stored.failed_pin_attempts == 5
        assert stored.locked_until == start + LOCKOUT

        # Even the right PIN is refused while the lock holds, and does not extend it.
        assert_problem(login(city.client, siti), 423, "pin-locked")
        frozen.move_to(start + LOCKOUT - timedelta(seconds=1))
        assert_problem(login(city.client, siti), 423, "pin-locked")
        assert user_row(app, siti).locked_until == start + LOCKOUT

        frozen.move_to(start + LOCKOUT + timedelta(seconds=1))
        response = login(city.client, siti)
        assert response.status_code == 200, response.get_json()
        stored = user_row(app, siti)
        assert stored.failed_pin_attempts == 0 and stored.locked_until is None

        # The count starts again from zero.
        assert_problem(login(city.client, siti, wrong(siti.pin)), 401, "invalid-credentials")
        assert user_row(app, siti).failed_pin_attempts == 1


def test_a_wrong_pin_after_the_lock_expired_counts_from_zero(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        coop = city.make_cooperative("KSM")
        siti = city.make_member(coop)
        for _ in range(5):
            login(city.client, siti, wrong(siti.pin))
        assert_problem(login(city.client, siti), 423, "pin-locked")

        frozen.move_to(start + LOCKOUT + timedelta(seconds=1))
        assert_problem(login(city.client, siti, wrong(siti.pin)), 401, "invalid-credentials")
        stored = user_row(app, siti)
        assert stored.failed_pin_attempts == 1 and stored.locked_until is None
        # One slip after the lock is one slip, not a new lock: the right PIN works.
        response = login(city.client, siti)
        assert response.status_code == 200, response.get_json()


def test_wrong_pins_at_the_counter_count_toward_the_same_lockout(app, city):
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    assert city.cash_in(teller, siti, 100_000).status_code == 201

    body = assert_problem(
        city.cash_out(teller, siti, 10_000, pin=wrong(siti.pin)), 403, "wrong-pin"
    )
    assert body["attempts_left"] == 4
    for failures in (2, 3, 4):
        assert_problem(login(city.client, siti, wrong(siti.pin)), 401, "invalid-credentials")
        assert user_row(app, siti).failed_pin_attempts == failures
    assert_problem(city.cash_out(teller, siti, 10_000, pin=wrong(siti.pin)), 423, "pin-locked")

    # Locked everywhere: at login and at the counter, even with the right PIN.
    assert_problem(login(city.client, siti), 423, "pin-locked")
    assert_problem(city.cash_out(teller, siti, 10_000), 423, "pin-locked")
    assert city.balance_of_member(siti) == 100_000
    assert city.count(Transfer) == 1


def test_the_right_pin_at_the_counter_resets_the_count(app, city):
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    assert city.cash_in(teller, siti, 100_000).status_code == 201
    for _ in range(3):
        login(city.client, siti, wrong(siti.pin))
    assert user_row(app, siti).failed_pin_attempts == 3

    assert city.cash_out(teller, siti, 10_000).status_code == 201
    assert user_row(app, siti).failed_pin_attempts == 0
    assert_problem(login(city.client, siti, wrong(siti.pin)), 401, "invalid-credentials")
    assert user_row(app, siti).failed_pin_attempts == 1


# --- Access tokens ------------------------------------------------------------------------------


def test_an_expired_access_token_is_refused(city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        coop = city.make_cooperative("KSM")
        siti = city.make_member(coop)
        access_token = login(city.client, siti).get_json()["access_token"]
        assert me(city.client, access_token).status_code == 200

        frozen.move_to(start + timedelta(minutes=15) - timedelta(seconds=1))
        assert me(city.client, access_token).status_code == 200

        frozen.move_to(start + timedelta(minutes=16))
        assert_problem(me(city.client, access_token), 401, "invalid-token")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(app, subject: str, **overrides) -> dict:
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": app.config["GATEWAY_ID"],
        "aud": ACCESS_TOKEN_AUDIENCE,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": secrets.token_hex(12),
    }
    claims.update(overrides)
    return claims


def _signed(app, claims: dict, **header) -> str:
    """Sign with the gateway's own signing key (so only what is overridden is wrong)."""
    key = app.extensions["keyring"].signing_key()
    headers = {"kid": key.kid, "typ": ACCESS_TOKEN_TYPE, **header}
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers=headers)


def _unsigned(app, claims: dict) -> str:
    kid = app.extensions["keyring"].signing_key().kid
    header = {"alg": "none", "typ": ACCESS_TOKEN_TYPE, "kid": kid}
    return _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode()) + "."


def _signed_by_another_key(app, claims: dict) -> str:
    kid = app.extensions["keyring"].signing_key().kid
    impostor = Ed25519PrivateKey.generate()
    return jwt.encode(
        claims, impostor, algorithm="EdDSA", headers={"kid": kid, "typ": ACCESS_TOKEN_TYPE}
    )


def _hs256_with_the_public_key(app, claims: dict) -> str:
    """The algorithm-confusion attack: HMAC keyed with the (public) verification key."""
    key = app.extensions["keyring"].signing_key()
    secret = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return jwt.encode(
        claims, secret, algorithm="HS256", headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
    )


FORGERIES = {
    "alg_none": lambda app, sub: _unsigned(app, _claims(app, sub)),
    "another_ed25519_key_same_kid": lambda app, sub: _signed_by_another_key(app, _claims(app, sub)),
    "hs256": lambda app, sub: _hs256_with_the_public_key(app, _claims(app, sub)),
    "wrong_typ": lambda app, sub: _signed(app, _claims(app, sub), typ="JWT"),
    "qr_typ": lambda app, sub: _signed(app, _claims(app, sub), typ="interkop-qr+jwt"),
    "wrong_aud": lambda app, sub: _signed(app, _claims(app, sub, aud="interkop-qr")),
    "wrong_iss": lambda app, sub: _signed(app, _claims(app, sub, iss="someone-else")),
    "unknown_kid": lambda app, sub: _signed(app, _claims(app, sub), kid="20200101-deadbeef"),
    "unknown_subject": lambda app, sub: _signed(app, _claims(app, "usr_nobody")),
    "not_a_jwt": lambda app, sub: "not.a.jwt",
}


def test_a_token_built_like_the_gateways_own_is_accepted(app, city):
    """The control for the forgeries below: only what each one changes makes it fail."""
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    response = me(city.client, _signed(app, _claims(app, siti.user_id)))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["member_id"] == siti.id


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_or_foreign_access_token_is_refused(app, city, forgery):
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    token = FORGERIES[forgery](app, siti.user_id)
    assert_problem(me(city.client, token), 401, "invalid-token")


def test_a_qr_token_is_not_accepted_as_an_access_token(city):
    coop = city.make_cooperative("KAM", kind="transport")
    driver = city.make_merchant(coop, kind="angkot")
    response = city.get(driver, f"/api/v1/merchants/{driver.id}/static-qr")
    assert response.status_code == 200, response.get_json()
    assert_problem(me(city.client, response.get_json()["token"]), 401, "invalid-token")


# --- Refresh tokens -----------------------------------------------------------------------------


def refresh(client, refresh_token):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def test_refresh_rotates_and_reuse_of_a_spent_token_revokes_the_whole_family(city):
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    budi = city.make_member(coop)
    first = login(city.client, siti).get_json()
    other_family = login(city.client, budi).get_json()

    response = refresh(city.client, first["refresh_token"])
    assert response.status_code == 200, response.get_json()
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert me(city.client, second["access_token"]).get_json()["member_id"] == siti.id

    response = refresh(city.client, second["refresh_token"])
    assert response.status_code == 200, response.get_json()
    third = response.get_json()

    # The spent first token comes back (stolen, replayed): refused, and the family is revoked.
    assert_problem(refresh(city.client, first["refresh_token"]), 401, "invalid-token")
    assert_problem(refresh(city.client, third["refresh_token"]), 401, "invalid-token")
    assert_problem(refresh(city.client, second["refresh_token"]), 401, "invalid-token")

    # Another login's family is untouched, and logging in again starts a new family.
    assert refresh(city.client, other_family["refresh_token"]).status_code == 200
    again = login(city.client, siti).get_json()
    assert refresh(city.client, again["refresh_token"]).status_code == 200


def test_an_unknown_refresh_token_is_refused(city):
    assert_problem(refresh(city.client, "not-a-refresh-token"), 401, "invalid-token")


def test_logout_with_the_token_in_the_body_revokes_its_family(city):
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    first = login(city.client, siti).get_json()
    second = refresh(city.client, first["refresh_token"]).get_json()
    other = login(city.client, siti).get_json()

    response = city.client.post(
        "/api/v1/auth/logout", json={"refresh_token": second["refresh_token"]}
    )
    assert response.status_code == 200, response.get_json()
    assert_problem(refresh(city.client, second["refresh_token"]), 401, "invalid-token")
    # Another login of the same person is another session, and lives on.
    assert refresh(city.client, other["refresh_token"]).status_code == 200


def test_logout_with_the_session_cookie_revokes_its_family(city):
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    response = city.client.post(
        "/api/v1/auth/login",
        json={"phone": siti.phone, "pin": siti.pin},
        headers={"Interkop-Session": "cookie"},
    )
    assert response.status_code == 200
    cookie = city.client.get_cookie("interkop_refresh", path="/api/v1/auth").value
    assert city.client.post("/api/v1/auth/logout", json={}).status_code == 200
    assert_problem(refresh(city.client, cookie), 401, "invalid-token")


def test_a_refresh_token_is_not_accepted_as_an_access_token(city):
    coop = city.make_cooperative("KSM")
    siti = city.make_member(coop)
    tokens = login(city.client, siti).get_json()
    assert_problem(me(city.client, tokens["refresh_token"]), 401, "invalid-token")


# --- Who may do what ----------------------------------------------------------------------------


def test_a_coop_admin_cannot_list_or_register_another_cooperatives_members_or_merchants(city):
    x = city.make_cooperative("KSM")
    y = city.make_cooperative("KAM", kind="transport")
    x_admin = city.make_admin(x)
    city.make_member(y)
    city.make_merchant(y, kind="angkot")

    assert_problem(city.get(x_admin, f"/api/v1/cooperatives/{y}/members"), 403, "forbidden")
    assert_problem(city.get(x_admin, f"/api/v1/cooperatives/{y}/merchants"), 403, "forbidden")
    new_member = {"phone": "081299990001", "name": "Dewi", "pin": "246810"}
    assert_problem(
        city.post(x_admin, f"/api/v1/cooperatives/{y}/members", new_member, key=None),
        403,
        "forbidden",
    )
    new_merchant = {
        "name": "Warung Dewi",
        "kind": "shop",
        "category": "micro",
        "owner_phone": "081299990002",
        "owner_name": "Dewi",
        "owner_pin": "246810",
    }
    assert_problem(
        city.post(x_admin, f"/api/v1/cooperatives/{y}/merchants", new_merchant, key=None),
        403,
        "forbidden",
    )
    assert city.count(Member) == 1

    # Their own cooperative, by contrast:
    assert city.get(x_admin, f"/api/v1/cooperatives/{x}/members").status_code == 200
    response = city.post(x_admin, f"/api/v1/cooperatives/{x}/members", new_member, key=None)
    assert response.status_code == 201, response.get_json()
    assert city.count(Member) == 2


def test_a_coop_admin_cannot_pay_out_another_cooperatives_merchant(city):
    x = city.make_cooperative("KSM")
    y = city.make_cooperative("KAM", kind="transport")
    x_admin = city.make_admin(x)
    y_admin = city.make_admin(y)
    driver = city.make_merchant(y, kind="angkot")

    assert_problem(city.payout(x_admin, driver, 5_000), 403, "forbidden")
    # Naming Y's counter does not help: X's admin does not work there.
    response = city.post(
        x_admin,
        "/api/v1/counter/payouts",
        {"merchant_id": driver.id, "amount": 5_000, "counter_cooperative_id": y},
    )
    assert_problem(response, 403, "forbidden")
    # Y's own admin gets past the authorisation (and finds nothing to pay out).
    assert_problem(city.payout(y_admin, driver, 5_000), 422, "insufficient-funds")
    assert city.count(Transfer) == 0


def test_a_coop_admin_can_cash_in_and_out_for_another_cooperatives_member(city):
    x = city.make_cooperative("KSM")
    y = city.make_cooperative("KAM", kind="transport")
    x_admin = city.make_admin(x)
    rina = city.make_member(y)

    response = city.cash_in(x_admin, rina, 80_000)
    assert response.status_code == 201, response.get_json()
    response = city.cash_out(x_admin, rina, 30_000)
    assert response.status_code == 201, response.get_json()
    assert city.balance_of_member(rina) == 50_000
    assert city.balance_of_system(x, "counter_cash") == -50_000


def test_a_member_cannot_read_another_members_wallet(city):
    coop = city.make_cooperative("KSM")
    other = city.make_cooperative("KAM", kind="transport")
    teller = city.make_admin(coop)
    other_admin = city.make_admin(other)
    siti = city.make_member(coop)
    budi = city.make_member(coop)
    assert city.cash_in(teller, siti, 40_000).status_code == 201

    # Budi gets exactly what an unknown id gets, so member ids cannot be probed.
    someone_elses = assert_problem(
        city.get(budi, f"/api/v1/members/{siti.id}/wallet"), 404, "not-found"
    )
    unknown = assert_problem(
        city.get(budi, "/api/v1/members/mem_aaaaaaaaaaaaaaaa/wallet"), 404, "not-found"
    )
    assert someone_elses == unknown
    # So does an admin of another cooperative.
    assert city.get(other_admin, f"/api/v1/members/{siti.id}/wallet").get_json() == unknown

    own = city.get(siti, f"/api/v1/members/{siti.id}/wallet")
    assert own.status_code == 200, own.get_json()
    assert own.get_json()["member_id"] == siti.id
    assert own.get_json()["balance"] == 40_000
    assert [t["amount"] for t in own.get_json()["transfers"]] == [40_000]

    by_admin = city.get(teller, f"/api/v1/members/{siti.id}/wallet")
    assert by_admin.status_code == 200, by_admin.get_json()
    assert by_admin.get_json() == own.get_json()
