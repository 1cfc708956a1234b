"""Acting on runs from the dashboard (cancel, retry, requeue), finding runs on the runs page, a video that plays
through the live refreshes, and long names that stay inside their cards at 1280 px.

A real `steerable_motion.py dashboard` process over a real SQLite queue whose rows are put in each state by
the queue's own calls (claim, fan_out, fail: what a worker does), no worker running, so the tests are quick.
Browser: headless Chromium under Playwright (tests/helpers/dashboard.py). Screenshots go to tmp_path (and
to $DASHBOARD_SCREENSHOTS when set).
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from source.media.video_io import write_video
from source.queue.model import NewTask, Status
from source.workflows.perspective import STEPS
from tests.helpers.dashboard import start_dashboard
from tests.helpers.workers import make_backend

TOKEN = "an-actions-test-token-0123456789"
LONG = "different_perspective_orchestrator"


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


def five_second_video(folder: Path) -> Path:
    """A 64x64 clip of 5 s (10 fps) whose frames change, so a player has something to advance through."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = [np.full((64, 64, 3), (i * 5) % 255, dtype=np.uint8) for i in range(50)]
    return write_video(frames, folder / "still_clip.mp4", fps=10)


def scene(backend) -> dict:
    """Three runs, as a worker would have left them:
    - run-fails (travel): its segment failed, so the stitch and the orchestrator failed with it;
    - run-stuck (different perspective, long names): still Complete with a 5 s video, guide In Progress under
      a lease that expired (its worker is gone), render and final Queued behind it;
    - run-heron: a single Complete row whose prompt mentions a heron."""
    queue = backend.queue()
    queue.enqueue([NewTask("travel_orchestrator", {"prompt": "storm over the sea"}, id="run-fails",
                           run_id="run-fails", project_id="proj-a")])
    claim = queue.claim("w", 60, ["travel_orchestrator"])
    seg = NewTask("travel_segment", {"segment_index": 0}, id="run-fails-seg-0", max_attempts=1)
    stitch = NewTask("travel_stitch", {}, id="run-fails-stitch", dependant_on=[seg.id])
    assert queue.fan_out(claim, [seg, stitch], stitch.id)
    assert queue.fail(queue.claim("w", 60, ["travel_segment"]), "CUDA out of memory")

    queue.enqueue([NewTask(LONG, {"prompt": "a lighthouse"}, id="run-stuck-0123456789abcdef",
                           run_id="run-stuck-0123456789abcdef", project_id="proj-b")])
    claim = queue.claim("w", 60, [LONG])
    children, previous = [], []
    for step in STEPS:
        children.append(NewTask(step, {}, id=f"run-stuck-0123456789abcdef-{step}", dependant_on=previous))
        previous = [children[-1].id]
    assert queue.fan_out(claim, children, children[-1].id)
    video = five_second_video(Path(backend.env["MAIN_OUTPUT_DIR"]))
    assert queue.complete(queue.claim("w", 60, [STEPS[0]]), str(video))
    assert queue.claim("gone-worker-with-a-long-name-0123456789", 0.05, [STEPS[1]]) is not None
    time.sleep(0.1)

    queue.enqueue([NewTask("noop", {"prompt": "a grey heron"}, id="run-heron", run_id="run-heron")])
    gone = Path(backend.env["MAIN_OUTPUT_DIR"]) / "_work" / "runs" / "run-heron" / "guide.mp4"
    assert queue.complete(queue.claim("w", 60, ["noop"]), str(gone))   # its work folder was removed since
    return {"queue": queue, "guide": children[1].id, "render": children[2].id}


def statuses(queue, run_id: str) -> dict[str, str]:
    return {task.id: task.status for task in queue.list_run(run_id)}


