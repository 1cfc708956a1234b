"""Running the dashboard (`steerable_motion.py dashboard`) against a test backend, reading it over HTTP
exactly as sent (http.client: no URL normalisation), and driving it in headless Chromium.

Browser: Debian's chromium (installed by scripts/install_test_services.sh) launched by Playwright with
`executable_path`; nothing is downloaded. Missing Chromium or Playwright: the browser tests skip with the
reason, or fail under REQUIRE_SERVICES=1 (tests/helpers/services.py).
"""
from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest

from .services import skip_or_fail
from .supabase import free_port
from .workers import PYTHON, ROOT

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class Dashboard:
    proc: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, headers: Optional[dict] = None, method: str = "GET",
            body: Optional[bytes] = None) -> tuple[int, dict, bytes]:
        """One request with `path` sent byte for byte as given (dots and escapes included)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_dashboard(backend, *args: str, **env) -> Dashboard:
    """`steerable_motion.py dashboard` on a free port against `backend`, up and answering /healthz."""
    port = free_port()
    log_path = backend.tmp / f"dashboard-{port}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([PYTHON, "steerable_motion.py", "dashboard", "--port", str(port), *args], cwd=ROOT,
                            env=backend.process_env(**env), stdout=log, stderr=subprocess.STDOUT)
    backend.procs.append(proc)
    dashboard = Dashboard(proc, port, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard exited with {proc.returncode}: {dashboard.log()}")
        try:
            if dashboard.get("/healthz")[0] == 200:
                return dashboard
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the dashboard did not answer within 60 s: {dashboard.log()}")


def chromium_path() -> Optional[str]:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium (Debian's) under Playwright; skips with the reason where either is missing."""
    executable = chromium_path()
    if executable is None:
        skip_or_fail("Chromium not found at /usr/bin/chromium (scripts/install_test_services.sh installs "
                     "Debian's chromium package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def parse_metrics(text: str) -> dict[tuple[str, tuple], float]:
    """Prometheus text parsed by prometheus_client: (sample name, sorted labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples
