"""Running real worker processes (`headless.py`) and command lines against a fresh queue."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator

import pytest

from source.config import resolve_settings
from source.queue.model import Status

from .services import temporary_postgres_database

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


@dataclass
class Backend:
    """A fresh queue database plus the environment that points processes at it."""

    name: str
    env: dict
    tmp: Path
    procs: list = field(default_factory=list)

    @property
    def settings(self):
        return resolve_settings({}, env=self.env, dotenv_path=self.tmp / "no.env")

    def queue(self):
        from source.queue.factory import open_migrated_queue

        return open_migrated_queue(self.settings)

    def process_env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SQLITE_", "DATABASE_"))}
        env.update(self.env)
        env.update({k: str(v) for k, v in extra.items()})
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start_worker(self, *args: str, log_name: str = "worker", **env) -> subprocess.Popen:
        log = open(self.tmp / f"{log_name}-{len(self.procs)}.log", "w")
        proc = subprocess.Popen([PYTHON, "headless.py", "--poll-interval", "0.5", *args], cwd=ROOT,
                                env=self.process_env(**env), stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = Path(log.name)
        self.procs.append(proc)
        return proc

    def run_cli(self, script: str, *args: str, timeout: float = 120, **env) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, script, *args], cwd=ROOT, env=self.process_env(**env),
                              capture_output=True, text=True, timeout=timeout)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
                proc.kill()
                proc.wait(timeout=10)


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.05,
             what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for_status(queue, task_id: str, status: str, timeout: float = 30.0):
    return wait_for(lambda: (t := queue.get(task_id)) is not None and t.status == status and t,
                    timeout=timeout, what=f"{task_id} to be {status}")


def wait_terminal(queue, task_id: str, timeout: float = 60.0):
    return wait_for(lambda: (t := queue.get(task_id)) is not None and t.status in Status.TERMINAL and t,
                    timeout=timeout, what=f"{task_id} to end")


@contextmanager
def make_backend(name: str, tmp_path: Path) -> Iterator[Backend]:
    """A Backend of the given kind on a fresh database; worker processes are killed at the end."""
    with ExitStack() as cleanup:
        stack = None
        if name == "sqlite":
            env = {"DB_TYPE": "sqlite", "SQLITE_DB_PATH": str(tmp_path / "tasks.db")}
        elif name == "postgres":
            env = {"DB_TYPE": "postgres",
                   "DATABASE_URL": cleanup.enter_context(temporary_postgres_database("wq_worker"))}
        elif name == "supabase":
            from .supabase import supabase_stack

            stack = cleanup.enter_context(supabase_stack())
            env = stack.env()
        else:
            raise ValueError(name)
        backend = Backend(name, {**env, "MAIN_OUTPUT_DIR": str(tmp_path / "outputs")}, tmp_path)
        backend.stack = stack  # supabase: the gateway, the Storage stand-in, the database behind
        cleanup.callback(backend.stop_all)
        yield backend


WORKER_BACKENDS = ["sqlite", "postgres", "supabase"]


@pytest.fixture(params=WORKER_BACKENDS)
def backend(request, tmp_path):
    with make_backend(request.param, tmp_path) as made:
        yield made


def read_marker(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]

