"""Signed webhooks (Standard Webhooks v1): what is sent, to whom, when it is sent again, and what
an admin can do. Every delivery goes to a real HTTP receiver on loopback that verifies it with
the `standardwebhooks` library, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from freezegun import freeze_time
from standardwebhooks import Webhook
from webhook_receiver import Receiver

from gateway import payments, registry, webhooks
from gateway.api.qr import qr_settings
from gateway.api.support import pin_policy
from gateway.db import db, transaction
from gateway.errors import PROBLEM_BASE
from gateway.models import (
    AuditEvent,
    Payment,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEventType,
    WebhookMessage,
)
from gateway.webhook_worker import Worker, send

ROOT = Path(__file__).resolve().parent.parent
ALL_EVENTS = [event.value for event in WebhookEventType]
PATHS = ("/ksm", "/kpp", "/ktr", "/network")


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


class Town:
    """Three cooperatives: Siti of KSM pays at a shop of KPP; KTR is a bystander (its teller
    serves at the counter in some tests). Money is put in before any endpoint exists."""

    def __init__(self, city):
        self.city = city
        self.ksm = city.make_cooperative("KSM")
        self.kpp = city.make_cooperative("KPP", kind="market_traders")
        self.ktr = city.make_cooperative("KTR", kind="transport")
        self.ksm_admin = city.make_admin(self.ksm)
        self.kpp_admin = city.make_admin(self.kpp)
        self.ktr_admin = city.make_admin(self.ktr)
        self.network = city.make_staff("network_admin")
        self.siti = city.make_member(self.ksm, tier="verified")
        self.shop = city.make_merchant(self.kpp, kind="shop", category="small")
        assert city.cash_in(self.ksm_admin, self.siti, 500_000).status_code == 201
        self.endpoints: dict[str, dict] = {}

    def owner(self, path: str):
        return {
            "/ksm": (self.ksm_admin, self.ksm),
            "/kpp": (self.kpp_admin, self.kpp),
            "/ktr": (self.ktr_admin, self.ktr),
            "/network": (self.network, "network"),
        }[path]

    def register(self, receiver, paths=PATHS, events=ALL_EVENTS) -> dict[str, dict]:
        for path in paths:
            admin, coop = self.owner(path)
            response = self.city.post(
                admin,
                f"/api/v1/cooperatives/{coop}/webhooks",
                {"url": receiver.url(path), "events": events},
                key=None,
            )
            assert response.status_code == 201, response.get_json()
            created = response.get_json()
            receiver.trust(path, created["secret"])
            self.endpoints[path] = created
        return self.endpoints

    def endpoint_path(self, path: str, suffix: str = "") -> str:
        _, coop = self.owner(path)
        return f"/api/v1/cooperatives/{coop}/webhooks/{self.endpoints[path]['id']}{suffix}"

    def pay(self, amount: int = 27_500) -> dict:
        paid = self.city.pay_sticker(self.siti, self.shop, amount)
        assert paid.status_code == 201, paid.get_json()
        return paid.get_json()


def keys_and_values(document) -> tuple[set[str], set[str]]:
    """Return every key and every scalar value (as text) anywhere in a JSON document."""
    keys: set[str] = set()
    values: set[str] = set()
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            keys.update(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        else:
            values.add(str(node))
    return keys, values


def deliver(app, **options) -> int:
    """Run a worker until nothing is due; return how many attempts it made."""
    return Worker(app, **options).run(once=True)


def only(receiver, path: str):
    deliveries = receiver.at(path)
    assert len(deliveries) == 1, [d.payload for d in deliveries]
    return deliveries[0]


def messages(app) -> list[str]:
    """The webhook-ids of every message written, oldest first."""
    with app.app_context():
        found = list(
            db.session.scalars(sa.select(WebhookMessage.public_id).order_by(WebhookMessage.id))
        )
        db.session.rollback()
        return found


# --- what is sent, to whom -------------------------------------------------------------------


def test_a_payment_is_told_signed_to_both_cooperatives_and_the_network_and_to_no_one_else(
    app, city, receiver
):
    town = Town(city)
    town.register(receiver)
    paid = town.pay()

    assert deliver(app) == 3

    receipt = city.get(town.shop, f"/api/v1/payments/{paid['id']}").get_json()
    ids = set()
    for path in ("/ksm", "/kpp", "/network"):
        delivery = only(receiver, path)
        assert delivery.verified_by == receiver.secrets[path]
        assert delivery.headers["content-type"] == "application/json"
        assert delivery.payload["type"] == "payment.completed"
        assert delivery.payload["data"] == receipt
        assert delivery.payload["timestamp"].endswith("Z")
        # No PIN, no token, not the payer's balance: only what each party may read.
        assert "balance" not in delivery.payload["data"]
        keys, values = keys_and_values(delivery.payload)
        assert not [k for k in keys if "pin" in k.lower() or "token" in k.lower()]
        assert town.siti.pin not in values
        ids.add(delivery.webhook_id)
    assert receiver.at("/ktr") == []
    # One logical event: one webhook-id, whoever receives it.
    assert len(ids) == 1 and ids.pop().startswith("msg_")
    assert len(messages(app)) == 1


def test_a_refund_is_told_to_both_cooperatives(app, city, receiver):
    town = Town(city)
    paid = town.pay(40_000)
    town.register(receiver, events=["payment.refunded"])

    refunded = city.post(town.shop, f"/api/v1/payments/{paid['id']}/refunds", {"amount": 10_000})
    assert refunded.status_code == 201, refunded.get_json()
    assert deliver(app) == 3

    for path in ("/ksm", "/kpp", "/network"):
        payload = only(receiver, path).payload
        assert payload["type"] == "payment.refunded"
        assert payload["data"] == refunded.get_json()
        assert payload["data"]["payment"]["status"] == "partially_refunded"
        assert payload["data"]["amount"] == 10_000
    assert receiver.at("/ktr") == []


def test_counter_cash_in_cash_out_and_payout_are_told_to_the_cooperatives_concerned(
    app, city, receiver
):
    town = Town(city)
    town.pay(30_000)
    town.register(receiver, events=["counter.cash_in", "counter.cash_out", "counter.payout"])

    # KTR's teller serves Siti of KSM; KPP's teller pays out its own shop.
    cash_in = city.cash_in(town.ktr_admin, town.siti, 100_000)
    cash_out = city.cash_out(town.ktr_admin, town.siti, 20_000)
    payout = city.payout(town.kpp_admin, town.shop, 25_000)
    for response in (cash_in, cash_out, payout):
        assert response.status_code == 201, response.get_json()
    assert deliver(app) == 3 + 3 + 2

    def told(path):
        return {d.payload["type"]: d.payload["data"] for d in receiver.at(path)}

    assert told("/ksm").keys() == {"counter.cash_in", "counter.cash_out"}
    assert told("/ktr").keys() == {"counter.cash_in", "counter.cash_out"}
    assert told("/kpp").keys() == {"counter.payout"}
    assert told("/network").keys() == {"counter.cash_in", "counter.cash_out", "counter.payout"}
    data = told("/ksm")["counter.cash_in"]
    assert data == {
        **cash_in.get_json(),
        "member_id": town.siti.id,
        "counter_cooperative": town.ktr,
    }
    assert data["transfers"][0]["amount"] == 100_000
    assert told("/ktr")["counter.cash_out"]["balance"] == 500_000 - 30_000 + 100_000 - 20_000
    assert told("/kpp")["counter.payout"]["merchant_id"] == town.shop.id
    for path in PATHS:
        for delivery in receiver.at(path):
            assert delivery.verified_by == receiver.secrets[path]


def test_a_window_closed_and_settled_is_told_to_each_party_with_its_own_lines(app, city, receiver):
    town = Town(city)
    town.pay(120_000)
    town.register(receiver, events=["settlement.window_closed", "settlement.window_settled"])

    closed = city.post(town.network, "/api/v1/settlement/windows/current/close", None, key=None)
    assert closed.status_code == 201, closed.get_json()
    window_id = closed.get_json()["id"]
    assert deliver(app) == 3
    settled = city.post(
        town.network, f"/api/v1/settlement/windows/{window_id}/settle", None, key=None
    )
    assert settled.status_code == 200, settled.get_json()
    assert deliver(app) == 3

    for path, coop in (("/ksm", town.ksm), ("/kpp", town.kpp)):
        admin, _ = town.owner(path)
        told = {d.payload["type"]: d.payload["data"] for d in receiver.at(path)}
        assert told.keys() == {"settlement.window_closed", "settlement.window_settled"}
        # Exactly what the cooperative's admin reads of the window: its own line only.
        assert told["settlement.window_settled"] == (
            city.get(admin, f"/api/v1/settlement/windows/{window_id}").get_json()
        )
        assert [
            line["cooperative_id"] for line in told["settlement.window_closed"]["positions"]
        ] == [coop]
        assert told["settlement.window_closed"]["status"] == "closed"
        assert "network_position" not in told["settlement.window_closed"]
    network = {d.payload["type"]: d.payload["data"] for d in receiver.at("/network")}
    assert network["settlement.window_settled"]["status"] == "settled"
    assert len(network["settlement.window_closed"]["positions"]) == 3
    # KTR had no movement in the window: it is no party to it.
    assert receiver.at("/ktr") == []


def test_an_endpoint_gets_only_the_event_types_it_asked_for(app, city, receiver):
    town = Town(city)
    town.register(receiver, paths=("/ksm",), events=["counter.cash_in"])
    town.pay()
    assert city.cash_in(town.ksm_admin, town.siti, 10_000).status_code == 201

    deliver(app)

    assert [d.payload["type"] for d in receiver.at("/ksm")] == ["counter.cash_in"]


def test_other_cooperatives_events_are_never_delivered(app, city, receiver):
    town = Town(city)
    town.register(receiver)
    town.pay(10_000)
    assert city.cash_in(town.ksm_admin, town.siti, 10_000).status_code == 201
    assert city.cash_out(town.kpp_admin, town.siti, 5_000).status_code == 201
    assert city.payout(town.kpp_admin, town.shop, 5_000).status_code == 201
    deliver(app)

    # Each cooperative's endpoint heard only of events its accounts took part in.
    parties = {
        "payment.completed": {"/ksm", "/kpp"},
        "counter.cash_in": {"/ksm"},
        "counter.cash_out": {"/ksm", "/kpp"},
        "counter.payout": {"/kpp"},
    }
    for path in ("/ksm", "/kpp", "/ktr"):
        told = sorted(d.payload["type"] for d in receiver.at(path))
        assert told == sorted(kind for kind, who in parties.items() if path in who), path
    assert len(receiver.at("/network")) == 4


def test_a_rolled_back_payment_writes_no_event_and_a_committed_one_writes_one(app, city, receiver):
    town = Town(city)
    town.register(receiver)
    token = city.static_qr(town.shop)["token"]

    class Crash(Exception):
        pass

    with app.app_context():
        payer = registry.get_member(db.session, town.siti.id)
        db.session.rollback()

        def pay_then_crash(session):
            payments.pay(
                session,
                ring=app.extensions["keyring"],
                settings=qr_settings(),
                payer=payer,
                token=token,
                amount=15_000,
                pin=town.siti.pin,
                pin_policy=pin_policy(),
            )
            raise Crash()  # the process dies before the commit

        with app.test_request_context(), pytest.raises(Crash):
            transaction(db.session, pay_then_crash)

    assert city.count(Payment) == 0
    assert messages(app) == [] and city.count(WebhookDelivery) == 0
    assert deliver(app) == 0
    town.pay(15_000)
    assert len(messages(app)) == 1
    assert deliver(app) == 3 and city.count(WebhookDelivery) == 3


# --- retries, 410, timeouts ------------------------------------------------------------------


def attempts_of(city, town, path, event_id) -> dict:
    response = city.get(town.owner(path)[0], town.endpoint_path(path, f"/deliveries/{event_id}"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_failing_receiver_is_retried_on_the_schedule_with_one_webhook_id(app, city, receiver):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    with freeze_time(start) as frozen:
        town = Town(city)
        town.register(receiver, paths=("/ksm",))
        receiver.answer("/ksm", 500, 503)
        town.pay()

        assert deliver(app) == 1
        assert deliver(app) == 0  # nothing due until 5 s later
        frozen.tick(timedelta(seconds=5))
        assert deliver(app) == 1
        frozen.tick(timedelta(minutes=5) - timedelta(seconds=1))
        assert deliver(app) == 0
        frozen.tick(timedelta(seconds=1))
        assert deliver(app) == 1
        frozen.tick(timedelta(days=3))
        assert deliver(app) == 0  # delivered: never sent again

        told = receiver.at("/ksm")
        assert [d.status for d in told] == [500, 503, 200]
        assert len({d.webhook_id for d in told}) == 1
        assert all(d.verified_by == receiver.secrets["/ksm"] for d in told)
        # The signature's time is each attempt's own.
        assert [int(d.headers["webhook-timestamp"]) for d in told] == [
            int(start.timestamp()),
            int(start.timestamp()) + 5,
            int(start.timestamp()) + 5 + 300,
        ]
        city._tokens.clear()  # the logins of three days ago have expired
        detail = attempts_of(city, town, "/ksm", told[0].webhook_id)
        assert detail["status"] == "delivered" and detail["attempt_count"] == 3
        assert [a["status_code"] for a in detail["attempts"]] == [500, 503, 200]
        assert [a["attempt_number"] for a in detail["attempts"]] == [1, 2, 3]
        assert len(messages(app)) == 1


def test_after_the_last_scheduled_attempt_the_delivery_fails_and_replay_sends_it_again(
    app, city, receiver
):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    with freeze_time(start) as frozen:
        town = Town(city)
        town.register(receiver, paths=("/ksm",))
        receiver.answer("/ksm", *[500] * webhooks.ATTEMPTS_MAX)
        town.pay()
        moments = []
        for delay in webhooks.RETRY_SCHEDULE:
            frozen.tick(delay)
            moments.append(datetime.now(UTC))
            assert deliver(app) == 1
        frozen.tick(timedelta(days=2))
        assert deliver(app) == 0

        told = receiver.at("/ksm")
        assert len(told) == 10 and len({d.webhook_id for d in told}) == 1
        assert [int(d.headers["webhook-timestamp"]) for d in told] == [
            int(moment.timestamp()) for moment in moments
        ]
        # Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h: about three days.
        assert moments[-1] - moments[0] == timedelta(hours=75, minutes=35, seconds=5)
        city._tokens.clear()  # the logins of three days ago have expired
        event_id = told[0].webhook_id
        detail = attempts_of(city, town, "/ksm", event_id)
        assert detail["status"] == "failed" and detail["attempt_count"] == 10
        failed = city.get(town.ksm_admin, town.endpoint_path("/ksm", "/deliveries?status=failed"))
        assert [item["event_id"] for item in failed.get_json()["items"]] == [event_id]

        replayed = city.post(town.ksm_admin, town.endpoint_path("/ksm", "/replay"), {}, key=None)
        assert replayed.status_code == 200 and replayed.get_json() == {"replayed": 1}
        assert deliver(app) == 1
        again = receiver.at("/ksm")[-1]
        assert again.status == 200 and again.webhook_id == event_id
        assert again.verified_by == receiver.secrets["/ksm"]
        assert attempts_of(city, town, "/ksm", event_id)["status"] == "delivered"


def test_replay_since_a_time_resends_only_the_failed_events_since_then(app, city, receiver):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    with freeze_time(start) as frozen:
        town = Town(city)
        town.register(receiver, paths=("/ksm",))
        receiver.answer("/ksm", 410)
        town.pay(1_000)
        deliver(app)  # 410: failed, and the endpoint disabled
        enabled = city.post(town.ksm_admin, town.endpoint_path("/ksm", "/enable"), None, key=None)
        assert enabled.status_code == 200
        frozen.tick(timedelta(hours=1))
        city._tokens.clear()  # the logins of an hour ago have expired
        receiver.answer("/ksm", 410)
        town.pay(2_000)
        deliver(app)
        enabled = city.post(town.ksm_admin, town.endpoint_path("/ksm", "/enable"), None, key=None)
        assert enabled.status_code == 200
        since = (start + timedelta(minutes=30)).isoformat()

        replayed = city.post(
            town.ksm_admin, town.endpoint_path("/ksm", "/replay"), {"since": since}, key=None
        )

        assert replayed.get_json() == {"replayed": 1}
        deliver(app)
        told = receiver.at("/ksm")
        assert [d.status for d in told] == [410, 410, 200]
        assert told[2].webhook_id == told[1].webhook_id
        assert told[2].payload["data"]["amount"] == 2_000


def test_a_410_disables_the_endpoint_until_an_admin_enables_it_and_nothing_is_lost(
    app, city, receiver
):
    town = Town(city)
    town.register(receiver, paths=("/ksm",))
    receiver.answer("/ksm", 410)
    town.pay(1_000)

    assert deliver(app) == 1
    endpoint = city.get(town.ksm_admin, town.endpoint_path("/ksm")).get_json()
    assert endpoint["status"] == "disabled"
    assert endpoint["disabled_reason"] == webhooks.GONE_REASON
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "webhooks.disabled_by_receiver")
            )
            == 1
        )
    # Events go on being written for a disabled endpoint, and wait.
    town.pay(2_000)
    assert deliver(app) == 0
    enabled = city.post(town.ksm_admin, town.endpoint_path("/ksm", "/enable"), None, key=None)
    assert enabled.status_code == 200 and enabled.get_json()["status"] == "enabled"
    assert deliver(app) == 1
    told = receiver.at("/ksm")
    assert [(d.status, d.payload["data"]["amount"]) for d in told] == [(410, 1_000), (200, 2_000)]


def test_a_receiver_that_does_not_answer_in_time_is_an_attempt_that_failed(app, city, receiver):
    town = Town(city)
    town.register(receiver, paths=("/ksm",))
    town.pay()
    receiver.hold()
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.5

    assert deliver(app) == 1
    receiver.release()

    (event_id,) = messages(app)
    detail = attempts_of(city, town, "/ksm", event_id)
    assert detail["status"] == "pending" and detail["attempt_count"] == 1
    (attempt,) = detail["attempts"]
    assert attempt["status_code"] is None and "timed out" in attempt["error"]
    assert detail["next_attempt_at"] is not None


def test_a_slow_drip_answer_is_cut_at_the_timeout(receiver):
    """The timeout bounds the whole attempt, not each read: a receiver that sends its answer a
    byte at a time cannot hold a worker thread."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def drip():
        connection, _ = listener.accept()
        connection.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
            if stop.is_set():
                break
            try:
                connection.send(bytes([byte]))
            except OSError:
                break
            stop.wait(0.05)
        connection.close()

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    outcome = send(url, {}, b"{}", timeout_seconds=0.5, allow_private=True)
    stop.set()
    thread.join(timeout=10)
    listener.close()
    assert outcome.status_code is None and "timed out" in outcome.error


