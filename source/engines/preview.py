"""The preview engine: no model at all. It shows where a render's known frames land and how long it
runs, on any CPU, in seconds, before anyone pays for GPU time.

A render's inputs become a VACE guide and mask as for any engine (start/end images, or a guide video
and mask); the frames the mask keeps stay as they are, and the frames a model would invent are filled
by optical-flow morphs between the kept frames around them (source/media/interpolate.py `morph_gaps`).
Frames with a kept frame on one side only show the guide there (a pose or depth guide) or repeat the
nearest kept frame; frames between two kept ones whose guide holds a picture (a travel's structure guide)
show it half over the morph. Where it shows a pose or depth guide and a reference image is given (a character
to re-pose), the preview draws the guide over the reference, dimmed: who, in which pose.
A render with nothing to keep (text only) is a grey card that says it is a preview and shows the prompt.

Everything it makes says so: the log line of every render, the rows' progress messages (the worker's
render steps read "(preview)"), and the video file's title tag (`PREVIEW_TITLE`). Prompts, seeds,
steps and LoRAs are not used; of the reference images, the first is shown under a pose or depth guide.
"""
from __future__ import annotations

import logging
import textwrap
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..media.interpolate import is_flat_grey, morph_gaps
from ..media.vace import GUIDE_GREY

log = logging.getLogger(__name__)

PREVIEW_TITLE = "preview: optical-flow morph between the known frames, no model"


def mask_keeps(mask_frame) -> bool:
    """A mask frame that keeps its guide frame (black: keep, white: generate)."""
    return float(np.asarray(mask_frame).mean()) < 128.0


def render(guide: Sequence, mask: Optional[Sequence], *, prompt: str = "", reference: Optional[Image.Image] = None,
           progress_callback: Optional[Callable[[int, int], None]] = None) -> list[np.ndarray]:
    """The preview's frames (H x W x 3 uint8), one per guide frame. Without a mask, the guide's flat
    grey frames are the ones to fill (VACE's reading of a guide). `reference` (the guide's size) is
    shown, dimmed, under the generated frames that hold a pose or depth guide."""
    frames = _shared_arrays(guide)
    kept = [mask_keeps(m) for m in mask] if mask is not None else [not is_flat_grey(f) for f in frames]
    if not any(kept) and all(is_flat_grey(frame, tolerance=0) for frame in frames):
        log.info("PREVIEW (no model): %d frame(s) of a card with the prompt (nothing to keep)", len(frames))
        card = title_card(frames[0].shape[1], frames[0].shape[0], prompt)
        if progress_callback is not None:
            progress_callback(len(frames), len(frames))
        return [card] * len(frames)
    log.info("PREVIEW (no model): %d frames, %d kept, the others filled by morphs between them", len(frames),
             sum(kept))
    video = morph_gaps(frames, kept, progress=progress_callback)
    # frames to invent between two kept ones whose guide holds a picture (a structure guide: flow, edges,
    # depth): the guide shows over the morph, as a model would follow it
    video = [blend_guide(out, frame) if out is not frame and not keep and not is_flat_grey(frame) else out
             for frame, keep, out in zip(frames, kept, video, strict=False)]
    if reference is not None:
        under = np.asarray(reference.convert("RGB"), dtype=np.float32) * REFERENCE_DIM
        # the frames morph_gaps left showing the guide (a picture on one side of the kept frames only)
        video = [over_reference(frame, under) if out is frame and not keep else out
                 for frame, keep, out in zip(frames, kept, video, strict=False)]
    return video


def _shared_arrays(guide: Sequence) -> list[np.ndarray]:
    """The guide's frames as RGB uint8 arrays; frames that share one image share one array (a guide is
    mostly one grey frame repeated: a copy per frame would hold the whole video once more)."""
    arrays: dict[int, np.ndarray] = {}
    frames = []
    for frame in guide:
        key = id(frame)
        if key not in arrays:
            image = frame.convert("RGB") if isinstance(frame, Image.Image) and frame.mode != "RGB" else frame
            arrays[key] = np.asarray(image, dtype=np.uint8)
        frames.append(arrays[key])
    return frames


