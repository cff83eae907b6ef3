"""Attack: the API's small promises an outsider probes first (issue 10, item 12).

- fee rules and limit policies are read only by whom they concern;
- a cursor that is not one the caller could have been given answers exactly like an unknown one,
  in every listing with a cursor, so ids cannot be probed through it;
- a redirect never echoes the Host header the client sent;
- every answer under /api/ that is not public says `Cache-Control: no-store`;
- a body not sent as application/json is a 415 problem on every JSON endpoint, and writes nothing.

On SQLite and PostgreSQL (except the request-shape checks, which touch no database behaviour).
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from attacks.test_unique_races import FEE_RULE, LIMITS
from gateway.api.openapi import OPERATIONS
from gateway.models import FeeSchedule, IdempotencyKey, LimitPolicy, Member, Merchant, Transfer

on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == f"https://interkop.id/problems/{slug}", problem
    return problem


# --- Who reads fee rules and limit policies ---------------------------------------------------


@pytest.fixture
def rules(city):
    """Two cooperatives with a pair rule between them, a third pair that concerns neither one's
    admin, a default rule, a city policy and a policy of each cooperative."""
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    other = city.make_cooperative("KOP")
    operator = city.make_staff("network_admin")
    for path in (
        f"/api/v1/fee-schedules/{ksm}/{kpp}",
        f"/api/v1/fee-schedules/{kpp}/{other}",
        "/api/v1/fee-schedules/default/default",
    ):
        response = city.client.put(path, json=FEE_RULE, headers=city.headers(operator))
        assert response.status_code == 200, response.get_json()
    for coop in ("default", ksm, kpp):
        response = city.client.put(
            f"/api/v1/limit-policies/{coop}/basic", json=LIMITS, headers=city.headers(operator)
        )
        assert response.status_code == 200, response.get_json()
    return {"ksm": ksm, "kpp": kpp, "other": other, "operator": operator}


def _fee_pairs(response) -> set:
    return {
        (item["scope"], item["issuer_cooperative_id"], item["acquirer_cooperative_id"])
        for item in response.get_json()["items"]
    }


def _policy_owners(response) -> set:
    return {item["cooperative_id"] for item in response.get_json()["items"]}


def test_fee_rules_and_limit_policies_are_read_only_by_whom_they_concern(city, rules):
    ksm, kpp, other = rules["ksm"], rules["kpp"], rules["other"]
    everything_fees = {("pair", ksm, kpp), ("pair", kpp, other), ("default", None, None)}
    everything_policies = {"default", ksm, kpp}
    for reader in (rules["operator"], city.make_staff("observer")):
        fees = city.get(reader, "/api/v1/fee-schedules")
        assert fees.status_code == 200 and _fee_pairs(fees) == everything_fees
        policies = city.get(reader, "/api/v1/limit-policies")
        assert policies.status_code == 200 and _policy_owners(policies) == everything_policies

    admin = city.make_admin(ksm)
    fees = city.get(admin, "/api/v1/fee-schedules")
    assert fees.status_code == 200
    assert _fee_pairs(fees) == {("pair", ksm, kpp), ("default", None, None)}
    policies = city.get(admin, "/api/v1/limit-policies")
    assert policies.status_code == 200 and _policy_owners(policies) == {"default", ksm}

    for outsider in (city.make_member(ksm), city.make_merchant(kpp)):
        for path in ("/api/v1/fee-schedules", "/api/v1/limit-policies"):
            _problem(city.get(outsider, path), 403, "forbidden")
    assert city.count(FeeSchedule) == 3 and city.count(LimitPolicy) == 3


# --- Cursors ----------------------------------------------------------------------------------


def _same_answer(first, second) -> None:
    assert first.status_code == second.status_code, (first.status_code, second.status_code)
    assert first.get_json()["type"] == second.get_json()["type"]
    assert first.status_code == 422


def test_a_cursor_of_another_cooperative_answers_like_an_unknown_one(city):
    mine = city.make_cooperative("KSM")
    theirs = city.make_cooperative("KPP", kind="market_traders")
    admin = city.make_admin(mine)
    city.make_member(mine)
    city.make_merchant(mine)
    their_member = city.make_member(theirs)
    their_merchant = city.make_merchant(theirs)
    for listing, foreign in (("members", their_member.id), ("merchants", their_merchant.id)):
        path = f"/api/v1/cooperatives/{mine}/{listing}"
        unknown = city.get(admin, f"{path}?cursor={foreign[:4]}aaaaaaaaaaaaaaaa")
        _same_answer(city.get(admin, f"{path}?cursor={foreign}"), unknown)
        first = city.get(admin, f"{path}?limit=1")
        assert first.status_code == 200


def _feed_cursor(last: str | None, seen: list[str]) -> str:
    document = {"a": last, "s": "2000-01-01T00:00:00+00:00", "k": seen}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return "feed." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_payment_cursor_of_another_person_answers_like_an_unknown_one(city):
    coop = city.make_cooperative("KSM")
    admin = city.make_admin(coop)
    payer = city.make_member(coop)
    other = city.make_member(coop)
    merchant = city.make_merchant(coop)
    other_merchant = city.make_merchant(coop)
    for member in (payer, other):
        assert city.cash_in(admin, member, 100_000).status_code == 201
    mine = city.pay(payer, city.issue_qr(merchant, 1_000)["token"]).get_json()["id"]
    theirs = city.pay(other, city.issue_qr(other_merchant, 1_000)["token"]).get_json()["id"]
    unknown_id = "pay_aaaaaaaaaaaaaaaa"
    for reader, path in (
        (payer, f"/api/v1/members/{payer.id}/payments"),
        (merchant, f"/api/v1/merchants/{merchant.id}/payments"),
    ):
        for parameter in ("cursor", "after"):
            _same_answer(
                city.get(reader, f"{path}?{parameter}={theirs}"),
                city.get(reader, f"{path}?{parameter}={unknown_id}"),
            )
            assert city.get(reader, f"{path}?{parameter}={mine}").status_code == 200
        # A forged feed cursor: another's payment as the last one shown is refused like an
        # unknown one, and another's ids among those "already delivered" are not echoed back.
        _same_answer(
            city.get(reader, f"{path}?after={_feed_cursor(theirs, [])}"),
            city.get(reader, f"{path}?after={_feed_cursor(unknown_id, [])}"),
        )
        answer = city.get(reader, f"{path}?after={_feed_cursor(None, [theirs])}")
        assert answer.status_code == 200
        assert [item["id"] for item in answer.get_json()["items"]] == [mine]
        echoed = answer.get_json()["next_cursor"].removeprefix("feed.")
        document = json.loads(base64.urlsafe_b64decode(echoed + "=" * (-len(echoed) % 4)))
        assert theirs not in document["k"], document


# --- Redirects --------------------------------------------------------------------------------


@on_sqlite
def test_redirects_never_echo_the_host_header(client):
    for path in ("/api//v1/cooperatives", "/scripts//app.js", "/api//v1/me?x=1"):
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 308, path
        location = response.headers["Location"]
        assert "evil.example" not in location, location
        assert location.startswith("/") and not location.startswith("//"), location


# --- Cache-Control ----------------------------------------------------------------------------


def test_every_personal_api_answer_is_no_store(app, city):
    from gateway import settlement
    from gateway.db import db, transaction

    coop = city.make_cooperative("KSM")
    admin = city.make_admin(coop)
    member = city.make_member(coop)
    merchant = city.make_merchant(coop)
    assert city.cash_in(admin, member, 50_000).status_code == 201
    sticker = city.static_qr(merchant)
    with app.app_context():
        window = settlement.close(db.session, lambda work: transaction(db.session, work))
        window_id = window.public_id
        db.session.rollback()
    operator = city.make_staff("network_admin")
    personal = [
        (member, f"/api/v1/members/{member.id}/wallet"),
        (member, "/api/v1/me"),
        (merchant, f"/api/v1/merchants/{merchant.id}/sticker.svg"),
        (admin, f"/api/v1/cooperatives/{coop}/report?format=csv"),
        (operator, f"/api/v1/settlement/windows/{window_id}.csv"),
        (member, "/api/v1/members/mem_aaaaaaaaaaaaaaaa/wallet"),  # a problem
    ]
    for person, path in personal:
        response = city.get(person, path)
        assert response.status_code < 500, (path, response.status_code)
        assert response.headers.get("Cache-Control") == "no-store", (
            path,
            response.mimetype,
            response.headers.get("Cache-Control"),
        )
    for path in (sticker["png_url"], sticker["svg_url"], "/.well-known/jwks.json"):
        response = city.client.get(path)
        assert response.status_code == 200
        assert response.headers["Cache-Control"].startswith("public"), path


# --- 415 --------------------------------------------------------------------------------------


def json_operations() -> list[tuple[str, str]]:
    """Every operation that reads a JSON body (the routes are registered by now: `city` made an
    app); the OAuth token endpoint reads a form, and has its own tests
    (tests/attacks/test_client_credentials.py)."""
    return sorted(
        {
            (operation.method.upper(), operation.path)
            for operation in OPERATIONS
            if operation.request and operation.request_media_type == "application/json"
        }
    )


def _any_path(path: str) -> str:
    return re.sub(r"\{(\w+)\}", "x", path)


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
def test_a_body_not_sent_as_json_is_refused_with_415_everywhere(city, content_type):
    coop = city.make_cooperative("KSM")
    admin = city.make_admin(coop)
    member = city.make_member(coop)
    counted = (Transfer, Member, Merchant, IdempotencyKey, FeeSchedule, LimitPolicy)
    before = {model: city.count(model) for model in counted}
    operations = json_operations()
    assert len(operations) >= 10  # every operation that reads a body is tried
    body = json.dumps({"member_id": member.id, "amount": 1_000, "phone": member.phone})
    for method, path in operations:
        headers = city.headers(admin, key="k-" + method + path)
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = city.client.open(
            _any_path(path).replace("/x/", f"/{coop}/"), method=method, data=body, headers=headers
        )
        problem = _problem(response, 415, "unsupported-media-type")
        assert "application/json" in problem["detail"], problem
    assert {model: city.count(model) for model in counted} == before
