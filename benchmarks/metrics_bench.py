"""/metrics benchmark: one scrape of the queue's metrics with 10,000 rows in the table.

    .venv/bin/python benchmarks/metrics_bench.py [--backends sqlite,postgres] [--no-write]

The table is filled as benchmarks/fleet_bench.py fills it (2,500 travel-shaped runs of four rows in every
status, 50 registered workers, two thirds of them busy), so the event counters, the status gauges, the
duration histogram and the per-worker series all have something to read. Each scrape is
`metrics_text(queue)` (source/dashboard/metrics.py) in this process, the text the dashboard sends,
without HTTP; SCRAPES of them, p50 / p95 / max. Target: under 50 ms on SQLite.
Prints a table and rewrites the metrics section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import fleet_bench  # noqa: E402
from queue_bench import Scratch, open_queue, percentile, write_results  # noqa: E402

from source.dashboard.metrics import metrics_text  # noqa: E402

START, END = "<!-- metrics-bench:start -->", "<!-- metrics-bench:end -->"
SCRAPES = 50
TARGET_MS = 50.0


def measure(backend: str, location: str) -> tuple[int, int, list[float]]:
    rows, _ = fleet_bench.fill(backend, location, Path(tempfile.mkdtemp(prefix="metrics-bench-")))
    queue = open_queue(backend, location)
    try:
        text = metrics_text(queue)   # warm: connections open, statements prepared
        times = []
        for _ in range(SCRAPES):
            began = time.perf_counter()
            metrics_text(queue)
            times.append((time.perf_counter() - began) * 1000)
    finally:
        queue.close()
    series = sum(1 for line in text.decode().splitlines() if line and not line.startswith("#"))
    return rows, series, times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite,postgres")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--machine", default=f"{os.cpu_count()} cores", help="machine recorded with the numbers")
    args = parser.parse_args(argv)
    lines = ["## /metrics scrape (benchmarks/metrics_bench.py)", "",
             f"Measured {time.strftime('%Y-%m-%d')} on {args.machine} (shared with other jobs): one "
             f"`metrics_text(queue)` in process, {SCRAPES} scrapes after a warm-up; target under "
             f"{TARGET_MS:.0f} ms on SQLite.", "",
             "| backend | rows | series | p50 (ms) | p95 (ms) | max (ms) |", "|---|---|---|---|---|---|"]
    for backend in args.backends.split(","):
        scratch = Scratch(backend)
        try:
            rows, series, times = measure(backend, scratch.new())
        finally:
            scratch.cleanup()
        lines.append(f"| {backend} | {rows:,} | {series} | {percentile(times, 50):.1f} | "
                     f"{percentile(times, 95):.1f} | {max(times):.1f} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_results(text, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
