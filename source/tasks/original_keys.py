"""Parameter names of the original tool that are not plain aliases: what they become here.

Plain renames are aliases on the params models' fields (`validation_alias=aliases(...)`, shown in the
parameter reference). What is here needs more than a rename, and happens in one function,
`current_shape`, which every task type's model runs first when it reads a row's params (a row an app
wrote, a row add_task.py or steerable_motion.py is about to write, a row the worker claimed):

- LoRA keys: `lora_name` / `lora_names` (file stems in the LoRA folder, strength 1.0), `activated_loras`
  with `loras_multipliers` (Wan2GP's lists: names and one strength each, a list or a space- or
  comma-separated string; a strength `a;b[;c]` is one per phase, source/engines/phases.py), `apply_reward_lora` (the reward LoRA the original tool applied at 0.5), all
  folded into `additional_loras` {path_or_url: strength} (`fold_lora_keys`);
- keys whose meaning is gone, with the reason a user reads next to the ignored key (`RETIRED_KEYS`);
- a travel run's `orchestrator_details` (`travel_details`): the reference images key refused, an
  `upscale_factor` of 0 or 1 (no upscale) left out, `cfg_star_switch` / `cfg_zero_step` moved into
  `wgp_settings` when switched on, `params_json_str_override` applied, and one `frame_overlap_expanded`
  value per segment read as one per join; the legacy structure-video keys folded into
  `structure_guidance` (`fold_structure_keys`); `keep_bridging_images` (a join_clips key) refused when true.

A conversion never drops a value silently: what is not used stays in the params under a key of its own
(`frame_overlap_expanded[2]`, `params_json_str_override.frames`), so it is reported as an ignored key
at enqueue (a warning) and on the row by the worker (`ignored_keys`), with the reason
(`ignored_key_hint`, `DROPPED_VALUES`).

docs/MIGRATING.md lists every name of the original tool and what it is now.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..errors import InvalidParams

# The reward LoRA the original tool's --apply-reward-lora / "apply_reward_lora" added, at its strength.
REWARD_LORA_URL = ("https://huggingface.co/peteromallet/Wan2.1-Fun-14B-InP-MPS_reward_lora_diffusers/"
                   "resolve/main/Wan2.1-Fun-14B-InP-MPS_reward_lora_wgp.safetensors")
REWARD_LORA_STRENGTH = 0.5

LORA_KEYS = ("lora_name", "lora_names", "activated_loras", "loras_multipliers", "apply_reward_lora")

# Keys the original tool wrote whose meaning is gone: reported as ignored with this reason.
RETIRED_KEYS = {
    "orchestrator_task_id": "the original tool's copy of the row id; the row's own id is used",
    "original_task_args": "the original tool's copy of its command line; the expanded fields are what runs",
    "original_common_args": "the original tool's copy of its command line; the expanded fields are what runs",
    "upscale_model_name": "upscaling is Lanczos by upscale_factor; no upscale model is used",
    "poll_interval": "steerable_motion.py --wait follows a run; workers wake on new rows",
    "poll_timeout": "use steerable_motion.py --wait_timeout",
    "execution_engine": "the worker's --engine chooses how every row renders",
}

# The original tool's internal task types that have no counterpart here (its rows of them were written by
# its own orchestrators, mid-run): what to do instead.
RETIRED_TASK_TYPES = {
    "dp_final_gen": "the original tool's different-perspective step; queue the run's "
                    "different_perspective_orchestrator row again",
    "generate_depth": "the original tool's different-perspective step; queue the run's "
                      "different_perspective_orchestrator row again",
    "comfyui_workflow": "ComfyUI is not supported; rows render with the worker's engine",
}
# A stage row the original tool's orchestrator wrote has these keys instead of this queue's run settings.
ORIGINAL_STAGE_KEYS = ("full_orchestrator_payload", "orchestrator_task_id_ref", "orchestrator_run_id",
                       "segment_params")

# Values a conversion leaves out, stored as `<field>[<index>]` beside the field: why each is not used.
DROPPED_VALUES = {
    "frame_overlap_expanded": "one overlap per segment was given: the last segment has no join after it, "
                              "so its value is not used",
}

_SPLIT = re.compile(r"[,\s]+")


def _names(value: Any, key: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part for part in _SPLIT.split(value.strip()) if part]
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    raise InvalidParams(f"{key} must be a list of names or a string of them, got {value!r}", field=key)


def _strength(text: str, key: str):
    """One LoRA's strength: a number, or one per phase ('1;0', for two-expert models)."""
    from ..engines.phases import PhaseError, parse_strength

    try:
        return parse_strength(text, f"{key}: strength")
    except PhaseError as exc:
        raise InvalidParams(str(exc), field=key) from None


