"""Frame and resolution arithmetic shared by the bridge and every workflow (one place)."""
from __future__ import annotations

import re
from typing import Sequence, Union

WAN_FPS = 16  # Wan models' native frame rate; guides, masks and outputs all run at it
DEFAULT_RESOLUTION = "832x480"  # Wan 480p: what a render is when nobody says otherwise

_RES = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def snap_frames(n: int) -> int:
    """Wan generates 4k+1 frames: (n // 4) * 4 + 1 (10 -> 9, 81 -> 81, 1 -> 1)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"frame count must be an integer, got {n!r}")
    if n < 1:
        raise ValueError(f"frame count must be >= 1, got {n}")
    return (n // 4) * 4 + 1


def parse_resolution(value: Union[str, Sequence[int]]) -> tuple[int, int]:
    """'WxH' or [W, H] -> (W, H) as given (positive integers)."""
    if isinstance(value, str):
        match = _RES.match(value)
        if not match:
            raise ValueError(f"resolution must look like '{DEFAULT_RESOLUTION}', got {value!r}")
        width, height = int(match.group(1)), int(match.group(2))
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        width, height = value
    else:
        raise ValueError(f"resolution must be 'WxH' or [W, H], got {value!r}")
    if width <= 0 or height <= 0:
        raise ValueError(f"resolution must be positive, got {width}x{height}")
    return width, height


def snap_resolution(value: Union[str, Sequence[int]]) -> tuple[int, int]:
    """Parse and floor both sides to multiples of 16 ('72x60' -> (64, 48)); at least 16x16."""
    width, height = parse_resolution(value)
    snapped = (width // 16) * 16, (height // 16) * 16
    if snapped[0] < 16 or snapped[1] < 16:
        raise ValueError(f"resolution {width}x{height} is smaller than 16x16")
    return snapped
