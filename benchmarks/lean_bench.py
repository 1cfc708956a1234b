#!/usr/bin/env python3
"""Lean-worker benchmark. `.venv/bin/python benchmarks/lean_bench.py [--parts memory,colour,enqueue]`

- memory: a real preview worker (`headless.py --engine preview`, SQLite queue) runs a one-segment travel at
  1920x1072, 241 frames. Its resident memory (VmRSS, sampled every 50 ms from /proc) idle before the run,
  the peak during it, and idle after it (5 s after the run ended). `--root DIR` runs the worker of another
  checkout (e.g. /work/main) for a side-by-side.
- colour: the same preview travel (832x480, 81 frames, overlap 16) plain and with --colour_match_videos,
  wall and CPU seconds of the worker process.
- enqueue: one batch of 500 / 2,000 / 8,000 noop rows into a fresh PostgreSQL database
  (`PostgresQueue.enqueue`, one call) beside procrastinate's `batch_defer` of as many jobs on the same
  server. procrastinate is not a requirement: install it anywhere importable (e.g.
  `pip install --target /tmp/procrastinate procrastinate` and `--procrastinate-path /tmp/procrastinate`);
  without it that column says so.

Tables are appended to benchmarks/RESULTS.md (`--no-write`: print only). One run each; on a shared
machine the wall times are under load (CPU seconds are given beside them).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# ---- a worker process and its memory ----------------------------------------------------------------

def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Sampler(threading.Thread):
    """VmRSS of a process every `interval` seconds; `peak` since the last `reset`."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak, self.last = pid, interval, 0.0, 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.last = rss_mb(self.pid)
            self.peak = max(self.peak, self.last)
            time.sleep(self.interval)


