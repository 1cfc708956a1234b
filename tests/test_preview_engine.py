"""The preview engine: no model; the frames a render keeps stay, the frames it would invent are
optical-flow morphs between them, and everything it makes says it is a preview.

Real files throughout: the bridge writes real mp4s decoded here frame by frame, and the travel run is
queued by the real command and rendered by a real worker process.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from source.config import Settings
from source.engines.models import UnknownModel
from source.engines.preview import PREVIEW_TITLE
from source.errors import TaskCancelled
from source.media.images import load_image
from source.media.interpolate import morph_gaps
from source.media.vace import grey_frame
from source.media.video_io import read_frames, video_info
from source.queue.model import Status
from source.wgp_utils import generate_single_video
from source.worker import PREVIEW_NOTE
from tests.helpers.workers import ROOT, make_backend

SAMPLES = ROOT / "samples"


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _picture(colour, size=(64, 48)) -> np.ndarray:
    """A frame with a bright square on a coloured ground (something for optical flow to follow)."""
    width, height = size
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:] = colour
    frame[10:30, 10:30] = 255
    return frame


# ---- filling the gaps ---------------------------------------------------------------------------------

def test_kept_frames_stay_and_the_frames_between_are_morphs_from_one_to_the_next():
    first, last = _picture((200, 40, 40)), _picture((40, 40, 200))
    grey = grey_frame((64, 48))
    frames = [first] + [grey] * 7 + [last]
    out = morph_gaps(frames, [True] + [False] * 7 + [True])
    assert out[0] is first and out[-1] is last
    distances_to_first = [_mad(frame, first) for frame in out]
    assert all(_mad(frame, grey) > 20 for frame in out)               # no grey left
    assert distances_to_first == sorted(distances_to_first)            # moving steadily away from the first
    assert _mad(out[4], first) > 20 and _mad(out[4], last) > 20        # half way: neither end


def test_frames_after_the_last_kept_one_repeat_it_unless_the_guide_shows_a_picture():
    kept_frame, skeleton = _picture((90, 120, 30)), _picture((0, 0, 0))
    grey = grey_frame((64, 48))
    out = morph_gaps([kept_frame, grey, skeleton, grey], [True, False, False, False])
    assert out[1] is kept_frame and out[3] is kept_frame
    assert out[2] is skeleton                                          # a pose guide's frame is shown


def test_a_progress_report_that_raises_stops_the_fill():
    frames = [_picture((200, 0, 0))] + [grey_frame((64, 48))] * 5 + [_picture((0, 0, 200))]

    def cancel(done, total):
        raise TaskCancelled("stop")

    with pytest.raises(TaskCancelled):
        morph_gaps(frames, [True] + [False] * 5 + [True], progress=cancel)


# ---- through the render bridge ------------------------------------------------------------------------

def test_a_first_last_frame_render_keeps_both_images_and_says_it_is_a_preview(tmp_path):
    start, end = _picture((220, 60, 40)), _picture((30, 60, 210))
    steps = []
    path = generate_single_video(model="flf2v_720p", prompt="ignored", output_path=tmp_path / "p.mp4",
                                 resolution="64x48", frames=17, start_image=start, end_image=end,
                                 engine="preview", settings=Settings(),
                                 progress_callback=lambda step, total: steps.append((step, total)))
    frames = read_frames(path)
    assert len(frames) == 17
    assert _mad(frames[0], start) < 4 and _mad(frames[-1], end) < 4
    assert _mad(frames[8], start) > 20 and _mad(frames[8], end) > 20
    assert video_info(path)["title"] == PREVIEW_TITLE
    assert steps and steps[-1] == (15, 15)                             # the 15 frames it filled


def test_a_pose_guided_render_draws_the_pose_over_the_dimmed_reference(tmp_path):
    """A re-pose render (different_perspective): the generated frames show who (the reference, dimmed)
    and in which pose (the guide's skeleton drawn over it); the kept first frame stays as it is."""
    still, reference = _picture((30, 160, 60)), _picture((200, 120, 40))
    skeleton = np.zeros_like(still)
    skeleton[20:24, 5:60] = (255, 0, 0)                                 # one red bone on black
    path = generate_single_video(model="vace_1.3B", prompt="ignored", output_path=tmp_path / "pose.mp4",
                                 resolution="64x48", frames=5, guide_video=[still] + [skeleton] * 4,
                                 mask_video=[np.zeros_like(still)] + [np.full_like(still, 255)] * 4,
                                 reference_images=[reference], engine="preview", settings=Settings())
    frames = read_frames(path)
    assert _mad(frames[0], still) < 4
    last = frames[-1].astype(np.int16)
    assert last[22, 40, 0] > 200 and last[22, 40, 1] < 60               # the bone, over the reference
    assert abs(int(last[40, 40, 0]) - int(200 * 0.55)) < 12             # the reference, dimmed, around it
    assert abs(int(last[40, 40, 2]) - int(40 * 0.55)) < 12


def test_a_text_only_still_is_a_card_that_says_preview(tmp_path):
    path = generate_single_video(model="t2v", prompt="a lighthouse", output_path=tmp_path / "still.png",
                                 resolution="128x64", frames=1, engine="preview", settings=Settings())
    from PIL import Image

    card = np.asarray(Image.open(path))
    assert card.shape == (64, 128, 3)
    assert card.max() == 255 and int(np.median(card)) == 128           # white text on the guide's grey


def test_a_cancelled_preview_writes_nothing_and_an_unknown_model_is_refused(tmp_path):
    def cancel(step, total):
        raise TaskCancelled("cancelled")

    with pytest.raises(TaskCancelled):
        generate_single_video(model="vace_14B", prompt="", output_path=tmp_path / "c.mp4", resolution="64x48",
                              frames=9, start_image=_picture((1, 2, 3)), end_image=_picture((3, 2, 1)),
                              engine="preview", settings=Settings(), progress_callback=cancel)
    assert not list(tmp_path.glob("*.mp4"))
    with pytest.raises(UnknownModel):
        generate_single_video(model="vace_99B", prompt="", output_path=tmp_path / "u.mp4", frames=5,
                              engine="preview", settings=Settings())


def test_render_steps_on_a_preview_worker_say_preview_on_the_row(tmp_path):
    from tests.helpers.perspective import make_context

    reports = []
    for engine, step, total in (("preview", 3, 31), ("tiny", 3, 4)):
        ctx = make_context(tmp_path, "noop", {}, engine=engine)
        ctx.progress_sink = lambda progress, message: reports.append(message)
        ctx.step_progress("segment 1/2 rendering")(step, total)
    assert reports == ["segment 1/2 rendering: preview (no model), frame 3/31", "segment 1/2 rendering: step 3/4"]


# ---- a travel run on a worker -------------------------------------------------------------------------

@pytest.fixture
def sqlite_backend(tmp_path):
    with make_backend("sqlite", tmp_path) as backend:
        yield backend


def test_a_travel_preview_shows_each_anchor_at_the_frame_the_plan_puts_it(sqlite_backend):
    backend = sqlite_backend
    anchors = [str(SAMPLES / f"anchor_{i}.png") for i in range(3)]
    queued = backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images", *anchors,
                             "--base_prompts", "a valley", "--resolution", "128x128", "--segment_frames", "17",
                             "--frame_overlap", "4", "--run_id", "preview_run")
    assert queued.returncode == 0, queued.stderr
    assert queued.stdout.strip() == "preview_run"                     # stdout: the run id, nothing else
    assert "anchors at frames 0, 16, 29" in queued.stderr
    worker = backend.start_worker("--until-idle", "--engine", "preview")
    assert worker.wait(timeout=120) == 0, worker.log_path.read_text()[-3000:]
    log = worker.log_path.read_text()
    assert log.count("PREVIEW (no model)") == 2                       # one line per segment render

    waited = backend.run_cli("steerable_motion.py", "wait", "preview_run")
    assert waited.returncode == 0, waited.stderr
    final = Path(waited.stdout.strip().splitlines()[-1])              # the final path, on the last line
    frames = read_frames(final)
    assert len(frames) == 30                                           # 17 + 17 - 4
    for image, frame in zip(anchors, (0, 16, 29)):
        assert _mad(frames[frame], load_image(Path(image), (128, 128))) < 6, (image, frame)
    assert _mad(frames[8], frames[0]) > 10                             # and it moves between them
    assert video_info(final)["title"] == PREVIEW_TITLE

    rows = backend.queue().list_run("preview_run")
    segments = sorted((row for row in rows if row.task_type == "travel_segment"),
                      key=lambda row: row.params["segment_index"])
    # each row keeps its handler's last word (a report the throttle held back is written at the end),
    # and says it was a preview
    assert [row.progress_message for row in segments] == ["segment 1/2: finishing" + PREVIEW_NOTE,
                                                           "segment 2/2: finishing" + PREVIEW_NOTE]
    root = next(row for row in rows if row.parent_task_id is None)
    assert root.status == Status.COMPLETE and root.worker_id is None
    assert not (backend.tmp / "outputs" / "_work" / "runs" / "preview_run").exists()


def test_make_demo_script_ends_with_the_final_videos_path(tmp_path):
    """scripts/demo.sh (what `make demo` runs after installing), in a scratch database and folder."""
    env = {"SQLITE_DB_PATH": str(tmp_path / "demo.db"), "MAIN_OUTPUT_DIR": str(tmp_path / "outputs"),
           "PY": sys.executable, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    last = Path(done.stdout.strip().splitlines()[-1])
    assert last.is_absolute() and last.name.endswith("_final.mp4") and last.parent == tmp_path / "outputs"
    assert len(read_frames(last)) == 58
    assert "Traceback" not in done.stderr and "Writing model shards" not in done.stderr
    assert video_info(last)["title"] == PREVIEW_TITLE
