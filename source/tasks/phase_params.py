"""`phase_config` and per-phase LoRA strengths, as task params declare them (docs/ENGINES.md, "Phases").

    phase_config = {
      "steps_per_phase": [3, 3],            # num_inference_steps = their sum
      "sample_solver": "euler",             # euler | unipc | dpm++ | dpm++_sde
      "flow_shift": 5.0,
      "model_switch_phase": 1,              # the low-noise expert from phase 2 on (default: 1, or 2 of 3)
      "phases": [{"guidance_scale": 1.0, "loras": [{"url": "HIGH.safetensors", "multiplier": 1.2}]},
                 {"guidance_scale": 1.0, "loras": [{"url": "LOW.safetensors", "multiplier": "1.0"}]}]}

A LoRA listed in some phases gets strength 0 in the others; `multiplier` is a number, or a comma list
with one value per step of that phase. Elsewhere a LoRA strength may be `"a;b[;c]"` (one per phase).
The arithmetic is source/engines/phases.py; this module checks what a row gives against its model.
"""
from __future__ import annotations

from typing import Annotated, Any, Optional, Union

from pydantic import Field, field_validator, model_validator

from ..engines.models import lookup_model
from ..engines.phases import PhaseError, PhasePlan, Solver, is_phased, strength_text
from ..errors import InvalidParams, UserError
from .params import GUIDANCE_MAX, Choice, Int, LoraPath, Number, Params, aliases

DEFAULT_GUIDANCE = (3.0, 1.0, 1.0)


class PhaseLora(Params):
    """One LoRA of one phase."""

    url: LoraPath = Field(validation_alias=aliases("url", "path", "name"),
                      description="the LoRA: a URL, a path, or a file name in the LoRA folder")
    multiplier: Union[float, tuple[float, ...]] = Field(
        1.0, validation_alias=aliases("multiplier", "strength"),
        description="its strength in this phase: a number, or a comma list with one value per step of the phase")

    @field_validator("multiplier", mode="before")
    @classmethod
    def _multiplier(cls, value: Any) -> Any:
        if isinstance(value, str) and "," in value:
            parts = [p.strip() for p in value.split(",")]
        elif isinstance(value, (list, tuple)):
            parts = list(value)
        else:
            parts = [value]
        numbers = []
        for part in parts:
            try:
                if isinstance(part, bool):
                    raise ValueError
                number = float(part)
            except (TypeError, ValueError):
                raise ValueError(f"must be a number or a comma list of numbers (one per step), got {value!r}") from None
            if not -10 <= number <= 10:
                raise ValueError(f"must be between -10 and 10, got {value!r}")
            numbers.append(number)
        return numbers[0] if len(numbers) == 1 and not isinstance(value, (list, tuple)) else tuple(numbers)


class PhaseSpec(Params):
    """One phase: its guidance and its LoRAs."""

    guidance_scale: Optional[Number] = Field(None, ge=0, le=GUIDANCE_MAX,
                                             description="classifier-free guidance of the phase (default 3, 1, 1)")
    loras: list[PhaseLora] = Field(default_factory=list, description="the LoRAs of the phase")


class PhaseConfig(Params):
    """Denoising phases of a two-expert model (Wan 2.2 A14B): steps, guidance and LoRAs per phase."""

    num_phases: Optional[Int] = Field(None, ge=2, le=3, description="2 or 3 (default: the number of phases given)")
    steps_per_phase: Optional[list[Int]] = Field(None, description="steps of each phase, each >= 1 "
                                                                  "(default 2 per phase); the run's steps are their sum")
    flow_shift: Number = Field(5.0, ge=0, le=GUIDANCE_MAX, description="flow-matching shift")
    sample_solver: Annotated[Solver, Choice()] = Field("euler", description="the solver the thresholds are computed for")
    model_switch_phase: Optional[Int] = Field(None, ge=1, le=2, description="the last phase of the high-noise "
                                              "expert (default 1 with 2 phases, 2 with 3)")
    phases: list[PhaseSpec] = Field(default_factory=list, description="guidance and LoRAs of each phase")

    @model_validator(mode="after")
    def _consistent(self) -> "PhaseConfig":
        try:
            self.plan()
            self.lora_strengths()
        except PhaseError as exc:
            raise InvalidParams(f"phase_config: {exc}", field="phase_config") from None
        return self

    def _count(self) -> int:
        counts = {len(x) for x in (self.phases, self.steps_per_phase or []) if x}
        if self.num_phases is not None:
            counts.add(self.num_phases)
        if len(counts) > 1:
            raise PhaseError(f"num_phases, steps_per_phase and phases disagree on the number of phases "
                             f"({', '.join(str(c) for c in sorted(counts))})")
        count = counts.pop() if counts else 3
        if count not in (2, 3):
            raise PhaseError(f"2 or 3 phases are supported, got {count}")
        return count

    def plan(self) -> PhasePlan:
        count = self._count()
        steps = tuple(self.steps_per_phase or [2] * count)
        guidance = tuple(spec.guidance_scale if spec.guidance_scale is not None else DEFAULT_GUIDANCE[k]
                         for k, spec in enumerate(self.phases)) or DEFAULT_GUIDANCE[:count]
        switch = self.model_switch_phase if self.model_switch_phase is not None else count - 1
        return PhasePlan(steps_per_phase=steps, guidance=guidance, solver=self.sample_solver,
                         flow_shift=self.flow_shift, model_switch_phase=switch)

    def lora_strengths(self) -> dict[str, tuple]:
        """{LoRA: strength per phase} in first-appearance order; 0 in the phases that do not list it."""
        count = self._count()
        steps = self.steps_per_phase or [2] * count
        found: dict[str, list] = {}
        for k, spec in enumerate(self.phases):
            for lora in spec.loras:
                if isinstance(lora.multiplier, tuple) and len(lora.multiplier) != steps[k]:
                    raise PhaseError(f"phase {k + 1}: {lora.url} has {len(lora.multiplier)} per-step strengths "
                                     f"for {steps[k]} steps")
                parts = found.setdefault(lora.url, [0.0] * count)
                if parts[k] != 0.0:
                    raise PhaseError(f"phase {k + 1} lists {lora.url} twice")
                parts[k] = lora.multiplier
        return {url: tuple(parts) for url, parts in found.items()}


