"""Verifying a window's seal over HTTP (the operator's screen asks this): a sealed window
verifies, an open one is a 409, a tampered one a 409 naming it, and only the operator asks."""

import sqlalchemy as sa
from problems import assert_problem

from gateway.db import db


def close_a_window(city):
    coop = city.make_cooperative("KSM")
    admin = city.make_admin(coop)
    member = city.make_member(coop)
    network = city.make_staff("network_admin")
    assert city.cash_in(admin, member, 300_000).status_code == 201
    response = city.post(network, "/api/v1/settlement/windows/current/close", None, key=None)
    assert response.status_code == 201, response.get_json()
    return network, admin, member, response.get_json()


def test_a_sealed_window_verifies_and_a_tampered_one_is_named(app, city):
    network, _, _, window = close_a_window(city)
    path = f"/api/v1/settlement/windows/{window['id']}/verify"
    answer = city.get(network, path)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {
        "id": window["id"],
        "verified": True,
        "digest": window["digest"],
        "transfer_count": window["transfer_count"],
    }

    with app.app_context():
        if db.session.connection().dialect.name == "postgresql":
            db.session.execute(sa.text("ALTER TABLE transfers DISABLE TRIGGER transfers_immutable"))
            db.session.execute(sa.text("UPDATE transfers SET amount = amount + 1"))
            db.session.execute(sa.text("ALTER TABLE transfers ENABLE TRIGGER transfers_immutable"))
        else:
            db.session.execute(sa.text("DROP TRIGGER transfers_no_update"))
            db.session.execute(sa.text("UPDATE transfers SET amount = amount + 1"))
        db.session.commit()
    problem = assert_problem(city.get(network, path), 409, "window-tampered")
    assert window["id"] in str(problem)


def test_an_open_window_does_not_verify_and_only_the_operator_asks(city):
    network, admin, member, window = close_a_window(city)
    current = city.get(network, "/api/v1/settlement/windows").get_json()["items"][0]
    assert current["status"] == "open"
    assert_problem(
        city.get(network, f"/api/v1/settlement/windows/{current['id']}/verify"), 409, "conflict"
    )
    for stranger in (admin, member, city.make_staff("observer")):
        assert_problem(
            city.get(stranger, f"/api/v1/settlement/windows/{window['id']}/verify"),
            403,
            "forbidden",
        )
    assert_problem(
        city.get(network, "/api/v1/settlement/windows/W_nonesuch/verify"), 404, "not-found"
    )