def _multipliers(value: Any, key: str) -> list:
    """Wan2GP's loras_multipliers: one strength per LoRA, separated by spaces (or commas when no strength
    is phased); a strength with ';' is per phase, and a comma beside one is a per-step schedule: refused."""
    if isinstance(value, str) and ";" in value:
        return [_strength(token, key) for token in value.split()]
    return [_strength(s, key) for s in _names(value, key)]


def _lora_file(name: str) -> str:
    """A LoRA as the original tool named it: a URL or path as given, a bare stem as <stem>.safetensors."""
    if "://" in name or "/" in name or name.endswith((".safetensors", ".pt", ".bin", ".ckpt")):
        return name
    return f"{name}.safetensors"


def fold_lora_keys(data: Any, field: str = "additional_loras") -> Any:
    """The original tool's LoRA keys of a params dict moved into `field` ({path_or_url: strength});
    an explicit entry there wins. Other data is returned unchanged."""
    if not isinstance(data, dict) or not any(key in data for key in LORA_KEYS):
        return data
    data = dict(data)
    loras: dict[str, float] = {}
    for name in _names(data.pop("lora_name", None), "lora_name") + _names(data.pop("lora_names", None), "lora_names"):
        loras[_lora_file(name)] = 1.0
    names = _names(data.pop("activated_loras", None), "activated_loras")
    strengths = _multipliers(data.pop("loras_multipliers", None), "loras_multipliers")
    phased = any(isinstance(s, tuple) for s in strengths)
    if len(strengths) > len(names) or (phased and len(strengths) != len(names)):
        raise InvalidParams(f"loras_multipliers has {len(strengths)} strengths for {len(names)} activated_loras",
                            field="loras_multipliers")
    for i, name in enumerate(names):
        loras[_lora_file(name)] = strengths[i] if i < len(strengths) else 1.0
    reward = data.pop("apply_reward_lora", False)
    if not isinstance(reward, bool):
        raise InvalidParams(f"apply_reward_lora must be true or false, got {reward!r}", field="apply_reward_lora")
    if reward:
        loras[REWARD_LORA_URL] = REWARD_LORA_STRENGTH
    given = data.get(field)
    if loras and (given is None or isinstance(given, dict)):  # anything else: the field's own message
        data[field] = {**loras, **(given or {})}
    return data


# ---- the one conversion --------------------------------------------------------------------------------

def current_shape(model: Any, data: Any) -> Any:
    """A row's params (`data`, for a task type's `model`) in the current shape. Keys in the original tool's
    shapes are converted here and nowhere else; data in the current shape comes back unchanged (so a
    row written by a client, already in this shape, reads back as written)."""
    if not isinstance(data, dict):
        return data
    fields = model.model_fields
    if "orchestrator_details" in fields:
        details = data.get("orchestrator_details")
        if isinstance(details, str) and details.strip():
            try:
                details = json.loads(details)
            except json.JSONDecodeError:
                return data  # the field's own message says so
        if isinstance(details, dict):
            nested = fields["orchestrator_details"].annotation
            data = {**data, "orchestrator_details": travel_details(details, nested)}
    if "additional_loras" in fields:
        data = fold_lora_keys(data)
    return data


# legacy uni3c-only keys of a structure_guidance object, at the values that leave it off
_UNI3C_DEFAULTS = {"step_window": [0, 1], "frame_policy": "fit", "zero_empty_frames": True, "keep_on_gpu": False}
# keys legacy orchestrator or app wrote beside the guidance (computed here, or for its UI only)
_STRUCTURE_RECORD_KEYS = ("_guidance_video_url", "_frame_offset", "structure_guidance_video_url",
                          "structure_guidance_frame_offset", "structure_original_video_url",
                          "structure_trimmed_video_url", "structure_motion_video_url", "structure_motion_frame_offset")


