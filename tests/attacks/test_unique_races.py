"""Attack: racing inserts of one new unique thing (a phone, a cooperative code, a fee pair, a limit
policy) end in one row and answers a client can act on, never a 500.

Ten requests released together by one barrier, on SQLite and PostgreSQL. A unique violation the
database reports is a 409 problem (gateway/api/__init__.py maps it, in one place); a PUT of a fee
rule or limit policy is idempotent, so every racing PUT succeeds and one row holds the rule.
"""

from __future__ import annotations

import sqlalchemy as sa

from attacks.burst import assert_no_server_error, burst, statuses
from gateway.db import db
from gateway.models import (
    Cooperative,
    FeeSchedule,
    Invitation,
    LimitPolicy,
    Member,
    Merchant,
    User,
)

RACERS = 10

FEE_RULE = {
    "categories": {
        "micro": {"bps": 30, "free_up_to": 500_000},
        "small": {"bps": 70},
        "regular": {"bps": 70},
    },
    "split_issuer_bps": 3_500,
    "split_acquirer_bps": 5_000,
    "split_network_bps": 1_500,
}
LIMITS = {
    "payment_max": 1_000_000,
    "balance_max": 2_000_000,
    "incoming_monthly_max": 20_000_000,
    "daily_max": 2_000_000,
    "monthly_max": 20_000_000,
    "payments_per_minute": 10,
    "no_pin_max": 50_000,
}


def _send(app, method: str, path: str, headers: dict, bodies):
    """Release RACERS requests together, each on its own test client; body i for caller i."""

    def call(index: int):
        body = bodies(index) if callable(bodies) else bodies
        return app.test_client().open(path, method=method, json=body, headers=headers)

    return burst(RACERS, call)


def _assert_conflicts_are_problems(responses) -> None:
    for response in responses:
        if response.status_code == 409:
            assert response.mimetype == "application/problem+json"
            problem = response.get_json()
            assert problem["status"] == 409 and problem["type"].startswith(
                "https://interkop.id/problems/"
            )
            assert problem["detail"].rstrip()[-1] in ".!?", problem


def _count(app, statement) -> int:
    with app.app_context():
        value = db.session.scalar(statement)
        db.session.rollback()
        return value


def test_concurrent_registrations_of_one_new_phone_make_one_member(app, city):
    coop = city.make_cooperative("KSM")
    admin = city.make_admin(coop)
    phone = "+6281277770001"
    body = {"phone": phone, "name": "Siti", "pin": "246810", "tier": "basic"}
    responses = _send(
        app, "POST", f"/api/v1/cooperatives/{coop}/members", city.headers(admin), body
    )
    assert_no_server_error(responses)
    counted = statuses(responses)
    assert counted[201] == 1, counted
    assert set(counted) <= {201, 409}, counted
    _assert_conflicts_are_problems(responses)
    assert _count(app, sa.select(sa.func.count()).where(User.phone == phone)) == 1
    assert city.count(Member) == 1


def test_concurrent_merchants_of_one_new_owner_make_one_login(app, city):
    coop = city.make_cooperative("KPP", kind="market_traders")
    admin = city.make_admin(coop)
    phone = "+6281277770002"
    body = {
        "name": "Warung Bu Sri",
        "kind": "shop",
        "category": "micro",
        "owner_phone": phone,
        "owner_name": "Sri",
        "owner_pin": "135790",
    }
    responses = _send(
        app, "POST", f"/api/v1/cooperatives/{coop}/merchants", city.headers(admin), body
    )
    assert_no_server_error(responses)
    counted = statuses(responses)
    assert counted[201] >= 1 and set(counted) <= {201, 409}, counted
    _assert_conflicts_are_problems(responses)
    assert _count(app, sa.select(sa.func.count()).where(User.phone == phone)) == 1
    # The first to commit creates the login and its merchant; whoever comes after finds a login
    # that exists and gets an invitation for its owner to accept (no PIN checked).
    created = [r.get_json() for r in responses if r.status_code == 201]
    merchants = [body for body in created if body.get("object") != "invitation"]
    assert city.count(Merchant) == len(merchants) == 1
    invited = {body["id"] for body in created if body.get("object") == "invitation"}
    assert city.count(Invitation) == len(invited)