def cpu_seconds(pid: int) -> float:
    """user + system seconds of a live process (all threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def env_for(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SQLITE_", "DATABASE_"))}
    env.update({"DB_TYPE": "sqlite", "SQLITE_DB_PATH": str(tmp / "tasks.db"), "MAIN_OUTPUT_DIR": str(tmp / "out"),
                "PYTHONUNBUFFERED": "1"})
    return env


def queue_travel(root: Path, env: dict, images: list[str], *args: str) -> str:
    done = subprocess.run([sys.executable, "steerable_motion.py", "travel_between_images", "--input_images", *images,
                           *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"enqueue failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def run_open(db: Path) -> bool:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status FROM tasks").fetchall()
    return not rows or any(status in ("Queued", "In Progress") for (status,) in rows)


def anchors(tmp: Path, count: int) -> list[str]:
    return [shutil.copy(ROOT / "samples" / f"anchor_{i % 3}.png", tmp / f"a{i}.png") for i in range(count)]


def memory_part(root: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="lean-mem-") as name:
        tmp = Path(name)
        env = env_for(tmp)
        log = open(tmp / "worker.log", "w")
        worker = subprocess.Popen([sys.executable, "headless.py", "--engine", "preview", "--poll-interval", "0.5"],
                                  cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        sampler = Sampler(worker.pid)
        sampler.start()
        try:
            time.sleep(10)                                   # imports, self-check, first idle polls
            before = sampler.last
            sampler.peak = 0.0
            started = time.perf_counter()
            queue_travel(root, env, anchors(tmp, 2), "--resolution", "1920x1072", "--segment_frames", "241")
            time.sleep(1)
            while run_open(tmp / "tasks.db"):
                if worker.poll() is not None:
                    raise SystemExit(f"the worker exited: {(tmp / 'worker.log').read_text()[-2000:]}")
                time.sleep(0.2)
            wall = time.perf_counter() - started
            peak = sampler.peak
            time.sleep(5)
            after = sampler.last
            with sqlite3.connect(tmp / "tasks.db") as conn:
                statuses = sorted(s for (s,) in conn.execute("SELECT status FROM tasks"))
        finally:
            sampler.stop.set()
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
            log.close()
    frames_gb = 1920 * 1072 * 3 * 241 / 1e9
    return {"root": str(root), "before": before, "peak": peak, "after": after, "wall": wall,
            "statuses": statuses, "copies": peak / 1024 / (frames_gb / 1.073741824)}


def colour_part(root: Path, images: int) -> list[dict]:
    results = []
    for label, extra in (("plain", []), ("colour-matched", ["--colour_match_videos"])):
        with tempfile.TemporaryDirectory(prefix="lean-colour-") as name:
            tmp = Path(name)
            env = env_for(tmp)
            queue_travel(root, env, anchors(tmp, images), "--resolution", "832x480", "--segment_frames", "81",
                         "--frame_overlap", "16", *extra)
            started = time.perf_counter()
            worker = subprocess.Popen([sys.executable, "headless.py", "--engine", "preview", "--until-idle",
                                       "--poll-interval", "0.5"], cwd=root, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cpu = 0.0
            while worker.poll() is None:
                try:
                    cpu = cpu_seconds(worker.pid)
                except OSError:
                    pass
                time.sleep(0.1)
            wall = time.perf_counter() - started
            with sqlite3.connect(tmp / "tasks.db") as conn:
                statuses = sorted({s for (s,) in conn.execute("SELECT status FROM tasks")})
            results.append({"label": label, "wall": wall, "cpu": cpu, "statuses": statuses})
    return results


# ---- batch enqueue on PostgreSQL --------------------------------------------------------------------

def enqueue_part(sizes: list[int], procrastinate_path: str | None) -> list[dict]:
    from source.queue.model import NewTask
    from tests.helpers.services import temporary_postgres_database

    from source.config import resolve_settings
    from source.queue.factory import open_migrated_queue

    if procrastinate_path:
        sys.path.append(procrastinate_path)   # after the venv: its packages win where both have one
    try:
        import procrastinate
    except ImportError:
        procrastinate = None
    results = []
    for size in sizes:
        row = {"rows": size}
        with temporary_postgres_database("lean_enqueue") as url:
            queue = open_migrated_queue(resolve_settings({}, env={"DB_TYPE": "postgres", "DATABASE_URL": url},
                                                          dotenv_path="/nonexistent.env"))
            batch = [NewTask("noop", {"n": k}) for k in range(size)]
            started = time.perf_counter()
            ids = queue.enqueue(batch)
            row["ours"] = time.perf_counter() - started
            assert len(ids) == size
            queue.close()
        if procrastinate is None:
            row["procrastinate"] = None
        else:
            with temporary_postgres_database("lean_procrastinate") as url:
                app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

                @app.task(name="noop")
                def noop(n: int) -> None:
                    return None

                with app.open():
                    app.schema_manager.apply_schema()
                    started = time.perf_counter()
                    noop.batch_defer(*({"n": k} for k in range(size)))
                    row["procrastinate"] = time.perf_counter() - started
        results.append(row)
    return results


# ---- tables -----------------------------------------------------------------------------------------

def tables(memory: list[dict], colour: list[dict], enqueue: list[dict], images: int) -> str:
    out = []
    if memory:
        out += ["### Worker memory around a 1920x1072x241 preview segment (`--parts memory`)", "",
                "One travel run of 2 images (orchestrator, one segment, stitch) on a preview worker; VmRSS "
                "sampled every 50 ms. One frame set is 1.49 GB (1.39 GiB).", "",
                "| worker | idle before | peak during | idle after (5 s) | peak / frame set | run wall | rows |",
                "|---|---|---|---|---|---|---|"]
        for m in memory:
            out.append(f"| {m['root']} | {m['before']:.0f} MB | {m['peak']:.0f} MB | {m['after']:.0f} MB | "
                       f"{m['copies']:.2f} | {m['wall']:.1f} s | {', '.join(sorted(set(m['statuses'])))} |")
        out.append("")
    if colour:
        plain = colour[0]
        out += [f"### Colour-matched vs plain preview travel, {images} images, 832x480, 81/16 (`--parts colour`)", "",
                "| travel | wall | worker CPU | CPU vs plain | rows |", "|---|---|---|---|---|"]
        for c in colour:
            out.append(f"| {c['label']} | {c['wall']:.1f} s | {c['cpu']:.1f} s | {c['cpu'] / plain['cpu']:.2f}x | "
                       f"{', '.join(c['statuses'])} |")
        out.append("")
    if enqueue:
        out += ["### Batch enqueue on PostgreSQL, one call (`--parts enqueue`)", "",
                "| rows | ours (wq_enqueue_v3) | procrastinate batch_defer | ours / procrastinate |", "|---|---|---|---|"]
        for e in enqueue:
            theirs = e["procrastinate"]
            ratio = f"{e['ours'] / theirs:.2f}x" if theirs else "-"
            theirs_text = f"{theirs * 1000:.0f} ms" if theirs else "procrastinate not installed: skipped"
            out.append(f"| {e['rows']:,} | {e['ours'] * 1000:.0f} ms | {theirs_text} | {ratio} |")
        out.append("")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="memory,colour,enqueue")
    parser.add_argument("--root", action="append", default=[], help="checkout whose worker the memory part runs "
                        "(repeatable; default this one)")
    parser.add_argument("--colour-images", type=int, default=4)
    parser.add_argument("--sizes", default="500,2000,8000")
    parser.add_argument("--procrastinate-path", help="a folder procrastinate was installed into (--target)")
    parser.add_argument("--note", default="", help="a sentence under the tables (e.g. the machine's load)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    memory = [memory_part(Path(r)) for r in (args.root or [str(ROOT)])] if "memory" in parts else []
    colour = colour_part(ROOT, args.colour_images) if "colour" in parts else []
    enqueue = enqueue_part([int(s) for s in args.sizes.split(",")], args.procrastinate_path) \
        if "enqueue" in parts else []
    text = tables(memory, colour, enqueue, args.colour_images)
    header = (f"\n## Lean worker (`benchmarks/lean_bench.py --parts {args.parts}`)\n\n"
              f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, Python {sys.version.split()[0]}. "
              f"{args.note}\n\n")
    print(header + text)
    if not args.no_write:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a") as f:
            f.write(header + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
