"""Pose detection on a real photograph (scikit-image's astronaut) and the OpenPose-style skeleton."""
from __future__ import annotations

import numpy as np
import pytest

from source.media.pose import (COLOURS, KEYPOINT_NAMES, LIMB_INTENSITY, LIMBS, NoPersonFound, Pose,
                               detect_pose, joint_pixel, render_skeleton)
from tests.helpers.perspective import astronaut


@pytest.fixture(scope="module")
def astronaut_pose() -> Pose:
    return detect_pose(astronaut())  # one MediaPipe graph per process; made once here


def test_head_and_shoulders_found_where_they_are(astronaut_pose):
    nose = astronaut_pose.point("nose")
    right = astronaut_pose.point("right_shoulder")   # the person's right: image left
    left = astronaut_pose.point("left_shoulder")
    neck = astronaut_pose.point("neck")
    for name, (x, y, c) in {"nose": nose, "right_shoulder": right, "left_shoulder": left, "neck": neck}.items():
        assert c > 0.9, f"{name} confidence {c}"
    # measured MediaPipe 0.10.21 positions on this photo (normalised): nose ~(0.44, 0.25),
    # shoulders ~(0.22, 0.47) and (0.60, 0.50)
    assert nose[:2] == pytest.approx((0.44, 0.24), abs=0.05)
    assert right[:2] == pytest.approx((0.22, 0.47), abs=0.05)
    assert left[:2] == pytest.approx((0.60, 0.50), abs=0.05)
    assert neck[:2] == pytest.approx(((left[0] + right[0]) / 2, (left[1] + right[1]) / 2), abs=1e-6)
    for name in ("right_eye", "left_eye", "right_ear", "left_ear"):
        x, y, c = astronaut_pose.point(name)
        assert c > 0.9 and 0.15 < y < 0.3, name
    # eyes sit above the nose and between the ears
    assert astronaut_pose.point("right_eye")[1] < nose[1]
    assert astronaut_pose.point("right_ear")[0] < astronaut_pose.point("left_ear")[0]


def test_out_of_frame_points_are_absent(astronaut_pose):
    # the photo ends at the chest: ankles and knees are below the frame
    for name in ("right_ankle", "left_ankle", "right_knee", "left_knee"):
        assert astronaut_pose.point(name) == (0.0, 0.0, 0.0), name


def test_skeleton_has_openpose_colours_at_the_joints(astronaut_pose):
    width, height = 512, 512
    canvas = render_skeleton(astronaut_pose, width, height)
    assert canvas.shape == (height, width, 3) and canvas.dtype == np.uint8
    drawn = 0
    for index, name in enumerate(KEYPOINT_NAMES):
        x, y, c = astronaut_pose.point(name)
        if c == 0:
            continue
        px, py = joint_pixel(astronaut_pose, name, width, height)
        expected = np.array(COLOURS[index]) * c
        assert np.abs(canvas[py, px].astype(int) - expected).max() <= 2, (name, canvas[py, px], expected)
        drawn += 1
    assert drawn >= 9  # nose, neck, both shoulders, eyes, ears at least
    # the neck->right-shoulder limb (limb 0, red at 60 %) shows halfway between the two joints
    i, j = LIMBS[0]
    a, b = joint_pixel(astronaut_pose, KEYPOINT_NAMES[i], width, height), \
        joint_pixel(astronaut_pose, KEYPOINT_NAMES[j], width, height)
    mid = canvas[(a[1] + b[1]) // 2, (a[0] + b[0]) // 2].astype(int)
    assert mid[0] == pytest.approx(255 * LIMB_INTENSITY * astronaut_pose.keypoints[[i, j], 2].min(), abs=3)
    assert mid[1] <= 3 and mid[2] <= 3
    # background stays black: a corner far from the person
    assert canvas[:20, :20].max() == 0


def test_no_person_in_a_flat_image_is_a_clear_error():
    with pytest.raises(NoPersonFound, match="no person"):
        detect_pose(np.full((128, 128, 3), 90, dtype=np.uint8))


def test_pose_json_round_trip(astronaut_pose):
    again = Pose.from_json(astronaut_pose.to_json())
    assert np.allclose(again.keypoints, astronaut_pose.keypoints, atol=1e-5)


def test_small_images_are_enlarged_for_detection():
    from PIL import Image

    # 64x48 (the centre of a 64x64 copy): MediaPipe alone finds nobody in it
    small = np.asarray(Image.fromarray(astronaut()).resize((64, 64), Image.LANCZOS))[8:56]
    pose = detect_pose(small)
    x, y, c = pose.point("nose")
    assert c > 0.9 and (x, y) == pytest.approx((0.43, (0.25 * 64 - 8) / 48), abs=0.05)
