"""Body pose: keypoints from a photo (MediaPipe, bundled model), keypoint interpolation, skeleton drawing.

A `Pose` is the 18-point OpenPose body layout (the order ControlNet/VACE pose guides use):

    0 nose, 1 neck, 2 right shoulder, 3 right elbow, 4 right wrist, 5 left shoulder, 6 left elbow,
    7 left wrist, 8 right hip, 9 right knee, 10 right ankle, 11 left hip, 12 left knee, 13 left ankle,
    14 right eye, 15 left eye, 16 right ear, 17 left ear

as an (18, 3) array of x, y (normalised to 0..1 of the image width/height) and a confidence in 0..1.
Confidence 0 means "not there"; the renderer draws a point with its colour scaled by its confidence, so a
point that fades out of an interpolation also fades out of the picture.

Detection uses MediaPipe's legacy `solutions.pose` (mediapipe 0.10.x ships `pose_detection.tflite` and
`pose_landmark_full.tflite` inside the wheel, so nothing is downloaded). One detector per process, made
on first use and guarded by a lock (a MediaPipe graph must not run two images at once). MediaPipe's
C++ side (absl, TensorFlow Lite) writes its notices straight to file descriptor 2; they are caught while
it works and logged at DEBUG (`--debug` shows them).
"""
from __future__ import annotations

import logging
import math
import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from ..errors import InvalidParams
from .easing import ease

KEYPOINT_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)

# OpenPose index -> MediaPipe Pose landmark index (the neck, 1, is the middle of the shoulders).
_MEDIAPIPE_INDEX = {
    0: 0, 2: 12, 3: 14, 4: 16, 5: 11, 6: 13, 7: 15, 8: 24, 9: 26, 10: 28,
    11: 23, 12: 25, 13: 27, 14: 5, 15: 2, 16: 8, 17: 7,
}
_MP_LEFT_SHOULDER, _MP_RIGHT_SHOULDER = 11, 12

# The limbs in the order OpenPose draws them, and the colour sequence it uses (RGB). Limb i takes
# colour i; keypoint j takes colour j.
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)
LIMB_INTENSITY = 0.6  # limbs are drawn dimmer than the joints, as in OpenPose renderings

DEFAULT_MIN_VISIBILITY = 0.5  # MediaPipe landmarks below this visibility count as absent
# MediaPipe's person detector misses people in very small images (a 64x48 crop of the astronaut photo:
# nobody; the same crop enlarged 4x: found). Landmarks are normalised, so enlarging changes nothing else.
MIN_DETECTION_SIDE = 256


class NoPersonFound(InvalidParams):
    """Pose detection found nobody in the image: an input a person must change (the message names the
    image, and the field that gave it when the caller says)."""


@dataclass
class Pose:
    keypoints: np.ndarray  # (18, 3) float: x, y normalised, confidence 0..1

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64)
        if self.keypoints.shape != (NUM_KEYPOINTS, 3):
            raise ValueError(f"a pose has shape ({NUM_KEYPOINTS}, 3), got {self.keypoints.shape}")

    @property
    def present(self) -> np.ndarray:
        return self.keypoints[:, 2] > 0

    def point(self, name: str) -> tuple[float, float, float]:
        x, y, c = self.keypoints[KEYPOINT_NAMES.index(name)]
        return float(x), float(y), float(c)

    def to_json(self) -> dict:
        return {name: [round(float(v), 5) for v in self.keypoints[i]] for i, name in enumerate(KEYPOINT_NAMES)}

    @classmethod
    def from_json(cls, data: dict) -> "Pose":
        return cls(np.array([data.get(name, [0.0, 0.0, 0.0]) for name in KEYPOINT_NAMES], dtype=np.float64))


# ---- detection ----------------------------------------------------------------------------------------

_detector = None
_detector_lock = threading.Lock()
log = logging.getLogger(__name__)
_OUR_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # a line of source/log.py's format


