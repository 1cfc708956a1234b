"""Real worker processes (`headless.py`) in the workers registry, on every backend: registered at start,
busy while a row runs and idle between rows, stopping on SIGTERM, stopped at a clean exit, gone when
killed; `steerable_motion.py workers` prints the table."""
from __future__ import annotations

import json
import os
import signal

from source.queue.fleet import GONE_AFTER_LEASES, WorkerState
from source.queue.model import NewTask
from tests.helpers.workers import wait_for, wait_for_status

LEASE = 1.0


def _worker(queue, pid: int):
    found = [w for w in queue.list_workers(600) if w.pid == pid]
    return found[0] if found else None


def test_a_worker_is_listed_busy_then_idle_then_stopped(backend):
    queue = backend.queue()
    proc = backend.start_worker("--lease-seconds", str(LEASE), "--worker-id", "box7")
    idle = wait_for(lambda: (w := _worker(queue, proc.pid)) and w.shown_state == WorkerState.IDLE and w,
                    timeout=60, what="the worker to register")
    assert idle.worker_id.startswith(f"box7-{proc.pid}-") and idle.lease_seconds == LEASE
    assert idle.version and idle.engine == "auto" and idle.host

    [task_id] = queue.enqueue([NewTask("noop", {"sleep": 3.0, "model": "noop-model"})])
    busy = wait_for(lambda: (w := _worker(queue, proc.pid)) and w.shown_state == WorkerState.BUSY and w,
                    timeout=30, what="the worker to show busy")
    assert busy.current_task_id == task_id and busy.current_task_type == "noop" and busy.model == "noop-model"
    seen = wait_for(lambda: (w := _worker(queue, proc.pid)) and (w.current_progress or 0) > 0 and w,
                    timeout=30, what="the running task's progress")
    assert seen.current_progress_message == "sleeping"

    printed = backend.run_cli("steerable_motion.py", "workers")
    assert printed.returncode == 0, printed.stderr
    line = [row for row in printed.stdout.splitlines() if row.startswith(idle.worker_id)][0]
    assert " busy " in line and "noop" in line and "noop-model" in line

    wait_for_status(queue, task_id, "Complete", timeout=30)
    after = wait_for(lambda: (w := _worker(queue, proc.pid)) and w.shown_state == WorkerState.IDLE and w,
                     timeout=30, what="the worker to show idle again")
    assert after.current_task_id is None and after.tasks_run == 1
    # it keeps beating while idle: last seen stays within a beat or two
    before = after.last_seen_at
    wait_for(lambda: _worker(queue, proc.pid).last_seen_at > before, timeout=10, what="an idle beat")

    # SIGTERM during a long row: stopping while it finishes within the grace period, then stopped
    [long_id] = queue.enqueue([NewTask("noop", {"sleep": 2.5})])
    wait_for(lambda: _worker(queue, proc.pid).current_task_id == long_id, timeout=30, what="the long row")
    proc.send_signal(signal.SIGTERM)
    wait_for(lambda: _worker(queue, proc.pid).shown_state == WorkerState.STOPPING, timeout=10,
             what="the worker to show stopping")
    assert proc.wait(timeout=60) == 0
    assert _worker(queue, proc.pid).shown_state == WorkerState.STOPPED
    as_json = backend.run_cli("steerable_motion.py", "workers", "--json")
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [r["shown_state"] for r in rows if r["worker_id"] == idle.worker_id] == ["stopped"]
    assert rows[0]["tasks_run"] == 2


def test_a_killed_worker_shows_as_gone(backend):
    queue = backend.queue()
    proc = backend.start_worker("--lease-seconds", "0.5")
    wait_for(lambda: (w := _worker(queue, proc.pid)) and w.state == WorkerState.IDLE, timeout=60,
             what="the worker to register and pass its self-check")
    proc.kill()
    proc.wait(timeout=10)
    gone = wait_for(lambda: (w := _worker(queue, proc.pid)) and w.shown_state == WorkerState.GONE and w,
                    timeout=10, what="the killed worker to show gone")
    assert gone.silent_seconds > GONE_AFTER_LEASES * 0.5 and gone.state == WorkerState.IDLE
    printed = backend.run_cli("steerable_motion.py", "workers")
    assert " gone " in printed.stdout


def test_a_worker_reports_its_gpu(tmp_path):
    """With a stand-in for nvidia-smi on PATH (this machine has no GPU), the registry holds its answer."""
    from tests.helpers.workers import make_backend

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "nvidia-smi"
    stand_in.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 81559, 1234'\n")
    stand_in.chmod(0o755)
    with make_backend("sqlite", tmp_path) as backend:
        proc = backend.start_worker("--once", PATH=f"{bin_dir}:{os.environ['PATH']}")
        queue = backend.queue()
        worker = wait_for(lambda: _worker(queue, proc.pid), timeout=60, what="the worker to register")
        assert (worker.gpu_name, worker.gpu_memory_total_mb, worker.gpu_memory_used_mb) == \
            ("NVIDIA H100 80GB HBM3", 81559, 1234)
        queue.enqueue([NewTask("noop", {})])
        assert proc.wait(timeout=60) == 0
        assert "NVIDIA H100" in backend.run_cli("steerable_motion.py", "workers").stdout


def test_a_starting_worker_is_listed_at_once_as_starting_then_idle(tmp_path):
    from tests.helpers.workers import make_backend

    with make_backend("sqlite", tmp_path) as backend:
        queue = backend.queue()
        proc = backend.start_worker("--lease-seconds", str(LEASE), "--engine", "preview")
        first = wait_for(lambda: _worker(queue, proc.pid), timeout=60, interval=0.02, what="the worker to register")
        assert first.shown_state == WorkerState.STARTING, "registered before its self-check, not after"
        assert first.is_up
        wait_for(lambda: (w := _worker(queue, proc.pid)) and w.shown_state == WorkerState.IDLE, timeout=60,
                 what="the worker to show idle once its self-check passed")
        log = proc.log_path.read_text()
        assert "self-check" in log
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        queue.close()
