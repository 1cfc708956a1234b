"""Chaos and fleet benchmark: workers that survive faults, and a hundred workers on one PostgreSQL.

Chaos (per backend: sqlite, postgres, supabase): N `headless.py` workers serve noop rows (each appends a
marker line when it runs) fed continuously, while faults are injected in turn:
  drop    postgres: pg_terminate_backend on every session of the database; supabase: on PostgREST's
  kill    SIGKILL a worker (a replacement is started)
  outage  the database goes away for a while and comes back: postgres: the network stand-in between the
          workers and the server (tests/helpers/flaky_network.py) goes down; supabase: PostgREST stops and
          restarts on its port; sqlite: another process holds the file's exclusive lock
  stop    SIGSTOP a worker past its lease, then SIGCONT
Printed: rows, faults, lost (rows not Complete), duplicated (a row run twice where no killed or stopped
worker explains it), re-runs after a kill or stop (at-least-once, expected), worker exits, and the
recovery time after an outage: database back -> each worker's next claim (p50/p99, from the workers'
log lines).

Files (per backend: sqlite, postgres): faults that reach a task's files.
  stale      a worker rendering a travel segment (tiny engine) is frozen (SIGSTOP) past its lease; a second
             worker runs the segment and the run to the end; the first is resumed (SIGCONT)
  disk full  two workers serve noop rows that append to a file in their output folder, a 2 MiB tmpfs (needs
             root); the disk is filled under them, then emptied
Printed: rows, lost (not Complete at the end), duplicated (a published file replaced by a late attempt, or a
row's marker line written twice), failed by the fault (rows Failed), given back (rows handed back as a
machine fault), and the seconds from the disk emptied to the last row complete.

Fleet: 100 noop worker processes on one PostgreSQL with max_connections = 100 (a private server started
for the run, so nothing else holds connections: `initdb` + `pg_ctl`, as the postgres user when run as
root), the workers logging in as an ordinary role (superuser_reserved_connections = 3 stay free),
directly and through pgbouncer in transaction mode (pool of 20): connections used idle and busy,
workers connected, claims/s over a 2,000-row backlog, and enqueue -> start p50/p99 for rows enqueued one
by one at 50 rows/s.

    .venv/bin/python benchmarks/chaos_bench.py                      # everything; rewrites the section of RESULTS.md
    .venv/bin/python benchmarks/chaos_bench.py --parts chaos --backends postgres --no-write
    .venv/bin/python benchmarks/chaos_bench.py --parts files --backends sqlite,postgres
"""
from __future__ import annotations

import argparse
import glob
import logging
import os
import pwd
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.queue_bench import write_results  # noqa: E402
from source.queue.model import NewTask, Status  # noqa: E402
from source.queue.reconnecting import ReconnectingQueue  # noqa: E402

# RESULTS.md sections, one per part, so a part can be re-run alone
MARKERS = {part: (f"<!-- chaos-bench:{part}:start -->", f"<!-- chaos-bench:{part}:end -->")
           for part in ("chaos", "fleet", "files")}
PYTHON = sys.executable
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})")
FAULTS = ("drop", "kill", "outage", "stop")