# --- secrets ---------------------------------------------------------------------------------


def test_during_a_rotation_both_signatures_are_sent_and_each_verifies_alone(app, city, receiver):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    with freeze_time(start) as frozen:
        town = Town(city)
        old = town.register(receiver, paths=("/ksm",))["/ksm"]["secret"]
        rotated = city.post(
            town.ksm_admin, town.endpoint_path("/ksm", "/rotate-secret"), None, key=None
        )
        assert rotated.status_code == 200, rotated.get_json()
        new = rotated.get_json()["secret"]
        assert new != old and new.startswith("whsec_")
        assert rotated.get_json()["previous_secret_expires_at"] is not None
        receiver.trust("/ksm", new)
        town.pay(5_000)
        deliver(app)

        (during,) = receiver.at("/ksm")
        assert len(during.signatures) == 2 and all(s.startswith("v1,") for s in during.signatures)
        assert during.verified_by == [old, new]
        for secret in (old, new):
            Webhook(secret).verify(during.body, during.headers)

        frozen.tick(timedelta(seconds=24 * 3600 + 1))
        city._tokens.clear()
        assert city.cash_in(town.ksm_admin, town.siti, 1_000).status_code == 201
        deliver(app)
        after = receiver.at("/ksm")[1]
        assert len(after.signatures) == 1 and after.verified_by == [new]


