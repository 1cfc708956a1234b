"""different_perspective_orchestrator: input checks at once, the rows it fans out, and the guide pieces."""
from __future__ import annotations

import numpy as np
import pytest

from source.errors import InvalidParams
from source.media import video_io
from source.media.images import fit_frame
from source.media.pose import detect_pose, pose_guide_frames, render_skeleton
from source.media.vace import keep_mask
from source.tasks.context import FanOut
from source.workflows.perspective import STEP_FINAL, STEPS
from source.workflows.perspective.params import still_model_for
from source.workflows.perspective.plan import step_task_id
from source.workflows.perspective.steps import handle_orchestrator, target_pose
from source.workflows.registry import get_handler, parse_params
from tests.helpers.perspective import astronaut, astronaut_png, make_context


@pytest.fixture(scope="module")
def astronaut_pose():
    return detect_pose(astronaut())


def _params(image, **extra):
    return {"input_image_path": str(image), "prompt": "an astronaut seen from the side",
            "model_name": "vace_1.3B", "resolution": "72x60", "output_video_frames": 10, "seed": 5, **extra}


def test_fan_out_four_chained_rows(tmp_path):
    image = astronaut_png(tmp_path)
    ctx = make_context(tmp_path, "different_perspective_orchestrator", _params(image), task_id="orch-1")
    result = handle_orchestrator(ctx)
    assert isinstance(result, FanOut)
    assert [c.task_type for c in result.children] == list(STEPS)
    ids = [c.id for c in result.children]
    assert ids == [step_task_id("orch-1", "orch-1", s) for s in STEPS] and len(set(ids)) == 4
    assert result.awaited_task_id == step_task_id("orch-1", "orch-1", STEP_FINAL)
    assert result.children[0].dependant_on == []
    for before, after in zip(result.children, result.children[1:]):
        assert after.dependant_on == [before.id]
    for child in result.children:
        assert child.parent_task_id == "orch-1" and child.run_id == "orch-1"
        p = child.params
        # snapped once here: 10 frames -> 9, 72x60 -> 64x48
        assert p["frames"] == 9 and p["resolution"] == "64x48"
        assert p["model_name"] == "vace_1.3B" and p["still_model_name"] == "t2v_1.3B"
        assert p["input_image_path"] == str(image.resolve()) and p["seed"] == 5
    # the same orchestrator gives the same rows again (a retried fan-out is idempotent)
    again = handle_orchestrator(make_context(tmp_path, "different_perspective_orchestrator", _params(image),
                                             task_id="orch-1"))
    assert [c.id for c in again.children] == ids


def test_step_types_are_registered():
    assert get_handler("different_perspective_orchestrator") is handle_orchestrator
    for step in STEPS:
        assert callable(get_handler(step))


def test_missing_input_image_fails_at_once_with_the_path(tmp_path):
    missing = tmp_path / "gone" / "hero.png"
    ctx = make_context(tmp_path, "different_perspective_orchestrator", _params(missing))
    with pytest.raises(InvalidParams, match=f"input_image_path: file not found: {missing}"):
        handle_orchestrator(ctx)


def test_input_without_a_person_fails_at_once(tmp_path):
    wall = video_io.save_png(np.full((64, 64, 3), 100, np.uint8), tmp_path / "wall.png")
    ctx = make_context(tmp_path, "different_perspective_orchestrator", _params(wall))
    with pytest.raises(InvalidParams, match="no person found in .*wall.png"):
        handle_orchestrator(ctx)


def test_depth_without_a_local_depth_model_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("DEPTH_MODEL_PATH", raising=False)
    image = astronaut_png(tmp_path)
    params = _params(image, perspective_type="depth")
    with pytest.raises(InvalidParams, match="perspective_type 'depth' needs a local depth-estimation model"):
        handle_orchestrator(make_context(tmp_path, "different_perspective_orchestrator", params))
    monkeypatch.setenv("DEPTH_MODEL_PATH", str(tmp_path / "no-such-model"))
    with pytest.raises(InvalidParams, match="DEPTH_MODEL_PATH"):
        handle_orchestrator(make_context(tmp_path, "different_perspective_orchestrator", params))


@pytest.mark.parametrize("params, message", [
    ({"prompt": ""}, "prompt must be a non-empty string"),
    ({"resolution": "big"}, "resolution: "),
    ({"output_video_frames": 3}, "output_video_frames must be >= 5"),
    ({"perspective_type": "mirror"}, "perspective_type must be one of pose, depth"),
    ({"seed": "x"}, "seed must be an integer"),
])
def test_bad_params_name_the_field(tmp_path, params, message):
    image = astronaut_png(tmp_path)
    with pytest.raises(InvalidParams, match=message):
        handle_orchestrator(make_context(tmp_path, "different_perspective_orchestrator", _params(image, **params)))


def test_still_model_follows_the_vace_model_size():
    assert still_model_for("vace_1.3B") == "t2v_1.3B"
    assert still_model_for("vace_14B") == "t2v"
    assert still_model_for("tiny") == "tiny"


def test_cover_resize_keeps_proportions():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 90:110] = 255                      # a white bar in the middle
    out = fit_frame(image, (64, 64))            # how the steps size the input image
    assert out.shape == (64, 64, 3)
    assert out[:, 32].min() > 200 and out[:, 0].max() == 0   # the bar stays centred, not stretched


def test_mask_keeps_only_the_first_frame():
    mask = keep_mask(5, [0], (32, 16))          # the render step's mask
    assert len(mask) == 5 and mask[0].shape == (16, 32, 3)
    assert mask[0].max() == 0 and all(m.min() == 255 for m in mask[1:])


def test_pose_guide_starts_with_the_real_image_and_ends_on_the_target(astronaut_pose):
    image = astronaut()
    moved = type(astronaut_pose)(astronaut_pose.keypoints.copy())
    moved.keypoints[moved.present, 0] += 0.1   # everyone steps right
    frames = pose_guide_frames(image, astronaut_pose, moved, 9)
    assert len(frames) == 9
    assert np.array_equal(frames[0], image)
    assert np.array_equal(frames[-1], render_skeleton(moved, 512, 512))
    assert not np.array_equal(frames[1], frames[-1])


def test_still_without_a_person_falls_back_to_the_input_pose(astronaut_pose):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # what tiny models paint
    pose, fell_back = target_pose(astronaut_pose, noise)
    assert fell_back is True and pose is astronaut_pose
    frames = pose_guide_frames(astronaut(), astronaut_pose, pose, 5)
    assert all(np.array_equal(frames[1], f) for f in frames[2:])      # a static skeleton
    pose, fell_back = target_pose(astronaut_pose, astronaut())
    assert fell_back is False and np.allclose(pose.keypoints, astronaut_pose.keypoints)


def test_validate_params_before_queueing():
    parse_params("different_perspective_orchestrator", {"input_image_path": "x.png", "prompt": "a hero"})
    with pytest.raises(InvalidParams, match="input_image_path must be an image path"):
        parse_params("different_perspective_orchestrator", {"prompt": "a hero"})
    with pytest.raises(InvalidParams, match="output_video_frames must be an integer"):
        parse_params("different_perspective_orchestrator",
                     {"input_image_path": "x.png", "prompt": "a hero", "output_video_frames": "lots"})
