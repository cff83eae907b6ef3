"""How a person who already has a login takes on a second role: the admin's registration is an
invitation, and only the person, in their own app and with their own PIN, makes it real."""

from __future__ import annotations

import sqlalchemy as sa
from attacks.burst import assert_no_server_error, burst, statuses

from gateway.db import db
from gateway.errors import PROBLEM_BASE
from gateway.models import Invitation, Member, Merchant, User


def invite_as_member(city, admin, coop, person):
    body = {"phone": person.phone, "name": "Nama Lain", "pin": "999999"}
    response = city.post(admin, f"/api/v1/cooperatives/{coop}/members", body, key=None)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def accept(city, person, invitation_id, pin=None):
    path = f"/api/v1/me/invitations/{invitation_id}/accept"
    return city.post(person, path, {"pin": pin or person.pin}, key=None)


def slug(response) -> str:
    return response.get_json()["type"].removeprefix(PROBLEM_BASE)


def test_a_driver_accepts_an_invitation_and_becomes_a_member_with_a_wallet(city):
    coop = city.make_cooperative("KAM", kind="transport")
    admin = city.make_admin(coop)
    driver = city.make_merchant(coop, kind="angkot")

    invitation = invite_as_member(city, admin, coop, driver)
    assert invitation["status"] == "pending" and invitation["role"] == "member"
    assert invitation["cooperative_id"] == coop and invitation["member_id"] is None
    assert city.count(Member) == 0

    listed = city.get(driver, "/api/v1/me/invitations").get_json()["items"]
    assert [item["id"] for item in listed] == [invitation["id"]]

    response = accept(city, driver, invitation["id"])
    assert response.status_code == 200, response.get_json()
    accepted = response.get_json()
    assert accepted["status"] == "accepted" and accepted["member_id"]
    assert city.get(driver, "/api/v1/me/invitations").get_json()["items"] == []
    me = city.get(driver, "/api/v1/me").get_json()
    assert me["member_id"] == accepted["member_id"] and me["wallet_balance"] == 0
    # The name and PIN the admin typed changed nothing of the driver's login.
    with city.app.app_context():
        user = db.session.scalar(sa.select(User).where(User.public_id == driver.user_id))
        assert user.name == "Pemilik"
    assert (
        city.client.post(
            "/api/v1/auth/login", json={"phone": driver.phone, "pin": "999999"}
        ).status_code
        == 401
    )


def test_a_member_accepts_an_invitation_to_own_a_merchant(city):
    home = city.make_cooperative("KSM")
    market = city.make_cooperative("KPP", kind="market_traders")
    market_admin = city.make_admin(market)
    siti = city.make_member(home)
    body = {
        "name": "Warung Siti",
        "kind": "shop",
        "category": "micro",
        "owner_phone": siti.phone,
        "owner_name": "Siti",
        "owner_pin": "999999",
    }
    response = city.post(market_admin, f"/api/v1/cooperatives/{market}/merchants", body, key=None)
    assert response.status_code == 201, response.get_json()
    invitation = response.get_json()
    assert invitation["role"] == "merchant_owner"
    assert invitation["merchant"] == {"name": "Warung Siti", "kind": "shop", "category": "micro"}
    assert city.count(Merchant) == 0

    response = accept(city, siti, invitation["id"])
    assert response.status_code == 200, response.get_json()
    merchant_id = response.get_json()["merchant_id"]
    me = city.get(siti, "/api/v1/me").get_json()
    assert me["roles"] == ["member", "merchant"] and me["merchant_ids"] == [merchant_id]


def test_a_wrong_pin_at_acceptance_is_counted_like_any_other(app, city):
    coop = city.make_cooperative("KAM", kind="transport")
    admin = city.make_admin(coop)
    driver = city.make_merchant(coop, kind="angkot")
    invitation = invite_as_member(city, admin, coop, driver)

    response = accept(city, driver, invitation["id"], pin="000000")
    assert (response.status_code, slug(response)) == (403, "wrong-pin")
    assert response.get_json()["attempts_left"] == app.config["PIN_ATTEMPTS_MAX"] - 1
    with app.app_context():
        failures = db.session.scalar(
            sa.select(User.failed_pin_attempts).where(User.public_id == driver.user_id)
        )
        assert failures == 1
    assert city.count(Member) == 0
    assert accept(city, driver, invitation["id"]).status_code == 200


def test_only_the_invited_person_sees_or_answers_an_invitation(city):
    coop = city.make_cooperative("KAM", kind="transport")
    admin = city.make_admin(coop)
    driver = city.make_merchant(coop, kind="angkot")
    budi = city.make_member(coop)
    invitation = invite_as_member(city, admin, coop, driver)

    assert city.get(budi, "/api/v1/me/invitations").get_json()["items"] == []
    theirs = accept(city, budi, invitation["id"])
    unknown = accept(city, budi, "inv_aaaaaaaaaaaaaaaa")
    assert (theirs.status_code, theirs.get_json()) == (unknown.status_code, unknown.get_json())
    assert slug(theirs) == "not-found"
    declined = city.post(admin, f"/api/v1/me/invitations/{invitation['id']}/decline", {}, None)
    assert declined.status_code == 404


def test_a_declined_invitation_can_no_longer_be_accepted(city):
    coop = city.make_cooperative("KAM", kind="transport")
    admin = city.make_admin(coop)
    driver = city.make_merchant(coop, kind="angkot")
    invitation = invite_as_member(city, admin, coop, driver)

    response = city.post(driver, f"/api/v1/me/invitations/{invitation['id']}/decline", {}, None)
    assert response.status_code == 200 and response.get_json()["status"] == "declined"
    response = accept(city, driver, invitation["id"])
    assert (response.status_code, slug(response)) == (409, "invitation-not-pending")
    assert city.count(Member) == 0


def test_a_repeated_registration_is_the_same_invitation(city):
    coop = city.make_cooperative("KAM", kind="transport")
    admin = city.make_admin(coop)
    driver = city.make_merchant(coop, kind="angkot")
    assert invite_as_member(city, admin, coop, driver) == invite_as_member(
        city, admin, coop, driver
    )
    assert city.count(Invitation) == 1


def test_a_member_of_one_cooperative_cannot_accept_membership_of_another(city):
    first = city.make_cooperative("KAM", kind="transport")
    second = city.make_cooperative("KSM")
    first_admin, second_admin = city.make_admin(first), city.make_admin(second)
    driver = city.make_merchant(first, kind="angkot")
    one = invite_as_member(city, first_admin, first, driver)
    other = invite_as_member(city, second_admin, second, driver)
    assert accept(city, driver, one["id"]).status_code == 200
    response = accept(city, driver, other["id"])
    assert (response.status_code, slug(response)) == (409, "phone-taken")
    assert city.count(Member) == 1


def test_concurrent_acceptances_make_one_member(app, city):
    coop = city.make_cooperative("KAM", kind="transport")
    admin = city.make_admin(coop)
    driver = city.make_merchant(coop, kind="angkot")
    invitation = invite_as_member(city, admin, coop, driver)
    headers = city.headers(driver)
    path = f"/api/v1/me/invitations/{invitation['id']}/accept"

    responses = burst(
        8, lambda index: app.test_client().post(path, json={"pin": driver.pin}, headers=headers)
    )
    assert_no_server_error(responses)
    assert statuses(responses) == {200: 1, 409: 7}, [r.get_json() for r in responses]
    assert city.count(Member) == 1
