"""Parameter names of the original tool that are not plain aliases: what they become here.

Plain renames are aliases on the params models' fields (`validation_alias=aliases(...)`, shown in the
parameter reference). What is here needs more than a rename:

- LoRA keys: `lora_name` / `lora_names` (file stems in the LoRA folder, strength 1.0), `activated_loras`
  with `loras_multipliers` (Wan2GP's lists: names and one strength each, a list or a space- or
  comma-separated string; a strength `a;b[;c]` is one per phase, source/engines/phases.py), `apply_reward_lora` (the reward LoRA the original tool applied at 0.5), all
  folded into `additional_loras` {path_or_url: strength} (`fold_lora_keys`);
- keys whose meaning is gone, with the reason a user reads next to the ignored key (`RETIRED_KEYS`).

docs/MIGRATING.md lists every name of the original tool and what it is now.
"""
from __future__ import annotations

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
