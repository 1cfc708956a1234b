"""Structure guidance for travel: the timeline arithmetic (docs/TRAVEL.md), the guides made from a video,
and preview runs of rows in the original tool's formats, decoded frame by frame."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from source.errors import InvalidParams
from source.media.structure import canny_frames, flow_frames
from source.media.video_io import read_frames, write_video
from source.media.images import load_image
from source.queue.model import Status
from source.workflows.registry import parse_params
from source.workflows.travel.plan import build_plan
from source.workflows.travel.structure_plan import (place_videos, resample_indices, segment_slice, segment_start,
                                                    timeline_total)
from tests.helpers.workers import ROOT, make_backend

SAMPLES = ROOT / "samples"
SIZE, SQUARE = 64, 12


def square_at(t: int, frames: int) -> tuple[int, int]:
    """Top-left corner of the moving square at frame t: left to right across the middle."""
    return 4 + round(t * (SIZE - SQUARE - 8) / (frames - 1)), (SIZE - SQUARE) // 2


def moving_square(path: Path, frames: int) -> Path:
    images = []
    for t in range(frames):
        frame = np.zeros((SIZE, SIZE, 3), np.uint8)
        x, y = square_at(t, frames)
        frame[y:y + SQUARE, x:x + SQUARE] = 255
        images.append(frame)
    return write_video(images, path)


# ---- the timeline ------------------------------------------------------------------------------------------

def test_the_worked_example_three_segments_overlaps_10():
    plan = build_plan(4, [81, 81, 81], [10, 10])
    assert timeline_total(plan) == 223                                   # 81 + 71 + 71
    assert [segment_start(plan, i) for i in range(3)] == [0, 71, 142]
    slices = [segment_slice(plan, i) for i in range(3)]
    # segment 0: anchors at 0 and 80, frames 1..79 guided by timeline frames 1..79
    assert slices[0] == [(k, k) for k in range(1, 80)]
    # segments 1 and 2: 10 carried frames and the end anchor pinned; 70 frames each, at their own positions
    assert slices[1] == [(k, 71 + k) for k in range(10, 80)]
    assert slices[2] == [(k, 142 + k) for k in range(10, 80)]
    assert max(t for _, t in slices[2]) < 223
    # every timeline frame a segment renders unpinned is guided exactly once
    guided = [t for s in slices for _, t in s]
    assert len(guided) == len(set(guided)) == 79 + 70 + 70


def test_several_videos_on_the_timeline_and_what_is_refused():
    placed = place_videos([{"start_frame": 20, "end_frame": 40, "source_start_frame": 5},
                           {"start_frame": 0, "end_frame": 10}, {"start_frame": 50, "end_frame": 500}], 223)
    assert [(p.index, p.start, p.end, p.length) for p in placed] == [(1, 0, 10, 10), (0, 20, 40, 20), (2, 50, 223, 173)]
    with pytest.raises(InvalidParams, match="structure videos 0 and 1 share timeline frames 5..9"):
        place_videos([{"start_frame": 0, "end_frame": 10}, {"start_frame": 5, "end_frame": 20}], 100)
    with pytest.raises(InvalidParams, match="past the run's last frame"):
        place_videos([{"start_frame": 100}], 100)
    assert resample_indices(5, 9, "adjust") == [0, 2, 4, 6, 8]            # squeezed evenly
    assert resample_indices(5, 3, "adjust") == [0, 0, 1, 2, 2]            # stretched
    assert resample_indices(6, 4, "clip", source_fps=32) == [0, 2, 0, 2, 0, 2]  # its own speed, looping


def test_the_original_keys_and_the_object_become_one_model():
    base = {"input_image_paths_resolved": ["a.png", "b.png", "c.png"], "base_prompts_expanded": ["x"],
            "segment_frames_expanded": [17], "frame_overlap_expanded": [4]}
    legacy = parse_params("travel_orchestrator", {"orchestrator_details": {
        **base, "structure_video_path": "s.mp4", "structure_video_type": "canny", "structure_video_treatment": "clip",
        "structure_video_motion_strength": 0.5, "structure_canny_intensity": 2}})
    guidance = legacy.orchestrator_details.structure_guidance
    assert (guidance.preprocessing, guidance.treatment, guidance.strength, guidance.canny_intensity) == ("canny", "clip", 0.5, 2)
    assert [v.path for v in guidance.videos] == ["s.mp4"] and legacy.ignored_keys == []
    modern = parse_params("travel_orchestrator", {"orchestrator_details": {**base, "structure_guidance": {
        "target": "vace", "preprocessing": "flow", "strength": 1.0, "step_window": [0, 1],
        "videos": [{"path": "a.mp4", "start_frame": 0, "end_frame": 10}, {"path": "b.mp4", "start_frame": 20}]}}})
    assert [(v.path, v.start_frame, v.end_frame) for v in modern.orchestrator_details.structure_guidance.videos] == [
        ("a.mp4", 0, 10), ("b.mp4", 20, None)]
    for bad, message in [({"structure_type": "uni3c", "structure_video_path": "s.mp4"}, "not supported"),
                         ({"structure_guidance": {"videos": [{"path": "a", "start_frame": 30}]}}, "past the run's last frame"),
                         ({"structure_guidance": {"videos": [{"path": "a"}], "preprocessing": "blur"}}, "must be one of"),
                         ({"keep_bridging_images": True}, "belongs to join_clips")]:
        with pytest.raises(InvalidParams, match=message) as caught:
            parse_params("travel_orchestrator", {"orchestrator_details": {**base, **bad}})
        assert "\n" not in str(caught.value)


def test_text_before_and_after_prompts_wrap_each_segment_prompt():
    travel = parse_params("travel_orchestrator", {"orchestrator_details": {
        "input_image_paths_resolved": ["a.png", "b.png", "c.png"], "base_prompts_expanded": ["a cat walks", " "],
        "segment_frames_expanded": [17], "text_before_prompts": " cinematic, ", "text_after_prompts": "4k"}})
    details = travel.orchestrator_details
    assert [details.segment_prompt(i) for i in range(2)] == ["cinematic, a cat walks 4k", "cinematic, 4k"]


# ---- the guides --------------------------------------------------------------------------------------------

def test_flow_and_canny_of_a_moving_square(tmp_path):
    frames = read_frames(moving_square(tmp_path / "square.mp4", 9))
    flow = flow_frames(frames)
    assert len(flow) == 9
    x, y = square_at(4, 9)
    inside = flow[4][y + 2:y + SQUARE - 2, x:x + SQUARE].reshape(-1, 3).astype(int)
    corner = flow[4][:4, :4].reshape(-1, 3).astype(int)
    assert corner.min() > 245                                             # still background: white
    assert (inside.max(axis=1) - inside.min(axis=1)).mean() > 40          # the moving square: coloured
    pale = flow_frames(frames, strength=0.3)[4][y + 2:y + SQUARE - 2, x:x + SQUARE].reshape(-1, 3).astype(int)
    assert (pale.max(axis=1) - pale.min(axis=1)).mean() < (inside.max(axis=1) - inside.min(axis=1)).mean()
    edges = canny_frames(frames[4:5])[0][..., 0]
    assert edges[y + SQUARE // 2, x - 1:x + 2].max() == 255 and edges[y + SQUARE // 2, x + SQUARE // 2] == 0


# ---- preview runs -----------------------------------------------------------------------------------------

@pytest.fixture
def sqlite_backend(tmp_path):
    with make_backend("sqlite", tmp_path) as backend:
        yield backend


def videos_dir(queue, run_id: str) -> Path:
    root = next(r for r in queue.list_run(run_id) if r.task_type == "travel_orchestrator")
    return Path(root.output_location).parent


def _mad(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _square_x(guided: np.ndarray, plain: np.ndarray) -> float:
    """x of the centre of what the guide added to a frame: the guided frame less the half of the plain
    morph it is mixed with (source/engines/preview.py) leaves half the guide, the square bright in it."""
    added = guided.astype(np.float32).max(axis=2) - 0.5 * plain.astype(np.float32).max(axis=2)
    columns = np.nonzero((added > 90).any(axis=0))[0]
    assert len(columns), "no square in the frame"
    return (columns.min() + columns.max() + 1) / 2


def test_a_structure_guided_preview_travel_follows_the_square(sqlite_backend, tmp_path):
    backend = sqlite_backend
    anchors = [str(SAMPLES / f"anchor_{i}.png") for i in range(3)]
    square = moving_square(tmp_path / "square.mp4", 30)                  # one frame per timeline frame
    details = {"input_image_paths_resolved": anchors, "base_prompts_expanded": ["a valley"],
               "segment_frames_expanded": [17], "frame_overlap_expanded": [4], "parsed_resolution_wh": "64x64",
               "model_name": "vace_14B", "debug_mode_enabled": True}
    rows = {"plain": details,
            # the original tool's legacy keys
            "legacy": {**details, "structure_video_path": str(square), "structure_video_type": "raw",
                       "structure_video_treatment": "adjust", "show_input_images": True,
                       "text_before_prompts": "cinematic,", "text_after_prompts": "4k"},
            # its later object: two videos with neutral frames between them
            "placed": {**details, "structure_guidance": {"target": "vace", "preprocessing": "canny", "videos": [
                {"path": str(square), "start_frame": 0, "end_frame": 10},
                {"path": str(square), "start_frame": 20, "end_frame": 30, "source_start_frame": 20}]}}}
    for name, row in rows.items():
        queued = backend.run_cli("add_task.py", "--type", "travel_orchestrator", "--run-id", name,
                                 "--params", json.dumps({"orchestrator_details": {**row, "run_id": name}}))
        assert queued.returncode == 0, queued.stderr
    worker = backend.start_worker("--until-idle", "--engine", "preview")
    assert worker.wait(timeout=240) == 0, worker.log_path.read_text()[-3000:]
    queue = backend.queue()
    videos, guides = {}, {}
    for name in rows:
        run = queue.list_run(name)
        root = next(r for r in run if r.task_type == "travel_orchestrator")
        assert root.status == Status.COMPLETE, root.error_message
        segments = sorted((r for r in run if r.task_type == "travel_segment"), key=lambda r: r.params["segment_index"])
        videos[name] = (read_frames(Path(root.output_location)), [read_frames(Path(s.output_location)) for s in segments])
        guides[name] = segments[0].params.get("structure_guide")
    assert guides["plain"] is None and guides["legacy"] == guides["legacy"]

    plain, (plain0, plain1) = videos["plain"]
    guided, (seg0, seg1) = videos["legacy"]
    assert len(guided) == len(plain) == 30 and len(seg0) == len(seg1) == 17      # frame counts unchanged
    for image, frame in zip(anchors, (0, 16, 29)):                                  # anchors untouched
        assert _mad(guided[frame], load_image(Path(image), (64, 64))) < 6, frame
    for k in range(4):                                                              # the overlap: carried as is
        assert _mad(seg1[k], seg0[13 + k]) < 3, k
    # the unguided frames follow the square: where the guided run differs from the plain one is where the
    # structure video's square is at that timeline frame (segment 0: frames 1..15 = timeline 1..15)
    for t in range(2, 15):
        x, _ = square_at(t, 30)
        assert abs(_square_x(seg0[t], plain0[t]) - (x + SQUARE / 2)) <= 2, t
    for k in range(4, 16):                                                          # segment 1, timeline 13 + k
        x, _ = square_at(13 + k, 30)
        assert abs(_square_x(seg1[k], plain1[k]) - (x + SQUARE / 2)) <= 2, k

    # show_input_images: each segment also written with its anchors as a banner above it
    banner = read_frames(Path(videos_dir(queue, "legacy")) / "legacy_seg01_inputs.mp4")
    assert len(banner) == 17 and banner[0].shape == (128, 64, 3)
    assert _mad(banner[5][64:], seg1[5]) < 3                                        # the video below
    left, right = (np.asarray(Image.fromarray(load_image(Path(anchors[i]), (64, 64))).resize((32, 32), Image.LANCZOS))
                   for i in (1, 2))
    assert _mad(banner[5][16:48, :32], left) < 12 and _mad(banner[5][16:48, 32:], right) < 12

    composite = read_frames(Path(guides["placed"]))                                # kept: debug_mode_enabled
    assert len(composite) == 30
    assert all(frame.max() < 30 for frame in composite[10:20])                     # neutral (black for canny)
    assert all(frame.max() > 200 for frame in composite[:10] + composite[20:])     # the square's edges


def test_depth_guides_with_a_local_model_and_one_line_without(tmp_path):
    from source.config import Settings
    from source.media.structure import preprocess
    from source.workflows.travel.params import StructureGuidance
    from source.workflows.travel.structure import depth_model_for
    from tests.helpers.perspective import tiny_depth_model

    frames = read_frames(moving_square(tmp_path / "square.mp4", 3))
    model = tiny_depth_model(tmp_path / "tiny-dpt")                      # random weights, built here
    flat = preprocess(frames, "depth", depth_model=model, depth_contrast=1.0)
    soft = preprocess(frames, "depth", depth_model=model, depth_contrast=0.5)
    assert len(flat) == 3 and flat[0].shape == (SIZE, SIZE, 3)
    assert np.array_equal(flat[0][..., 0], flat[0][..., 2])               # grey
    assert np.ptp(soft[0]) < np.ptp(flat[0])                              # less contrast around mid-grey
    guidance = StructureGuidance.parse({"preprocessing": "depth", "videos": [{"path": "a.mp4"}]})
    with pytest.raises(InvalidParams, match="set DEPTH_MODEL_PATH") as caught:
        depth_model_for(guidance, Settings())
    assert "\n" not in str(caught.value)
    assert depth_model_for(guidance, Settings(depth_model_path=str(model))) is not None