def two_experts(model: str) -> Optional[bool]:
    """True for a two-expert model (Wan 2.2 A14B), False for one expert, None when the engine decides
    (a `wan2gp:<type>` model)."""
    try:
        spec = lookup_model(model)
    except UserError:
        return None
    if spec.kind == "wan2gp":
        return None
    return spec.size == "A14B"


def check_phases(*, model: str, loras: dict, phase_config: Optional[PhaseConfig], steps: Optional[int] = None,
                 guidance_scale: Optional[float] = None, flow_shift: Optional[float] = None,
                 accelerated: bool = False, lightning: bool = False, model_field: str = "model") -> None:
    """Phases, phased strengths and Lightning that fit the model and each other; InvalidParams (one line)
    otherwise. `accelerated`: a one-expert accelerator flag (CausVid, lightx2v) is set."""
    phased = [key for key, strength in loras.items() if is_phased(strength)]
    experts = two_experts(model)
    if lightning:
        if experts is False:
            raise InvalidParams(f"use_lightning_lora: Lightning is for two-expert models (Wan 2.2 A14B: t2v_2_2, "
                                f"i2v_2_2, or a wan2gp: model); {model_field} {model} has one", field=model_field)
        if accelerated or phase_config is not None:
            raise InvalidParams("use_lightning_lora sets steps, phases and its LoRAs itself: use it without "
                                "phase_config and the other accelerator flags", field="use_lightning_lora")
    if not phased and phase_config is None:
        return
    if experts is False:
        what = "phase_config" if phase_config is not None else f"LoRA {phased[0]} strength {strength_text(loras[phased[0]])!r}"
        raise InvalidParams(f"{what}: per-phase strengths and phases need a two-expert model (Wan 2.2 A14B: "
                            f"t2v_2_2, i2v_2_2, or a wan2gp: model); {model_field} {model} has one", field=model_field)
    if phase_config is None:
        for key in phased:
            if len(loras[key]) > 2:
                raise InvalidParams(f"additional_loras: {key} has {len(loras[key])} phase strengths "
                                    f"({strength_text(loras[key])!r}) but without phase_config the run has 2 phases "
                                    f"(high-noise, low-noise)", field="additional_loras")
        return
    plan = phase_config.plan()
    if accelerated:
        raise InvalidParams("phase_config sets steps, guidance and shift itself: use it without the accelerator "
                            "LoRA flags", field="phase_config")
    if steps is not None and steps != plan.total_steps:
        raise InvalidParams(f"steps {steps} does not match phase_config's steps_per_phase "
                            f"{list(plan.steps_per_phase)} (sum {plan.total_steps})", field="phase_config")
    if guidance_scale is not None and guidance_scale != plan.guidance[0]:
        raise InvalidParams(f"guidance_scale {guidance_scale:g} conflicts with phase_config (phase 1 guidance "
                            f"{plan.guidance[0]:g}); give guidance per phase only", field="phase_config")
    if flow_shift is not None and flow_shift != plan.flow_shift:
        raise InvalidParams(f"flow_shift {flow_shift:g} conflicts with phase_config's flow_shift "
                            f"{plan.flow_shift:g}", field="phase_config")
    for key in phased:
        try:
            plan.padded(loras[key])
        except PhaseError as exc:
            raise InvalidParams(f"additional_loras: {key}: {exc}", field="additional_loras") from None
    both = sorted(set(loras) & set(phase_config.lora_strengths()))
    if both:
        raise InvalidParams(f"LoRA {both[0]} is given in both additional_loras and phase_config; give it once",
                            field="phase_config")


def all_loras(loras: dict, phase_config: Optional[PhaseConfig]) -> dict:
    """The LoRAs a render applies: the task's and phase_config's (strength per phase)."""
    merged = dict(loras or {})
    if phase_config is not None:
        merged.update(phase_config.lora_strengths())
    return merged