def overflowing(page) -> list[str]:
    """Elements that stick out of their card (a row's node, the run's head, the page's main region; the
    run's graph scrolls sideways inside main by design, so main is checked up to it)."""
    return page.evaluate("""() => {
        const out = [];
        for (const card of document.querySelectorAll('article.node, .run-head, main')) {
            const box = card.getBoundingClientRect();
            if (card.scrollWidth > card.clientWidth + 1) out.push(card.className + ' scrolls ' + card.scrollWidth);
            for (const el of card.querySelectorAll('*')) {
                if (card.tagName === 'MAIN' && el.closest('.graph') && !el.classList.contains('graph')) continue;
                const r = el.getBoundingClientRect();
                if (r.width && (r.right > box.right + 1 || r.left < box.left - 1))
                    out.push(card.className + ' > ' + el.tagName + ' ' + (el.textContent || '').slice(0, 40));
            }
        }
        return out; }""")


def test_cancel_retry_and_requeue_from_the_run_page(sqlite_backend, browser, tmp_path):
    rows = scene(sqlite_backend)
    queue = rows["queue"]
    dashboard = start_dashboard(sqlite_backend)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(f"{dashboard.url}/runs/run-fails")
    assert page.locator("button[data-action=cancel]").count() == 0, "nothing of a failed run can be cancelled"
    _shoot(page, tmp_path, "run_failed_actions")
    page.click(".run-head button[data-action=retry]")
    page.wait_for_url(f"{dashboard.url}/runs/run-fails?did=retry&rows=3")
    assert page.locator(".notice").inner_text() == "3 rows put back in the queue."
    after = {t.id: t for t in queue.list_run("run-fails")}
    assert (after["run-fails-seg-0"].status, after["run-fails-seg-0"].attempts) == (Status.QUEUED, 0)
    assert after["run-fails"].status == Status.IN_PROGRESS
    assert "earlier attempt: CUDA out of memory" in page.locator("[data-previous-error='run-fails-seg-0']").inner_text()

    page.goto(f"{dashboard.url}/runs/run-stuck-0123456789abcdef")
    guide = page.locator(f"article.node[data-task='{rows['guide']}']")
    assert guide.locator("[data-stuck]").count() == 1
    _shoot(page, tmp_path, "run_actions")
    guide.locator("button[data-action=requeue]").click()
    page.wait_for_url("**?did=requeue&rows=1")
    assert queue.get(rows["guide"]).status == Status.QUEUED
    assert queue.get(rows["guide"]).error_message.startswith("worker gone-worker-with-a-long-name")

    page.locator(f"article.node[data-task='{rows['render']}'] button[data-action=cancel]").click()
    page.wait_for_url("**?did=cancel&rows=*")
    # the final step waited on it and the run awaited the final step: the run ends, taking the guide along
    assert set(statuses(queue, "run-stuck-0123456789abcdef").values()) == {Status.COMPLETE, Status.CANCELLED}
    page.click(".run-head button[data-action=retry]")
    page.wait_for_url("**?did=retry&rows=4")
    now = statuses(queue, "run-stuck-0123456789abcdef")
    assert now[rows["guide"]] == Status.QUEUED and now["run-stuck-0123456789abcdef"] == Status.IN_PROGRESS
    page.click(".run-head button[data-action=cancel]")
    page.wait_for_url("**?did=cancel&rows=4")
    assert set(statuses(queue, "run-stuck-0123456789abcdef").values()) == {Status.COMPLETE, Status.CANCELLED}

    log = dashboard.log()
    assert "dashboard: retry run-fails from 127.0.0.1 (no token required): 3 row(s) changed:" in log
    assert f"dashboard: requeue {rows['guide']} from 127.0.0.1" in log
    context.close()


