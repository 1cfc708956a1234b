"""A database that goes away is an outage the worker waits out, on every backend.

In-process: the worker's ReconnectingQueue over real backends, with the connection broken at chosen
moments (pg_terminate_backend, a network stand-in that loses an answer or goes down, a SQLite file locked
by another process). Worker processes: `headless.py` serving noop rows while its connections are
dropped (postgres) or PostgREST is restarted (supabase): every row completes exactly once and the worker
never exits.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from source.config import Settings
from source.queue.factory import open_migrated_queue
from source.queue.model import DatabaseUnavailable, NewTask, Status
from source.queue.reconnecting import ReconnectingQueue
from source.queue.sqlite_backend import SqliteQueue

from .helpers.flaky_network import FlakyProxy
from .helpers.queue import QueueTarget
from .helpers.workers import make_backend, read_marker, wait_for, wait_for_status

LEASE = 30.0


def terminate_sessions(dsn: str, admin_dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres") -> int:
    """pg_terminate_backend on every session of the database `dsn` names (what a failover or a pooler
    restart does to a worker)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    database = conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                            (database,)).fetchall()
    return len(rows)


def via(proxy: FlakyProxy, dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return make_conninfo(**{**conninfo_to_dict(dsn), "host": "127.0.0.1", "port": str(proxy.port)})


@contextmanager
def queue_through_proxy(target: QueueTarget, wakeup: str = "poll", **wrapper) -> Iterator[tuple]:
    """(ReconnectingQueue, FlakyProxy): the worker's queue reaching the database through the network
    stand-in."""
    proxy = FlakyProxy(upstream_port=5432)
    queue = ReconnectingQueue(open_migrated_queue(Settings(db_type="postgres", database_url=via(
        proxy, target.location), queue_wakeup=wakeup)), **wrapper)
    try:
        yield queue, proxy
    finally:
        queue.close()
        proxy.close()


def outage_lines(caplog) -> tuple[int, int]:
    messages = [r.getMessage() for r in caplog.records if r.name == "queue"]
    return (sum(m.startswith("database unavailable") for m in messages),
            sum(m.startswith("database back") for m in messages))


@pytest.fixture
def postgres_target(postgres_databases) -> QueueTarget:
    reason = postgres_databases.check()
    if reason:
        from .helpers.services import skip_or_fail

        skip_or_fail(reason)
    dsn = postgres_databases.create()
    yield QueueTarget("postgres", dsn)
    postgres_databases.drop(dsn)


# ---- in-process: the wrapper over real backends --------------------------------------------------------

@pytest.mark.parametrize("wakeup", ["listen", "poll"])
def test_sessions_terminated_before_complete_the_result_still_lands(postgres_target, caplog, wakeup):
    caplog.set_level(logging.INFO, logger="queue")
    inner = open_migrated_queue(Settings(db_type="postgres", database_url=postgres_target.location,
                                         queue_wakeup=wakeup))
    queue = ReconnectingQueue(inner)
    try:
        [task_id] = queue.enqueue([NewTask("noop", {})])
        claim = queue.claim("w1", LEASE)
        assert terminate_sessions(postgres_target.location) >= 1
        assert queue.complete(claim, "out.mp4") is True
        row = queue.get(task_id)
        assert (row.status, row.output_location, row.attempts) == (Status.COMPLETE, "out.mp4", 1)
        assert outage_lines(caplog) == (1, 1)
        # idle: terminated while waiting for a change, then a new row is claimed as usual
        terminate_sessions(postgres_target.location)
        queue.wait_for_change(0.2)
        [second] = queue.enqueue([NewTask("noop", {})])
        assert queue.claim("w1", LEASE).task_id == second
    finally:
        queue.close()


def test_fail_and_fan_out_land_after_a_drop_and_a_lost_answer(postgres_target):
    with queue_through_proxy(postgres_target) as (queue, proxy):
        parent, doomed = queue.enqueue([NewTask("noop", {}, priority=2), NewTask("noop", {}, priority=1)])
        claim = queue.claim("w1", LEASE)
        child = NewTask("noop", {}, id=f"{parent}-child")
        terminate_sessions(postgres_target.location)
        assert queue.fan_out(claim, [child], child.id) is True
        row = queue.get(parent)
        assert (row.status, row.awaiting_task_id) == (Status.IN_PROGRESS, child.id)
        second = queue.claim("w1", LEASE)
        assert second.task_id == doomed
        proxy.lose_next_answer()
        assert queue.fail(second, "boom") is True  # landed although its answer was lost
        assert (queue.get(doomed).status, queue.get(doomed).error_message) == (Status.FAILED, "boom")


def test_a_claim_whose_answer_was_lost_is_taken_up_not_left_held(postgres_target, caplog):
    caplog.set_level(logging.INFO, logger="queue")
    with queue_through_proxy(postgres_target) as (queue, proxy):
        first, second = queue.enqueue([NewTask("noop", {}, priority=1), NewTask("noop", {})])
        proxy.lose_next_answer()
        claim = queue.claim("w1", LEASE)
        assert proxy.cuts >= 1
        # the lost answer's row is the one taken up: nothing is left held by a claim nobody heard of
        assert claim.task_id == first and claim.attempt == 1
        assert queue.get(second).status == Status.QUEUED
        assert [t.id for t in queue.claimed_by("w1")] == [first]
        # a complete whose answer is lost counts as landed (the row shows our own write)
        proxy.lose_next_answer()
        assert queue.complete(claim, "a.mp4") is True
        assert queue.get(first).status == Status.COMPLETE
        assert outage_lines(caplog) == (2, 2)


def test_a_network_outage_is_waited_out_and_the_fence_still_decides(postgres_target, caplog):
    caplog.set_level(logging.INFO, logger="queue")
    direct = postgres_target.open()
    with queue_through_proxy(postgres_target, wakeup="listen") as (queue, proxy):
        [task_id] = queue.enqueue([NewTask("noop", {})])
        claim = queue.claim("w1", 1.0)
        proxy.down()
        # while away: heartbeats do not fail the task (the owner is unknown), the final write waits
        assert queue.heartbeat(claim, 1.0) is True
        done = []
        writer = threading.Thread(target=lambda: done.append(queue.complete(claim, "late.mp4")))
        writer.start()
        time.sleep(1.5)   # the lease expires meanwhile; another worker takes the row over
        direct.sweep_expired()
        other = direct.claim("w2", LEASE)
        assert other.task_id == task_id
        proxy.up()
        writer.join(10)
        assert done == [False]  # the fence says the row is no longer ours: the late result is discarded
        assert direct.complete(other, "w2.mp4")
        assert direct.get(task_id).output_location == "w2.mp4"
        assert outage_lines(caplog) == (1, 1)
    direct.close()


def test_sqlite_locked_past_the_busy_timeout_is_waited_out(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="queue")
    path = tmp_path / "tasks.db"
    inner = SqliteQueue(path, busy_timeout=0.1)
    inner.migrate()
    queue = ReconnectingQueue(inner)
    [task_id] = queue.enqueue([NewTask("noop", {})])
    claim = queue.claim("w1", LEASE)
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    with pytest.raises(DatabaseUnavailable, match="database is locked"):
        inner.complete(claim, "x")   # the backend itself says: unavailable, not a refusal
    release = threading.Timer(1.0, lambda: locker.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    assert queue.complete(claim, "out.mp4") is True
    assert time.monotonic() - started >= 0.9
    assert queue.get(task_id).status == Status.COMPLETE
    assert outage_lines(caplog) == (1, 1)
    release.join()
    locker.close()
    queue.close()


def test_a_worker_asked_to_stop_gives_up_waiting_for_the_database(postgres_target):
    from source.queue.reconnecting import StoppedWaiting

    stop = threading.Event()
    with queue_through_proxy(postgres_target, stop_waiting=stop) as (queue, proxy):
        proxy.down()
        threading.Timer(0.5, stop.set).start()
        with pytest.raises(StoppedWaiting):
            queue.claim("w1", LEASE)


# ---- worker processes ------------------------------------------------------------------------------------

def _count(log_path: Path, prefix: str) -> int:
    return sum(prefix in line for line in log_path.read_text().splitlines())


@pytest.mark.parametrize("backend_name", ["postgres", "supabase"])
def test_a_worker_survives_drops_while_idle_and_during_a_run(backend_name, tmp_path):
    """Drops while idle, then every 0.4 s while 16 rows run (mid-task, before complete, between claims):
    every row completes exactly once, the worker is still running, and each outage is two log lines."""
    with make_backend(backend_name, tmp_path) as backend:
        queue = ReconnectingQueue(backend.queue())  # the test's own connection is dropped too
        marker = tmp_path / "outputs" / "marker.txt"   # inside the worker's output folder
        worker = backend.start_worker("--lease-seconds", "5")
        database_dsn = backend.stack.database_url if backend.stack else backend.env["DATABASE_URL"]

        def drop() -> None:
            if backend_name == "postgres":
                terminate_sessions(database_dsn)
            else:
                backend.stack.postgrest.restart(down_seconds=0.3)

        wait_for(lambda: "worker" in worker.log_path.read_text() and "started" in worker.log_path.read_text(),
                 timeout=60, what="the worker to start")
        time.sleep(0.5)
        drop()                                             # idle
        ids = queue.enqueue([NewTask("noop", {"sleep": 0.3, "marker_file": str(marker)}) for _ in range(16)])
        stop = threading.Event()
        drops = []

        def keep_dropping() -> None:
            while not stop.wait(0.4):
                drop()
                drops.append(time.monotonic())

        dropper = threading.Thread(target=keep_dropping)
        dropper.start()
        try:
            for task_id in ids:
                wait_for_status(queue, task_id, Status.COMPLETE, timeout=120)
        finally:
            stop.set()
            dropper.join()
        assert worker.poll() is None, worker.log_path.read_text()[-3000:]
        lines = read_marker(marker)
        assert sorted(line[0] for line in lines) == sorted(ids)          # each row ran exactly once
        assert all(queue.get(i).attempts == 1 for i in ids)
        assert len(drops) >= 5
        away, back = _count(worker.log_path, "database unavailable"), _count(worker.log_path, "database back")
        assert 1 <= away and back in (away, away - 1)   # one line per outage, not one per retry
        assert _count(worker.log_path, "Traceback") == 0
        queue.close()


def test_a_postgres_worker_holds_one_connection_idle_and_busy(tmp_path):
    from .helpers.pgbouncer import server_connections
    from psycopg.conninfo import conninfo_to_dict

    with make_backend("postgres", tmp_path) as backend:
        queue = backend.queue()
        database = conninfo_to_dict(backend.env["DATABASE_URL"])["dbname"]
        queue.close()
        worker = backend.start_worker()
        wait_for(lambda: "worker" in worker.log_path.read_text() and " started" in worker.log_path.read_text(),
                 timeout=60, what="the worker to start")
        time.sleep(0.5)
        idle = [server_connections(database) for _ in range(5)]
        queue = backend.queue()
        [task_id] = queue.enqueue([NewTask("noop", {"sleep": 2.0})])
        queue.close()
        time.sleep(0.5)
        busy = [server_connections(database) for _ in range(10)]  # heartbeats and progress meanwhile
        assert max(idle) == 1 and max(busy) == 1, (idle, busy)
        queue = backend.queue()
        wait_for_status(queue, task_id, Status.COMPLETE, timeout=30)
        queue.close()


def test_a_worker_through_pgbouncer_in_transaction_mode_polls_and_serves_rows(tmp_path):
    from .helpers.pgbouncer import session_pgbouncer

    with make_backend("postgres", tmp_path) as backend:
        bouncer = session_pgbouncer()
        through = bouncer.dsn(backend.env["DATABASE_URL"])
        queue = open_migrated_queue(Settings(db_type="postgres", database_url=through, queue_wakeup="poll"))
        worker = backend.start_worker(DATABASE_URL=through, QUEUE_WAKEUP="poll")
        wait_for(lambda: " started" in worker.log_path.read_text(), timeout=60, what="the worker to start")
        ids = queue.enqueue([NewTask("noop", {}) for _ in range(5)])
        for task_id in ids:
            wait_for_status(queue, task_id, Status.COMPLETE, timeout=30)
        assert "LISTEN" not in worker.log_path.read_text()
        assert worker.poll() is None
        queue.close()