def test_concurrent_cooperatives_of_one_code_make_one_cooperative(app, city):
    operator = city.make_staff("network_admin")
    body = {"code": "KNEW", "name": "Koperasi Baru", "kind": "consumer"}
    responses = _send(app, "POST", "/api/v1/cooperatives", city.headers(operator), body)
    assert_no_server_error(responses)
    counted = statuses(responses)
    assert counted == {201: 1, 409: RACERS - 1}, counted
    _assert_conflicts_are_problems(responses)
    assert _count(app, sa.select(sa.func.count()).where(Cooperative.code == "KNEW")) == 1


def _fee_rule(index: int) -> dict:
    return {**FEE_RULE, "fee_min": index}


def _assert_one_fee_row(app, responses, scope: str) -> None:
    assert_no_server_error(responses)
    counted = statuses(responses)
    assert set(counted) <= {200, 409} and counted[200] >= 1, counted
    _assert_conflicts_are_problems(responses)
    with app.app_context():
        rows = db.session.scalars(sa.select(FeeSchedule).where(FeeSchedule.scope == scope)).all()
        assert len(rows) == 1, [row.rule for row in rows]
        # What is stored is what one of the successful callers sent.
        sent = [r.get_json()["rule"]["fee_min"] for r in responses if r.status_code == 200]
        assert rows[0].rule["fee_min"] in sent
        db.session.rollback()


def test_concurrent_puts_of_a_new_fee_pair_leave_one_rule(app, city):
    issuer = city.make_cooperative("KSM")
    acquirer = city.make_cooperative("KPP", kind="market_traders")
    operator = city.make_staff("network_admin")
    responses = _send(
        app,
        "PUT",
        f"/api/v1/fee-schedules/{issuer}/{acquirer}",
        city.headers(operator),
        _fee_rule,
    )
    _assert_one_fee_row(app, responses, "pair")


def test_concurrent_puts_of_the_default_fee_rule_leave_one_rule(app, city):
    operator = city.make_staff("network_admin")
    responses = _send(
        app, "PUT", "/api/v1/fee-schedules/default/default", city.headers(operator), _fee_rule
    )
    _assert_one_fee_row(app, responses, "default")


def _limits(index: int) -> dict:
    return {**LIMITS, "payment_max": 1_000_000 + index}


def _assert_one_policy_row(app, responses, where) -> None:
    assert_no_server_error(responses)
    counted = statuses(responses)
    assert set(counted) <= {200, 409} and counted[200] >= 1, counted
    _assert_conflicts_are_problems(responses)
    with app.app_context():
        rows = db.session.scalars(sa.select(LimitPolicy).where(*where)).all()
        assert len(rows) == 1, [row.limits for row in rows]
        sent = [r.get_json()["limits"]["payment_max"] for r in responses if r.status_code == 200]
        assert rows[0].limits["payment_max"] in sent
        db.session.rollback()


def test_concurrent_puts_of_a_new_limit_policy_leave_one_policy(app, city):
    coop = city.make_cooperative("KSM")
    admin = city.make_admin(coop)
    responses = _send(
        app, "PUT", f"/api/v1/limit-policies/{coop}/basic", city.headers(admin), _limits
    )
    _assert_one_policy_row(
        app, responses, [LimitPolicy.cooperative_id.is_not(None), LimitPolicy.tier == "basic"]
    )


def test_concurrent_puts_of_the_city_limit_policy_leave_one_policy(app, city):
    operator = city.make_staff("network_admin")
    responses = _send(
        app, "PUT", "/api/v1/limit-policies/default/basic", city.headers(operator), _limits
    )
    _assert_one_policy_row(
        app, responses, [LimitPolicy.cooperative_id.is_(None), LimitPolicy.tier == "basic"]
    )
