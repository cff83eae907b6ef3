"""While a person's PIN is locked no money leaves their wallet (not even a payment below the
no-PIN threshold on a token they already hold, nor a cash-out with the right PIN) and no
session is refreshed; once the lock has run out both work again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time

from attacks.burst import assert_no_server_error, burst, statuses
from gateway.models import Transfer

WRONG = "000000"


def lock(app, person) -> None:
    for _ in range(app.config["PIN_ATTEMPTS_MAX"]):
        app.test_client().post("/api/v1/auth/login", json={"phone": person.phone, "pin": WRONG})


def test_a_locked_person_moves_no_money_and_refreshes_no_session(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        coop = city.make_cooperative("KSM")
        teller = city.make_admin(coop)
        siti = city.make_member(coop)
        shop = city.make_merchant(coop)
        assert city.cash_in(teller, siti, 100_000).status_code == 201
        sticker = city.static_qr(shop)["token"]
        tokens = app.test_client().post(
            "/api/v1/auth/login", json={"phone": siti.phone, "pin": siti.pin}
        )
        tokens = tokens.get_json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        transfers_before = city.count(Transfer)

        lock(app, siti)

        def pay_without_pin(index):
            return app.test_client().post(
                "/api/v1/payments",
                json={"token": sticker, "amount": 5_000},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )

        responses = burst(10, pay_without_pin)
        assert_no_server_error(responses)
        assert statuses(responses) == {423: 10}, [r.get_json() for r in responses]
        assert city.cash_out(teller, siti, 10_000).status_code == 423  # the right PIN
        refreshed = app.test_client().post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 423, refreshed.get_json()
        assert city.balance_of_member(siti) == 100_000
        assert city.count(Transfer) == transfers_before
        assert city.ledger_problems() == []

        frozen.move_to(start + timedelta(seconds=app.config["PIN_LOCKOUT_SECONDS"] + 1))
        refreshed = app.test_client().post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.get_json()
        headers["Authorization"] = f"Bearer {refreshed.get_json()['access_token']}"
        assert pay_without_pin(0).status_code == 201
        assert city.balance_of_member(siti) == 95_000
