"""A travel run on the supabase backend with real worker processes, as on a fleet of machines.

Two `headless.py` processes hold only SUPABASE_URL and the service key (plus their own output and work
folders, so nothing is shared on disk): the anchor images come as URLs, every segment and the final
video are uploaded to the bucket (the Storage stand-in of tests/helpers/supabase.py), rows carry URLs,
and later stages fetch earlier outputs through those URLs. The tiny random-weight engine renders.
"""
from __future__ import annotations

import time

import pytest

from source.media import video_io
from source.queue.model import Status
from source.storage.downloads import download_url
from tests.helpers.supabase import StoredObject
from tests.helpers.travel import write_anchor_images
from tests.helpers.workers import make_backend


@pytest.fixture
def backend(tmp_path):
    with make_backend("supabase", tmp_path) as backend:
        yield backend


def test_travel_on_two_workers_completes_with_url_outputs(backend, tmp_path):
    stack = backend.stack
    public = f"{stack.url}/storage/v1/object/public/videos"
    urls = []
    for i, path in enumerate(write_anchor_images(tmp_path / "anchors", 3)):
        stack.storage.objects[("videos", f"inputs/anchor_{i}.png")] = StoredObject(
            open(path, "rb").read(), "image/png")
        urls.append(f"{public}/inputs/anchor_{i}.png")

    queued = backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images", *urls,
                             "--base_prompts", "a red ball", "--resolution", "64x64", "--segment_frames", "17",
                             "--frame_overlap", "4", "--seed", "7", ENGINE="tiny")
    assert queued.returncode == 0, queued.stderr
    run_id = queued.stdout.strip().splitlines()[-1]

    started = time.monotonic()
    workers = [backend.start_worker("--until-idle", "--engine", "tiny", log_name=f"machine{n}",
                                    MAIN_OUTPUT_DIR=str(tmp_path / f"machine{n}" / "outputs"),
                                    WORK_DIR=str(tmp_path / f"machine{n}" / "work"))
               for n in range(2)]
    for worker in workers:
        assert worker.wait(timeout=240) == 0, worker.log_path.read_text()[-3000:]
    elapsed = time.monotonic() - started
    for worker in workers:  # the key never reaches a log
        assert stack.service_key not in worker.log_path.read_text()
    assert stack.service_key not in queued.stdout + queued.stderr

    queue = backend.queue()
    rows = queue.list_run(run_id)
    by_type = {}
    for row in rows:
        by_type.setdefault(row.task_type, []).append(row)
    assert {t: len(v) for t, v in by_type.items()} == \
        {"travel_orchestrator": 1, "travel_segment": 2, "travel_stitch": 1}, [(r.task_type, r.status) for r in rows]
    assert all(r.status == Status.COMPLETE for r in rows), [(r.task_type, r.error_message) for r in rows]

    # every artefact is a URL of an object stored as {task_id}/{file} with a video content type
    for row in by_type["travel_segment"] + by_type["travel_stitch"]:
        assert row.output_location.startswith(f"{public}/{row.id}/"), row.output_location
        key = row.output_location[len(public) + 1:]
        assert stack.storage.objects[("videos", key)].content_type == "video/mp4"
    [orchestrator], [stitch] = by_type["travel_orchestrator"], by_type["travel_stitch"]
    assert orchestrator.output_location == stitch.output_location
    # each video's poster is stored beside it and named in params.thumbnail_url (the orchestrator's too)
    for row in by_type["travel_segment"] + by_type["travel_stitch"]:
        poster = row.params["thumbnail_url"]
        assert poster.startswith(f"{public}/{row.id}/") and poster.endswith("_poster.jpg"), poster
        assert stack.storage.objects[("videos", poster[len(public) + 1:])].content_type == "image/jpeg"
    assert orchestrator.params["thumbnail_url"] == stitch.params["thumbnail_url"]

    # later stages read earlier outputs through their URLs: the stitch fetched both segments, the
    # second segment fetched the first (for its carried-over frames), the orchestrator the anchors
    fetched = [path for method, path, _ in stack.storage.requests if method == "GET"]
    for segment in by_type["travel_segment"]:
        assert any(path.endswith(segment.output_location[len(stack.url):]) for path in fetched), segment.id
    assert all(any(p.endswith(f"/inputs/anchor_{i}.png") for p in fetched) for i in range(3))

    # the final video, fetched like a client would: 17 + 17 - 4 frames at 64x64
    final = download_url(orchestrator.output_location, tmp_path / "client")
    assert video_io.count_frames(final) == 30
    assert video_io.video_info(final)["width"] == 64
    print(f"supabase travel run: {len(rows)} rows on 2 workers in {elapsed:.1f} s")