REFERENCE_DIM = 0.55      # how bright the reference shows under a guide
GUIDE_OVER_MORPH = 0.5    # how strongly a structure guide shows over the morph between kept frames


def blend_guide(morph: np.ndarray, guide_frame: np.ndarray) -> np.ndarray:
    mixed = (1.0 - GUIDE_OVER_MORPH) * morph.astype(np.float32) + GUIDE_OVER_MORPH * guide_frame.astype(np.float32)
    return np.clip(mixed.round(), 0, 255).astype(np.uint8)
GUIDE_INK = 40            # a guide pixel brighter than this (any channel) is drawn over the reference


def over_reference(guide_frame: np.ndarray, dimmed_reference: np.ndarray) -> np.ndarray:
    """A pose or depth guide frame drawn over the dimmed reference: the guide's bright pixels, the
    reference elsewhere (a skeleton on black leaves the character visible around it)."""
    ink = guide_frame.max(axis=2, keepdims=True) > GUIDE_INK
    return np.where(ink, guide_frame, dimmed_reference).astype(np.uint8)


def title_card(width: int, height: int, prompt: str) -> np.ndarray:
    """A grey frame reading "PREVIEW (no model)" and the prompt: what a text-only render previews as."""
    image = Image.new("RGB", (width, height), (GUIDE_GREY,) * 3)
    draw = ImageDraw.Draw(image)
    columns = max(8, width // 7)
    lines = ["PREVIEW (no model)", ""] + textwrap.wrap(prompt or "(no prompt)", columns)[: max(1, height // 14 - 3)]
    draw.multiline_text((6, 6), "\n".join(lines), fill=(255, 255, 255), spacing=3)
    return np.asarray(image, dtype=np.uint8)


class PreviewEngine:
    """The preview engine (source/engines/registry.py): no model is loaded; the guide and mask are built
    from the inputs as for VACE and the frames to invent are morphs between the kept frames."""

    name = "preview"

    def check(self, settings) -> None:
        """Nothing to check: it needs no weights and no device."""

    def serves(self, request) -> Optional[str]:
        from .models import lookup_model

        lookup_model(request.model)  # an unknown name fails here as with every engine
        return None

    def load(self, request, settings) -> None:
        return None

    def render(self, request, settings, progress_callback=None):
        from ..media.frames import WAN_FPS
        from ..media.video_io import save_png, write_video
        from .inputs import as_image, guide_and_mask

        size = request.size
        start = as_image(request.start_image, size, "start image") if request.start_image is not None else None
        end = as_image(request.end_image, size, "end image") if request.end_image is not None else None
        guide, mask = guide_and_mask(start, end, request.guide_video, request.mask_video, request.frames, size)
        reference = as_image(request.reference_images[0], size, "reference image") if request.reference_images else None
        last_step = [request.frames, request.frames]

        def on_step(step: int, total: int) -> None:
            last_step[:] = [step, total]
            progress_callback(step, total)

        video = render(guide, mask, prompt=request.prompt, reference=reference,
                       progress_callback=on_step if progress_callback is not None else None)
        del guide, mask
        if request.writes_png:
            return save_png(video[0], request.output_path)
        check = (lambda: progress_callback(*last_step)) if progress_callback is not None else None
        return write_video(_handed_over(video, check), request.output_path, fps=WAN_FPS, title=PREVIEW_TITLE)


def _handed_over(frames: list, check: Optional[Callable[[], None]]) -> Iterator:
    """The frames, each dropped from the list as it goes to the encoder (memory falls as the video is
    written), with check() before each: it repeats the render's last progress report, which raises
    on a cancel, so a cancel stops the encode within one frame."""
    for k in range(len(frames)):
        frame, frames[k] = frames[k], None
        if check is not None:
            check()
        yield frame


ENGINE = PreviewEngine()