def test_the_secret_is_shown_once(city, receiver):
    town = Town(city)
    created = town.register(receiver, paths=("/ksm",))["/ksm"]
    assert created["secret"].startswith("whsec_")
    listed = city.get(town.ksm_admin, f"/api/v1/cooperatives/{town.ksm}/webhooks").get_json()
    one = city.get(town.ksm_admin, town.endpoint_path("/ksm")).get_json()
    assert created["secret"] not in json.dumps(listed) + json.dumps(one)
    assert "secret" not in one and [item["id"] for item in listed["items"]] == [created["id"]]


# --- the API ---------------------------------------------------------------------------------


def slug(response) -> str:
    return response.get_json()["type"].removeprefix(PROBLEM_BASE)


REFUSED_URLS = [
    "ftp://93.184.215.14/hook",
    "not a url",
    "https://user:secret@93.184.215.14/hook",
    "http://127.0.0.1/hook",
    "http://localhost:8000/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.10/hook",
    "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",
    "https://93.184.215.14:99999/hook",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_a_url_that_is_not_http_or_not_public_is_refused(app, city, url):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    coop = city.make_cooperative("KSM")
    admin = city.make_admin(coop)
    response = city.post(
        admin,
        f"/api/v1/cooperatives/{coop}/webhooks",
        {"url": url, "events": ["payment.completed"]},
        key=None,
    )
    assert response.status_code == 422, response.get_json()
    assert slug(response) == "webhook-url-refused"
    assert response.mimetype == "application/problem+json"


def test_a_public_address_is_accepted_when_private_ones_are_refused(app, city):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    coop = city.make_cooperative("KSM")
    admin = city.make_admin(coop)
    response = city.post(
        admin,
        f"/api/v1/cooperatives/{coop}/webhooks",
        {"url": "https://93.184.215.14/interkop", "events": ["payment.completed"]},
        key=None,
    )
    assert response.status_code == 201, response.get_json()
    patched = city.client.patch(
        f"/api/v1/cooperatives/{coop}/webhooks/{response.get_json()['id']}",
        json={"url": "http://10.0.0.7/"},
        headers=city.headers(admin),
    )
    assert patched.status_code == 422 and slug(patched) == "webhook-url-refused"


@pytest.mark.sqlite_only
def test_a_name_that_resolves_to_any_private_address_is_refused():
    def resolver(host, port):
        return ["93.184.215.14", "10.0.0.1"]

    with pytest.raises(webhooks.WebhookUrlRefused):
        webhooks.check_url("https://mixed.example/", allow_private=False, resolver=resolver)
    assert webhooks.check_url(
        "https://public.example/", allow_private=False, resolver=lambda h, p: ["93.184.215.14"]
    )


@pytest.mark.sqlite_only
def test_at_delivery_a_name_now_resolving_to_a_private_address_is_not_connected_to(monkeypatch):
    """DNS rebinding: the name resolved to a public address at registration and now points at
    the gateway's own network. The worker resolves again and does not connect."""
    connected = []
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["127.0.0.1"])
    monkeypatch.setattr(
        "socket.create_connection", lambda *args, **kwargs: connected.append(args) or 1 / 0
    )
    outcome = send("https://rebound.example/", {}, b"{}", timeout_seconds=1, allow_private=False)
    assert outcome.status_code is None and "no public address" in outcome.error
    assert connected == []


