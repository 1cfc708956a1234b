"""Queue benchmark: wake-up latency, throughput, claim cost behind blocked rows, idle CPU.

    .venv/bin/python benchmarks/queue_bench.py [--backends sqlite,postgres] [--no-write]

For each backend, with a trivial in-process handler (claim, then complete):
- enqueue -> start latency for an idle worker (a separate process in wait_for_change + claim);
- parent complete -> child start latency, the child taken by that other worker;
- claims per second with 1, 4 and 8 worker processes draining a pre-filled queue;
- the cost of one claim with 10,000 rows waiting on an unfinished parent ahead of the eligible one;
- CPU used by an idle worker over ~5 s.
Prints a table and rewrites the queue section of benchmarks/RESULTS.md. PostgreSQL: a scratch database
at $BENCH_POSTGRES_DSN (default postgresql://postgres@127.0.0.1:5432/postgres) is created and dropped.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from source.queue.model import NewTask  # noqa: E402

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- queue-bench:start -->", "<!-- queue-bench:end -->"
LATENCY_SAMPLES = 200
THROUGHPUT_ROWS = {"sqlite": 6000, "postgres": 3000}
BLOCKED_ROWS = 10_000
IDLE_SECONDS = 5.0
POLL_INTERVAL = 10.0  # the worker's default backstop poll


def open_queue(backend: str, location: str):
    """The queue at `location` (a SQLite file or a Postgres DSN), migrated as a command opens it."""
    from source.config import Settings
    from source.queue.factory import open_migrated_queue

    if backend == "sqlite":
        return open_migrated_queue(Settings(db_type="sqlite", db_file=location))
    return open_migrated_queue(Settings(db_type="postgres", database_url=location))


# ---- worker processes ---------------------------------------------------------------------------------
def idle_worker(backend, location, task_types, ready, stop, reports):
    """Waits like a real idle worker; reports (task id, wall time of the claim) for every row it starts."""
    queue = open_queue(backend, location)
    ready.set()
    while not stop.is_set():
        claim = queue.claim("idle-worker", 60, task_types=task_types)
        if claim is None:
            queue.wait_for_change(0.5)  # short here only so the process notices `stop`
            continue
        started = time.time()
        queue.complete(claim, None)
        reports.put((claim.task_id, started))
    queue.close()


def drain_worker(backend, location, go, done_counts, index):
    queue = open_queue(backend, location)
    queue.claim("warm-up", 60, task_types=["nothing"])  # connect and prepare before the clock starts
    go.wait()
    count = 0
    while True:
        claim = queue.claim(f"drain-{index}", 60)
        if claim is None:
            break
        queue.complete(claim, None)
        count += 1
    done_counts.put(count)
    queue.close()


def cpu_worker(backend, location, seconds, result):
    """An idle worker's loop (claim, then wait_for_change with the default poll) for `seconds`."""
    queue = open_queue(backend, location)
    queue.claim("cpu-worker", 60)
    wall0, cpu0 = time.monotonic(), time.process_time()
    while time.monotonic() - wall0 < seconds:
        if queue.claim("cpu-worker", 60) is None:
            queue.wait_for_change(min(POLL_INTERVAL, seconds - (time.monotonic() - wall0)))
    result.put((time.process_time() - cpu0) / (time.monotonic() - wall0))
    queue.close()


