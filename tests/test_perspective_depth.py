"""perspective_type 'depth' with a local depth model (a tiny random-weight DPT saved like a real one)."""
from __future__ import annotations

import numpy as np
import pytest

from source.media.depth import depth_guide_frames, estimate_depth
from source.tasks.context import FanOut
from source.workflows.perspective.steps import handle_orchestrator
from tests.helpers.perspective import astronaut, astronaut_png, make_context, tiny_depth_model


@pytest.fixture(scope="module")
def depth_model(tmp_path_factory):
    return tiny_depth_model(tmp_path_factory.mktemp("depth") / "tiny-dpt")


def test_depth_is_accepted_when_a_local_model_exists(tmp_path, monkeypatch, depth_model):
    monkeypatch.setenv("DEPTH_MODEL_PATH", str(depth_model))
    image = astronaut_png(tmp_path)
    ctx = make_context(tmp_path, "different_perspective_orchestrator", {
        "input_image_path": str(image), "prompt": "x", "resolution": "64x64", "output_video_frames": 9,
        "perspective_type": "depth"})
    result = handle_orchestrator(ctx)
    assert isinstance(result, FanOut) and result.children[1].params["perspective_type"] == "depth"


def test_depth_guide_starts_with_the_image_then_grey_depth_maps(depth_model):
    from PIL import Image

    image = np.asarray(Image.fromarray(astronaut()).resize((64, 48)))
    still = image[:, ::-1].copy()
    frames = depth_guide_frames(image, still, 5, depth_model)
    assert len(frames) == 5 and np.array_equal(frames[0], image)
    for frame in frames[1:]:
        assert frame.shape == (48, 64, 3)
        assert np.array_equal(frame[..., 0], frame[..., 1]) and np.array_equal(frame[..., 1], frame[..., 2])
    assert np.array_equal(frames[-1], estimate_depth(still, depth_model))
    depth = estimate_depth(image, depth_model)
    assert depth.min() == 0 and depth.max() == 255   # normalised to the full range
