"""The Idempotency-Key store through the counter's money-moving requests, on SQLite and
PostgreSQL: a request runs at most once per caller and key, its answer commits with its money,
and a duplicate sent while the first still runs waits for it and replays its answer."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time
from problems import assert_problem

from gateway import counter, idempotency, registry, states
from gateway.db import db, transaction
from gateway.models import Event, IdempotencyKey, Transfer, User

CASH_IN = "/api/v1/counter/cash-in"


def scene(city):
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    return coop, teller, siti


def stored_key(app, scope: str, key: str) -> IdempotencyKey | None:
    with app.app_context():
        row = db.session.scalar(
            db.select(IdempotencyKey).where(
                IdempotencyKey.scope == scope, IdempotencyKey.key == key
            )
        )
        if row is not None:
            db.session.expunge(row)
        return row


# --- The header ---------------------------------------------------------------------------------


def test_a_money_request_without_an_idempotency_key_is_refused_and_writes_nothing(city):
    _, teller, siti = scene(city)
    assert_problem(city.cash_in(teller, siti, 50_000, key=None), 400, "idempotency-key-missing")
    assert_problem(city.cash_out(teller, siti, 10_000, key=None), 400, "idempotency-key-missing")
    assert_problem(city.payout(teller, siti, 10_000, key=None), 400, "idempotency-key-missing")
    assert city.count(Transfer) == 0
    assert city.count(Event) == 0
    assert city.count(IdempotencyKey) == 0
    assert city.balance_of_member(siti) == 0


def test_an_idempotency_key_longer_than_255_characters_is_refused(city):
    _, teller, siti = scene(city)
    assert_problem(city.cash_in(teller, siti, 50_000, key="k" * 256), 422, "validation-failed")
    assert city.count(Transfer) == 0
    assert city.count(IdempotencyKey) == 0
    assert city.cash_in(teller, siti, 50_000, key="k" * 255).status_code == 201


# --- Replays and reuse --------------------------------------------------------------------------


def test_the_same_key_and_body_replays_the_first_answer_and_moves_money_once(city):
    _, teller, siti = scene(city)
    first = city.cash_in(teller, siti, 50_000, key="setor-1")
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers

    again = city.cash_in(teller, siti, 50_000, key="setor-1")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()

    assert city.count(Transfer) == 1
    assert city.balance_of_member(siti) == 50_000


def test_the_same_key_with_another_body_is_refused_as_reused(city):
    _, teller, siti = scene(city)
    assert city.cash_in(teller, siti, 50_000, key="setor-1").status_code == 201

    assert_problem(city.cash_in(teller, siti, 60_000, key="setor-1"), 422, "idempotency-key-reused")
    # Another endpoint counts as another request too.
    assert_problem(
        city.cash_out(teller, siti, 50_000, key="setor-1"), 422, "idempotency-key-reused"
    )
    assert city.count(Transfer) == 1
    assert city.balance_of_member(siti) == 50_000


def test_the_same_key_from_another_caller_is_a_separate_request(city):
    coop, teller, siti = scene(city)
    other_teller = city.make_admin(coop)
    first = city.cash_in(teller, siti, 50_000, key="setor-1")
    second = city.cash_in(other_teller, siti, 50_000, key="setor-1")
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert second.get_json()["event_id"] != first.get_json()["event_id"]
    assert city.count(Transfer) == 2
    assert city.balance_of_member(siti) == 100_000


def test_a_refusal_is_stored_and_replayed_even_after_things_change(city):
    _, teller, siti = scene(city)
    refused = assert_problem(
        city.cash_out(teller, siti, 30_000, key="tarik-1"), 422, "insufficient-funds"
    )

    assert city.cash_in(teller, siti, 100_000).status_code == 201
    again = city.cash_out(teller, siti, 30_000, key="tarik-1")
    assert_problem(again, 422, "insufficient-funds")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == refused
    assert city.balance_of_member(siti) == 100_000
    assert city.count(Transfer) == 1


def test_a_wrong_pin_releases_the_key_so_the_retry_with_the_right_pin_runs(app, city):
    _, teller, siti = scene(city)
    assert city.cash_in(teller, siti, 100_000).status_code == 201
    assert_problem(
        city.cash_out(teller, siti, 30_000, pin="000000", key="tarik-1"), 403, "wrong-pin"
    )
    assert stored_key(app, teller.user_id, "tarik-1") is None

    retried = city.cash_out(teller, siti, 30_000, key="tarik-1")
    assert retried.status_code == 201, retried.get_json()
    assert "Idempotent-Replayed" not in retried.headers
    assert city.balance_of_member(siti) == 70_000


def test_a_key_is_kept_24_hours(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        _, teller, siti = scene(city)
        assert city.cash_in(teller, siti, 50_000, key="setor-1").status_code == 201

        frozen.move_to(start + timedelta(hours=23, minutes=59))
        city._tokens.clear()  # the access token expired meanwhile: log in again
        again = city.cash_in(teller, siti, 50_000, key="setor-1")
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert city.count(Transfer) == 1

        # Past its retention the key is forgotten: the same request is a new one.
        frozen.move_to(start + timedelta(hours=24, seconds=1))
        city._tokens.clear()
        later = city.cash_in(teller, siti, 50_000, key="setor-1")
        assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
        assert city.count(Transfer) == 2


# --- In flight ----------------------------------------------------------------------------------


def test_a_stored_answer_is_never_answered_again(app, city):
    """The key's in_flight -> done is a transition (gateway.states): a second store is a repeat
    that changes nothing, so no later answer can overwrite the first."""
    _, teller, siti = scene(city)
    first = city.cash_in(teller, siti, 50_000, key="setor-1")
    assert first.status_code == 201
    row = stored_key(app, teller.user_id, "setor-1")
    with app.app_context():
        again = transaction(
            db.session,
            lambda session: states.transition(
                session,
                states.IDEMPOTENCY_KEY,
                row.id,
                "done",
                response_status=422,
                response_body="{}",
                event_id=None,
            ),
        )
    assert again is False
    replayed = city.cash_in(teller, siti, 50_000, key="setor-1")
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_json() == first.get_json()


def test_a_claim_is_not_seen_by_anyone_before_its_money_commits(app, city):
    """The key is claimed in the work's own transaction: no other connection sees it in flight,
    and it becomes visible done, with its answer, as the money commits."""
    coop, teller, siti = scene(city)
    policy = idempotency.Policy(retention_seconds=24 * 3600)
    request_hash = idempotency.fingerprint("POST", CASH_IN, {"amount": 50_000})
    seen_meanwhile = []

    def work(session):
        receipt, event_id = counter.cash_in(
            session,
            counter=registry.get_cooperative(session, coop),
            member=registry.get_member(session, siti.id),
            amount=50_000,
            actor_user_id=session.scalar(
                db.select(User.id).where(User.public_id == teller.user_id)
            ),
        )
        # Another connection, on the driver's own: SQLAlchemy's connections begin IMMEDIATE on
        # SQLite, and a plain read (a WAL reader) is what the write lock does not block.
        other = db.engine.raw_connection()
        try:
            cursor = other.cursor()
            cursor.execute("SELECT count(*) FROM idempotency_keys WHERE key = 'setor-1'")
            seen_meanwhile.append(cursor.fetchone()[0])
        finally:
            other.close()
        return 201, receipt, event_id

    with app.app_context():
        outcome = idempotency.execute(
            db.session,
            scope=teller.user_id,
            key="setor-1",
            request_hash=request_hash,
            policy=policy,
            work=work,
            render_error=lambda error: error.problem("en"),
        )
    assert outcome.status == 201 and not outcome.replayed
    assert seen_meanwhile == [0]
    row = stored_key(app, teller.user_id, "setor-1")
    assert row.state == "done" and row.response_status == 201
    assert city.count(Transfer) == 1


def test_two_requests_with_the_same_key_at_once_move_money_once(app, city, monkeypatch):
    _, teller, siti = scene(city)
    headers = city.headers(teller, "setor-1")  # log in first, so that only the requests race
    body = {"member_id": siti.id, "amount": 50_000}
    original = counter.cash_in
    calls = []

    def slow_cash_in(*args, **kwargs):
        calls.append(threading.get_ident())
        time.sleep(0.5)  # hold the key in flight while the other request arrives
        return original(*args, **kwargs)

    monkeypatch.setattr(counter, "cash_in", slow_cash_in)

    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(index):
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            response = client.post(CASH_IN, json=body, headers=headers)
            results[index] = response
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a request hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result

    assert len(calls) == 1
    assert city.count(Transfer) == 1
    assert city.balance_of_member(siti) == 50_000

    ran = [r for r in results if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    assert len(ran) == 1, [(r.status_code, r.get_json()) for r in results]
    (other,) = [r for r in results if r is not ran[0]]
    # The claim is not committed before the money: the second request waits for the first (on
    # the key's unique index on PostgreSQL, the write lock on SQLite) and replays its answer.
    assert other.status_code == 201 and other.headers["Idempotent-Replayed"] == "true"
    assert other.get_json() == ran[0].get_json()


# --- The answer commits with the money ----------------------------------------------------------


def test_an_unexpected_failure_writes_nothing_and_releases_the_key(app, city, monkeypatch):
    _, teller, siti = scene(city)
    original = counter.cash_in

    def failing_cash_in(*args, **kwargs):
        original(*args, **kwargs)  # the transfers are written, then something breaks
        raise RuntimeError("the process fell over")

    monkeypatch.setattr(counter, "cash_in", failing_cash_in)
    assert_problem(city.cash_in(teller, siti, 50_000, key="setor-1"), 500, "internal-error")
    assert city.count(Transfer) == 0
    assert city.count(Event) == 0
    assert stored_key(app, teller.user_id, "setor-1") is None

    monkeypatch.setattr(counter, "cash_in", original)
    retried = city.cash_in(teller, siti, 50_000, key="setor-1")
    assert retried.status_code == 201, retried.get_json()
    assert "Idempotent-Replayed" not in retried.headers
    assert city.count(Transfer) == 1
    assert city.balance_of_member(siti) == 50_000
    assert city.ledger_problems() == []
