"""The model registry: the names users know -> what kind of pipeline they are and where weights live.

`kind` says which diffusers pipeline serves a model and which inputs it takes:
  t2v   text -> video (WanPipeline)
  i2v   start image (and optionally an end image) -> video (WanImageToVideoPipeline)
  flf2v first + last image -> video (WanImageToVideoPipeline with last_image)
  vace  guide video, mask video, reference images -> video (WanVACEPipeline)
  ti2v  Wan 2.2 5B: text -> video, or start image -> video (WanPipeline / WanImageToVideoPipeline)
  wan2gp  `wan2gp:<model type>`: a model only a Wan2GP checkout serves (engine wan2gp)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..errors import UserError


class UnknownModel(UserError):
    """A model name not in the registry; the message lists the known ones."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    repo_id: Optional[str]      # Hugging Face repo in diffusers format (None: built locally)
    size: str                   # "1.3B", "14B", "A14B", "5B", "tiny": picks the accelerator LoRA files
    steps: int = 30
    guidance_scale: float = 5.0
    flow_shift: float = 3.0     # Wan's advice: about 3 for 480p, 5 for 720p


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    # Wan 2.1
    ModelSpec("t2v", "t2v", "Wan-AI/Wan2.1-T2V-14B-Diffusers", "14B", flow_shift=5.0),
    ModelSpec("t2v_1.3B", "t2v", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "1.3B"),
    ModelSpec("i2v", "i2v", "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers", "14B"),
    ModelSpec("i2v_720p", "i2v", "Wan-AI/Wan2.1-I2V-14B-720P-Diffusers", "14B", flow_shift=5.0),
    ModelSpec("flf2v_720p", "flf2v", "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers", "14B", flow_shift=5.0),
    ModelSpec("vace_1.3B", "vace", "Wan-AI/Wan2.1-VACE-1.3B-diffusers", "1.3B"),
    ModelSpec("vace_14B", "vace", "Wan-AI/Wan2.1-VACE-14B-diffusers", "14B", flow_shift=5.0),
    # Wan 2.2 (A14B: two experts, high-noise and low-noise; 5B: text or image to video)
    ModelSpec("t2v_2_2", "t2v", "Wan-AI/Wan2.2-T2V-A14B-Diffusers", "A14B", guidance_scale=4.0, flow_shift=12.0),
    ModelSpec("i2v_2_2", "i2v", "Wan-AI/Wan2.2-I2V-A14B-Diffusers", "A14B", guidance_scale=3.5, flow_shift=5.0),
    ModelSpec("ti2v_2_2", "ti2v", "Wan-AI/Wan2.2-TI2V-5B-Diffusers", "5B", steps=50, flow_shift=5.0),
    # random weights, built locally: the kind is picked per call from the inputs given
    ModelSpec("tiny", "auto", None, "tiny", steps=4, guidance_scale=5.0, flow_shift=3.0),
)}

# other spellings people use for the same models
ALIASES = {
    "t2v_14b": "t2v", "t2v_1_3b": "t2v_1.3B", "t2v_1.3b": "t2v_1.3B", "i2v_480p": "i2v",
    "i2v_14b": "i2v", "flf2v": "flf2v_720p", "flf2v_14b": "flf2v_720p", "vace": "vace_14B",
    "vace_1_3b": "vace_1.3B", "wan2.2_t2v": "t2v_2_2", "t2v_a14b": "t2v_2_2", "wan2.2_i2v": "i2v_2_2",
    "i2v_a14b": "i2v_2_2", "ti2v": "ti2v_2_2", "ti2v_5b": "ti2v_2_2", "wan2.2_ti2v": "ti2v_2_2",
}


# wan2gp engine: `wan2gp:<model type>` names any model of a Wan2GP checkout (LTX Video,
# Hunyuan, a finetune, ...). Accepted here so enqueue-time checks pass; only that engine renders it and
# checks the type against the checkout (source/engines/wan2gp/names.py).
WAN2GP_PREFIX = "wan2gp:"


def lookup_model(name: str) -> ModelSpec:
    """The spec of a logical model name (case-insensitive; aliases accepted; `wan2gp:<type>`)."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownModel(f"model must be a model name; known models: {', '.join(MODELS)}")
    key = name.strip()
    if key.lower().startswith(WAN2GP_PREFIX) and key[len(WAN2GP_PREFIX):].strip():
        return ModelSpec(key, "wan2gp", None, "wan2gp")
    lowered = {n.lower(): n for n in MODELS}
    if key.lower() in lowered:
        return MODELS[lowered[key.lower()]]
    if key.lower() in ALIASES:
        return MODELS[ALIASES[key.lower()]]
    raise UnknownModel(f"unknown model {name!r}; known models: {', '.join(MODELS)} "
                       f"(a Wan2GP model type is written {WAN2GP_PREFIX}<type>, for --engine wan2gp)")


def model_names(*kinds: str) -> str:
    """The names `lookup_model` accepts for models of these kinds (all kinds when none given), for help
    texts and the parameter reference: registry names, their other spellings, `tiny` (random weights,
    any kind) and the `wan2gp:<model type>` form."""
    chosen = [name for name, spec in MODELS.items() if spec.kind != "auto" and (not kinds or spec.kind in kinds)]
    others = sorted(alias for alias, target in ALIASES.items() if target in chosen)
    text = ", ".join(chosen)
    if others:
        text += f" (also written {', '.join(others)})"
    return text + f"; tiny (random weights, for tests); {WAN2GP_PREFIX}<model type> (engine wan2gp)"


def kind_for_inputs(*, has_guide: bool, has_start: bool, has_end: bool) -> str:
    """The kind of model a call needs, from its inputs (used for `model: "tiny"`)."""
    if has_guide:
        return "vace"
    if has_start and has_end:
        return "flf2v"
    if has_start:
        return "i2v"
    return "t2v"


def tiny_kind_for(spec_kind: str, *, has_guide: bool, has_start: bool, has_end: bool) -> str:
    """The tiny model standing in for a model of `spec_kind` given these inputs.

    The tiny flf2v model needs both images (its position embedding spans two) and the tiny i2v model
    one, so image models pick between them by the images given, as the real models accept either.
    """
    if spec_kind == "auto":
        return kind_for_inputs(has_guide=has_guide, has_start=has_start, has_end=has_end)
    if spec_kind in ("i2v", "flf2v"):
        return "flf2v" if (has_start and has_end) else "i2v"
    if spec_kind == "ti2v":
        return "i2v" if has_start else "t2v"
    return spec_kind
