"""The failover chaos test's database machines (bench/chaos/failover.py), and the PostgreSQL
behaviour its promise rests on: with a synchronous standby named, a commit is not acknowledged
until the standby has it — not even when the standby is missing and a statement timeout runs out —
and a promoted standby holds every acknowledged commit.

A private cluster in a temporary folder (initdb, pg_basebackup), never the server on 5432: setting
synchronous_standby_names there would stall every other test's commits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from bench.chaos.failover import Cluster, Node
from bench.chaos.pg import find_bindir, free_port


def postgres_binaries() -> bool:
    try:
        return (find_bindir() / "pg_basebackup").exists()
    except RuntimeError:
        return False


pytestmark = pytest.mark.skipif(
    not postgres_binaries() and os.environ.get("CI") != "true",
    reason="no PostgreSQL server binaries (CI requires them)",
)


def standby_sum(dsn: str, expected: int, seconds: float = 30) -> int | None:
    """Return the standby's sum of `paid` once it is `expected` (or what it is after `seconds`):
    synchronous_commit = on waits for the standby's flush, and its replay follows a moment later."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(dsn, autocommit=True) as replica:
        while True:
            found = replica.execute("SELECT sum(amount) FROM paid").fetchone()[0]
            if found == expected or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


@pytest.fixture
def root():
    folder = Path(tempfile.mkdtemp(prefix="interkop-failover-test-"))
    os.chmod(folder, 0o755)
    nodes: list[Node] = []
    yield folder, nodes
    for node in nodes:
        node.stop("immediate")
    shutil.rmtree(folder, ignore_errors=True)


def test_a_commit_waits_for_the_missing_standby_past_its_statement_timeout(root):
    folder, nodes = root
    primary = Node(folder / "primary", free_port())
    nodes.append(primary)
    primary.init()
    primary.configure_primary()
    primary.start()
    with psycopg.connect(primary.admin_dsn, autocommit=True) as setup:
        setup.execute("CREATE TABLE paid (amount bigint)")
    primary.require_synchronous_standby()
    time.sleep(0.5)  # the reload reaches every backend
    # From here a commit needs the standby's flush, and there is no standby.
    outcome: dict = {}

    def pay() -> None:
        with psycopg.connect(primary.admin_dsn, options="-c statement_timeout=1000") as payer:
            payer.execute("INSERT INTO paid VALUES (1000)")
            began = time.monotonic()
            payer.commit()
            outcome["seconds"] = time.monotonic() - began

    payer = threading.Thread(target=pay, daemon=True)
    payer.start()
    payer.join(timeout=4)
    assert payer.is_alive(), "the commit was acknowledged without a standby"
    assert "seconds" not in outcome

    standby = Node(folder / "standby", free_port())
    nodes.append(standby)
    standby.build_standby(primary)
    standby.start()
    payer.join(timeout=60)
    assert not payer.is_alive()
    assert outcome["seconds"] > 3  # it waited for the standby, well past the 1 s timeout
    assert primary.cancelled_synchronous_waits() == 0
    with psycopg.connect(primary.admin_dsn, autocommit=True) as check:
        assert check.execute("SELECT sum(amount) FROM paid").fetchone()[0] == 1000
        # The payment committed before the base backup began, while its commit waited: the
        # standby counts it as running until the primary's next snapshot of running
        # transactions, which a checkpoint writes.
        check.execute("CHECKPOINT")
    assert standby_sum(standby.admin_dsn, 1000) == 1000


def test_a_failover_keeps_every_acknowledged_commit_and_rebuilds_the_standby(root):
    folder, nodes = root
    cluster = Cluster(folder)
    cluster.start()
    nodes.extend([cluster.primary, cluster.standby])
    first_primary_port = cluster.primary.port
    with psycopg.connect(cluster.url, autocommit=True) as connection:
        connection.execute("CREATE TABLE paid (amount bigint)")
        for amount in range(1, 51):
            connection.execute("INSERT INTO paid VALUES (%s)", (amount,))  # each acknowledged
    lost_folder = cluster.primary.root
    times = cluster.failover()
    nodes.extend([cluster.primary, cluster.standby])
    assert times["killed"] <= times["lost"] <= times["promoted"] <= times["synchronous"]
    # The lost machine's port now serves the new standby; the old standby is the primary.
    assert cluster.standby.port == first_primary_port
    assert cluster.primary.port != first_primary_port
    deadline = time.monotonic() + 30
    while lost_folder.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not lost_folder.exists()
    with psycopg.connect(cluster.url, autocommit=True) as connection:
        assert connection.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
        assert connection.execute("SELECT count(*), sum(amount) FROM paid").fetchone() == (
            50,
            1275,
        )
        connection.execute("INSERT INTO paid VALUES (1000)")  # synchronous again: it returns
        state = connection.execute(
            "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'"
        ).fetchone()
        assert state == ("sync",)
    with psycopg.connect(cluster.standby.url) as replica:
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
    assert standby_sum(cluster.standby.url, 2275) == 2275
