"""Fleet benchmark: what the workers registry costs the queue, and how fast the dashboard answers with
10,000 rows in the table.

    .venv/bin/python benchmarks/fleet_bench.py [--backends sqlite,postgres] [--no-write] [--skip-queue]

1. One beat (`beat_worker`): its own cost, p50 / p99.
2. The queue benchmark's measurements (benchmarks/queue_bench.py: enqueue -> start and parent -> child
   latency, claims/s with 1 and 4 worker processes, idle worker CPU) run twice on fresh queues: alone, and
   while a separate process beats BEAT_WORKERS registered workers at BEAT_RATE beats/s in all, the load
   of a fleet of BEAT_RATE x 10 workers at the default 10 s beat (a 20-fold exaggeration for 10 boxes).
3. Dashboard: 10,000 rows (2,500 travel-shaped runs of an orchestrator, two segments and a stitch, in
   every status, half of them with outputs) and 50 registered workers; a real `steerable_motion.py
   dashboard` process; each page requested PAGE_SAMPLES times over HTTP (full page, and the live fragment
   the page refreshes from), p50 / p95; then, where Chromium and Playwright are installed, the browser's
   own load time of each page (navigation start to the load event, CSS and script included).
Prints a table and rewrites the fleet section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import queue_bench  # noqa: E402
from queue_bench import Scratch, open_queue, percentile, write_results  # noqa: E402

from source.queue.fleet import WorkerBeat, WorkerInfo, WorkerState  # noqa: E402
from source.queue.model import NewTask  # noqa: E402

START, END = "<!-- fleet-bench:start -->", "<!-- fleet-bench:end -->"
BEAT_SAMPLES = 500
BEAT_WORKERS = 20
BEAT_RATE = 20.0            # beats per second in all, while the queue benchmark runs
RUNS = 2500                 # x 4 rows = 10,000 rows
DASHBOARD_WORKERS = 50
PAGE_SAMPLES = 30
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def worker_info(worker_id: str) -> WorkerInfo:
    return WorkerInfo(worker_id=worker_id, host="bench", pid=os.getpid(), lease_seconds=60.0, engine="tiny",
                      version="bench", gpu_name="NVIDIA H100 80GB HBM3", gpu_memory_total_mb=81559)


# ---- 1. one beat ----------------------------------------------------------------------------------------
def measure_beat(backend, location):
    queue = open_queue(backend, location)
    queue.register_worker(worker_info("beat-cost"), 3600)
    costs = []
    for i in range(BEAT_SAMPLES):
        state = WorkerState.BUSY if i % 2 else WorkerState.IDLE
        began = time.perf_counter()
        queue.beat_worker(WorkerBeat("beat-cost", state, None, "vace_14B", 1000, i))
        costs.append(time.perf_counter() - began)
    queue.close()
    return costs


# ---- 2. the queue benchmark with and without beats ------------------------------------------------------
def beater(backend, location, rate, ready, stop):
    """BEAT_WORKERS registered workers beating, `rate` beats per second in all, until `stop`."""
    queue = open_queue(backend, location)
    ids = [f"fleet-{n}" for n in range(BEAT_WORKERS)]
    for worker_id in ids:
        queue.register_worker(worker_info(worker_id), 3600)
    ready.set()
    period, n, next_at = 1.0 / rate, 0, time.monotonic()
    while not stop.is_set():
        queue.beat_worker(WorkerBeat(ids[n % len(ids)], WorkerState.BUSY, None, "vace_14B", 1000, n))
        n += 1
        next_at += period
        time.sleep(max(0.0, next_at - time.monotonic()))
    queue.close()


class Beats:
    """A beater process on the queue at `location` while the block runs (rate 0: none)."""

    def __init__(self, ctx, backend, location, rate):
        self.ctx, self.args, self.rate = ctx, (backend, location), rate

    def __enter__(self):
        if self.rate:
            self.ready, self.stop = self.ctx.Event(), self.ctx.Event()
            self.proc = self.ctx.Process(target=beater, args=(*self.args, self.rate, self.ready, self.stop))
            self.proc.start()
            self.ready.wait(60)
        return self

    def __exit__(self, *exc):
        if self.rate:
            self.stop.set()
            self.proc.join(30)


def queue_figures(ctx, backend, rate):
    scratch = Scratch(backend)
    try:
        location = scratch.new()
        open_queue(backend, location).close()
        with Beats(ctx, backend, location, rate):
            start_lat, child_lat = queue_bench.measure_latencies(ctx, backend, location)
        rates = {}
        for workers in (1, 4):
            location = scratch.new()
            open_queue(backend, location).close()
            with Beats(ctx, backend, location, rate):
                rates[workers] = queue_bench.measure_throughput(ctx, backend, location, workers)
        location = scratch.new()
        open_queue(backend, location).close()
        with Beats(ctx, backend, location, rate):
            cpu = queue_bench.measure_idle_cpu(ctx, backend, location)
    finally:
        scratch.cleanup()
    ms = lambda v: v * 1000  # noqa: E731
    return {"start_p50": ms(statistics.median(start_lat)), "start_p99": ms(percentile(start_lat, 99)),
            "child_p50": ms(statistics.median(child_lat)), "child_p99": ms(percentile(child_lat, 99)),
            "rate_1": rates[1], "rate_4": rates[4], "idle_cpu": cpu * 100}


# ---- 3. the dashboard with 10,000 rows ------------------------------------------------------------------
def fill(backend, location, outputs: Path):
    """RUNS travel-shaped runs (orchestrator, 2 segments, stitch) in every status; returns a run id."""
    queue = open_queue(backend, location)
    rng = random.Random(7)
    outputs.mkdir(parents=True, exist_ok=True)
    sample = outputs / "sample_final.mp4"
    sample.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(4096))
    batch = []
    for r in range(RUNS):
        run_id = f"bench_{r:05d}"
        orchestrator = NewTask("travel_orchestrator", {"model_name": "vace_14B"}, id=f"{run_id}_o", run_id=run_id)
        seg0 = NewTask("travel_segment", {"segment_index": 0}, id=f"{run_id}_s0", run_id=run_id,
                       parent_task_id=orchestrator.id)
        seg1 = NewTask("travel_segment", {"segment_index": 1}, id=f"{run_id}_s1", run_id=run_id,
                       parent_task_id=orchestrator.id, dependant_on=[seg0.id])
        stitch = NewTask("travel_stitch", {}, id=f"{run_id}_st", run_id=run_id, parent_task_id=orchestrator.id,
                         dependant_on=[seg0.id, seg1.id])
        batch += [orchestrator, seg0, seg1, stitch]
        if len(batch) >= 1000:
            queue.enqueue(batch)
            batch = []
    if batch:
        queue.enqueue(batch)
    queue.close()
    # statuses as a busy day leaves them: 80 % of the runs done (with outputs), 10 % failed at segment 1
    # (the stitch follows by the queue's own cascade), 10 % still queued
    fates = [rng.random() for _ in range(RUNS)]
    finished = [f"bench_{r:05d}" for r in range(RUNS) if fates[r] < 0.8]
    failed = [f"bench_{r:05d}" for r in range(RUNS) if 0.8 <= fates[r] < 0.9]
    set_statuses(backend, location, finished, failed, str(sample))
    queue = open_queue(backend, location)
    for n in range(DASHBOARD_WORKERS):
        queue.register_worker(worker_info(f"box{n:02d}-1234-abcdef01"), 3600)
        queue.beat_worker(WorkerBeat(f"box{n:02d}-1234-abcdef01", WorkerState.BUSY if n % 3 else WorkerState.IDLE,
                                     f"bench_{n:05d}_s0" if n % 3 else None, "vace_14B", 40000, n))
    rows = sum(c.rows for c in queue.status_counts())
    queue.close()
    return rows, finished[0]


DONE = ("UPDATE tasks SET status = 'Complete', progress = 1.0, started_at = {started}, finished_at = {ended}, "
        "output_location = {p} WHERE run_id {runs}")
FAIL = ("UPDATE tasks SET status = 'Failed', error_message = 'segment 1 of 2: CUDA out of memory', "
        "started_at = {started}, finished_at = {ended} "
        "WHERE (task_type = 'travel_orchestrator' OR id = run_id || '_s1') AND run_id {runs}")


def set_statuses(backend, location, finished, failed, output):
    """Raw UPDATEs, as a client app may write them (the queue's triggers cascade as usual)."""
    if backend == "sqlite":
        import json
        import sqlite3

        clock = lambda minutes: (datetime.now(timezone.utc) - timedelta(minutes=minutes)).strftime(  # noqa: E731
            "'%Y-%m-%d %H:%M:%S.%f'")
        runs = "IN (SELECT value FROM json_each(?))"
        conn = sqlite3.connect(location, isolation_level=None)
        conn.execute(DONE.format(started=clock(6), ended=clock(5), p="?", runs=runs), (output, json.dumps(finished)))
        conn.execute(FAIL.format(started=clock(6), ended=clock(5), runs=runs), (json.dumps(failed),))
        conn.close()
        return
    import psycopg

    started, ended = "now() - interval '6 minutes'", "now() - interval '5 minutes'"
    with psycopg.connect(location, autocommit=True) as conn:
        conn.execute(DONE.format(started=started, ended=ended, p="%s", runs="= ANY(%s)"), (output, finished))
        conn.execute(FAIL.format(started=started, ended=ended, runs="= ANY(%s)"), (failed,))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port, path, headers=None) -> tuple[int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, len(response.read())
    finally:
        conn.close()


def dashboard_figures(backend, location, scratch_folder):
    outputs = Path(scratch_folder) / "outputs"
    rows, run_id = fill(backend, location, outputs)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SQLITE_", "DATABASE_", "DASHBOARD_"))}
    env.update({"DB_TYPE": backend, "MAIN_OUTPUT_DIR": str(outputs)})
    env.update({"SQLITE_DB_PATH": location} if backend == "sqlite" else {"DATABASE_URL": location})
    port = free_port()
    proc = subprocess.Popen([sys.executable, "steerable_motion.py", "dashboard", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        paths = {"overview": "/", "runs (page 1 of 50)": "/runs", "runs (page 40)": "/runs?page=40",
                 "failed runs": "/runs?status=Failed", "one run": f"/runs/{run_id}", "workers (50)": "/workers",
                 "/metrics": "/metrics"}
        figures = {}
        for name, path in paths.items():
            for live in (False, True):
                if live and path == "/metrics":
                    continue
                times, size = [], 0
                for _ in range(PAGE_SAMPLES):
                    began = time.perf_counter()
                    status, size = get(port, path, {"X-Live": "1"} if live else {})
                    times.append(time.perf_counter() - began)
                    assert status == 200, (path, status)
                figures[(name, live)] = (statistics.median(times) * 1000, percentile(times, 95) * 1000, size)
        browser = browser_figures(port, {name: path for name, path in paths.items() if path != "/metrics"})
    finally:
        proc.terminate()
        proc.wait(10)
    return rows, figures, browser


def browser_figures(port, paths):
    """Navigation start to the load event in headless Chromium, p50 of 10 loads; {} without a browser."""
    if not os.access("/usr/bin/chromium", os.X_OK):
        return {}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {}
    out = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        for name, path in paths.items():
            loads = []
            for _ in range(10):
                page.goto(f"http://127.0.0.1:{port}{path}", wait_until="load")
                loads.append(page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd; }"))
            out[name] = statistics.median(loads)
        browser.close()
    return out


# ---- report ---------------------------------------------------------------------------------------------
def report(args, beats, queue_results, dashboards, seconds):
    lines = ["## Fleet: workers registry and dashboard (benchmarks/fleet_bench.py)", "",
             f"Measured {args.date} on {args.machine}.", "",
             "### The beat", "",
             "One beat is one UPDATE of the worker's own registry row; a worker beats every "
             "min(lease / 3, 10 s) and at once when it changes state (claim, finish, SIGTERM).", "",
             "| backend | one beat p50 / p99 (ms) | a worker's time spent beating (1 per 10 s) |", "|---|---|---|"]
    for backend, costs in beats.items():
        lines.append(f"| {backend} | {statistics.median(costs) * 1000:.2f} / {percentile(costs, 99) * 1000:.2f} "
                     f"| {statistics.median(costs) / 10 * 100:.4f} % |")
    if queue_results:
        lines += ["", f"The queue benchmark alone and with {BEAT_RATE:.0f} beats/s from {BEAT_WORKERS} registered "
                  f"workers in a separate process (the beat load of a {BEAT_RATE * 10:.0f}-worker fleet):", "",
                  "| backend | beats/s | enqueue→start p50 / p99 (ms) | parent→child p50 / p99 (ms) "
                  "| claims/s 1 / 4 workers | idle worker CPU |", "|---|---|---|---|---|---|"]
        for (backend, rate), r in queue_results.items():
            lines.append(f"| {backend} | {rate:.0f} | {r['start_p50']:.1f} / {r['start_p99']:.1f} "
                         f"| {r['child_p50']:.1f} / {r['child_p99']:.1f} | {r['rate_1']:,.0f} / {r['rate_4']:,.0f} "
                         f"| {r['idle_cpu']:.2f} % |")
    for backend, (rows, figures, browser) in dashboards.items():
        lines += ["", f"### Dashboard, {backend}: {rows:,} rows ({RUNS:,} runs), {DASHBOARD_WORKERS} workers", "",
                  "| page | full page p50 / p95 (ms) | live refresh p50 / p95 (ms) | size (KiB) | browser load p50 (ms) |",
                  "|---|---|---|---|---|"]
        names = list(dict.fromkeys(name for name, _ in figures))
        for name in names:
            full = figures[(name, False)]
            live = figures.get((name, True))
            live_text = f"{live[0]:.1f} / {live[1]:.1f}" if live else "–"
            load = f"{browser[name]:.0f}" if name in browser else "–"
            lines.append(f"| {name} | {full[0]:.1f} / {full[1]:.1f} | {live_text} | {full[2] / 1024:.0f} | {load} |")
    if args.note:
        lines += ["", args.note]
    lines += ["", f"Run took {seconds:.0f} s: `.venv/bin/python benchmarks/fleet_bench.py`."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--skip-queue", action="store_true", help="skip the queue benchmark with and without beats")
    parser.add_argument("--date", default=time.strftime("%Y-%m-%d"), help="date recorded with the numbers")
    parser.add_argument("--note", default="", help="a sentence added under the tables (e.g. machine load)")
    parser.add_argument("--machine", default=f"{os.cpu_count()} cores", help="machine recorded with the numbers")
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    began = time.monotonic()
    beats, queue_results, dashboards = {}, {}, {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        scratch = Scratch(backend)
        try:
            print(f"{backend}: beat cost ...", flush=True)
            beats[backend] = measure_beat(backend, scratch.new())
            if not args.skip_queue:
                for rate in (0.0, BEAT_RATE):
                    print(f"{backend}: queue benchmark with {rate:.0f} beats/s ...", flush=True)
                    queue_results[(backend, rate)] = queue_figures(ctx, backend, rate)
            print(f"{backend}: dashboard with {RUNS * 4:,} rows ...", flush=True)
            dashboards[backend] = dashboard_figures(backend, scratch.new(), scratch.folder)
        finally:
            scratch.cleanup()
    text = report(args, beats, queue_results, dashboards, time.monotonic() - began)
    print(text)
    if not args.no_write:
        write_results(text, START, END)


if __name__ == "__main__":
    main()
