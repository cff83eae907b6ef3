"""The demo city end to end through the API: members of two cooperatives pay a demo shop and a
demo angkot driver, who see the payments in their feed; the shop refunds; the long poll wakes."""

import json
import threading
import uuid


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
    assert body["next_cursor"] == second.get_json()["id"]