@contextmanager
def _native_notices_at_debug() -> Iterator[None]:
    """Catch what native code writes to file descriptor 2 meanwhile and log it at DEBUG. Log lines
    of this program written meanwhile (other threads) are passed through unchanged."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to keep quiet
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode("utf-8", errors="replace").splitlines():
                if _OUR_LOG_LINE.match(line):
                    print(line, file=sys.stderr)
                elif line.strip():
                    log.debug("mediapipe: %s", line)


def _get_detector():
    global _detector
    if _detector is None:
        import mediapipe as mp  # imported late: it pulls in a lot and only pose work needs it

        # model_complexity=1 is pose_landmark_full.tflite, the model the wheel carries (2 would download).
        _detector = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1,
                                           enable_segmentation=False, min_detection_confidence=0.5)
    return _detector


def pose_from_landmarks(landmarks: Sequence, min_visibility: float = DEFAULT_MIN_VISIBILITY) -> Pose:
    """MediaPipe's 33 landmarks (objects with x, y, visibility) -> the 18-point OpenPose layout.

    A point is kept (confidence = visibility) when it is visible enough and inside the image.
    """
    def keep(lm) -> float:
        inside = 0.0 <= lm.x <= 1.0 and 0.0 <= lm.y <= 1.0
        return float(lm.visibility) if inside and lm.visibility >= min_visibility else 0.0

    points = np.zeros((NUM_KEYPOINTS, 3))
    for ours, theirs in _MEDIAPIPE_INDEX.items():
        lm = landmarks[theirs]
        points[ours] = (lm.x, lm.y, keep(lm))
    left, right = landmarks[_MP_LEFT_SHOULDER], landmarks[_MP_RIGHT_SHOULDER]
    neck_conf = min(keep(left), keep(right))
    points[1] = ((left.x + right.x) / 2, (left.y + right.y) / 2, neck_conf)
    points[points[:, 2] == 0] = 0.0  # absent points carry no stale coordinates
    return Pose(points)


def detect_pose(image: np.ndarray, min_visibility: float = DEFAULT_MIN_VISIBILITY, *, what: str = "the image",
                field: Optional[str] = None) -> Pose:
    """Body keypoints of the most prominent person in an RGB uint8 image; NoPersonFound if none.

    `what` names the image in that error ("no person found in hero.png"), `field` the parameter that
    gave it (the message then starts with "<field>: ").
    """
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"detect_pose needs an HxWx3 RGB image, got shape {image.shape}")
    short = min(image.shape[:2])
    if short < MIN_DETECTION_SIDE:
        from PIL import Image

        factor = MIN_DETECTION_SIDE / short
        size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
        image = np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))
    with _detector_lock, _native_notices_at_debug():
        result = _get_detector().process(image)
    prefix = f"{field}: " if field else ""
    if result.pose_landmarks is None:
        raise NoPersonFound(f"{prefix}no person found in {what}", field=field)
    pose = pose_from_landmarks(result.pose_landmarks.landmark, min_visibility)
    if not pose.present.any():
        raise NoPersonFound(f"{prefix}a person was detected in {what} but no keypoint is visible enough",
                            field=field)
    return pose


# ---- interpolation ------------------------------------------------------------------------------------

def interpolate_pose(start: Pose, end: Pose, t: float) -> Pose:
    """The pose a fraction t (0..1, already eased) of the way from start to end.

    Points present on both sides move in a straight line and blend their confidence. A point present on
    one side only stays where it is and fades: out (confidence * (1 - t)) if only the start has it,
    in (confidence * t) if only the end has it.
    """
    a, b = start.keypoints, end.keypoints
    out = np.zeros_like(a)
    both = (a[:, 2] > 0) & (b[:, 2] > 0)
    only_a = (a[:, 2] > 0) & ~both
    only_b = (b[:, 2] > 0) & ~both
    out[both] = a[both] * (1 - t) + b[both] * t
    out[only_a, :2] = a[only_a, :2]
    out[only_a, 2] = a[only_a, 2] * (1 - t)
    out[only_b, :2] = b[only_b, :2]
    out[only_b, 2] = b[only_b, 2] * t
    out[out[:, 2] <= 0] = 0.0  # a point faded to nothing is absent, like an undetected one
    return Pose(out)


def interpolate_poses(start: Pose, end: Pose, frames: int, easing: str = "linear") -> list[Pose]:
    """`frames` poses from start (first) to end (last) inclusive, timed by an easing curve
    (source/media/easing.py; an unknown name is a ValueError)."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    return [interpolate_pose(start, end, ease(easing, k / max(frames - 1, 1))) for k in range(frames)]


def pose_guide_frames(image: np.ndarray, start: Pose, end: Pose, frames: int,
                      easing: str = "ease_in_out") -> list[np.ndarray]:
    """A pose guide video: frame 0 the image itself, then skeletons moving from `start` to `end` (the
    last frame), drawn at the image's size."""
    height, width = image.shape[:2]
    poses = interpolate_poses(start, end, frames, easing)
    return [image] + [render_skeleton(pose, width, height) for pose in poses[1:]]


# ---- drawing ------------------------------------------------------------------------------------------

def _scaled(colour: Sequence[int], factor: float) -> tuple[int, int, int]:
    return tuple(int(round(c * factor)) for c in colour)


def render_skeleton(pose: Pose, width: int, height: int, stick_width: Optional[int] = None,
                    joint_radius: Optional[int] = None, min_confidence: float = 0.01) -> np.ndarray:
    """The pose drawn OpenPose-style on black: RGB uint8 (height, width, 3).

    Limbs are filled ellipses in the OpenPose colour order at 60 % intensity, joints are discs in full
    colour drawn on top; both are scaled by the confidence of their points (limbs by the smaller one).
    """
    import cv2

    scale = max(width, height) / 512.0
    stick = stick_width or max(2, int(round(4 * scale)))
    radius = joint_radius or max(2, int(round(4 * scale)))
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    pts = pose.keypoints
    xy = np.stack([pts[:, 0] * width, pts[:, 1] * height], axis=1)

    for index, (i, j) in enumerate(LIMBS):
        weight = min(pts[i, 2], pts[j, 2])
        if weight < min_confidence:
            continue
        (x1, y1), (x2, y2) = xy[i], xy[j]
        length = math.hypot(x2 - x1, y2 - y1)
        angle = math.degrees(math.atan2(y2 - y1, x2 - x1))
        centre = (int(round((x1 + x2) / 2)), int(round((y1 + y2) / 2)))
        polygon = cv2.ellipse2Poly(centre, (max(1, int(round(length / 2))), stick), int(round(angle)), 0, 360, 1)
        cv2.fillConvexPoly(canvas, polygon, _scaled(COLOURS[index], LIMB_INTENSITY * min(weight, 1.0)),
                           lineType=cv2.LINE_AA)

    for j in range(NUM_KEYPOINTS):
        weight = pts[j, 2]
        if weight < min_confidence:
            continue
        centre = (int(round(xy[j, 0])), int(round(xy[j, 1])))
        cv2.circle(canvas, centre, radius, _scaled(COLOURS[j], min(weight, 1.0)), thickness=-1)
    return canvas


def joint_pixel(pose: Pose, name: str, width: int, height: int) -> tuple[int, int]:
    """Where the renderer puts a keypoint: (x, y) pixel."""
    x, y, _ = pose.point(name)
    return int(round(x * width)), int(round(y * height))