def test_only_the_cooperatives_own_admins_manage_its_webhooks(city, receiver):
    town = Town(city)
    path = f"/api/v1/cooperatives/{town.ksm}/webhooks"
    body = {"url": receiver.url("/ksm"), "events": ALL_EVENTS}
    for person, status in (
        (town.siti, 403),
        (town.shop, 403),
        (town.kpp_admin, 403),
        (town.network, 403),
    ):
        assert city.post(person, path, body, key=None).status_code == status
        assert city.get(person, path).status_code == status
    for person in (town.ksm_admin, town.siti):
        response = city.post(person, "/api/v1/cooperatives/network/webhooks", body, key=None)
        assert response.status_code == 403
    assert (
        city.post(town.network, "/api/v1/cooperatives/network/webhooks", body, key=None).status_code
        == 201
    )
    assert (
        city.post(
            town.ksm_admin, "/api/v1/cooperatives/coop_nope/webhooks", body, key=None
        ).status_code
        == 404
    )
    created = city.post(town.ksm_admin, path, body, key=None).get_json()
    # Another cooperative's endpoint id answers as an unknown one.
    other = f"/api/v1/cooperatives/{town.kpp}/webhooks/{created['id']}"
    assert city.get(town.kpp_admin, other).status_code == 404
    assert city.post(town.kpp_admin, other + "/rotate-secret", None, key=None).status_code == 404


