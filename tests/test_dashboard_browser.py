"""The dashboard in a real browser (headless Chromium under Playwright) while a real worker renders a
tiny travel run (3 images, 64x64, 17-frame segments, overlap 4, the random-weight tiny engine):

- the run's rows move to Complete on the open page without a reload, and the final video loads and has
  a duration;
- the workers page shows the worker busy, then idle;
- a run whose segment fails shows that segment's error;
- /metrics parses and its counts match the table;
- a token-protected instance refuses a browser without the token, and lets it in through the form.

Screenshots go to tmp_path (and to $DASHBOARD_SCREENSHOTS when set, to look at them).
"""
from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from source.queue.model import Status
from tests.helpers.dashboard import parse_metrics, start_dashboard
from tests.helpers.workers import ROOT, make_backend, wait_for

TRAVEL = ["--resolution", "64x64", "--segment_frames", "17", "--frame_overlap", "4", "--model_name", "vace_14B",
          "--base_prompts", "hills at dawn"]
SAMPLES = [str(ROOT / "samples" / f"anchor_{i}.png") for i in range(3)]
TOKEN = "a-browser-test-token-0123456789"


@pytest.fixture
def sqlite_backend(tmp_path):
    with make_backend("sqlite", tmp_path) as backend:
        yield backend


def _shoot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("DASHBOARD_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def _queue_travel(backend, run_id: str, images: list[str]) -> None:
    result = backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images", *images, *TRAVEL,
                             "--run_id", run_id)
    assert result.returncode == 0, result.stderr


def _failing_run(backend, tmp_path: Path) -> None:
    """A run whose segment 1 fails: its orchestrator and segment 0 run first, then the image segment 1
    needs disappears."""
    images = []
    for i, sample in enumerate(SAMPLES):
        images.append(str(shutil.copy(sample, tmp_path / f"failing_{i}.png")))
    _queue_travel(backend, "run_fails", images)
    for _ in range(2):
        assert backend.start_worker("--once", "--engine", "tiny").wait(timeout=180) == 0
    Path(images[2]).unlink()


