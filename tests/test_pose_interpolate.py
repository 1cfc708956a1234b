"""Keypoint interpolation between two poses: endpoints, linear midpoints, easing, one-sided fades."""
from __future__ import annotations

import numpy as np
import pytest

from source.media.pose import NUM_KEYPOINTS, Pose, interpolate_poses, render_skeleton


def _pose(points: dict[int, tuple[float, float, float]]) -> Pose:
    array = np.zeros((NUM_KEYPOINTS, 3))
    for index, value in points.items():
        array[index] = value
    return Pose(array)


START = _pose({0: (0.2, 0.2, 1.0), 1: (0.3, 0.4, 0.8), 2: (0.1, 0.9, 1.0)})   # 2 only here
END = _pose({0: (0.6, 0.8, 1.0), 1: (0.5, 0.4, 1.0), 5: (0.7, 0.3, 1.0)})     # 5 only here


def test_endpoints_equal_the_inputs():
    poses = interpolate_poses(START, END, 9)
    assert len(poses) == 9
    assert np.allclose(poses[0].keypoints, START.keypoints)
    assert np.allclose(poses[-1].keypoints, END.keypoints)


def test_linear_midpoint_is_halfway():
    mid = interpolate_poses(START, END, 5)[2]
    assert mid.keypoints[0] == pytest.approx((0.4, 0.5, 1.0))
    assert mid.keypoints[1] == pytest.approx((0.4, 0.4, 0.9))


def test_eased_timing_starts_slow_and_meets_linear_at_the_middle():
    linear = interpolate_poses(START, END, 9, "linear")
    eased = interpolate_poses(START, END, 9, "ease_in_out")
    # a quarter of the way in, ease_in_out has covered less ground than linear
    assert abs(eased[2].keypoints[0, 0] - 0.2) < abs(linear[2].keypoints[0, 0] - 0.2)
    assert eased[4].keypoints[0] == pytest.approx(linear[4].keypoints[0])
    assert np.allclose(eased[-1].keypoints, END.keypoints)
    with pytest.raises(ValueError, match="unknown easing"):
        interpolate_poses(START, END, 3, "bounce")


def test_one_sided_points_fade_in_place():
    poses = interpolate_poses(START, END, 5)
    out_conf = [p.keypoints[2, 2] for p in poses]   # only in START: fades out
    in_conf = [p.keypoints[5, 2] for p in poses]    # only in END: fades in
    assert out_conf == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    assert in_conf == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    for p in poses[:-1]:
        assert tuple(p.keypoints[2, :2]) == pytest.approx((0.1, 0.9))  # it does not move
    for p in poses[1:]:
        assert tuple(p.keypoints[5, :2]) == pytest.approx((0.7, 0.3))
    # absent on both sides stays absent
    assert all(p.keypoints[10, 2] == 0 for p in poses)


def test_a_fading_point_fades_in_the_picture():
    poses = interpolate_poses(START, END, 5)
    brightness = []
    for p in poses:
        canvas = render_skeleton(p, 100, 100)
        brightness.append(int(canvas[90, 10].max()))  # keypoint 2 sits at (10, 90)
    assert brightness[0] > brightness[1] > brightness[2] > brightness[3]
    assert brightness[-1] == 0