def test_bad_input_is_a_problem_never_a_server_error(city, receiver):
    town = Town(city)
    path = f"/api/v1/cooperatives/{town.ksm}/webhooks"
    for body in (
        {"url": receiver.url("/ksm"), "events": []},
        {"url": receiver.url("/ksm"), "events": ["payment.stolen"]},
        {"url": receiver.url("/ksm")},
        {"url": 42, "events": ["payment.completed"]},
        {"url": receiver.url("/ksm"), "events": ["payment.completed"], "secret": "mine"},
    ):
        response = city.post(town.ksm_admin, path, body, key=None)
        assert response.status_code == 422, (body, response.get_json())
        assert response.mimetype == "application/problem+json"
    created = town.register(receiver, paths=("/ksm",))["/ksm"]
    one = town.endpoint_path("/ksm")
    for suffix, body in (
        ("/replay", {"since": "yesterday"}),
        ("/replay", {"since": "2026-01-01T00:00:00"}),  # no time zone
        ("/replay", {"event_id": "msg_unknown"}),
    ):
        response = city.post(town.ksm_admin, one + suffix, body, key=None)
        assert response.status_code in (404, 422), (suffix, body, response.get_json())
    listed = city.get(town.ksm_admin, one + "/deliveries?status=lost")
    assert listed.status_code == 422
    assert city.get(town.ksm_admin, one + "/deliveries?cursor=msg_nope").status_code == 422
    assert created["status"] == "enabled"