def percentile(values: list[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def seconds(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f} s"


def claim_times(log_path: Path) -> list[float]:
    """Epoch seconds of each 'claimed' line of a worker's log (its timestamps are local time)."""
    times = []
    for line in log_path.read_text(errors="replace").splitlines():
        if "] worker: claimed " in line:
            match = LOG_TIME.match(line)
            if match:
                times.append(time.mktime(time.strptime(match[1], "%Y-%m-%d %H:%M:%S")) + int(match[2]) / 1000)
    return times


class Workers:
    """headless.py processes with their logs; a killed one is replaced."""

    def __init__(self, folder: Path, env: dict, args: tuple[str, ...]) -> None:
        self.folder, self.env, self.args = folder, env, args
        self.procs: list[subprocess.Popen] = []
        self.faulted: set[int] = set()     # pids killed or stopped on purpose
        self.stopped: set[int] = set()
        self.down: dict[int, list[tuple[float, float]]] = {}   # pid -> (from, to) killed or stopped

    def start(self) -> subprocess.Popen:
        log = open(self.folder / f"worker-{len(self.procs)}.log", "w")
        proc = subprocess.Popen([PYTHON, "headless.py", *self.args], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        proc.log_path = Path(log.name)
        self.procs.append(proc)
        return proc

    def running(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None and p.pid not in self.stopped]

    def kill_one(self) -> None:
        victim = random.choice(self.running())
        self.faulted.add(victim.pid)
        self.down.setdefault(victim.pid, []).append((time.time(), float("inf")))
        victim.kill()
        self.start()

    def stop_one(self, seconds_stopped: float) -> None:
        victim = random.choice(self.running())
        self.faulted.add(victim.pid)
        self.stopped.add(victim.pid)
        self.down.setdefault(victim.pid, []).append((time.time(), time.time() + seconds_stopped))
        victim.send_signal(signal.SIGSTOP)

        def resume() -> None:
            victim.send_signal(signal.SIGCONT)
            self.stopped.discard(victim.pid)

        threading.Timer(seconds_stopped, resume).start()

    def up_throughout(self, pid: int, start: float, end: float) -> bool:
        """Neither killed nor stopped at any moment between `start` and `end`."""
        return all(to < start or since > end for since, to in self.down.get(pid, []))

    def unexpected_exits(self) -> int:
        return sum(1 for p in self.procs if p.poll() is not None and p.pid not in self.faulted)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def terminate_sessions(admin_dsn: str, database: str, user: Optional[str] = None) -> int:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
                            "AND (%s::text IS NULL OR usename = %s)", (database, user, user)).fetchall()
    return len(rows)


# ---- chaos ------------------------------------------------------------------------------------------------

@contextmanager
def chaos_backend(name: str, folder: Path) -> Iterator[dict]:
    """The backend's environment for workers, its own queue, and how to drop and cut it off."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from tests.helpers.flaky_network import FlakyProxy
    from tests.helpers.services import PG_ADMIN_DSN
    from tests.helpers.workers import make_backend

    with ExitStack() as stack:
        backend = stack.enter_context(make_backend(name, folder))
        env = backend.process_env()
        queue = ReconnectingQueue(backend.queue())
        stack.callback(queue.close)
        tools = {"env": env, "queue": queue}
        if name == "postgres":
            dsn = backend.env["DATABASE_URL"]
            proxy = FlakyProxy(upstream_port=int(conninfo_to_dict(dsn).get("port", 5432)))
            stack.callback(proxy.close)
            env["DATABASE_URL"] = make_conninfo(**{**conninfo_to_dict(dsn), "port": str(proxy.port)})
            database = conninfo_to_dict(dsn)["dbname"]
            tools["drop"] = lambda: terminate_sessions(PG_ADMIN_DSN, database)

            def outage(down: float) -> float:
                proxy.down()
                time.sleep(down)
                proxy.up()
                return time.time()
        elif name == "supabase":
            database = conninfo_to_dict(backend.stack.database_url)["dbname"]
            tools["drop"] = lambda: terminate_sessions(PG_ADMIN_DSN, database, "authenticator")

            def outage(down: float) -> float:
                backend.stack.postgrest.restart(down_seconds=down)
                return time.time()
        else:
            tools["drop"] = None

            def outage(down: float) -> float:
                locker = sqlite3.connect(backend.env["SQLITE_DB_PATH"], isolation_level=None)
                locker.execute("BEGIN EXCLUSIVE")
                time.sleep(down)
                locker.execute("COMMIT")
                locker.close()
                return time.time()
        tools["outage"] = outage
        yield tools


def run_chaos(name: str, workers: int, rounds: int, spacing: float, outage_s: float, lease: float) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"chaos-{name}-"))
    marker = folder / "outputs" / "marker.txt"   # inside the workers' output folder (MAIN_OUTPUT_DIR)
    marker.parent.mkdir(parents=True, exist_ok=True)
    with chaos_backend(name, folder) as tools:
        queue = tools["queue"]
        fleet = Workers(folder, tools["env"], ("--task-types", "noop", "--lease-seconds", str(lease),
                                               "--poll-interval", "2"))
        for _ in range(workers):
            fleet.start()
        ids: list[str] = []
        feeding = threading.Event()
        feeding.set()

        def feed() -> None:
            while feeding.is_set():
                if queue.pending_count(["noop"]) < 4 * workers:
                    batch = [NewTask("noop", {"sleep": 0.05, "marker_file": str(marker)}, max_attempts=10)
                             for _ in range(5 * workers)]
                    ids.extend(queue.enqueue(batch))
                time.sleep(0.1)

        feeder = threading.Thread(target=feed)
        feeder.start()
        time.sleep(8.0)  # the workers start (imports, self-check) and settle
        faults = {kind: 0 for kind in FAULTS}
        outages: list[tuple[float, float, set[int]]] = []   # (down at, back at, pids running throughout)
        drops: list[tuple[float, set[int]]] = []
        try:
            for step in range(rounds * len(FAULTS)):
                kind = FAULTS[step % len(FAULTS)]
                if kind == "drop" and tools["drop"] is not None:
                    running = {p.pid for p in fleet.running()}
                    tools["drop"]()
                    drops.append((time.time(), running))
                elif kind == "kill":
                    fleet.kill_one()
                elif kind == "outage":
                    running = {p.pid for p in fleet.running()}
                    down_at = time.time()
                    back_at = tools["outage"](outage_s)
                    outages.append((down_at, back_at, running))
                elif kind == "stop":
                    fleet.stop_one(lease + 2.0)
                else:
                    continue
                faults[kind] += 1
                time.sleep(spacing)
        finally:
            feeding.clear()
            feeder.join()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and queue.pending_count(["noop"]) > 0:
            time.sleep(0.5)
        time.sleep(1.0)
        rows = [queue.get(i) for i in ids]
        exits = fleet.unexpected_exits()
        fleet.stop_all()

        def recovery(events: list[tuple[float, set[int]]]) -> list[float]:
            """Per event and per worker up from the event until its next claim: back -> next claim."""
            samples = []
            for back_at, pids in events:
                for proc in fleet.procs:
                    later = [t for t in claim_times(proc.log_path) if t >= back_at]
                    if proc.pid in pids and later and fleet.up_throughout(proc.pid, back_at - 10, later[0]):
                        samples.append(later[0] - back_at)
            return samples

        after_outage = recovery([(back, pids) for _, back, pids in outages])
        after_drop = recovery(drops)
        lines: dict[str, list[str]] = {}
        for line in marker.read_text().splitlines() if marker.exists() else []:
            task_id, worker_id, _attempt = line.split()
            lines.setdefault(task_id, []).append(worker_id)
        faulted = {str(pid) for pid in fleet.faulted}
        duplicated = reruns = 0
        for writers in lines.values():
            extra = len(writers) - 1
            if extra <= 0:
                continue
            explained = sum(1 for w in writers if w.split("-")[-2] in faulted)
            reruns += min(extra, explained)
            duplicated += max(0, extra - explained)
        away = sum(p.log_path.read_text(errors="replace").count("database unavailable") for p in fleet.procs)
        return {
            "backend": name, "workers": workers, "rows": len(rows), "faults": faults,
            "lost": sum(1 for r in rows if r is None or r.status != Status.COMPLETE),
            "never_ran": sum(1 for i in ids if i not in lines),
            "duplicated": duplicated, "reruns": reruns, "worker_exits": exits, "outage_lines": away,
            "recovery": after_outage, "after_drop": after_drop,
        }


# ---- the fleet --------------------------------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def private_postgres(max_connections: int = 100) -> Iterator[tuple[str, str]]:
    """A PostgreSQL server of our own (max_connections as given, else defaults), with a database `fleet`
    owned by the ordinary login role `wq_worker`. Yields (admin DSN, worker DSN)."""
    import psycopg

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql")
    folder = Path(tempfile.mkdtemp(prefix="fleet-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = folder / "data"
    subprocess.run(as_postgres + [f"{bins[-1]}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres",
                                  "--no-sync"], check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}"
    subprocess.run(as_postgres + [f"{bins[-1]}/pg_ctl", "-D", str(data), "-o", options, "-l",
                                  str(folder / "server.log"), "-w", "start"], check=True, capture_output=True)
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE ROLE wq_worker LOGIN")
            conn.execute("CREATE DATABASE fleet OWNER wq_worker")
        yield admin, f"postgresql://wq_worker@127.0.0.1:{port}/fleet"
    finally:
        subprocess.run(as_postgres + [f"{bins[-1]}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        subprocess.run(["rm", "-rf", str(folder)])


def fleet_connections(admin_dsn: str) -> int:
    """Server connections of the workers' role (directly: the workers'; through pgbouncer: its pool's)."""
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'fleet' "
                            "AND backend_type = 'client backend' AND usename = 'wq_worker'").fetchone()[0]


def run_fleet(mode: str, workers: int, backlog: int, paced: int, rate: float) -> dict:
    from source.config import Settings
    from source.queue.factory import open_migrated_queue
    from tests.helpers.pgbouncer import Pgbouncer, pgbouncer_binary

    folder = Path(tempfile.mkdtemp(prefix=f"fleet-{mode}-"))
    with ExitStack() as stack:
        admin, worker_dsn = stack.enter_context(private_postgres())
        max_connections = _show(admin, "max_connections")
        reserved = _show(admin, "superuser_reserved_connections")
        open_migrated_queue(Settings(db_type="postgres", database_url=worker_dsn)).close()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SQLITE_", "DATABASE_"))}
        env.update(DB_TYPE="postgres", DATABASE_URL=worker_dsn, MAIN_OUTPUT_DIR=str(folder / "out"),
                   PYTHONUNBUFFERED="1")
        if mode == "pgbouncer":
            binary = pgbouncer_binary()
            if binary is None:
                raise RuntimeError("pgbouncer not installed (scripts/install_test_services.sh)")
            bouncer = Pgbouncer(binary, server_dsn=admin, users=("postgres", "wq_worker")).start()
            stack.callback(bouncer.stop)
            env.update(DATABASE_URL=bouncer.dsn(worker_dsn), QUEUE_WAKEUP="poll")
        # the bench's own queue: the superuser, so it always finds a reserved slot
        queue = open_migrated_queue(Settings(db_type="postgres", database_url=admin.rsplit("/", 1)[0] + "/fleet",
                                             queue_wakeup="poll"))
        stack.callback(queue.close)
        fleet = Workers(folder, env, ("--task-types", "noop", "--lease-seconds", "60"))
        stack.callback(fleet.stop_all)
        started = time.monotonic()
        for _ in range(workers):
            fleet.start()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            logs = [p.log_path.read_text(errors="replace") for p in fleet.procs]
            if all(" started (db " in text or waiting_for_a_slot(text) for text in logs):
                break
            time.sleep(1.0)
        startup_s = time.monotonic() - started
        time.sleep(5.0)
        logs = [p.log_path.read_text(errors="replace") for p in fleet.procs]
        serving = sum(" started (db " in text for text in logs)
        waiting = sum(waiting_for_a_slot(text) and " started (db " not in text for text in logs)
        idle = [fleet_connections(admin) for _ in range(5)]

        # throughput: a backlog claimed by the whole fleet
        samples: list[int] = []
        sampling = threading.Event()
        sampling.set()

        def sample() -> None:
            while sampling.is_set():
                samples.append(fleet_connections(admin))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample)
        sampler.start()
        ids = []
        for start in range(0, backlog, 500):
            ids += queue.enqueue([NewTask("noop", {}) for _ in range(min(500, backlog - start))])
        _wait_done(queue, ids)
        rows = [queue.get(i) for i in ids]
        starts = sorted(r.started_at.timestamp() for r in rows if r.started_at)
        claims_per_s = (len(starts) - 1) / (starts[-1] - starts[0]) if len(starts) > 1 else None

        # latency: rows enqueued one by one at `rate` per second
        paced_ids = []
        for _ in range(paced):
            paced_ids += queue.enqueue([NewTask("noop", {})])
            time.sleep(1.0 / rate)
        _wait_done(queue, paced_ids)
        sampling.clear()
        sampler.join()
        delays = [(r.started_at - r.created_at).total_seconds() for r in (queue.get(i) for i in paced_ids)]
        ran_by = {r.worker_id.split("-")[-2] for r in rows if r.worker_id}
        exits = fleet.unexpected_exits()
        rss = _fleet_rss_mb(fleet)
        return {
            "mode": mode, "workers": workers, "max_connections": max_connections, "reserved": reserved,
            "startup_s": startup_s, "serving": serving, "waiting": waiting, "idle_connections": max(idle),
            "busy_connections": max(samples) if samples else None, "claims_per_s": claims_per_s,
            "backlog": backlog, "latency_p50": percentile(delays, 50), "latency_p99": percentile(delays, 99),
            "paced": paced, "rate": rate, "workers_that_claimed": len(ran_by), "worker_exits": exits,
            "rss_mb": rss,
        }


