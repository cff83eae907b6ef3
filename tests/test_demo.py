"""The demo city end to end through the API: members of two cooperatives pay a demo shop and a
demo angkot driver, who see the payments in their feed; the shop refunds; the long poll wakes."""

import json
import threading
import uuid

import pytest


def login(client, phone, pin):
    response = client.post("/api/v1/auth/login", json={"phone": phone, "pin": pin})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def test_demo_members_of_two_cooperatives_pay_a_shop_and_an_angkot_driver(app, client, runner):
    result = runner.invoke(args=["demo", "--json"])
    assert result.exit_code == 0, result.output
    city = json.loads(result.output)
    shop = next(m for m in city["merchants"] if m["kind"] == "shop")
    driver = next(m for m in city["merchants"] if m["kind"] == "angkot")
    payers = [m for m in city["members"] if m["cooperative_id"] != shop["cooperative_id"]][:1]
    payers += [
        m
        for m in city["members"]
        if m["cooperative_id"] not in (shop["cooperative_id"], payers[0]["cooperative_id"])
        and m["phone"] != driver["phone"]
    ][:1]
    assert payers[0]["cooperative_id"] != payers[1]["cooperative_id"]

    shop_headers = login(client, shop["phone"], shop["pin"])
    driver_headers = login(client, driver["phone"], driver["pin"])

    # The driver's phone waits on the live feed before anyone pays.
    feed = client.get(f"/api/v1/merchants/{driver['id']}/payments", headers=driver_headers)
    assert feed.status_code == 200 and feed.get_json()["items"] == []
    sticker = client.get(
        f"/api/v1/merchants/{driver['id']}/static-qr", headers=driver_headers
    ).get_json()

    for payer in payers:
        headers = login(client, payer["phone"], payer["pin"])
        qr = client.post(
            f"/api/v1/merchants/{shop['id']}/qr",
            json={"amount": 27_500, "reference": "struk-1"},
            headers={**shop_headers, "Idempotency-Key": uuid.uuid4().hex},
        ).get_json()
        paid = client.post(
            "/api/v1/payments",
            json={"token": qr["token"], "pin": payer["pin"]},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert paid.status_code == 201, paid.get_json()
        assert paid.get_json()["merchant"]["name"] == shop["name"]

        fare = client.post(
            "/api/v1/payments",
            json={"token": sticker["token"], "amount": 4_000},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert fare.status_code == 201, fare.get_json()
        latest = client.get(
            f"/api/v1/merchants/{driver['id']}/payments?limit=1", headers=driver_headers
        )
        assert latest.get_json()["items"][0]["id"] == fare.get_json()["id"]

    # The shop refunds the last sale.
    sales = client.get(f"/api/v1/merchants/{shop['id']}/payments", headers=shop_headers).get_json()
    assert len(sales["items"]) == 2
    refund = client.post(
        f"/api/v1/payments/{sales['items'][0]['id']}/refunds",
        json={},
        headers={**shop_headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert refund.status_code == 201, refund.get_json()
    check = runner.invoke(args=["ledger", "check"])
    assert check.exit_code == 0, check.output


def test_long_poll_returns_as_soon_as_a_payment_lands(app, client, city):
    coop = city.make_cooperative("KAM", kind="transport")
    teller = city.make_admin(coop)
    rider = city.make_member(coop)
    assert city.cash_in(teller, rider, 50_000).status_code == 201
    driver = city.make_merchant(coop, kind="angkot")
    sticker = city.get(driver, f"/api/v1/merchants/{driver.id}/static-qr").get_json()
    first = city.post(rider, "/api/v1/payments", {"token": sticker["token"], "amount": 3_000})
    assert first.status_code == 201
    after = first.get_json()["id"]
    headers = city.headers(driver)
    city.token(rider)
    result = {}

    def poll():
        result["response"] = app.test_client().get(
            f"/api/v1/merchants/{driver.id}/payments?after={after}&wait=10", headers=headers
        )

    waiter = threading.Thread(target=poll)
    waiter.start()
    second = city.post(rider, "/api/v1/payments", {"token": sticker["token"], "amount": 4_000})
    assert second.status_code == 201
    waiter.join(timeout=15)
    assert not waiter.is_alive()
    body = result["response"].get_json()
    assert [item["id"] for item in body["items"]] == [second.get_json()["id"]]
    # Following the feed's own cursor, nothing is delivered twice.
    again = city.client.get(
        f"/api/v1/merchants/{driver.id}/payments?after={body['next_cursor']}&wait=0",
        headers=headers,
    )
    assert again.status_code == 200 and again.get_json()["items"] == []


# SQLite serialises writers: a lower id can never commit after a higher one there.
@pytest.mark.postgresql_only
def test_a_payment_that_commits_after_a_newer_one_was_shown_still_reaches_the_feed(
    app, city, monkeypatch
):
    """Ids are handed out before commit: payment A (lower id) can commit after payment B was
    already shown on the driver's screen. The feed cursor remembers what it delivered recently,
    so A is still delivered, once."""
    from gateway import payments

    coop = city.make_cooperative("KAM", kind="transport")
    teller = city.make_admin(coop)
    slow, quick = city.make_member(coop), city.make_member(coop)
    for member in (slow, quick):
        assert city.cash_in(teller, member, 50_000).status_code == 201
    driver = city.make_merchant(coop, kind="angkot")
    sticker = city.static_qr(driver)
    start = city.get(driver, f"/api/v1/merchants/{driver.id}/payments").get_json()
    assert start["items"] == [] and start["feed_cursor"]
    for member in (slow, quick):
        city.token(member)

    inserted, release = threading.Event(), threading.Event()
    real_pay = payments.pay

    def pay_then_wait(session, **arguments):
        result = real_pay(session, **arguments)
        if arguments["amount"] == 3_000:  # the slow payment: hold its transaction open
            inserted.set()
            assert release.wait(20)
        return result

    monkeypatch.setattr(payments, "pay", pay_then_wait)
    outcome = {}

    def slow_payment():
        outcome["slow"] = city.pay(slow, sticker["token"], amount=3_000, pin=None)

    thread = threading.Thread(target=slow_payment)
    thread.start()
    assert inserted.wait(20)
    quick_paid = city.pay(quick, sticker["token"], amount=4_000, pin=None)
    assert quick_paid.status_code == 201

    headers = city.headers(driver)
    shown = (
        app.test_client()
        .get(
            f"/api/v1/merchants/{driver.id}/payments?after={start['feed_cursor']}", headers=headers
        )
        .get_json()
    )
    assert [item["amount"] for item in shown["items"]] == [4_000]

    release.set()
    thread.join(20)
    assert outcome["slow"].status_code == 201
    slow_id = outcome["slow"].get_json()["id"]
    late = (
        app.test_client()
        .get(
            f"/api/v1/merchants/{driver.id}/payments?after={shown['next_cursor']}", headers=headers
        )
        .get_json()
    )
    assert [item["id"] for item in late["items"]] == [slow_id]
    nothing_twice = (
        app.test_client()
        .get(f"/api/v1/merchants/{driver.id}/payments?after={late['next_cursor']}", headers=headers)
        .get_json()
    )
    assert nothing_twice["items"] == []
