"""Poster frames in the dashboard: a finished join run's video shows its poster (params.thumbnail_url)
on the runs page and the run page until played (real Chromium under Playwright). The screenshot goes to
tmp_path (and to $DASHBOARD_SCREENSHOTS when set)."""
from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from source.queue.model import NewTask, Status
from tests.helpers.clips import serve_until_idle, value_clip
from tests.helpers.dashboard import browser, start_dashboard  # noqa: F401  (fixture)
from tests.helpers.workers import make_backend

pytestmark = pytest.mark.timeout(300)


def test_runs_and_run_pages_show_posters_until_played(tmp_path, browser):  # noqa: F811
    with make_backend("sqlite", tmp_path) as backend:
        settings = replace(backend.settings, engine="preview")
        a = value_clip(tmp_path / "a.mp4", 120, 33)
        b = value_clip(tmp_path / "b.mp4", 40, 33)
        queue = backend.queue()
        queue.enqueue([NewTask("join_clips", {"orchestrator_details": {
            "run_id": "poster_run", "clip_list": [str(a), str(b)], "context_frame_count": 4,
            "gap_frame_count": 9}}, id="poster-root", run_id="poster_run")])
        serve_until_idle(settings)
        root = queue.get("poster-root")
        assert root.status == Status.COMPLETE, root.error_message
        dashboard = start_dashboard(backend)
        page = browser.new_page(viewport={"width": 1200, "height": 700})
        try:
            for path in ("/runs", "/runs/poster_run"):
                page.goto(dashboard.url + path)
                video = page.locator("video").first
                poster = video.get_attribute("poster")
                assert poster and poster.startswith("/files/") and poster.endswith("_poster.jpg"), path
                status, headers, body = dashboard.get(poster)
                assert status == 200 and headers["content-type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
            page.goto(dashboard.url + "/runs")
            page.wait_for_timeout(300)
            shot = tmp_path / "runs_with_posters.png"
            page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("DASHBOARD_SCREENSHOTS"):
                Path(os.environ["DASHBOARD_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, Path(os.environ["DASHBOARD_SCREENSHOTS"]) / shot.name)
        finally:
            page.close()
            queue.close()
