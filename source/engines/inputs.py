"""Conditioning inputs as the pipelines want them: PIL images at the render size.

Images and videos arrive as PIL images, arrays, lists of them, or file paths (already local: URLs are
fetched by the handler). Images are stretched to the render size (a caller that wants the proportions
kept fits them first); videos are read with PyAV and trimmed to the frame count; a shorter one is an
error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

from PIL import Image

from ..errors import UserError
from ..media.images import ImageSource, as_pil, load_pil
from ..media.vace import grey_frame, keep_mask
from ..media.video_io import iter_frames

VideoInput = Union[Sequence[ImageSource], str, Path]


def as_image(value: ImageSource, size: tuple[int, int], field: str) -> Image.Image:
    """One RGB image at size (W, H); an error naming the field when unreadable."""
    return load_pil(value, size, fit="stretch", what=field)


def as_video(value: VideoInput, size: tuple[int, int], frames: int, field: str) -> list[Image.Image]:
    """`frames` RGB frames at size (W, H) from a list of images or a video file."""
    if isinstance(value, (str, Path)):
        path = Path(value)
        if not path.is_file():
            raise UserError(f"{field}: video not found: {value}", field=field)
        images = []
        try:
            for frame in iter_frames(path):
                images.append(Image.fromarray(frame))
                if len(images) == frames:
                    break
        except Exception as exc:  # PyAV raises its own error kinds for broken files
            raise UserError(f"{field}: cannot read video {value}: {exc}", field=field) from None
        source = f"video {value}"
    else:
        images = list(value)[:frames]
        source = "the list given"
    if len(images) < frames:
        raise UserError(f"{field}: {source} has {len(images)} frames, the render needs {frames}", field=field)
    # frames that share one image (a guide's grey, a mask's black and white) stay shared: a copy each
    # would hold the whole video again
    fitted: dict[int, Image.Image] = {}
    out = []
    for image in images:
        key = id(image)
        if key not in fitted:
            fitted[key] = as_image(image, size, field)
        out.append(fitted[key])
    return out


def guide_from_images(start: Optional[Image.Image], end: Optional[Image.Image], frames: int,
                      size: tuple[int, int]) -> tuple[list[Image.Image], list[Image.Image]]:
    """A VACE guide and mask keeping the given first/last frames and inventing the rest."""
    guide = as_pil([grey_frame(size)] * frames)
    kept = []
    if start is not None:
        guide[0] = start
        kept.append(0)
    if end is not None:
        guide[-1] = end
        kept.append(frames - 1)
    mask = as_pil(keep_mask(frames, kept, size))
    return guide, mask


def guide_and_mask(start, end, guide_video, mask_video, frames: int, size) -> tuple[list, Optional[list]]:
    """A VACE render's guide and mask at size (W, H): the given ones, else built from the start/end
    images (kept frames black); given start/end images replace the guide's first/last frame and are
    kept. The mask is None for a guide given without one."""
    if guide_video is not None:
        guide = as_video(guide_video, size, frames, "guide video")
        mask = as_video(mask_video, size, frames, "mask video") if mask_video is not None else None
        if start is not None or end is not None:
            _, image_mask = guide_from_images(start, end, frames, size)
            mask = mask or image_mask
            for index, image in ((0, start), (-1, end)):
                if image is not None:
                    guide[index], mask[index] = image, image_mask[index]
        return guide, mask
    if mask_video is not None:
        guide, _ = guide_from_images(start, end, frames, size)
        return guide, as_video(mask_video, size, frames, "mask video")
    return guide_from_images(start, end, frames, size)