def fold_structure_keys(data: dict, error: Any = InvalidParams) -> dict:
    """The original tool's structure keys -> `structure_guidance` (source/workflows/travel/params.py `StructureGuidance`): the legacy
    `structure_video_path` (one video over the whole run), `structure_videos` (several placed), their
    `structure_video_treatment` / `structure_type` / `structure_video_type` / `structure_video_motion_strength` /
    `structure_canny_intensity` / `structure_depth_contrast`, and the later `structure_guidance` object."""
    legacy = ("structure_video_path", "structure_videos", "structure_video_treatment", "structure_type",
              "structure_video_type", "structure_video_motion_strength", "structure_canny_intensity",
              "structure_depth_contrast")
    data = dict(data)
    for key in _STRUCTURE_RECORD_KEYS:
        data.pop(key, None)
    given = {key: data.pop(key) for key in legacy if key in data}
    guidance = data.get("structure_guidance") if data.get("structure_guidance") not in (None, "") else None
    if isinstance(guidance, str):
        try:
            guidance = json.loads(guidance)
        except json.JSONDecodeError as exc:
            raise error(f"structure_guidance is not valid JSON: {exc.msg}", field="structure_guidance") from None
    if guidance is not None and not isinstance(guidance, dict):
        raise error("structure_guidance must be a JSON object", field="structure_guidance")
    if not given and guidance is None:
        data.pop("structure_guidance", None)
        return data
    merged: dict = dict(guidance or {})
    for key in _STRUCTURE_RECORD_KEYS:
        merged.pop(key, None)
    for key, default in _UNI3C_DEFAULTS.items():
        if key in merged and merged.pop(key) != default:
            raise error(f"structure_guidance.{key} is a Uni3C setting; Uni3C is not supported (use target "
                            f"vace)", field=f"structure_guidance.{key}")
    kind = given.get("structure_type", given.get("structure_video_type"))
    if kind is not None:
        merged.setdefault("preprocessing", kind)
    if merged.get("preprocessing") == "none":
        merged["preprocessing"] = "raw"
    if merged.get("preprocessing") == "uni3c" or merged.get("target") == "uni3c":
        raise error("structure guidance 'uni3c' (a Uni3C ControlNet) is not supported; use flow, canny, depth "
                        "or raw, which guide VACE's frames", field="structure_guidance")
    for old, new in (("structure_video_treatment", "treatment"), ("structure_video_motion_strength", "strength"),
                     ("structure_canny_intensity", "canny_intensity"), ("structure_depth_contrast", "depth_contrast")):
        if old in given:
            merged.setdefault(new, given[old])
    videos = list(merged.get("videos") or [])
    if given.get("structure_videos"):
        videos += list(given["structure_videos"])
    if given.get("structure_video_path"):
        videos.append({"path": given["structure_video_path"]})
    types = set()
    for i, video in enumerate(videos):
        if isinstance(video, dict):  # per-video type and strength: all videos share the guidance's
            video = dict(video)
            for key, into in (("structure_type", "preprocessing"), ("motion_strength", "strength")):
                if key in video:
                    value = video.pop(key)
                    value = "raw" if value == "none" else value
                    if into == "preprocessing":
                        types.add(value)
                    merged.setdefault(into, value)
                    if merged[into] != value:
                        raise error(f"structure video {i}: {key} {value!r} differs from the guidance's "
                                        f"{merged[into]!r}; every video of a run shares one", field="structure_guidance")
            videos[i] = video
    if "uni3c" in types:
        raise error("structure guidance 'uni3c' (a Uni3C ControlNet) is not supported; use flow, canny, depth "
                        "or raw", field="structure_guidance")
    merged["videos"] = videos
    data["structure_guidance"] = merged
    return data