# ---- measurements -------------------------------------------------------------------------------------
def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def measure_latencies(ctx, backend, location):
    queue = open_queue(backend, location)
    ready, stop, reports = ctx.Event(), ctx.Event(), ctx.Queue()
    worker = ctx.Process(target=idle_worker, args=(backend, location, ["noop"], ready, stop, reports))
    worker.start()
    ready.wait(30)
    time.sleep(0.5)
    start_lat, child_lat = [], []
    for i in range(LATENCY_SAMPLES):
        time.sleep(random.uniform(0.005, 0.02))
        task = NewTask("noop", {"i": i})
        enqueued = time.time()
        queue.enqueue([task])
        task_id, started = reports.get(timeout=30)
        assert task_id == task.id
        start_lat.append(started - enqueued)
    for i in range(LATENCY_SAMPLES):
        parent = NewTask("parent", {"i": i})
        child = NewTask("noop", {"i": i}, dependant_on=[parent.id])
        queue.enqueue([parent, child])
        claim = queue.claim("main-worker", 60, task_types=["parent"])
        time.sleep(random.uniform(0.005, 0.02))
        completed = time.time()
        queue.complete(claim, None)
        task_id, started = reports.get(timeout=30)
        assert task_id == child.id
        child_lat.append(started - completed)
    stop.set()
    worker.join(10)
    queue.close()
    return start_lat, child_lat


def measure_throughput(ctx, backend, location, workers):
    queue = open_queue(backend, location)
    rows = THROUGHPUT_ROWS[backend]
    for start in range(0, rows, 500):
        queue.enqueue([NewTask("noop", {"i": i}) for i in range(start, min(rows, start + 500))])
    go, counts = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=drain_worker, args=(backend, location, go, counts, n)) for n in range(workers)]
    for proc in procs:
        proc.start()
    time.sleep(1.0 + 0.2 * workers)  # let every process connect first
    began = time.monotonic()
    go.set()
    total = sum(counts.get(timeout=300) for _ in procs)
    elapsed = time.monotonic() - began
    for proc in procs:
        proc.join(10)
    queue.close()
    assert total == rows, f"{total} of {rows} rows claimed"
    return rows / elapsed


def measure_blocked_claim(backend, location):
    queue = open_queue(backend, location)
    parent = NewTask("parent", {}, priority=10)
    queue.enqueue([parent])
    holder = queue.claim("holder", 3600)  # the parent stays unfinished
    for start in range(0, BLOCKED_ROWS, 1000):
        queue.enqueue([NewTask("blocked", {"i": i}, priority=5, dependant_on=[parent.id])
                       for i in range(start, start + 1000)])
    eligible = NewTask("eligible", {})
    queue.enqueue([eligible])
    costs = []
    for _ in range(200):
        began = time.perf_counter()
        claim = queue.claim("bench", 60)
        costs.append(time.perf_counter() - began)
        assert claim is not None and claim.task_id == eligible.id
        queue.release(claim)
    queue.complete(holder, None)
    queue.close()
    return costs


def measure_idle_cpu(ctx, backend, location):
    result = ctx.Queue()
    proc = ctx.Process(target=cpu_worker, args=(backend, location, IDLE_SECONDS, result))
    proc.start()
    share = result.get(timeout=60)
    proc.join(10)
    return share


# ---- locations ----------------------------------------------------------------------------------------
class Scratch:
    """Fresh queue locations: SQLite files in a temp folder, or scratch Postgres databases."""

    def __init__(self, backend):
        self.backend, self.made = backend, []
        self.folder = tempfile.mkdtemp(prefix="queue-bench-")

    def new(self):
        if self.backend == "sqlite":
            return os.path.join(self.folder, f"{uuid.uuid4().hex[:8]}.db")
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        name = f"wq_bench_{os.getpid()}_{len(self.made)}"
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        params = conninfo_to_dict(ADMIN_DSN)
        params["dbname"] = name
        return make_conninfo(**params)

    def cleanup(self):
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)
        if self.made:
            import psycopg

            with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                for name in self.made:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_backend(ctx, backend):
    scratch = Scratch(backend)
    try:
        location = scratch.new()
        open_queue(backend, location).close()
        start_lat, child_lat = measure_latencies(ctx, backend, location)
        rates = {n: measure_throughput(ctx, backend, scratch.new(), n) for n in (1, 4, 8)}
        blocked = measure_blocked_claim(backend, scratch.new())
        cpu = measure_idle_cpu(ctx, backend, scratch.new())
    finally:
        scratch.cleanup()
    ms = lambda v: v * 1000  # noqa: E731
    return {
        "start_p50": ms(statistics.median(start_lat)), "start_p99": ms(percentile(start_lat, 99)),
        "child_p50": ms(statistics.median(child_lat)), "child_p99": ms(percentile(child_lat, 99)),
        "rate_1": rates[1], "rate_4": rates[4], "rate_8": rates[8],
        "blocked_p50": ms(statistics.median(blocked)), "blocked_p99": ms(percentile(blocked, 99)),
        "idle_cpu": cpu * 100,
    }


