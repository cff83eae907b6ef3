"""A member's statement (mutasi): every movement of the wallet, newest first, each with the balance
after it, agreeing with the ledger; who may read it; pages and Jakarta days."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from freezegun import freeze_time
from problems import assert_problem

from gateway import ledger, registry
from gateway.api.schemas import StatementResponse
from gateway.db import db


def statement(city, member, caller=None, query: str = ""):
    return city.get(caller or member, f"/api/v1/members/{member.id}/statement{query}")


def ledger_balance(city, member) -> tuple[int, int]:
    """The wallet's stored balance and the sum of its transfers."""
    with city.app.app_context():
        wallet = registry.get_member(db.session, member.id).wallet_account_id
        return ledger.balance(db.session, wallet), ledger.derived_balance(db.session, wallet)


def test_a_statement_tells_every_movement_with_whom_and_the_balance_after(city):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    ksm_teller, kpp_teller = city.make_admin(ksm), city.make_admin(kpp)
    siti = city.make_member(ksm)
    shop = city.make_merchant(kpp)

    assert city.cash_in(kpp_teller, siti, 100_000).status_code == 201
    paid = city.pay_sticker(siti, shop, 27_500).get_json()
    response = city.post(shop, f"/api/v1/payments/{paid['id']}/refunds", {"amount": 7_500})
    assert response.status_code == 201, response.get_json()
    refund_id = response.get_json()["id"]
    assert city.cash_out(ksm_teller, siti, 20_000).status_code == 201

    response = statement(city, siti)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    StatementResponse.model_validate(body, strict=True)  # what the OpenAPI document says
    shop_ref = {
        "id": shop.id,
        "name": f"Merchant {shop.phone[-4:]}",
        "cooperative": {"id": kpp, "name": "Koperasi KPP"},
    }
    rows = [
        (e["kind"], e["amount"], e["balance_after"], e["merchant"], e["counter"])
        for e in body["items"]
    ]
    assert rows == [
        ("cash_out", -20_000, 60_000, None, {"id": ksm, "name": "Koperasi KSM"}),
        ("refund", 7_500, 80_000, shop_ref, None),
        ("payment", -27_500, 72_500, shop_ref, None),
        ("cash_in", 100_000, 100_000, None, {"id": kpp, "name": "Koperasi KPP"}),
    ]
    refund, payment = body["items"][1], body["items"][2]
    assert (refund["payment_id"], refund["refund_id"]) == (paid["id"], refund_id)
    assert (payment["payment_id"], payment["refund_id"]) == (paid["id"], None)
    assert all(
        e["id"].startswith("trf_") and e["event_id"].startswith("evt_") for e in body["items"]
    )
    assert all(datetime.fromisoformat(e["created_at"]).tzinfo for e in body["items"])
    assert body["balance"] == 60_000 and body["next_cursor"] is None
    assert body["member_id"] == siti.id and body["account_id"].startswith("acc_")


