"""Parameter names of the original tool that are not plain aliases: what they become here.

Plain renames are aliases on the params models' fields (`validation_alias=aliases(...)`, shown in the
parameter reference). What is here needs more than a rename, and happens in one function,
`current_shape`, which every task type's model runs first when it reads a row's params (a row an app
wrote, a row add_task.py or steerable_motion.py is about to write, a row the worker claimed):

- LoRA keys: `lora_name` / `lora_names` (file stems in the LoRA folder, strength 1.0), `activated_loras`
  with `loras_multipliers` (Wan2GP's lists: names and one strength each, a list or a space- or
  comma-separated string), `apply_reward_lora` (the reward LoRA the original tool applied at 0.5), all
  folded into `additional_loras` {path_or_url: strength} (`fold_lora_keys`);
- keys whose meaning is gone, with the reason a user reads next to the ignored key (`RETIRED_KEYS`);
- a travel run's `orchestrator_details` (`travel_details`): the reference images key refused, an
  `upscale_factor` of 0 or 1 (no upscale) left out, `cfg_star_switch` / `cfg_zero_step` moved into
  `wgp_settings` when switched on, `params_json_str_override` applied, and one `frame_overlap_expanded`
  value per segment read as one per join.

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


def _strength(text: str, key: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidParams(f"{key}: strength {text!r} is not a number (per-phase strengths like '1;0.5' are "
                            "not supported: give one number per LoRA, or use additional_loras "
                            "{file: strength})", field=key) from None


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
    strengths = [_strength(s, "loras_multipliers") for s in _names(data.pop("loras_multipliers", None), "loras_multipliers")]
    if len(strengths) > len(names):
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


def travel_details(data: dict, model: Any) -> dict:
    """A travel run's `orchestrator_details` in the current shape (`model`: its params model)."""
    from ..engines.wan2gp.keys import NATIVE_KEYS
    from .params import accepted_names

    error = getattr(model, "error_class", InvalidParams)
    data = fold_lora_keys(data)
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
        data = _override(data, set(accepted_names(model)), NATIVE_KEYS, error)
    elif "params_json_str_override" in data:
        data = {key: value for key, value in data.items() if key != "params_json_str_override"}
    return _overlaps_per_join(data)


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
