"""Attack: one person (or a crowd) opens many long-polls to take every worker thread.

The gateway runs for real under gunicorn (one gthread worker of 8 threads, as `make run` runs
each of its workers) on a free loopback port over the test's database, so a held poll holds a
real thread. The promise (gateway/long_polls.py): at most LONG_POLL_PERSON_MAX polls of one
person and LONG_POLL_PROCESS_MAX of one process wait; the rest are refused at once with a 429 and
Retry-After; `/healthz` and payments answer while the polls are held; slots come back afterwards.

"Still held" is measured by the held polls not having returned, never by a clock.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import live_http
import pytest

from attacks.burst import burst
from gateway.errors import TooManyLongPolls
from gateway.long_polls import LongPollSlots
from gateway.models import Payment

ROOT = Path(__file__).resolve().parents[2]
THREADS = 8
PROCESS_MAX = 4
PERSON_MAX = 2
RETRY_AFTER_SECONDS = 5
WAIT_SECONDS = 20  # how long a held poll would wait: the test wakes it long before
ANSWER_TIMEOUT_SECONDS = 30  # generous: only so that a broken gateway cannot hang the test

TOO_MANY = "https://interkop.id/problems/too-many-long-polls"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveGateway:
    """The gateway under gunicorn; `call` answers (status, headers, JSON body)."""

    def __init__(self, url: str):
        self.url = url

    def call(self, method, path, *, token=None, body=None, key=None, language="id", timeout=60):
        return live_http.call(
            self.url,
            method,
            path,
            token=token,
            body=body,
            key=key,
            language=language,
            timeout=timeout,
        )


@pytest.fixture
def live(app, database_url, keys_dir, tmp_path):
    port = _free_port()
    environment = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        GATEWAY_DATABASE_URL=database_url,
        GATEWAY_KEYS_DIR=keys_dir,
        GATEWAY_PIN_SCRYPT_N="16",
        GATEWAY_PUBLIC_URL="http://gateway.test",
        GATEWAY_LONG_POLL_MAX_SECONDS=str(WAIT_SECONDS),
        GATEWAY_LONG_POLL_PROCESS_MAX=str(PROCESS_MAX),
        GATEWAY_LONG_POLL_PERSON_MAX=str(PERSON_MAX),
        GATEWAY_LONG_POLL_RETRY_AFTER_SECONDS=str(RETRY_AFTER_SECONDS),
    )
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            str(THREADS),
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "1",
            "gateway:create_app()",
        ],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    gateway = LiveGateway(f"http://127.0.0.1:{port}")
    try:
        for _ in range(300):  # up to 30 s for gunicorn to import the app and bind
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                if gateway.call("GET", "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not answer /healthz")
        yield gateway
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        log.close()


class Polls:
    """Long-polls running in the background; `answered` fills as each returns."""

    def __init__(self, gateway: LiveGateway, polls: list[tuple[str, str, str]]):
        self.gateway = gateway
        self.polls = polls  # (token, member id, feed cursor)
        self.answered: list[tuple[int, dict, dict] | BaseException] = []
        self.changed = threading.Condition()
        self.results: list = []
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _poll(self, index: int):
        token, member_id, cursor = self.polls[index]
        path = f"/api/v1/members/{member_id}/payments?after={cursor}&wait={WAIT_SECONDS}"
        try:
            outcome = self.gateway.call("GET", path, token=token, language=("id", "en")[index % 2])
        except OSError as error:  # a stalled or killed server: recorded, never lost
            outcome = error
        with self.changed:
            self.answered.append(outcome)
            self.changed.notify_all()
        return outcome

    def _run(self):
        self.results = burst(len(self.polls), self._poll)

    def wait_until_answered(self, count: int) -> int:
        """Wait (generously) until `count` polls have returned; return how many have."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.answered) >= count, ANSWER_TIMEOUT_SECONDS)
            return len(self.answered)

    def join(self):
        self.thread.join(timeout=2 * WAIT_SECONDS + ANSWER_TIMEOUT_SECONDS)
        assert not self.thread.is_alive(), "the long-polls never returned"
        return self.results


def _feed_cursor(city, member) -> str:
    response = city.get(member, f"/api/v1/members/{member.id}/payments")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["feed_cursor"]


def _pay_live(gateway, city, member, sticker_token, amount):
    return gateway.call(
        "POST",
        "/api/v1/payments",
        token=city.token(member),
        body={"token": sticker_token, "amount": amount, "pin": member.pin},
        key=uuid.uuid4().hex,
        timeout=ANSWER_TIMEOUT_SECONDS,
    )