def travel_details(data: dict, model: Any) -> dict:
    """A travel run's `orchestrator_details` in the current shape (`model`: its params model)."""
    from ..engines.wan2gp.keys import NATIVE_KEYS

    error = getattr(model, "error_class", InvalidParams)
    data = fold_structure_keys(fold_lora_keys(data), error)
    if data.get("keep_bridging_images"):
        raise error("keep_bridging_images belongs to join_clips runs (the frames bridging two clips); a "
                    "travel run keeps its anchors by construction: remove the key", field="keep_bridging_images")
    data = {key: value for key, value in data.items() if key != "keep_bridging_images"}  # false: travel's way
    if data.get("vace_image_refs_to_prepare_by_headless"):
        raise error("vace_image_refs_to_prepare_by_headless: reference images are not used by travel "
                    "segments (each is guided by its anchors); remove the key",
                    field="vace_image_refs_to_prepare_by_headless")
    data = {key: value for key, value in data.items() if key != "vace_image_refs_to_prepare_by_headless"}
    if data.get("upscale_factor") in (0, 1):  # the original tool's "0.0 or 1.0 to disable": no upscale
        data = {key: value for key, value in data.items() if key != "upscale_factor"}
    native = {key: data[key] for key in ("cfg_star_switch", "cfg_zero_step") if key in data}
    if native:
        data = {key: value for key, value in data.items() if key not in native}
        if native.get("cfg_star_switch", 0) != 0:  # off (0, and the step -1) is every engine's default
            given = data.get("wgp_settings")
            data["wgp_settings"] = {**native, **(given if isinstance(given, dict) else {})}
    if data.get("params_json_str_override") not in (None, ""):
        data = _override(data, _accepted_names(model), NATIVE_KEYS, error)
    elif "params_json_str_override" in data:
        data = {key: value for key, value in data.items() if key != "params_json_str_override"}
    return _overlaps_per_join(data)


def _accepted_names(model: Any) -> set:
    """The keys `model` reads: its fields and their other spellings (as tasks/params.py `accepted_names`,
    written here so this module does not import params.py, which imports it)."""
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        alias = info.validation_alias
        names.update(c for c in getattr(alias, "choices", ()) if isinstance(c, str))
    return names


def _override(data: dict, known: set, native_keys: Any, error: Any) -> dict:
    """params_json_str_override (steerable_motion.py --params_json_str): JSON of settings applied over the
    details. Keys of the details join them, Wan2GP settings join wgp_settings; others stay aside as
    `params_json_str_override.<key>` and are reported."""
    data = dict(data)
    override = data.pop("params_json_str_override")
    if isinstance(override, str):
        try:
            override = json.loads(override)
        except json.JSONDecodeError as exc:
            raise error(f"params_json_str_override is not valid JSON: {exc.msg}",
                        field="params_json_str_override") from None
    if not isinstance(override, dict):
        raise error("params_json_str_override must be a JSON object of settings", field="params_json_str_override")
    for key, value in override.items():
        if key in known and key not in ("segment_frames_expanded", "parsed_resolution_wh"):
            data[key] = value
        elif key in native_keys:
            data["wgp_settings"] = {**(data.get("wgp_settings") or {}), key: value}
        else:
            data[f"params_json_str_override.{key}"] = value
    return data


def _overlaps_per_join(data: dict) -> dict:
    """`frame_overlap_expanded` given one value per segment (the original tool's shape) as one per join:
    without a continued video the last segment has no join after it, and its value is kept aside as
    `frame_overlap_expanded[<index>]` (reported, not used)."""
    images, overlaps = data.get("input_image_paths_resolved"), data.get("frame_overlap_expanded")
    if not isinstance(images, list) or not images or not isinstance(overlaps, list) or len(overlaps) < 2:
        return data
    if data.get("continue_from_video_resolved_path"):
        return data  # as many joins as segments
    segments = max(len(images) - 1, 1)
    if len(overlaps) != segments:
        return data
    last = segments - 1
    return {**data, "frame_overlap_expanded": overlaps[:last], f"frame_overlap_expanded[{last}]": overlaps[last]}


def dropped_value_reason(key: str) -> str | None:
    """Why a value kept aside by a conversion (`frame_overlap_expanded[2]`) is not used, or None."""
    match = re.fullmatch(r"(.+)\[\d+\]", key)
    return DROPPED_VALUES.get(match.group(1)) if match else None
