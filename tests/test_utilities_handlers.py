"""The utility task handlers called in-process with a real TaskContext and real files."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from source.errors import InvalidParams
from source.media import video_io
from source.media.images import load_image
from source.media.pose import COLOURS, KEYPOINT_NAMES
from source.workflows.registry import get_handler, parse_params
from source.workflows.utilities.steps import (handle_extract_frame, handle_generate_openpose,
                                              handle_rife_interpolate_images, handle_upscale)
from tests.helpers.perspective import (astronaut_png, frame_level, make_context, numbered_video,
                                       square_image)


def test_task_types_are_registered():
    assert get_handler("generate_openpose") is handle_generate_openpose
    assert get_handler("extract_frame") is handle_extract_frame
    assert get_handler("rife_interpolate_images") is handle_rife_interpolate_images
    assert get_handler("upscale") is handle_upscale


# ---- generate_openpose --------------------------------------------------------------------------------

def test_generate_openpose_writes_a_skeleton_png(tmp_path):
    image = astronaut_png(tmp_path)
    ctx = make_context(tmp_path, "generate_openpose", {"input_image_path": str(image)}, task_id="pose/1")
    out = handle_generate_openpose(ctx).output_location
    assert out.endswith("pose_1_openpose.png") and out.startswith(str(tmp_path / "outputs"))
    skeleton = np.asarray(Image.open(out).convert("RGB"))
    assert skeleton.shape == (512, 512, 3)
    keypoints = json.loads(open(out[:-4] + ".json").read())
    x, y, c = keypoints["nose"]
    assert c > 0.9
    expected = np.array(COLOURS[KEYPOINT_NAMES.index("nose")]) * c
    assert np.abs(skeleton[round(y * 512), round(x * 512)].astype(int) - expected).max() <= 2
    assert (skeleton.sum(axis=2) == 0).mean() > 0.8   # mostly black


def test_generate_openpose_without_a_person_is_a_clear_error(tmp_path):
    flat = video_io.save_png(np.full((96, 96, 3), 120, np.uint8), tmp_path / "wall.png")
    ctx = make_context(tmp_path, "generate_openpose", {"input_image_path": str(flat)})
    with pytest.raises(InvalidParams, match="no person found.*wall.png"):
        handle_generate_openpose(ctx)


def test_generate_openpose_missing_image_names_field_and_path(tmp_path):
    ctx = make_context(tmp_path, "generate_openpose", {"input_image_path": str(tmp_path / "nope.png")})
    with pytest.raises(InvalidParams, match="input_image_path: file not found: .*nope.png"):
        handle_generate_openpose(ctx)
    with pytest.raises(InvalidParams, match="input_image_path or input_image_task_id"):
        handle_generate_openpose(make_context(tmp_path, "generate_openpose", {}))


# ---- extract_frame ------------------------------------------------------------------------------------

@pytest.mark.parametrize("index, level", [(0, 0), (3, 3), (-1, 6), (-7, 0), (-2, 5)])
def test_extract_frame_positive_and_negative(tmp_path, index, level):
    video = numbered_video(tmp_path / "clip.mp4", 7)
    ctx = make_context(tmp_path, "extract_frame", {"input_video_path": str(video), "frame_index": index})
    out = handle_extract_frame(ctx).output_location
    frame = np.asarray(Image.open(out).convert("RGB"))
    assert frame.shape == (48, 64, 3)
    assert frame_level(frame) == level


@pytest.mark.parametrize("index", [7, -8, 100])
def test_extract_frame_out_of_range_names_the_range(tmp_path, index):
    video = numbered_video(tmp_path / "clip.mp4", 7)
    ctx = make_context(tmp_path, "extract_frame", {"input_video_path": str(video), "frame_index": index})
    with pytest.raises(InvalidParams, match=rf"frame_index {index} is out of range .*7 frames.*-7\.\.6"):
        handle_extract_frame(ctx)
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").iterdir())


def test_extract_frame_rejects_a_non_integer_index(tmp_path):
    video = numbered_video(tmp_path / "clip.mp4", 3)
    with pytest.raises(InvalidParams, match="frame_index must be an integer"):
        handle_extract_frame(make_context(tmp_path, "extract_frame",
                                          {"input_video_path": str(video), "frame_index": 1.5}))


# ---- rife_interpolate_images --------------------------------------------------------------------------

def test_rife_interpolate_images_frame_count_size_and_endpoints(tmp_path):
    a = video_io.save_png(square_image((128, 96), 30, 40), tmp_path / "a.png")
    b = video_io.save_png(square_image((128, 96), 42, 44, background=(60, 50, 110)), tmp_path / "b.png")
    ctx = make_context(tmp_path, "rife_interpolate_images", {
        "input_image_path1": str(a), "input_image_path2": str(b), "frames": 11, "resolution": "96x64"})
    out = handle_rife_interpolate_images(ctx).output_location
    frames = video_io.read_frames(out)
    assert len(frames) == 11
    assert frames[0].shape == (64, 96, 3)
    first = load_image(a, (96, 64), fit="stretch").astype(int)
    last = load_image(b, (96, 64), fit="stretch").astype(int)
    # H.264 at crf 17 is close, not exact
    assert np.abs(frames[0].astype(int) - first).mean() < 3
    assert np.abs(frames[-1].astype(int) - last).mean() < 3
    # and the two ends really differ: each end is much nearer its own image than the other one
    assert np.abs(frames[0].astype(int) - last).mean() > 3 * np.abs(frames[0].astype(int) - first).mean()
    assert np.abs(frames[-1].astype(int) - first).mean() > 3 * np.abs(frames[-1].astype(int) - last).mean()
    assert video_io.video_info(out)["fps"] == pytest.approx(16)


@pytest.mark.parametrize("params, message", [
    ({"frames": 1}, "frames must be >= 2"),
    ({"frames": "many"}, "frames must be an integer"),
    ({"resolution": "wide"}, "resolution: resolution must look like"),
    ({"method": "rife"}, "RIFE weights are not bundled"),
    ({"input_image_path2": "/no/such/b.png"}, r"input_image_path2 must be an http\(s\) URL or a file inside"),
])
def test_rife_interpolate_images_bad_params(tmp_path, params, message):
    a = video_io.save_png(square_image((64, 64), 10, 10), tmp_path / "a.png")
    base = {"input_image_path1": str(a), "input_image_path2": str(a), "frames": 5, "resolution": "64x64"}
    with pytest.raises(InvalidParams, match=message):
        handle_rife_interpolate_images(make_context(tmp_path, "rife_interpolate_images", {**base, **params}))


# ---- upscale --------------------------------------------------------------------------------------------

def test_upscale_video_keeps_frames_and_doubles_size(tmp_path):
    video = numbered_video(tmp_path / "clip.mp4", 5)
    ctx = make_context(tmp_path, "upscale", {"input_video_path": str(video), "upscale_factor": 2})
    out = handle_upscale(ctx).output_location
    frames = video_io.read_frames(out)
    assert len(frames) == 5 and frames[0].shape == (96, 128, 3)
    assert [frame_level(f) for f in frames] == [0, 1, 2, 3, 4]


def test_upscale_image(tmp_path):
    image = video_io.save_png(square_image((40, 30), 5, 5, side=10), tmp_path / "small.png")
    ctx = make_context(tmp_path, "upscale", {"input_image_path": str(image), "upscale_factor": 1.5})
    out = handle_upscale(ctx).output_location
    assert out.endswith(".png") and Image.open(out).size == (60, 44)  # 45 goes to an even 44


def test_upscale_needs_a_positive_factor(tmp_path):
    video = numbered_video(tmp_path / "clip.mp4", 2)
    with pytest.raises(InvalidParams, match="upscale_factor must be a positive number"):
        handle_upscale(make_context(tmp_path, "upscale", {"input_video_path": str(video), "upscale_factor": 0}))


@pytest.mark.parametrize("task_type, params, message", [
    ("generate_openpose", {}, "give input_image_path or input_image_task_id"),
    ("extract_frame", {"input_video_task_id": "x", "frame_index": "last"}, "frame_index must be an integer"),
    ("rife_interpolate_images", {"input_image_path1": "a.png", "frames": 5, "resolution": "64x64"},
     "input_image_path2 must be a file path or URL"),
    ("rife_interpolate_images", {"input_image_path1": "a.png", "input_image_path2": "b.png", "frames": 5,
                                 "resolution": "64by64"}, "resolution"),
    ("upscale", {"input_video_task_id": "x"}, "upscale_factor must be a positive number"),
])
def test_validate_params_before_queueing(task_type, params, message):
    with pytest.raises(InvalidParams, match=message):
        parse_params(task_type, params)


def test_validate_params_accepts_good_rows():
    frame = parse_params("extract_frame", {"input_video_task_id": "x", "frame_index": -1})
    assert (frame.input_video_task_id, frame.input_video_path, frame.frame_index) == ("x", None, -1)
    assert frame.ignored_keys == []
    upscale = parse_params("upscale", {"input_image_path": "a.png", "upscale_factor": 2, "colour": "red"})
    assert (upscale.input_image_path, upscale.upscale_factor) == ("a.png", 2.0)
    assert upscale.ignored_keys == ["colour"]   # kept aside and reported, never used