def waiting_for_a_slot(log_text: str) -> bool:
    """The worker found the server full, at start or at its self-check, and waits."""
    return "waiting for the database" in log_text or "database unavailable" in log_text


def _show(admin: str, name: str) -> int:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        return int(conn.execute(f"SHOW {name}").fetchone()[0])


def _wait_done(queue, ids: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if queue.pending_count(["noop"]) == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{len(ids)} rows not done after {timeout:.0f} s")


def _fleet_rss_mb(fleet: Workers) -> Optional[float]:
    total = 0
    for proc in fleet.procs:
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024 / max(1, len(fleet.procs))


# ---- report -----------------------------------------------------------------------------------------------

def chaos_table(results: list[dict]) -> list[str]:
    out = ["| backend | workers | rows | faults (drop/kill/outage/stop) | lost | duplicated | re-runs after kill/stop "
           "| worker exits | back → next claim p50 / p99 (n) | drop → next claim p50 / p99 (n) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        f = r["faults"]
        out.append(f"| {r['backend']} | {r['workers']} | {r['rows']} | {f['drop']}/{f['kill']}/{f['outage']}/"
                   f"{f['stop']} | {r['lost']} | {r['duplicated']} | {r['reruns']} | {r['worker_exits']} | "
                   f"{seconds(percentile(r['recovery'], 50))} / {seconds(percentile(r['recovery'], 99))} "
                   f"({len(r['recovery'])}) | {seconds(percentile(r['after_drop'], 50))} / "
                   f"{seconds(percentile(r['after_drop'], 99))} ({len(r['after_drop'])}) |")
    return out


def fleet_table(results: list[dict]) -> list[str]:
    out = ["| path | workers started | serving / waiting for a slot | server connections idle / busy "
           "| claims/s (backlog) | enqueue → start p50 / p99 (paced) | workers that claimed | worker exits "
           "| start-up | RSS per worker |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        out.append(f"| {r['mode']} | {r['workers']} | {r['serving']} / {r['waiting']} | {r['idle_connections']} / "
                   f"{r['busy_connections']} | {r['claims_per_s']:.0f} ({r['backlog']} rows) | "
                   f"{seconds(r['latency_p50'])} / {seconds(r['latency_p99'])} ({r['paced']} rows at "
                   f"{r['rate']:.0f}/s) | {r['workers_that_claimed']} | {r['worker_exits']} | "
                   f"{r['startup_s']:.0f} s | {r['rss_mb']:.0f} MB |")
    return out


# ---- files: the stale worker and the full disk ------------------------------------------------------------

def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def run_stale(name: str) -> dict:
    """A worker frozen mid-render past its lease; another finishes the run; the first resumes."""
    from tests.helpers.workers import make_backend

    folder = Path(tempfile.mkdtemp(prefix=f"files-stale-{name}-"))
    with make_backend(name, folder) as backend:
        queue = backend.queue()
        queued = backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images",
                                 str(ROOT / "samples" / "anchor_0.png"), str(ROOT / "samples" / "anchor_1.png"),
                                 "--resolution", "64x64", "--segment_frames", "17", "--model_name", "vace_14B",
                                 "--base_prompts", "hills", "--params_json_str", '{"steps": 60}')
        run_id = queued.stdout.strip().splitlines()[0]
        stale = backend.start_worker("--engine", "tiny", "--lease-seconds", "2", "--worker-id", "stale")

        def segment():
            return next((t for t in queue.list_run(run_id) if t.task_type == "travel_segment"), None)

        _wait(lambda: (t := segment()) is not None and "rendering: step" in (t.progress_message or ""), 240,
              "the segment to render")
        os.kill(stale.pid, signal.SIGSTOP)
        time.sleep(2.5)
        rescuer = backend.start_worker("--until-idle", "--engine", "tiny", "--lease-seconds", "2",
                                       "--worker-id", "rescuer")
        rescuer.wait(timeout=300)
        outputs = Path(backend.env["MAIN_OUTPUT_DIR"])
        published = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in outputs.iterdir() if p.is_file()}
        os.kill(stale.pid, signal.SIGCONT)
        _wait(lambda: "no longer ours" in stale.log_path.read_text(), 60, "the stale worker to notice")
        time.sleep(2.0)
        after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in outputs.iterdir() if p.is_file()}
        rows = queue.list_run(run_id)
        stale.terminate()
        return {"backend": name, "scenario": "stale worker", "rows": len(rows),
                "lost": sum(t.status != Status.COMPLETE for t in rows),
                "duplicated": sum(after.get(k) != v for k, v in published.items()) + len(set(after) - set(published)),
                "failed": sum(t.status == Status.FAILED for t in rows), "given_back": 0, "resume_s": None}


