"""A broken disk is the worker's fault, not the task's (source/worker.py, errors.is_machine_fault).

The output folder is a real 2 MiB tmpfs (mounted here; the tests skip where this process may not mount):
filled to the last byte (ENOSPC) or remounted read-only (EROFS) under a running worker. The rows it
claims are given back with their attempt not counted, the worker claims nothing while its self-check
fails, and every row completes once the disk is writable again.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from source.errors import MachineFault, is_machine_fault
from source.queue.model import NewTask, Status

from .helpers.workers import make_backend, wait_for, wait_for_status


def test_machine_faults_are_told_from_task_errors():
    import errno

    assert is_machine_fault(OSError(errno.ENOSPC, "No space left on device"))
    assert is_machine_fault(OSError(errno.EROFS, "Read-only file system"))
    assert is_machine_fault(MachineFault("the output mount is gone"))
    try:  # a library wrapping the disk's error in its own
        try:
            raise OSError(errno.EIO, "Input/output error")
        except OSError as exc:
            raise RuntimeError("encoding failed") from exc
    except RuntimeError as wrapped:
        assert is_machine_fault(wrapped)
    assert not is_machine_fault(FileNotFoundError(errno.ENOENT, "No such file", "input.png"))
    assert not is_machine_fault(ValueError("bad"))


@pytest.fixture
def small_disk(tmp_path) -> Path:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass


def _log(worker) -> str:
    return worker.log_path.read_text(errors="replace")


@pytest.mark.parametrize("fault", ["disk full", "read-only"])
def test_a_broken_output_disk_gives_rows_back_and_stops_claiming_until_it_heals(fault, small_disk, tmp_path):
    outputs = small_disk / "outputs"
    with make_backend("sqlite", tmp_path) as backend:
        queue = backend.queue()
        worker = backend.start_worker("--engine", "preview", MAIN_OUTPUT_DIR=str(outputs), TASK_TYPES="noop")
        wait_for(lambda: "started" in _log(worker), timeout=60, what="the worker to start")
        if fault == "disk full":
            _fill(small_disk)
        else:
            subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        ids = queue.enqueue([NewTask("noop", {"marker_file": str(outputs / "marker.txt"), "output": "done"})
                             for _ in range(3)])
        wait_for(lambda: "machine fault" in _log(worker), timeout=60, what="the worker to see the fault")
        time.sleep(3)  # the worker re-checks itself meanwhile and claims nothing
        log = _log(worker)
        assert log.count("claimed noop") == 1, log
        for task_id in ids:
            row = queue.get(task_id)
            assert row.status == Status.QUEUED and row.attempts == 0, row
        assert worker.poll() is None

        if fault == "disk full":
            (small_disk / "filler").unlink()
        else:
            subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        for task_id in ids:
            row = wait_for_status(queue, task_id, Status.COMPLETE, timeout=90)
            assert row.output_location == "done" and row.attempts == 1
        assert len((outputs / "marker.txt").read_text().splitlines()) == 3
        log = _log(worker)
        assert "self-check passes again" in log and "Traceback" not in log, log
        print("\n".join(line for line in log.splitlines() if "fault" in line or "self-check" in line
                        or "claimed" in line or "complete" in line))


def test_the_same_error_again_and_again_stops_the_worker_before_the_queue_fails(tmp_path):
    with make_backend("sqlite", tmp_path) as backend:
        queue = backend.queue()
        ids = queue.enqueue([NewTask("noop", {"fail": "the GPU driver crashed"}) for _ in range(6)])
        worker = backend.start_worker("--engine", "preview", TASK_TYPES="noop", SAME_FAILURE_LIMIT="3")
        assert worker.wait(timeout=90) == 3, _log(worker)
        statuses = [queue.get(task_id).status for task_id in ids]
        assert statuses.count(Status.FAILED) == 3 and statuses.count(Status.QUEUED) == 3, statuses
        assert "3 tasks in a row failed with the same error (RuntimeError: the GPU driver crashed)" in _log(worker)