def test_actions_need_the_page_token_and_with_a_dashboard_token_a_logged_in_browser(sqlite_backend, browser):
    rows = scene(sqlite_backend)
    queue = rows["queue"]
    dashboard = start_dashboard(sqlite_backend, DASHBOARD_TOKEN=TOKEN)
    form = "task_id=run-fails&csrf=forged&next=/runs/run-fails"
    bearer = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = dashboard.get("/actions/retry", bearer, method="POST", body=form.encode())
    assert status == 403 and b"log in through the form" in body, "a token header reads, it does not act"
    assert dashboard.get("/actions/retry", {"Content-Type": "application/x-www-form-urlencoded"},
                         method="POST", body=form.encode())[0] == 401
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{dashboard.url}/runs/run-fails")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{dashboard.url}/runs/run-fails")
    # the logged-in browser with a forged CSRF token is refused, nothing changes
    response = page.request.post(f"{dashboard.url}/actions/retry", form={"task_id": "run-fails", "csrf": "forged"})
    assert response.status == 403 and "out of date" in response.text()
    assert queue.get("run-fails").status == Status.FAILED
    page.click(".run-head button[data-action=retry]")
    page.wait_for_url("**?did=retry&rows=3")
    assert queue.get("run-fails").status == Status.IN_PROGRESS
    assert "(logged-in browser): 3 row(s) changed" in dashboard.log()
    context.close()


def test_a_video_plays_through_the_refreshes_and_long_names_stay_in_their_cards(sqlite_backend, browser, tmp_path):
    scene(sqlite_backend)
    dashboard = start_dashboard(sqlite_backend)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{dashboard.url}/runs/run-stuck-0123456789abcdef")
    assert overflowing(page) == []
    _shoot(page, tmp_path, "run_long_names_1280")
    video = page.locator(f"article.node[data-label='{STEPS[0]}'] video")
    video.evaluate("v => { v.__kept = true; return v.play(); }")
    start = page.evaluate("() => Number(document.getElementById('live').dataset.refreshed || 0)")
    page.wait_for_timeout(4000)
    played = video.evaluate("v => ({t: v.currentTime, paused: v.paused, kept: v.__kept === true})")
    refreshed = page.evaluate("() => Number(document.getElementById('live').dataset.refreshed || 0)")
    assert refreshed > start, "the page refreshed meanwhile"
    assert played["kept"] and not played["paused"]
    assert played["t"] > 3.0, played
    assert overflowing(page) == [], "nor after a refresh"
    context.close()


def test_the_runs_page_filters_and_searches(sqlite_backend, browser, tmp_path):
    scene(sqlite_backend)
    dashboard = start_dashboard(sqlite_backend)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    def shown() -> list[str]:
        return page.locator("tr[data-run]").evaluate_all("rows => rows.map(r => r.dataset.run)")

    page.goto(f"{dashboard.url}/runs")
    assert shown() == ["run-heron", "run-stuck-0123456789abcdef", "run-fails"]
    assert overflowing(page) == []
    heron = page.locator("tr[data-run=run-heron]")
    assert heron.locator("a").count() == 1, "the run's own link only: no link to a file that is gone"
    assert "guide.mp4: removed" in heron.locator("[data-removed]").inner_text()
    page.fill("input[name=q]", "HERON")
    page.click("#run-filters button[type=submit]")
    page.wait_for_url("**/runs?q=HERON**")
    assert shown() == ["run-heron"]
    page.fill("input[name=q]", "run-fails-seg-0")       # a row id finds its run
    page.click("#run-filters button[type=submit]")
    page.wait_for_url("**q=run-fails-seg-0**")
    assert shown() == ["run-fails"]
    page.goto(f"{dashboard.url}/runs")
    page.select_option("select[name=type]", LONG)
    page.select_option("select[name=since]", "1h")
    page.click("#run-filters button[type=submit]")
    page.wait_for_url("**type=**")
    assert shown() == ["run-stuck-0123456789abcdef"]
    page.goto(f"{dashboard.url}/runs?status=Failed&project=proj-a")
    assert shown() == ["run-fails"]
    _shoot(page, tmp_path, "runs_filtered")
    page.click("a:text('Complete')")          # the status links keep the other filters
    assert "project=proj-a" in page.url and shown() == []
    context.close()