def run_disk_full(name: str, rows: int = 20) -> dict:
    """Two workers, output folder on a 2 MiB tmpfs filled under them, then emptied."""
    from tests.helpers.workers import make_backend

    folder = Path(tempfile.mkdtemp(prefix=f"files-disk-{name}-"))
    disk = folder / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True, capture_output=True)
    try:
        with make_backend(name, folder) as backend:
            queue = backend.queue()
            outputs = disk / "outputs"
            workers = [backend.start_worker("--engine", "preview", "--task-types", "noop",
                                            MAIN_OUTPUT_DIR=str(outputs)) for _ in range(2)]
            _wait(lambda: all("started" in w.log_path.read_text() for w in workers), 120, "the workers")
            with open(disk / "filler", "wb") as fh:
                try:
                    while True:
                        fh.write(b"\0" * 65536)
                        fh.flush()
                except OSError:
                    pass
            ids = queue.enqueue([NewTask("noop", {"sleep": 0.05, "marker_file": str(outputs / "marker.txt")})
                                 for _ in range(rows)])
            _wait(lambda: all("machine fault" in w.log_path.read_text() for w in workers), 60, "both to see it")
            time.sleep(3.0)
            (disk / "filler").unlink()
            emptied = time.monotonic()
            _wait(lambda: all((t := queue.get(i)) is not None and t.status in Status.TERMINAL for i in ids), 180,
                  "every row to end")
            resume_s = time.monotonic() - emptied
            logs = "".join(w.log_path.read_text() for w in workers)
            lines = (outputs / "marker.txt").read_text().splitlines()
            ended = [queue.get(i) for i in ids]
            for worker in workers:
                worker.terminate()
            return {"backend": name, "scenario": "disk full", "rows": rows,
                    "lost": sum(t.status != Status.COMPLETE for t in ended),
                    "duplicated": len(lines) - len({line.split()[0] for line in lines}),
                    "failed": sum(t.status == Status.FAILED for t in ended),
                    "given_back": logs.count("machine fault:"), "resume_s": resume_s,
                    "fault_lines": [line for line in logs.splitlines() if "fault" in line or "self-check" in line]}
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def files_table(results: list[dict]) -> list[str]:
    lines = ["| backend | scenario | rows | lost | duplicated | failed by the fault | given back | last row done after the disk is emptied |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        resume = f"{r['resume_s']:.1f} s" if r["resume_s"] is not None else "-"
        lines.append(f"| {r['backend']} | {r['scenario']} | {r['rows']} | {r['lost']} | {r['duplicated']} | "
                     f"{r['failed']} | {r['given_back']} | {resume} |")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="chaos,fleet,files", help="comma-separated: chaos,fleet,files")
    parser.add_argument("--backends", default="sqlite,postgres,supabase", help="chaos backends")
    parser.add_argument("--workers", type=int, default=4, help="chaos: workers per backend")
    parser.add_argument("--rounds", type=int, default=3, help="chaos: rounds of drop, kill, outage, stop")
    parser.add_argument("--spacing", type=float, default=2.5, help="chaos: seconds between faults")
    parser.add_argument("--outage", type=float, default=2.0, help="chaos: seconds the database is away")
    parser.add_argument("--lease", type=float, default=3.0, help="chaos: lease seconds (SIGSTOP lasts lease + 2 s)")
    parser.add_argument("--fleet-workers", type=int, default=100)
    parser.add_argument("--fleet-modes", default="direct,pgbouncer")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--note", default="", help="a sentence added under the tables (e.g. machine load)")
    args = parser.parse_args(argv)
    logging.getLogger("queue").setLevel(logging.ERROR)  # the benchmark's own connection is dropped too
    parts = {p.strip() for p in args.parts.split(",")}
    began = time.strftime("%Y-%m-%d %H:%M")
    machine = f"{began}, {os.cpu_count()} cores (shared with other jobs), Python {sys.version.split()[0]}." + (
        f" {args.note}" if args.note else "")
    sections = {}
    if "chaos" in parts:
        results = []
        for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
            print(f"chaos: {name} ...", flush=True)
            results.append(run_chaos(name, args.workers, args.rounds, args.spacing, args.outage, args.lease))
            print("\n".join(chaos_table(results[-1:])), flush=True)
        sections["chaos"] = [
            "## Chaos: faults on every backend (`benchmarks/chaos_bench.py --parts chaos`)", "", machine, "",
            f"{args.workers} workers per backend, noop rows (0.05 s) fed continuously, lease {args.lease:.0f} s, "
            f"a fault every {args.spacing} s in turn (drop, kill, outage, stop), outages of {args.outage:.0f} s. "
            "Recovery = database back (or connections dropped) → each worker's next claim, from the workers' "
            "logs, for every worker neither killed nor stopped around the event.", ""] + chaos_table(results)
    if "fleet" in parts:
        results = []
        for mode in [m.strip() for m in args.fleet_modes.split(",") if m.strip()]:
            print(f"fleet: {mode} ...", flush=True)
            results.append(run_fleet(mode, args.fleet_workers, backlog=2000, paced=500, rate=50.0))
            print("\n".join(fleet_table(results[-1:])), flush=True)
        r0 = results[0]
        sections["fleet"] = [
            "## Fleet: 100 workers on one PostgreSQL (`benchmarks/chaos_bench.py --parts fleet`)", "", machine, "",
            f"{args.fleet_workers} noop worker processes on one private PostgreSQL (max_connections = "
            f"{r0['max_connections']}, superuser_reserved_connections = {r0['reserved']}; workers log in as an "
            "ordinary role), the benchmark's own connection a superuser one. pgbouncer: transaction mode, "
            "pool of 20, workers polling every 0.25 s. Connections: the workers' role's server connections.",
            ""] + fleet_table(results)
    if "files" in parts:
        results = []
        for name in [b.strip() for b in args.backends.split(",") if b.strip() in ("sqlite", "postgres")]:
            for scenario in (run_stale, run_disk_full):
                print(f"files: {name} {scenario.__name__} ...", flush=True)
                results.append(scenario(name))
                print("\n".join(files_table(results[-1:])), flush=True)
                for line in results[-1].get("fault_lines", [])[:8]:
                    print("   ", line, flush=True)
        sections["files"] = [
            "## Files: a stale worker and a full disk (`benchmarks/chaos_bench.py --parts files`)", "", machine, "",
            "stale worker: a travel run (tiny engine, 64x64, 17 frames, 60 steps), its segment's worker frozen "
            "mid-render past a 2 s lease, a second worker finishing the run, the first resumed. disk full: 2 "
            "workers, noop rows appending to a file on a 2 MiB tmpfs output folder, filled for 3 s then "
            "emptied. Duplicated: a published file replaced by the late attempt, or a row's line written twice.",
            ""] + files_table(results)
    for part, lines in sections.items():
        report = "\n".join(lines)
        print(report)
        if not args.no_write:
            write_results(report, *MARKERS[part])
    return 0


if __name__ == "__main__":
    sys.exit(main())