def test_a_travel_run_renders_live_in_the_browser(sqlite_backend, browser, tmp_path):
    backend = sqlite_backend
    _failing_run(backend, tmp_path)
    _queue_travel(backend, "run_live", SAMPLES)
    dashboard = start_dashboard(backend)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    run_page, workers_page = context.new_page(), context.new_page()
    run_page.goto(f"{dashboard.url}/runs/run_live")
    assert run_page.locator("article.node").count() == 1          # the orchestrator, not fanned out yet
    assert run_page.locator('article.node[data-status="Queued"]').count() == 1
    run_page.evaluate("window.__openedOnce = true")             # gone if the page were reloaded
    workers_page.goto(f"{dashboard.url}/workers")

    worker = backend.start_worker("--engine", "tiny", "--lease-seconds", "3")
    row = f'tr[data-worker*="-{worker.pid}-"]'     # worker ids are <host>-<pid>-<random>
    try:
        busy = workers_page.locator(row + '[data-state="busy"]')
        busy.wait_for(timeout=120_000)
        assert "travel_" in busy.inner_text()
        _shoot(workers_page, tmp_path, "workers_busy")
        run_page.locator('article.node[data-status="In Progress"]').first.wait_for(timeout=60_000)
        _shoot(run_page, tmp_path, "run_rendering")

        # the segments and the stitch appear, run and complete (orchestrator, 2 segments, stitch)
        run_page.wait_for_function(
            "() => document.querySelectorAll('article.node[data-status=\"Complete\"]').length === 4",
            timeout=300_000)
        assert run_page.evaluate("window.__openedOnce === true")   # updated in place, never reloaded
        run_page.wait_for_function(
            "() => { const v = document.querySelector('#final video');"
            " return v && v.readyState >= 1 && v.duration > 0; }", timeout=60_000)
        duration = run_page.evaluate("document.querySelector('#final video').duration")
        assert duration == pytest.approx(30 / 16, abs=0.1)           # 17 + 17 - 4 frames at 16 fps
        assert run_page.locator("article.node video").count() == 4  # segments play too
        # refreshes keep the video elements themselves (a playing video is not restarted)
        run_page.evaluate("() => document.querySelectorAll('video').forEach(v => { v.__kept = true; })")
        refreshed = run_page.evaluate("() => document.getElementById('live').dataset.refreshed")
        run_page.wait_for_function(
            "([before]) => Number(document.getElementById('live').dataset.refreshed) > Number(before) + 1000",
            arg=[refreshed], timeout=30_000)
        assert run_page.evaluate("() => Array.from(document.querySelectorAll('video')).every(v => v.__kept)")
        # every video decodes a 64x64 picture (the segments' own outputs included)
        run_page.wait_for_function(
            "() => Array.from(document.querySelectorAll('video')).every(v => v.readyState >= 2 && v.videoWidth === 64)",
            timeout=60_000)
        run_page.wait_for_timeout(2000)         # headless Chromium paints decoded frames a moment later
        _shoot(run_page, tmp_path, "run")

        queue = backend.queue()
        wait_for(lambda: queue.pending_count() == 0, timeout=240, what="the queue to drain")
        workers_page.locator(row + '[data-state="idle"]').wait_for(timeout=60_000)
        assert workers_page.locator('tr[data-state="busy"]').count() == 0
        _shoot(workers_page, tmp_path, "workers")

        failing = context.new_page()
        failing.goto(f"{dashboard.url}/runs/run_fails")
        segment = failing.locator('article.node[data-label="travel_segment[1]"]')
        assert segment.get_attribute("data-status") == Status.FAILED
        assert "segment 1 of 2" in segment.locator(".error").inner_text()
        assert "failing_2.png" in failing.locator(".run-head .error").inner_text()
        _shoot(failing, tmp_path, "run_failed")

        overview = context.new_page()
        overview.goto(dashboard.url + "/runs")
        assert overview.locator("tr[data-run]").evaluate_all("rows => rows.map(r => r.dataset.run)") == \
            ["run_live", "run_fails"]                                  # newest first
        _shoot(overview, tmp_path, "runs")
        overview.goto(dashboard.url + "/")
        _shoot(overview, tmp_path, "overview")
        assert overview.locator('td[data-count="travel_segment|Failed"]').inner_text() == "1"

        metrics = parse_metrics(overview.request.get(dashboard.url + "/metrics").text())
        for count in queue.status_counts():
            key = ("headless_tasks", (("status", count.status.lower().replace(" ", "_")),
                                      ("task_type", count.task_type)))
            assert metrics[key] == count.rows, key
        assert metrics[("headless_tasks_completed_total", (("task_type", "travel_segment"),))] == 3
        assert metrics[("headless_task_duration_seconds_count", (("task_type", "travel_stitch"),))] == 1
        assert metrics[("headless_workers", (("state", "idle"),))] == 1

        # nothing outside the output folder is served, however the path is spelled
        for attempt in ("/files/0/%2e%2e/tasks.db", "/files/0/..%2Ftasks.db", "/files/0/%2Fetc%2Fpasswd"):
            assert overview.request.get(dashboard.url + attempt).status == 404, attempt
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    workers_page.locator(row + '[data-state="stopped"]').wait_for(timeout=30_000)
    context.close()


def test_a_token_protected_dashboard_lets_a_browser_in_only_with_the_token(sqlite_backend, browser, tmp_path):
    backend = sqlite_backend
    _queue_travel(backend, "run_private", SAMPLES)
    dashboard = start_dashboard(backend, DASHBOARD_TOKEN=TOKEN)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{dashboard.url}/runs/run_private")
    assert page.url == f"{dashboard.url}/login?next=%2Fruns%2Frun_private"
    assert page.locator("article.node").count() == 0 and "travel_orchestrator" not in page.content()
    assert page.request.get(dashboard.url + "/metrics").status == 401
    page.fill("input[name=token]", "not-the-token-at-all")
    page.click("button[type=submit]")
    assert "That is not the token." in page.content() and "travel_orchestrator" not in page.content()
    _shoot(page, tmp_path, "login")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{dashboard.url}/runs/run_private")
    assert page.locator("article.node").count() == 1 and TOKEN not in page.content()
    assert page.request.get(dashboard.url + "/metrics").status == 200    # the session cookie
    page.click("a.logout")
    page.wait_for_url(f"{dashboard.url}/login")
    assert page.request.get(dashboard.url + "/metrics").status == 401
    context.close()
