"""The render bridge: `generate_single_video` is the only way handlers render.

    generate_single_video(request: RenderRequest, *, settings, progress_callback=None) -> Path
    generate_single_video(*, settings, progress_callback=None, model=..., prompt=..., output_path=..., ...)

A workflow hands it a `RenderRequest` (source/engines/request.py): frozen, with the frame count already
snapped to 4k+1 and the resolution to multiples of 16. The keyword form builds that request from the
same names (`RenderRequest.build`: model, prompt, output_path, negative_prompt, resolution, frames, seed,
steps, guidance_scale, flow_shift, start_image, end_image, guide_video, mask_video, reference_images,
loras, use_causvid_lora, use_lighti2x_lora, use_lightning_lora, phases, engine, wgp_settings), so every
handler can call it either way.
`settings` is the worker's `Settings` object, given by the caller: the bridge never reads settings itself.

What it does, in order: pick the engine by name (source/engines/choice.py: the request's engine > the
worker's --engine > auto) from the registry (source/engines/registry.py), ask it whether it serves the
request (one line and UserError when not), and have it render with `progress_callback(step, total)`
after every denoising step; the engine writes an H.264 mp4 at 16 fps, or a PNG when `output_path` ends
in .png and frames == 1. Returns that path.

If `progress_callback` raises (e.g. TaskCancelled), the render stops at that step boundary, the
exception propagates, and nothing is written at `output_path`.

Errors a user understands: UserError for bad input (unknown model -> UnknownModel listing the known
ones; bad resolution; images a model cannot take), MissingWeights (the model and every place looked),
LoraError (a LoRA not found or not applicable; LoraFetchError when its URL did not answer, which is
transient), EngineUnavailable (wan2gp). Each belongs to the error family of source/errors.py.

The engines: diffusers and tiny (source/engines/local.py: given value > model default for steps /
guidance / flow shift; the accelerator LoRAs set them: causvid 9 / 1.0 / 1.0, lighti2x 5 / 1.0 / 5.0;
lightning: two phases of 2 steps, guidance 1.0, shift 5.0, euler, its HIGH file "1;0" and LOW file "0;1";
tiny defaults to 4 steps; two-expert models (Wan 2.2 A14B) take `phases` and LoRA strengths per phase, and
the tiny engine stands in with a two-expert tiny model for them), preview (source/engines/preview.py: no
model, the known frames morphed into each other), wan2gp (source/engines/wan2gp/: a helper process; Wan2GP supplies its own model defaults,
and `wgp_settings` reach it; other engines ignore them with a warning).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Optional

from .config import Settings
from .engines.choice import choose_engine
from .engines.registry import engine_named
from .engines.request import RenderRequest
from .errors import UserError

log = logging.getLogger(__name__)


class CannotServe(UserError):
    """The chosen engine cannot render this request (a model it does not serve, inputs a model cannot take)."""


def generate_single_video(request: Optional[RenderRequest] = None, *, settings: Settings,
                          progress_callback: Optional[Callable[[int, int], None]] = None, **fields: Any) -> Path:
    """Render `request` (or the request `RenderRequest.build(**fields)` makes) with the engine chosen for
    it; returns the written file's path."""
    if request is None:
        request = RenderRequest.build(**fields)
    elif fields:
        raise TypeError(f"generate_single_video takes a request or its fields, not both ({', '.join(fields)})")
    name = choose_engine(request.engine, settings)
    engine = engine_named(name)
    problem = engine.serves(request)
    if problem:
        raise CannotServe(problem)
    if request.wgp_settings and name != "wan2gp":
        log.warning("wgp_settings (%s) apply to engine wan2gp only; ignored by engine %s",
                    ", ".join(sorted(request.wgp_settings)), name)
    return engine.render(request, settings, progress_callback)
