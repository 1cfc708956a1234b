"""A lean worker: memory given back, shared frames kept shared, carried frames read by seeking, colour
matching through OpenCV, and cancels that stop a preview render, an encode or a stitch within a frame."""
import sys
from collections import deque

import numpy as np
import pytest
from PIL import Image

from source.config import Settings
from source.engines import preview
from source.engines.inputs import as_video
from source.errors import TaskCancelled
from source.media import colour
from source.media.images import as_pil
from source.media.interpolate import morph_gaps
from source.media.stitch import stitch_clips
from source.media.vace import grey_frame, keep_mask
from source.media.video_io import VideoWriter, _last_frames_after_seek, iter_frames, last_frames
from source.memory import release_memory, resident_bytes
from source.wgp_utils import generate_single_video
from tests.helpers.travel import gradient_image, mean_abs_diff, numbered_clip

SIZE = (64, 48)


# ---- memory -------------------------------------------------------------------------------------------

@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_release_memory_trims_with_glibc_and_rss_is_readable():
    assert release_memory() is True
    assert resident_bytes() > 10 << 20


def test_a_guide_of_shared_frames_stays_shared_through_the_render_inputs():
    start, end = gradient_image(*SIZE, (200, 50, 40)), gradient_image(*SIZE, (40, 60, 200), seed=1)
    guide = [start] + [grey_frame(SIZE)] * 15 + [end]
    guide[1:16] = [guide[1]] * 15                                       # one grey array, 15 times
    pil = as_pil(guide)
    fitted = as_video(pil, SIZE, 17, "guide video")
    assert len({id(f) for f in fitted}) == 3                            # start, grey, end
    arrays = preview._shared_arrays(fitted)
    assert len({id(a) for a in arrays}) == 3
    assert mean_abs_diff(arrays[0], start) == 0 and mean_abs_diff(arrays[16], end) == 0
    mask = as_video(as_pil(keep_mask(17, [0, -1], SIZE)), SIZE, 17, "mask video")
    assert len({id(f) for f in mask}) == 2


# ---- carried frames: a seek, not a whole decode -----------------------------------------------------------

@pytest.mark.parametrize("keyint", [None, 4, 8])
@pytest.mark.parametrize("count", [1, 5, 9, 30])
def test_last_frames_by_seeking_equal_the_full_decode(tmp_path, keyint, count):
    path = tmp_path / "clip.mp4"
    numbered_clip(path, 10, 30, size=SIZE, step=8)
    if keyint:  # re-encoded with short GOPs, so the seek lands near the end
        frames = list(iter_frames(path))
        with VideoWriter(tmp_path / "gop.mp4", crf=0, preset="ultrafast", keyint=keyint) as writer:
            for frame in frames:
                writer.write(frame)
        path = tmp_path / "gop.mp4"
    full = list(deque(iter_frames(path), maxlen=count))
    got = last_frames(path, count)
    assert len(got) == len(full) == min(count, 30)
    assert all(np.array_equal(a, b) for a, b in zip(got, full))
    if keyint and count < 30:
        assert _last_frames_after_seek(path, count) is not None         # the seek was taken, not the fallback


# ---- colour matching through OpenCV ------------------------------------------------------------------

def _numpy_transfer(frame, target_mean, target_std):
    """The formulas in numpy (colour.rgb_to_lab / lab_to_rgb): what transfer_stats computed before."""
    lab = colour.rgb_to_lab(frame)
    flat = lab[::2, ::2].reshape(-1, 3)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    return colour.lab_to_rgb((lab - mean) * (target_std / np.maximum(std, 1e-3)) + target_mean)


def test_opencv_colour_match_gives_the_numpy_frames():
    rng = np.random.default_rng(3)
    frame = np.clip(gradient_image(160, 96, (180, 120, 70)).astype(np.int16) + rng.integers(-12, 13, (96, 160, 3)),
                    0, 255).astype(np.uint8)
    for anchor in (gradient_image(160, 96, (60, 90, 210), seed=2), gradient_image(160, 96, (230, 220, 40))):
        mean, std = colour.lab_stats(anchor)
        numpy_mean, numpy_std = (s.reshape(-1, 3) for s in (colour.rgb_to_lab(anchor[::2, ::2]),) * 2)
        assert np.allclose(mean, numpy_mean.mean(axis=0), atol=0.25)       # LAB units (1 ~ a just-visible step)
        assert np.allclose(std, numpy_std.std(axis=0), atol=0.25)
        ours, before = colour.transfer_stats(frame, mean, std), _numpy_transfer(frame, mean, std)
        difference = np.abs(ours.astype(np.int16) - before.astype(np.int16))
        assert difference.mean() < 0.3 and difference.max() <= 4           # rounding; x264 at crf 17 moves more
        assert mean_abs_diff(ours, frame) > 20                              # and the match did move the colours


# ---- cancel within a frame ----------------------------------------------------------------------------

class _CancelAfter:
    def __init__(self, calls: int):
        self.calls, self.left = 0, calls

    def __call__(self, *_args) -> None:
        self.calls += 1
        self.left -= 1
        if self.left < 0:
            raise TaskCancelled("cancelled")


def test_a_cancel_stops_the_preview_morph_within_one_frame():
    frames = [gradient_image(*SIZE, (200, 50, 40))] + [grey_frame(SIZE)] * 39 + [gradient_image(*SIZE, (40, 60, 200))]
    kept = [True] + [False] * 39 + [True]
    cancel = _CancelAfter(3)
    with pytest.raises(TaskCancelled):
        morph_gaps(frames, kept, progress=cancel)
    assert cancel.calls == 4                                            # the 4th frame's report raised


def test_a_cancel_during_the_preview_encode_stops_it_and_leaves_no_file(tmp_path):
    start, end = gradient_image(*SIZE, (200, 50, 40)), gradient_image(*SIZE, (40, 60, 200))
    cancel = _CancelAfter(15 + 2)                                       # 15 morphed frames, then 2 encoded
    with pytest.raises(TaskCancelled):
        generate_single_video(model="flf2v_720p", prompt="", output_path=tmp_path / "p.mp4", resolution="64x48",
                              frames=17, start_image=start, end_image=end, engine="preview", settings=Settings(),
                              progress_callback=cancel)
    assert cancel.calls == 18
    assert not list(tmp_path.glob("*.mp4"))


def test_a_cancel_stops_the_stitch_within_one_frame(tmp_path):
    clips = [numbered_clip(tmp_path / f"c{k}.mp4", 10 + 40 * k, 9, size=SIZE, step=4) for k in range(3)]
    cancel = _CancelAfter(12)
    with pytest.raises(TaskCancelled):
        stitch_clips(clips, [2, 2], tmp_path / "final.mp4", expected_lengths=[9, 9, 9], check_cancelled=cancel)
    assert cancel.calls == 13
    assert not (tmp_path / "final.mp4").exists() and not list(tmp_path.glob("final*"))