def _assert_refused_at_once(answers):
    for status, headers, body in answers:
        assert status == 429, body
        assert headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert headers["Content-Type"].startswith("application/problem+json")
        assert body["type"] == TOO_MANY
        assert body["retry_after_seconds"] == RETRY_AFTER_SECONDS
        assert body["detail"] in (
            "Terlalu banyak permintaan yang sedang menunggu pembayaran baru. Coba lagi dalam"
            " beberapa detik.",
            "Too many requests are already waiting for new payments. Try again in a few seconds.",
        )


def test_one_member_holds_two_long_polls_and_everyone_else_still_gets_a_thread(live, city):
    coop = city.make_cooperative("KSP")
    admin = city.make_admin(coop)
    poller, payer = city.make_member(coop), city.make_member(coop)
    merchant = city.make_merchant(coop)
    for member in (poller, payer):
        assert city.cash_in(admin, member, 100_000).status_code == 201
    sticker = city.static_qr(merchant)["token"]
    cursor = _feed_cursor(city, poller)

    polls = Polls(live, [(city.token(poller), poller.id, cursor)] * 32)
    answered_at_once = polls.wait_until_answered(32 - PERSON_MAX)
    assert answered_at_once == 32 - PERSON_MAX, f"{32 - answered_at_once} polls of one member wait"

    # While the member's two polls hold their threads, a health check and a payment answer.
    health = live.call("GET", "/healthz", timeout=ANSWER_TIMEOUT_SECONDS)
    paid = _pay_live(live, city, payer, sticker, 5_000)
    assert health[0] == 200
    assert paid[0] == 201, paid[2]
    assert len(polls.answered) == 32 - PERSON_MAX, "the held polls returned before the others"

    # The member's own payment wakes the held polls, which deliver it.
    own = _pay_live(live, city, poller, sticker, 7_000)
    assert own[0] == 201, own[2]
    results = polls.join()
    held = [result for result in results if result[0] == 200]
    assert len(held) == PERSON_MAX
    assert all([item["id"] for item in body["items"]] == [own[2]["id"]] for _, _, body in held)
    _assert_refused_at_once([result for result in results if result[0] != 200])

    # Both slots came back: two new polls wait again (and answer, empty, when the wait ends).
    cursor = held[0][2]["next_cursor"]
    again = burst(
        PERSON_MAX,
        lambda index: live.call(
            "GET",
            f"/api/v1/members/{poller.id}/payments?after={cursor}&wait=1",
            token=city.token(poller),
        ),
    )
    assert [status for status, _, body in again] == [200] * PERSON_MAX
    assert all(body["items"] == [] for _, _, body in again)

    assert city.count(Payment) == 2
    assert city.balance_of_member(poller) == 93_000
    assert city.balance_of_member(payer) == 95_000
    assert city.ledger_problems() == []


def test_a_process_lets_at_most_its_share_of_threads_wait(live, city):
    coop = city.make_cooperative("KSP")
    admin = city.make_admin(coop)
    pollers = [city.make_member(coop) for _ in range(3)]
    payer = city.make_member(coop)
    merchant = city.make_merchant(coop)
    for member in [*pollers, payer]:
        assert city.cash_in(admin, member, 100_000).status_code == 201
    sticker = city.static_qr(merchant)["token"]
    wanted = [
        (city.token(member), member.id, _feed_cursor(city, member))
        for member in pollers
        for _ in range(PERSON_MAX)
    ]  # 6 polls, each person within their own bound, more than the process lets wait

    polls = Polls(live, wanted)
    answered_at_once = polls.wait_until_answered(len(wanted) - PROCESS_MAX)
    assert answered_at_once == len(wanted) - PROCESS_MAX, f"{len(wanted) - answered_at_once} wait"

    health = live.call("GET", "/healthz", timeout=ANSWER_TIMEOUT_SECONDS)
    paid = _pay_live(live, city, payer, sticker, 5_000)
    assert health[0] == 200
    assert paid[0] == 201, paid[2]
    assert len(polls.answered) == len(wanted) - PROCESS_MAX, "held polls returned early"

    for member in pollers:  # each poller's payment wakes their own held polls
        assert _pay_live(live, city, member, sticker, 1_000)[0] == 201
    results = polls.join()
    assert sum(1 for result in results if result[0] == 200) == PROCESS_MAX
    _assert_refused_at_once([result for result in results if result[0] != 200])
    assert city.count(Payment) == 4
    assert city.ledger_problems() == []


def test_a_slot_comes_back_on_every_way_out_of_a_poll():
    slots = LongPollSlots(process_max=2, person_max=1, retry_after_seconds=RETRY_AFTER_SECONDS)
    with pytest.raises(ConnectionResetError), slots.hold("member"):
        raise ConnectionResetError("the client went away")  # or the database failed
    with slots.hold("member"):
        with pytest.raises(TooManyLongPolls), slots.hold("member"):
            pass  # the person's bound
        with slots.hold("someone else"), pytest.raises(TooManyLongPolls), slots.hold("a third"):
            pass  # the process's bound
    assert slots.held == 0
