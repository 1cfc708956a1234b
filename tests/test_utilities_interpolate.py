"""Frame interpolation between two images (optical-flow warping, cross-fade)."""
from __future__ import annotations

import numpy as np
import pytest

from source.media.interpolate import frame_times, interpolate_frames
from tests.helpers.perspective import square_image

SIZE = (96, 64)


def _centre_x(frame: np.ndarray) -> float:
    """Column centre of the red square (red channel well above green)."""
    red = (frame[..., 0].astype(int) - frame[..., 1].astype(int)) > 100
    cols = np.nonzero(red.any(axis=0))[0]
    return float(cols.mean())


def test_frame_times_include_both_ends():
    assert frame_times(5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError, match=">= 2"):
        frame_times(1)


@pytest.mark.parametrize("method", ["flow", "blend"])
def test_endpoints_are_the_inputs_exactly(method):
    a, b = square_image(SIZE, 10, 20), square_image(SIZE, 40, 24)
    frames = list(interpolate_frames(a, b, 7, method))
    assert len(frames) == 7
    assert np.array_equal(frames[0], a) and np.array_equal(frames[-1], b)


def test_flow_moves_the_square_halfway_instead_of_ghosting():
    # the square (16 px) moves 12 px right; flow methods need the two positions to overlap
    a, b = square_image(SIZE, 14, 24), square_image(SIZE, 26, 24)
    frames = list(interpolate_frames(a, b, 5, "flow"))
    centres = [_centre_x(f) for f in frames]
    assert centres[0] == pytest.approx(21.5) and centres[-1] == pytest.approx(33.5)
    assert centres[2] == pytest.approx(27.5, abs=1.5)        # halfway along
    assert centres[1] < centres[2] < centres[3]
    # a cross-fade instead shows two half-bright squares at the midpoint: no solid square halfway
    blend_mid = list(interpolate_frames(a, b, 5, "blend"))[2]
    # (blend: the columns only one square covers are half-bright; flow: the middle square is solid)
    assert (blend_mid[24:40, 14:26, 0].astype(int) - blend_mid[24:40, 14:26, 1]).max() < 100
    flow_mid = frames[2]
    assert (flow_mid[26:38, 22:34, 0].astype(int) - flow_mid[26:38, 22:34, 1]).min() > 100


def test_rife_is_refused_plainly():
    a = square_image(SIZE, 10, 20)
    with pytest.raises(ValueError, match="rife.*not implemented"):
        list(interpolate_frames(a, a, 3, "rife"))
