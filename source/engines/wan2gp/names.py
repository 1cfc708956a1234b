"""Model names on the Wan2GP engine: our logical names -> Wan2GP model types.

Wan2GP names a model by its "model type": a file in the checkout's `defaults/` (the models it ships) or
`finetunes/` (the user's own). Our registry names (source.engines.models) are Wan2GP's names for the
same models, so the mapping below is the identity apart from `tiny`; it is written out so that a name
change on either side is one line here.

    t2v -> t2v (Wan 2.1 14B)         t2v_1.3B -> t2v_1.3B          i2v -> i2v (480p 14B)
    i2v_720p -> i2v_720p             flf2v_720p -> flf2v_720p      vace_1.3B / vace_14B -> same
    t2v_2_2 / i2v_2_2 / ti2v_2_2 (Wan 2.2) -> same                 aliases (t2v_14b, vace, ...) as usual

Any other name is a Wan2GP model type as is (LTX Video, Hunyuan, SkyReels, Phantom, a finetune, ...);
the engine checks it against the checkout's model list and names the known types when it is not there.
Such a name is written `wan2gp:<model type>` in a task, so that the enqueue-time checks (which do not
know which engine the worker runs) accept it; on the wan2gp engine the prefix is optional.

`tiny` has no Wan2GP meaning. On this engine it picks one of the CPU test harness's random-weight
finetunes by the inputs: `tiny_vace` when a guide, mask, reference or start/end image is given (VACE
takes images through its guide), else `tiny_t2v`. A real checkout has neither, and says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..models import WAN2GP_PREFIX, UnknownModel, lookup_model

# our registry name -> Wan2GP model type
WAN2GP_MODEL_TYPES = {
    "t2v": "t2v",
    "t2v_1.3B": "t2v_1.3B",
    "i2v": "i2v",
    "i2v_720p": "i2v_720p",
    "flf2v_720p": "flf2v_720p",
    "vace_1.3B": "vace_1.3B",
    "vace_14B": "vace_14B",
    "t2v_2_2": "t2v_2_2",
    "i2v_2_2": "i2v_2_2",
    "ti2v_2_2": "ti2v_2_2",
}
TINY_T2V, TINY_VACE = "tiny_t2v", "tiny_vace"


@dataclass(frozen=True)
class Wan2GPModel:
    model_type: str            # what Wan2GP is asked for
    requested: str             # what the task said
    size: Optional[str]        # "1.3B", "14B", ... for registry models (picks accelerator LoRAs); else None


def resolve_model(name: str, *, uses_images_or_guide: bool) -> Wan2GPModel:
    """The Wan2GP model type for a model name (registry name, alias, `wan2gp:<type>`, or a bare type)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("model must be a model name (e.g. \"vace_14B\" or a Wan2GP model type)")
    text = name.strip()
    if text.lower().startswith(WAN2GP_PREFIX):
        model_type = text[len(WAN2GP_PREFIX):].strip()
        if not model_type:
            raise ValueError(f"model {name!r}: a Wan2GP model type is missing after '{WAN2GP_PREFIX}'")
        return Wan2GPModel(model_type, text, None)
    try:
        spec = lookup_model(text)
    except UnknownModel:
        return Wan2GPModel(text, text, None)  # a Wan2GP model type as is; checked against the checkout
    if spec.name == "tiny":
        return Wan2GPModel(TINY_VACE if uses_images_or_guide else TINY_T2V, text, "tiny")
    return Wan2GPModel(WAN2GP_MODEL_TYPES.get(spec.name, spec.name), text, spec.size)
