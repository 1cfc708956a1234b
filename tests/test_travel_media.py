"""Guide and mask videos, the stitch and the colour tools, checked on decoded frames."""
import numpy as np
import pytest

from source.media import colour
from source.media.easing import crossfade_weights
from source.media.guides import write_frames
from source.media.images import fit_frame, load_image
from source.media.stitch import StitchError, crossfade_frame, stitch_clips
from source.media.video_io import count_frames, read_frames
from source.workflows.travel.params import FadeParams
from source.workflows.travel.plan import plan_travel
from source.workflows.travel.steps import segment_guide, segment_mask
from tests.helpers.travel import mean_abs_diff, numbered_clip, solid_clip, write_anchor_images

SIZE = (64, 48)


@pytest.fixture
def anchors(tmp_path):
    paths = write_anchor_images(tmp_path, 3, size=(96, 64))      # other aspect: fitted by cropping
    return {i: load_image(p, SIZE) for i, p in enumerate(paths)}


def _decode_written(frames, path):
    write_frames(frames, path, fps=16)
    decoded = read_frames(path)
    assert len(decoded) == len(frames)
    return decoded


def test_first_segment_guide_and_mask_match_the_plan(tmp_path, anchors):
    plan = plan_travel(3, [17], [4])
    seg = plan.segments[0]
    guide = _decode_written(segment_guide(seg, SIZE, anchors), tmp_path / "guide.mp4")
    mask = _decode_written(segment_mask(seg, SIZE), tmp_path / "mask.mp4")
    assert guide[0].shape == (48, 64, 3)
    assert mean_abs_diff(guide[0], anchors[0]) < 3
    assert mean_abs_diff(guide[16], anchors[1]) < 3
    for k in range(1, 16):
        assert np.abs(guide[k].astype(int) - 128).max() <= 2, k
    assert mask[0].max() <= 2 and mask[16].max() <= 2                # black: keep
    for k in range(1, 16):
        assert mask[k].min() >= 253, k                               # white: generate


def test_later_segment_carries_the_previous_tail(tmp_path, anchors):
    plan = plan_travel(3, [17], [4])
    seg = plan.segments[1]
    previous = numbered_clip(tmp_path / "prev.mp4", 60, 17, size=SIZE)
    from source.media.video_io import last_frames
    carried = last_frames(previous, seg.carry_in)
    guide = _decode_written(segment_guide(seg, SIZE, anchors, carried), tmp_path / "g.mp4")
    mask = _decode_written(segment_mask(seg, SIZE), tmp_path / "m.mp4")
    assert seg.frame_roles == ["carried"] * 4 + ["gray"] * 12 + ["end"]
    for k in range(4):
        assert abs(float(guide[k].mean()) - (60 + 6 * (13 + k))) < 2.5, k   # frames 13..16 of the previous clip
        assert mask[k].max() <= 2
    for k in range(4, 16):
        assert np.abs(guide[k].astype(int) - 128).max() <= 2
        assert mask[k].min() >= 253
    assert mean_abs_diff(guide[16], anchors[2]) < 3 and mask[16].max() <= 2


def test_one_image_mask_keeps_only_frame_zero(tmp_path, anchors):
    seg = plan_travel(1, [9], [0]).segments[0]
    mask = _decode_written(segment_mask(seg, SIZE), tmp_path / "m.mp4")
    assert mask[0].max() <= 2 and all(m.min() >= 253 for m in mask[1:])
    guide = segment_guide(seg, SIZE, {0: anchors[0]})
    assert all((g == 128).all() for g in guide[1:])


def test_fades_blend_anchors_into_gray(anchors):
    seg = plan_travel(3, [17], [4]).segments[0]
    fade = FadeParams(low_point=0.0, high_point=1.0, curve_type="linear", duration_factor=0.5)
    guide = segment_guide(seg, SIZE, anchors, fade_out=fade, fade_in=fade)
    # 15 free frames, 8 of them in each fade (round(7.5)); the first free frame is the full start anchor
    assert np.array_equal(guide[1], anchors[0])
    expected = np.clip(np.rint(128 + 0.875 * (anchors[0].astype(np.float32) - 128)), 0, 255)
    assert np.abs(guide[2].astype(int) - expected).max() <= 1
    assert np.array_equal(guide[15], anchors[1])
    assert (guide[8] != 128).any()                                   # both fades overlap in the middle


def test_carried_frame_knobs():
    frame = np.full((4, 4, 3), (200, 100, 50), np.uint8)
    assert colour.adjust_colour(frame) is frame
    gray = colour.adjust_colour(frame, saturation=1.0 - 1.0)         # desaturate 1
    assert np.ptp(gray[0, 0].astype(int)) <= 1
    darker = colour.adjust_colour(frame, brightness=-0.5)
    assert tuple(darker[0, 0]) == (100, 50, 25)
    weaker = colour.adjust_colour(frame, strength=-0.5)
    assert tuple(weaker[0, 0]) == (164, 114, 89)


def test_fit_frame_crops_to_the_aspect_ratio():
    frame = np.zeros((50, 200, 3), np.uint8)
    frame[:, 75:125] = 255                       # a white middle band
    out = fit_frame(frame, (64, 64))
    assert out.shape == (64, 64, 3)
    assert out[:, 20:44].mean() > 200            # the centre survived the crop