TARGETS = {
    "sqlite": {"start_p99": 30, "rate_1": 2000},
    "postgres": {"start_p99": 20, "rate_1": 500},
}


def table(results):
    lines = [
        "| backend | enqueue→start p50 / p99 (ms) | parent complete→child start p50 / p99 (ms) "
        "| claims/s 1 / 4 / 8 workers | claim behind 10,000 blocked rows p50 / p99 (ms) | idle worker CPU |",
        "|---|---|---|---|---|---|",
    ]
    for backend, r in results.items():
        lines.append(
            f"| {backend} | {r['start_p50']:.1f} / {r['start_p99']:.1f} | {r['child_p50']:.1f} / {r['child_p99']:.1f} "
            f"| {r['rate_1']:,.0f} / {r['rate_4']:,.0f} / {r['rate_8']:,.0f} "
            f"| {r['blocked_p50']:.2f} / {r['blocked_p99']:.2f} | {r['idle_cpu']:.2f} % |")
    return "\n".join(lines)


def verdicts(results):
    out = []
    for backend, r in results.items():
        t = TARGETS[backend]
        checks = [
            (f"p99 start ≤ {t['start_p99']} ms", r["start_p99"] <= t["start_p99"]),
            (f"≥ {t['rate_1']:,} claims/s with one worker", r["rate_1"] >= t["rate_1"]),
            ("claim ≤ 5 ms behind 10,000 blocked rows", r["blocked_p99"] <= 5.0),
            ("≤ 2 % CPU idle", r["idle_cpu"] <= 2.0),
        ]
        out.append(f"- {backend}: " + "; ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in checks))
    return "\n".join(out)


def write_results(text, start=START, end=END):
    """Replace the section between the `start` and `end` markers of RESULTS.md (appended if absent)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    section = f"{start}\n{text}\n{end}"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        after = rest.split(end, 1)[1]
        current = before + section + after
    else:
        current = current.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(current, encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--date", default=time.strftime("%Y-%m-%d"), help="date recorded with the numbers")
    parser.add_argument("--note", default="", help="a sentence added under the table (e.g. machine load)")
    parser.add_argument("--machine", default=f"{os.cpu_count()} cores", help="machine recorded with the numbers")
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    results = {}
    began = time.monotonic()
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        print(f"benchmarking {backend} ...", flush=True)
        results[backend] = bench_backend(ctx, backend)
    body = table(results)
    text = (f"## Queue (benchmarks/queue_bench.py)\n\n"
            f"Measured {args.date} on {args.machine}, trivial handler (claim, complete), "
            f"{LATENCY_SAMPLES} latency samples each, "
            f"{' / '.join(f'{n:,} ({b})' for b, n in THROUGHPUT_ROWS.items())} rows drained per throughput run, "
            f"SQLite WAL with synchronous=NORMAL, PostgreSQL 15 on localhost. Latencies are wall-clock "
            f"between processes; the idle worker wakes on NOTIFY (Postgres) or on a PRAGMA data_version change checked every 5 ms (SQLite); the CPU figure is a worker idling with the default {POLL_INTERVAL:.0f} s backstop poll.\n\n"
            f"{body}\n\nTargets:\n{verdicts(results)}\n\n"
            + (f"{args.note}\n\n" if args.note else "") +
            f"Run took {time.monotonic() - began:.0f} s: `.venv/bin/python benchmarks/queue_bench.py`.")
    print(text)
    if not args.no_write:
        write_results(text)


if __name__ == "__main__":
    main()
