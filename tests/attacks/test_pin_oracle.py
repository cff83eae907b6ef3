"""No answer tells anyone but the person whether a PIN was right: registering a phone that
already has a login (as a member, or as a merchant's owner) never checks a PIN, answers the same
whatever PIN was typed, and makes nothing until the person accepts in their own app. And a PIN
is compared in one place only, gateway/auth.py, which counts every attempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst, statuses
from attacks.pins import Evaluations
from gateway import auth
from gateway.db import db
from gateway.models import Member, Merchant, User

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
GUESSES = [f"{number:06d}" for number in range(100_000, 100_019)]


@pytest.fixture
def evaluations(monkeypatch):
    return Evaluations().install(monkeypatch)


def failures_of(app, person) -> int:
    with app.app_context():
        value = db.session.scalar(
            sa.select(User.failed_pin_attempts).where(User.public_id == person.user_id)
        )
        db.session.rollback()
        return value


def comparable(response) -> tuple:
    return response.status_code, response.get_json()


def test_registering_someone_elses_phone_as_a_member_reveals_nothing_about_the_pin(
    app, city, evaluations
):
    home = city.make_cooperative("KSM")
    rival = city.make_cooperative("KAM", kind="transport")
    rival_admin = city.make_admin(rival)
    driver = city.make_merchant(home, kind="angkot")  # a login, not yet anyone's member
    headers = city.headers(rival_admin)
    path = f"/api/v1/cooperatives/{rival}/members"
    evaluations.clear()

    def register(index):
        pin = driver.pin if index == len(GUESSES) else GUESSES[index]
        body = {"phone": driver.phone, "name": "Tebakan", "pin": pin}
        return app.test_client().post(path, json=body, headers=headers)

    responses = burst(len(GUESSES) + 1, register)

    assert_no_server_error(responses)
    assert set(statuses(responses)) == {201}, statuses(responses)
    assert {response.get_json()["object"] for response in responses} == {"invitation"}
    # Sequentially, the answers are identical whatever the PIN, the right one included.
    again = [comparable(register(index)) for index in (0, 1, len(GUESSES))]
    assert again[0] == again[1] == again[2]
    assert evaluations.pins == []  # no PIN was even compared
    assert failures_of(app, driver) == 0
    assert city.count(Member) == 0


def test_registering_someone_elses_phone_as_a_merchant_owner_reveals_nothing(
    app, city, evaluations
):
    home = city.make_cooperative("KSM")
    rival = city.make_cooperative("KAM", kind="transport")
    rival_admin = city.make_admin(rival)
    siti = city.make_member(home)
    city.token(rival_admin)  # the admin's own login is the only PIN compared
    evaluations.clear()

    def register(pin):
        body = {
            "name": "Warung Tebakan",
            "kind": "shop",
            "category": "micro",
            "owner_phone": siti.phone,
            "owner_name": "Siti",
            "owner_pin": pin,
        }
        return city.post(rival_admin, f"/api/v1/cooperatives/{rival}/merchants", body, key=None)

    answers = [comparable(register(pin)) for pin in (GUESSES[0], siti.pin, GUESSES[1])]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 201 and answers[0][1]["object"] == "invitation"
    assert evaluations.pins == []
    assert failures_of(app, siti) == 0
    assert city.count(Merchant) == 0


def test_registering_a_members_phone_again_is_refused_the_same_whatever_the_pin(
    app, city, evaluations
):
    home = city.make_cooperative("KSM")
    rival = city.make_cooperative("KAM", kind="transport")
    rival_admin = city.make_admin(rival)
    siti = city.make_member(home)
    city.token(rival_admin)  # the admin's own login is the only PIN compared
    evaluations.clear()

    def register(pin):
        body = {"phone": siti.phone, "name": "Siti", "pin": pin}
        return city.post(rival_admin, f"/api/v1/cooperatives/{rival}/members", body, key=None)

    answers = [comparable(register(pin)) for pin in (GUESSES[0], siti.pin)]
    assert answers[0] == answers[1]
    assert answers[0][0] == 409 and answers[0][1]["type"].endswith("/phone-taken")
    assert evaluations.pins == []
    assert city.count(Member) == 1


def test_only_gateway_auth_compares_a_pin_with_its_hash():
    assert not hasattr(auth, "pin_matches"), "the raw comparison must stay private"
    offenders = []
    for path in sorted(GATEWAY.rglob("*.py")):
        if path == GATEWAY / "auth.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, ast.Name):
                names = [node.id]
            for name in names:
                if "pin_matches" in name or name == "scrypt":
                    offenders.append(f"{path.relative_to(GATEWAY)}:{node.lineno} {name}")
    assert offenders == []
