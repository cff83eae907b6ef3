"""Attacks on the webhook promises (issue 12): several workers at once, payments at once,
replays at once — against a real receiver on loopback, on SQLite and PostgreSQL.

- Several delivery workers racing over one backlog never send one delivery twice at the same
  time (and, with every answer a 200, never twice at all).
- Payments committed at once each write exactly one message, to exactly their parties'
  endpoints; refused ones write none.
- A burst of replays of one failed event queues it once.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import sqlalchemy as sa
from webhook_receiver import Receiver

from attacks.burst import assert_no_server_error, burst, statuses
from gateway import registry, webhooks
from gateway.db import db, transaction
from gateway.models import (
    Payment,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    WebhookMessage,
)
from gateway.webhook_worker import Worker

WORKERS = 6
PAYMENTS = 20
PAYERS = 12


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def endpoints(app, receiver, owners: dict[str, str | None]) -> dict[str, int]:
    """Register an endpoint for every event type per path, owned by a cooperative (public id)
    or the network (None); return each path's endpoint id."""
    made = {}
    with app.app_context():

        def work(session):
            for path, owner in owners.items():
                cooperative_id = (
                    None if owner is None else registry.get_cooperative(session, owner).id
                )
                endpoint, secret = webhooks.create_endpoint(
                    session,
                    cooperative_id=cooperative_id,
                    url=receiver.url(path),
                    events=[event.value for event in WebhookEventType],
                    allow_private=True,
                )
                receiver.trust(path, secret)
                made[path] = endpoint.id

        transaction(db.session, work)
    return made


def count(app, model, *where) -> int:
    with app.app_context():
        found = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
        db.session.rollback()
        return found


def test_workers_at_once_never_send_one_delivery_twice_at_the_same_time(app, city, receiver):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    teller = city.make_admin(ksm)
    shop = city.make_merchant(kpp, kind="shop", category="small")
    # Several payers: one member's payments per minute are limited.
    payers = [city.make_member(ksm, tier="verified") for _ in range(4)]
    for payer in payers:
        assert city.cash_in(teller, payer, 200_000).status_code == 201
    endpoints(app, receiver, {"/ksm": ksm, "/kpp": kpp, "/network": None})
    for number in range(PAYMENTS):
        paid = city.pay_sticker(payers[number % len(payers)], shop, 1_000 + number)
        assert paid.status_code == 201, paid.get_json()
    expected = PAYMENTS * 3
    # The payments wrote their messages; the racing workers fan them out and deliver them.
    assert count(app, WebhookMessage) == PAYMENTS and count(app, WebhookDelivery) == 0
    # Each request lingers, so that a second send of one delivery would overlap the first.
    receiver.linger_seconds = 0.02

    made = burst(WORKERS, lambda _: Worker(app, threads=4).run(once=True))

    assert sum(made) == expected
    assert max(receiver.most_in_flight.values()) == 1, receiver.most_in_flight
    sent = Counter((d.path, d.webhook_id) for d in receiver.deliveries)
    assert len(sent) == expected and set(sent.values()) == {1}
    assert all(d.verified_by == receiver.secrets[d.path] for d in receiver.deliveries)
    assert count(app, WebhookDelivery, WebhookDelivery.status == "delivered") == expected
    assert count(app, WebhookAttempt) == expected
    assert count(app, WebhookMessage, WebhookMessage.endpoint_ids.is_not(None)) == 0


def test_payments_at_once_each_write_one_message_to_exactly_their_parties(app, city, receiver):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    ktr = city.make_cooperative("KTR", kind="transport")
    teller = city.make_admin(ksm)
    shop = city.make_merchant(kpp, kind="shop", category="small")
    payers = [city.make_member(ksm, tier="verified") for _ in range(PAYERS)]
    # Two thirds have the money; the others are refused (insufficient funds) and write nothing.
    funded = payers[: PAYERS * 2 // 3]
    for payer in funded:
        assert city.cash_in(teller, payer, 100_000).status_code == 201
    ids = endpoints(app, receiver, {"/ksm": ksm, "/kpp": kpp, "/ktr": ktr, "/network": None})
    token = city.static_qr(shop)["token"]
    requests = [
        ({"token": token, "amount": 60_000, "pin": payer.pin}, city.headers(payer))
        for payer in payers
    ]

    responses = burst(
        PAYERS,
        lambda index: app.test_client().post(
            "/api/v1/payments",
            json=requests[index][0],
            headers={**requests[index][1], "Idempotency-Key": uuid.uuid4().hex},
        ),
    )

    assert_no_server_error(responses)
    assert statuses(responses) == Counter({201: len(funded), 422: PAYERS - len(funded)})
    with app.app_context():
        transaction(db.session, webhooks.fan_out)
        payment_events = set(db.session.scalars(sa.select(Payment.event_id)))
        rows = db.session.execute(
            sa.select(WebhookMessage.event_id, WebhookDelivery.endpoint_id).join(
                WebhookDelivery, WebhookDelivery.message_id == WebhookMessage.id
            )
        ).all()
        message_events = list(db.session.scalars(sa.select(WebhookMessage.event_id)))
        db.session.rollback()
    assert len(message_events) == len(funded)
    assert set(message_events) == payment_events
    by_event: dict[int, set[int]] = {}
    for event_id, endpoint_id in rows:
        by_event.setdefault(event_id, set()).add(endpoint_id)
    assert all(told == {ids["/ksm"], ids["/kpp"], ids["/network"]} for told in by_event.values()), (
        by_event
    )


def test_replays_of_one_failed_event_at_once_queue_it_once(app, city, receiver):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    admin = city.make_admin(ksm)
    siti = city.make_member(ksm, tier="verified")
    shop = city.make_merchant(kpp, kind="shop", category="small")
    assert city.cash_in(admin, siti, 100_000).status_code == 201
    endpoint_id = endpoints(app, receiver, {"/ksm": ksm})["/ksm"]
    receiver.answer("/ksm", 410)
    assert city.pay_sticker(siti, shop, 10_000).status_code == 201
    assert Worker(app).run(once=True) == 1  # 410: failed, and the endpoint disabled
    with app.app_context():
        public_id = db.session.scalar(
            sa.select(WebhookEndpoint.public_id).where(WebhookEndpoint.id == endpoint_id)
        )
        event_id = db.session.scalar(sa.select(WebhookMessage.public_id))
        db.session.rollback()
    base = f"/api/v1/cooperatives/{ksm}/webhooks/{public_id}"
    assert city.post(admin, base + "/enable", None, key=None).status_code == 200
    headers = city.headers(admin)

    responses = burst(
        12,
        lambda _: app.test_client().post(
            base + "/replay", json={"event_id": event_id}, headers=headers
        ),
    )

    assert_no_server_error(responses)
    assert set(statuses(responses)) == {200}
    assert sum(response.get_json()["replayed"] for response in responses) == 1
    assert Worker(app).run(once=True) == 1
    assert [d.status for d in receiver.at("/ksm")] == [410, 200]
    assert len({d.webhook_id for d in receiver.at("/ksm")}) == 1