def test_update_disable_and_delete_an_endpoint(app, city, receiver):
    town = Town(city)
    town.register(receiver, paths=("/ksm",), events=["payment.completed"])
    one = town.endpoint_path("/ksm")
    patched = city.client.patch(
        one,
        json={"url": receiver.url("/ksm-new"), "events": ["counter.cash_in", "payment.completed"]},
        headers=city.headers(town.ksm_admin),
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["events"] == ["counter.cash_in", "payment.completed"]
    receiver.trust("/ksm-new", town.endpoints["/ksm"]["secret"])
    assert city.cash_in(town.ksm_admin, town.siti, 1_000).status_code == 201
    deliver(app)
    assert [d.payload["type"] for d in receiver.at("/ksm-new")] == ["counter.cash_in"]

    disabled = city.post(town.ksm_admin, one + "/disable", None, key=None)
    assert disabled.get_json()["status"] == "disabled"
    again = city.post(town.ksm_admin, one + "/disable", None, key=None)
    assert again.status_code == 200  # a repeat changes nothing
    town.pay(1_000)
    assert deliver(app) == 0
    replayed = city.post(town.ksm_admin, one + "/replay", {}, key=None)
    assert replayed.status_code == 409 and slug(replayed) == "webhook-endpoint-disabled"

    deleted = city.client.delete(one, headers=city.headers(town.ksm_admin))
    assert deleted.status_code == 200 and deleted.get_json()["status"] == "deleted"
    assert city.get(town.ksm_admin, one).status_code == 404
    listed = city.get(town.ksm_admin, f"/api/v1/cooperatives/{town.ksm}/webhooks").get_json()
    assert listed["items"] == []
    town.pay(1_000)
    assert deliver(app) == 0
    assert len(receiver.at("/ksm-new")) == 1


def test_every_change_to_an_endpoint_is_audited(app, city, receiver):
    town = Town(city)
    town.register(receiver, paths=("/ksm",))
    one = town.endpoint_path("/ksm")
    city.post(town.ksm_admin, one + "/rotate-secret", None, key=None)
    city.post(town.ksm_admin, one + "/disable", None, key=None)
    city.client.delete(one, headers=city.headers(town.ksm_admin))

    trail = city.get(town.ksm_admin, "/api/v1/audit").get_json()["items"]
    actions = [item["action"] for item in trail if item["action"].startswith("webhooks.")]
    assert actions == [
        "webhooks.delete_endpoint",
        "webhooks.disable_endpoint",
        "webhooks.rotate_secret",
        "webhooks.create_endpoint",
    ]
    assert all(item["actor"] == town.ksm_admin.user_id for item in trail[:4])
    # The secret itself is never written to the trail.
    assert town.endpoints["/ksm"]["secret"] not in json.dumps(trail)


def test_an_event_is_fetched_by_its_webhook_id_by_those_it_was_sent_to(app, city, receiver):
    town = Town(city)
    town.register(receiver)
    town.pay()
    deliver(app)
    delivery = only(receiver, "/ksm")
    event_id = delivery.webhook_id

    for admin, coop in (
        (town.ksm_admin, town.ksm),
        (town.kpp_admin, town.kpp),
        (town.network, "network"),
    ):
        fetched = city.get(admin, f"/api/v1/cooperatives/{coop}/webhook-events/{event_id}")
        assert fetched.status_code == 200
        assert fetched.get_json() == {"id": event_id, **json.loads(delivery.body)}
    stranger = city.get(
        town.ktr_admin, f"/api/v1/cooperatives/{town.ktr}/webhook-events/{event_id}"
    )
    assert stranger.status_code == 404
    listed = city.get(town.ksm_admin, town.endpoint_path("/ksm", "/deliveries")).get_json()
    assert [(i["event_id"], i["status"], i["type"]) for i in listed["items"]] == [
        (event_id, "delivered", "payment.completed")
    ]


# --- the worker process ----------------------------------------------------------------------


def worker_process(app, log: Path, **settings) -> subprocess.Popen:
    """`gateway webhooks run` in a process of its own, on the test's database, logging to `log`."""
    env = dict(
        os.environ,
        GATEWAY_DATABASE_URL=app.config["DATABASE_URL"],
        GATEWAY_KEYS_DIR=app.config["KEYS_DIR"],
        GATEWAY_WEBHOOK_ALLOW_PRIVATE="true",
        GATEWAY_WEBHOOK_POLL_INTERVAL_SECONDS="0.1",
        PYTHONPATH=str(ROOT),
        **{f"GATEWAY_{name}": str(value) for name, value in settings.items()},
    )
    with open(log, "ab") as output:
        return subprocess.Popen(
            [sys.executable, "-c", "from gateway.cli import main; main()", "webhooks", "run"],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def delivery_states(app) -> list[tuple[str, int]]:
    with app.app_context():
        found = db.session.execute(
            sa.select(WebhookDelivery.status, WebhookDelivery.attempt_count)
        ).all()
        db.session.rollback()
        return [tuple(row) for row in found]


def test_a_worker_killed_mid_delivery_loses_nothing_once_one_runs_again(
    app, city, receiver, tmp_path
):
    town = Town(city)
    town.register(receiver, paths=("/ksm",))
    town.pay()
    receiver.hold()
    log = tmp_path / "workers.log"
    first = worker_process(app, log, WEBHOOK_TIMEOUT_SECONDS=1, WEBHOOK_LEASE_SECONDS=1)
    try:
        assert receiver.arrived.wait(60), log.read_text()
        first.send_signal(signal.SIGKILL)  # mid-attempt: the request is in flight
        first.wait(timeout=30)
    finally:
        first.kill()
    receiver.release()
    wait_for(lambda: len(receiver.at("/ksm")) == 1)  # it answered 200, but no one heard it
    assert delivery_states(app) == [("pending", 1)]

    second = worker_process(app, log, WEBHOOK_TIMEOUT_SECONDS=1, WEBHOOK_LEASE_SECONDS=1)
    try:
        wait_for(lambda: delivery_states(app) == [("delivered", 2)])
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    told = receiver.at("/ksm")
    assert len(told) == 2 and len({d.webhook_id for d in told}) == 1
    assert all(d.verified_by == receiver.secrets["/ksm"] for d in told)
    event_id = told[0].webhook_id
    detail = attempts_of(city, town, "/ksm", event_id)
    assert [a["status_code"] for a in detail["attempts"]] == [None, 200]
    assert "worker stopped" in detail["attempts"][0]["error"]
    assert len(messages(app)) == 1
    assert city.count(WebhookAttempt) == 2