def test_stitch_cross_fades_solid_clips_with_raised_cosine(tmp_path):
    a = solid_clip(tmp_path / "a.mp4", (200, 200, 200), 17, SIZE)
    b = solid_clip(tmp_path / "b.mp4", (40, 40, 40), 17, SIZE)
    c = solid_clip(tmp_path / "c.mp4", (120, 120, 120), 17, SIZE)
    out = tmp_path / "final.mp4"
    total = stitch_clips([a, b, c], [4, 4], out, expected_lengths=[17, 17, 17], crf=0, preset="ultrafast")
    assert total == 51 - 8
    frames = read_frames(out)
    assert len(frames) == 43 == count_frames(out)
    values = [float(f.mean()) for f in frames]
    assert all(abs(v - 200) < 2.5 for v in values[:13])
    w = crossfade_weights(4)
    for k in range(4):
        assert abs(values[13 + k] - (200 * (1 - w[k]) + 40 * w[k])) < 2.5, k
    assert abs(values[16] - 40) < 2.5                               # last blended frame: fully the new clip
    assert all(abs(v - 40) < 2.5 for v in values[17:26])            # 17 - 4 - 4 copied frames
    for k in range(4):
        assert abs(values[26 + k] - (40 * (1 - w[k]) + 120 * w[k])) < 2.5, k
    assert all(abs(v - 120) < 2.5 for v in values[30:])


def test_stitch_zero_overlap_concatenates_in_order(tmp_path):
    a = numbered_clip(tmp_path / "a.mp4", 30, 9, SIZE)
    b = numbered_clip(tmp_path / "b.mp4", 130, 5, SIZE)
    out = tmp_path / "final.mp4"
    assert stitch_clips([a, b], [0], out, crf=0, preset="ultrafast") == 14
    values = [float(f.mean()) for f in read_frames(out)]
    expected = [30 + 6 * t for t in range(9)] + [130 + 6 * t for t in range(5)]
    assert len(values) == len(expected)
    assert all(abs(v - e) < 2.5 for v, e in zip(values, expected)), values


def test_stitch_upscales_and_names_a_short_clip(tmp_path):
    a = solid_clip(tmp_path / "a.mp4", (90, 90, 90), 9, SIZE)
    b = solid_clip(tmp_path / "b.mp4", (30, 30, 30), 9, SIZE)
    out = tmp_path / "up.mp4"
    stitch_clips([a, b], [2], out, upscale_factor=2, preset="ultrafast")
    frames = read_frames(out)
    assert len(frames) == 16 and frames[0].shape == (96, 128, 3)
    with pytest.raises(StitchError, match="segment 1 .* has 9 frames; the plan says 13"):
        stitch_clips([a, b], [2], tmp_path / "bad.mp4", expected_lengths=[9, 13],
                     clip_names=["segment 0", "segment 1"])
    assert not (tmp_path / "bad.mp4").exists() and not list(tmp_path.glob("bad.partial*"))


def test_crossfade_sharpening_touches_only_mixed_frames():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    b = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    plain = crossfade_frame(a, b, 0.5)
    sharp = crossfade_frame(a, b, 0.5, sharp_amount=0.3)
    assert not np.array_equal(plain, sharp)
    assert crossfade_frame(a, b, 1.0, sharp_amount=0.3) is b


def test_lab_round_trip_and_known_values():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert np.abs(colour.lab_to_rgb(colour.rgb_to_lab(frame)).astype(int) - frame).max() <= 1
    white = colour.rgb_to_lab(np.full((1, 1, 3), 255, np.uint8))[0, 0]
    assert white == pytest.approx([100, 0, 0], abs=0.05)
    red = colour.rgb_to_lab(np.array([[[255, 0, 0]]], np.uint8))[0, 0]
    assert red == pytest.approx([53.24, 80.09, 67.20], abs=0.1)


def test_colour_match_moves_from_start_to_end_anchor():
    start = np.zeros((16, 16, 3), np.uint8); start[:] = (200, 60, 60)
    end = np.zeros((16, 16, 3), np.uint8); end[:] = (60, 60, 200)
    grey = np.full((16, 16, 3), 128, np.uint8)
    grey[::2] = 110                                          # some spread so std is not zero
    out = list(colour.colour_match_frames([grey] * 5, 5, start, end))
    start_mean, _ = colour.lab_stats(start)
    end_mean, _ = colour.lab_stats(end)
    first, _ = colour.lab_stats(out[0])
    last, _ = colour.lab_stats(out[-1])
    middle, _ = colour.lab_stats(out[2])
    assert first == pytest.approx(start_mean, abs=1.5)
    assert last == pytest.approx(end_mean, abs=1.5)
    assert middle == pytest.approx((start_mean + end_mean) / 2, abs=1.5)


def test_saturation_and_brightness():
    frame = np.full((2, 2, 3), (200, 100, 50), np.uint8)
    assert colour.adjust_colour(frame) is frame
    flat = colour.adjust_colour(frame, saturation=0.0)
    assert np.ptp(flat[0, 0].astype(int)) <= 1
    assert tuple(colour.adjust_colour(frame, brightness=-0.5)[0, 0]) == (100, 50, 25)