def test_the_running_balance_agrees_with_the_ledger_page_after_page(city):
    ksm = city.make_cooperative("KSM")
    teller = city.make_admin(ksm)
    member = city.make_member(ksm)
    shop = city.make_merchant(ksm)
    chance = random.Random(11)
    assert city.cash_in(teller, member, 400_000).status_code == 201
    for _ in range(14):
        move = chance.choice(("cash_in", "cash_out", "pay", "refund"))
        amount = chance.randrange(1_000, 30_000)
        if move == "cash_in":
            response = city.cash_in(teller, member, amount)
        elif move == "cash_out":
            response = city.cash_out(teller, member, amount)
        else:
            response = city.pay_sticker(member, shop, amount)
            if move == "refund" and response.status_code == 201:
                payment_id = response.get_json()["id"]
                response = city.post(
                    shop, f"/api/v1/payments/{payment_id}/refunds", {"amount": amount // 2}
                )
        assert response.status_code == 201, response.get_json()

    entries, cursor = [], None
    while True:
        query = "?limit=4" + (f"&cursor={cursor}" if cursor else "")
        body = statement(city, member, query=query).get_json()
        assert len(body["items"]) <= 4
        entries += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    stored, derived = ledger_balance(city, member)
    assert entries[0]["balance_after"] == stored == derived == body["balance"]
    # Each balance is the one after it plus its own movement, down to an empty wallet.
    for newer, older in zip(entries, entries[1:], strict=False):
        assert newer["balance_after"] - newer["amount"] == older["balance_after"]
    assert entries[-1]["balance_after"] == entries[-1]["amount"] == 400_000
    assert sum(e["amount"] for e in entries) == stored
    assert (
        len(entries)
        == len({e["id"] for e in entries})
        == 15 + sum(e["kind"] == "refund" for e in entries)
    )
    assert city.ledger_problems() == []


def test_only_the_member_and_their_cooperatives_admin_read_the_statement(city):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    ksm_teller, kpp_teller = city.make_admin(ksm), city.make_admin(kpp)
    siti = city.make_member(ksm)
    assert city.cash_in(kpp_teller, siti, 50_000).status_code == 201
    assert statement(city, siti).status_code == 200
    assert statement(city, siti, caller=ksm_teller).get_json()["balance"] == 50_000
    # The counter that took her cash, another member, a merchant: 404, as for an unknown id.
    for stranger in (kpp_teller, city.make_member(ksm), city.make_merchant(ksm)):
        assert_problem(statement(city, siti, caller=stranger), 404, "not-found")
    response = city.get(siti, "/api/v1/members/mem_nosuchmember0000/statement")
    assert_problem(response, 404, "not-found")
    assert city.client.get(f"/api/v1/members/{siti.id}/statement").status_code == 401


def test_a_statement_of_jakarta_days(city):
    ksm = city.make_cooperative("KSM")
    teller = city.make_admin(ksm)
    member = city.make_member(ksm)
    # 16:59 UTC on 19 May is 23:59 in Jakarta; 17:01 UTC is already 20 May there.
    for moment, amount in (
        (datetime(2026, 5, 19, 16, 59, tzinfo=UTC), 1_000),
        (datetime(2026, 5, 19, 17, 1, tzinfo=UTC), 2_000),
        (datetime(2026, 5, 20, 16, 59, tzinfo=UTC), 3_000),
        (datetime(2026, 5, 21, 3, 0, tzinfo=UTC), 4_000),
    ):
        with freeze_time(moment):
            city._tokens.clear()  # an access token lasts 15 minutes: log in on each day
            assert city.cash_in(teller, member, amount).status_code == 201
    city._tokens.clear()

    def amounts(query):
        response = statement(city, member, query=query)
        assert response.status_code == 200, response.get_json()
        return [(e["amount"], e["balance_after"]) for e in response.get_json()["items"]]

    assert amounts("?from=2026-05-20&to=2026-05-20") == [(3_000, 6_000), (2_000, 3_000)]
    assert amounts("?from=2026-05-21") == [(4_000, 10_000)]
    assert amounts("?to=2026-05-19") == [(1_000, 1_000)]
    assert amounts("?from=2026-05-22") == []


def test_a_bad_statement_query_is_422(city):
    ksm = city.make_cooperative("KSM")
    member = city.make_member(ksm)
    other = city.make_member(ksm)
    teller = city.make_admin(ksm)
    assert city.cash_in(teller, other, 5_000).status_code == 201
    other_transfer = statement(city, other).get_json()["items"][0]["id"]
    for query in (
        "?from=2026-5-20",
        "?from=20-05-2026",
        "?to=1999-12-31",
        "?from=2026-05-21&to=2026-05-20",
        "?limit=0",
        "?limit=abc",
        "?cursor=trf_nosuchtransfer00",
        f"?cursor={other_transfer}",  # another wallet's transfer is no cursor here
    ):
        assert_problem(statement(city, member, query=query), 422, "validation-failed")
