"""generate_single_video's arguments -> one Wan2GP task's settings (the keys of `wgp.generate_media`).

    model            -> model_type (names.py)
    prompt, negative_prompt, seed -> same keys;  resolution (W, H) -> "WxH";  frames -> video_length
    steps / guidance_scale / flow_shift -> num_inference_steps / guidance_scale / flow_shift; left out
                        when not given, so the model's own Wan2GP defaults apply (finetunes tune them)
    start / end image -> image_prompt_type "S" / "SE" + image_start / image_end (PNG files), for models
                        that take them (image_prompt_types_allowed); VACE models take them through
                        the guide instead, as on the diffusers engine
    guide / mask / reference images -> video_guide / video_mask (mp4 files at 16 fps) / image_refs
                        (PNG files) with video_prompt_type "V" + "A" (mask) + "I" (references); for
                        VACE the guide and mask are padded to the rendered length (frame_rule.py)
    loras {file: strength} + causvid / lighti2x -> activated_loras (absolute paths) + loras_multipliers
                        ("1.0 0.5"; a strength per phase "1;0"); the flags also set steps / guidance / flow shift
    phases            -> num_inference_steps, guidance_phases, guidance{,2,3}_scale, switch_threshold{,2},
                        model_switch_phase, sample_solver, flow_shift (source/engines/phases.py)
    wgp_settings      -> any other Wan2GP setting, checked against what the model accepts

Inputs arrive as PIL images, arrays or file paths; lists are written to files in a folder of their own
(Wan2GP takes file paths). Masks are written losslessly (crf 0) so black stays black.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ...media.vace import MASK_GENERATE, grey_frame
from ...media.video_io import VideoWriter, save_png
from ..inputs import as_image, as_video, guide_and_mask
from .errors import bad_input
from .keys import MANAGED_KEYS


@dataclass(frozen=True)
class ModelInfo:
    """What the helper reported about a model type (helper_main.Helper.describe)."""

    model_type: str
    name: str
    vace: bool
    guide: bool
    image_prompt_types_allowed: str
    settings_keys: frozenset
    settings_source: str

    @classmethod
    def from_reply(cls, data: dict) -> "ModelInfo":
        keys = data.get("settings_keys") or {}
        return cls(model_type=data["model_type"], name=str(data.get("name") or data["model_type"]),
                   vace=bool(data.get("vace")), guide=bool(data.get("guide")),
                   image_prompt_types_allowed=str(data.get("image_prompt_types_allowed") or ""),
                   settings_keys=frozenset(keys.get("keys") or ()), settings_source=str(keys.get("source") or ""))


def unknown_model_message(model_type: str, requested: str, known: list[str]) -> str:
    close = difflib.get_close_matches(model_type, [name for name in known if name != model_type], n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    listed, shown = [], 0
    for name in known:
        if shown + len(name) > 500:
            break
        listed.append(name)
        shown += len(name) + 2
    more = f", ... ({len(known) - len(listed)} more)" if len(listed) < len(known) else ""
    from ..models import WAN2GP_PREFIX

    via = f" (from model {requested!r})" if requested not in (model_type, WAN2GP_PREFIX + model_type) else ""
    return (f"unknown Wan2GP model type {model_type!r}{via} in this checkout{hint} known types: "
            f"{', '.join(listed)}{more}")


def check_wgp_settings(wgp_settings: Optional[dict], info: ModelInfo) -> dict:
    """Wan2GP-only settings, checked; ValueError naming the first bad key."""
    if not wgp_settings:
        return {}
    if not isinstance(wgp_settings, dict):
        raise bad_input("wgp_settings must be an object of Wan2GP settings")
    for key in wgp_settings:
        if not isinstance(key, str):
            raise bad_input(f"wgp_settings: keys must be strings, got {key!r}")
        if key in MANAGED_KEYS:
            raise bad_input(f"wgp_settings.{key}: set it with the task's own {MANAGED_KEYS[key]!r} instead")
        if info.settings_keys and key not in info.settings_keys:
            close = difflib.get_close_matches(key, sorted(info.settings_keys - {key}), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise bad_input(f"wgp_settings.{key}: not a setting of Wan2GP model {info.model_type}{hint}")
    return dict(wgp_settings)


class InputWriter:
    """Writes the conditioning inputs of one render into its own folder, as Wan2GP wants them."""

    def __init__(self, folder: Path, size: tuple[int, int]) -> None:
        self.folder = folder
        self.size = size
        folder.mkdir(parents=True, exist_ok=True)

    def image(self, value, name: str, field: str) -> str:
        path = self.folder / f"{name}.png"
        save_png(as_image(value, self.size, field), path)
        return str(path)

    def video(self, frames, name: str, crf: int) -> str:
        path = self.folder / f"{name}.mp4"
        with VideoWriter(path, crf=crf, preset="veryfast") as writer:
            for frame in frames:
                writer.write(_array(frame))
        return str(path)


def conditioning_settings(info: ModelInfo, writer: InputWriter, *, keep: int, render: int, start_image=None,
                          end_image=None, guide_video=None, mask_video=None, reference_images=None,
                          log=None) -> dict:
    """The input part of the settings: image_prompt_type / video_prompt_type and the files they name."""
    settings: dict[str, Any] = {}
    has_guide = guide_video is not None or mask_video is not None
    has_images = start_image is not None or end_image is not None
    size = writer.size
    if info.vace and (has_guide or has_images or reference_images):
        start = as_image(start_image, size, "start image") if start_image is not None else None
        end = as_image(end_image, size, "end image") if end_image is not None else None
        guide, mask = _vace_guide(guide_video, mask_video, start, end, keep, size)
        guide += [grey_frame(size)] * (render - keep)           # frames to invent past the asked length
        mask += [_generate(size)] * (render - keep)
        settings["video_guide"] = writer.video(guide, "guide", crf=10)
        settings["video_mask"] = writer.video(mask, "mask", crf=0)
        letters = "VA"
        if reference_images:
            settings["image_refs"] = [writer.image(img, f"ref{i}", "reference image")
                                      for i, img in enumerate(reference_images)]
            letters += "I"
            settings["remove_background_images_ref"] = 0  # 1 needs a segmentation model; ask in wgp_settings
        settings["video_prompt_type"] = letters
        return settings
    if has_guide:
        if not info.guide:
            raise bad_input(f"model {info.model_type} takes no guide or mask video; use a VACE model "
                            f"(vace_14B, vace_1.3B) or a Wan2GP model with control video")
        if guide_video is None:
            raise bad_input(f"model {info.model_type}: a mask video needs a guide video")
        settings["video_guide"] = writer.video(as_video(guide_video, size, keep, "guide video"), "guide", crf=10)
        letters = "V"
        if mask_video is not None:
            settings["video_mask"] = writer.video(as_video(mask_video, size, keep, "mask video"), "mask", crf=0)
            letters += "A"
        settings["video_prompt_type"] = letters
    if has_images:
        allowed = info.image_prompt_types_allowed
        if start_image is None:
            raise bad_input(f"model {info.model_type}: an end image needs a start image")
        if "S" not in allowed:
            raise bad_input(f"model {info.model_type} makes video from text only; for start/end images use "
                            f"i2v, flf2v_720p or a vace model")
        if end_image is not None and "E" not in allowed:
            raise bad_input(f"model {info.model_type} takes a start image but no end image; use flf2v_720p "
                            f"or a vace model")
        settings["image_prompt_type"] = "SE" if end_image is not None else "S"
        settings["image_start"] = writer.image(start_image, "start", "start image")
        if end_image is not None:
            settings["image_end"] = writer.image(end_image, "end", "end image")
    if reference_images and log is not None:
        log.warning("reference images are used by VACE models only; ignored for %s", info.model_type)
    return settings


def _vace_guide(guide_video, mask_video, start, end, frames: int, size) -> tuple[list, list]:
    """Guide and mask as every engine builds them (source/engines/inputs.py `guide_and_mask`); a guide
    given without a mask generates every frame."""
    guide, mask = guide_and_mask(start, end, guide_video, mask_video, frames, size)
    return guide, mask if mask is not None else [_generate(size)] * frames


def _generate(size):
    """A mask frame saying "generate all of it" (VACE's convention, source/media/vace.py)."""
    import numpy as np

    width, height = size
    return np.full((height, width, 3), MASK_GENERATE, np.uint8)


def _array(frame):
    import numpy as np

    return np.asarray(frame.convert("RGB") if hasattr(frame, "convert") else frame, dtype=np.uint8)


def multipliers_text(strengths: list) -> str:
    """Wan2GP's loras_multipliers: one value per LoRA, separated by spaces; a strength per phase is
    written `a;b[;c]` (a phase's per-step values joined by commas)."""
    from ..phases import strength_text

    return " ".join(strength_text(s) for s in strengths)
