"""Denoising phases of a two-expert model (Wan 2.2 A14B): pure arithmetic, no torch.

A run of N steps is cut into 2 or 3 phases (`steps_per_phase`); each phase has its own classifier-free
guidance, and each LoRA its own strength per phase (`"1;0"`: full strength in phase 1, off in phase 2),
or per step inside a phase (a list with one value per step of that phase). Phase k+1 begins at the
first step whose timestep is at or below threshold k. The high-noise expert runs the phases up to
`model_switch_phase`, the low-noise expert the rest.

The thresholds are placed midway between the last timestep of one phase and the first of the next, on
the timesteps the solver will use (`solver_timesteps`), so the steps split exactly as asked:

    euler       t = linspace(1000, 1, N), then shifted: t' = s*t / (1 + (s-1)*t) on t/1000
    unipc       sigma = linspace(0.999, 0, N+1)[:N], shifted, x 1000
    dpm++(_sde) sigma = linspace(1, 0, N+1)[:N], shifted, x 1000

A phased strength with fewer parts than phases is padded the way Wan2GP pads it: with the expert
switch after phase 2 the first value is repeated (`a;b` -> `a;a;b`), otherwise the last (`a;b;b`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Sequence, Union, get_args

from ..errors import UserError

Solver = Literal["euler", "unipc", "dpm++", "dpm++_sde"]
SOLVERS: tuple[str, ...] = get_args(Solver)
MAX_PHASES = 3

# A LoRA's strength in one phase: one number for all its steps, or one number per step.
PhaseStrength = Union[float, tuple[float, ...]]


class PhaseError(UserError):
    """Phases or phased strengths that cannot work; the message is one line for the user."""


def _linspace(start: float, stop: float, count: int) -> list[float]:
    if count == 1:
        return [float(start)]
    return [start + (stop - start) * i / (count - 1) for i in range(count)]


def _shift(sigma: float, shift: float) -> float:
    return shift * sigma / (1.0 + (shift - 1.0) * sigma)


def solver_timesteps(solver: str, steps: int, shift: float) -> list[float]:
    """The timesteps (1000 = pure noise) a flow-matching solver visits in `steps` steps at `shift`."""
    if solver not in SOLVERS:
        raise PhaseError(f"sample_solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    if steps < 1:
        raise PhaseError(f"steps must be >= 1, got {steps}")
    if solver == "euler":
        return [_shift(t / 1000.0, shift) * 1000.0 for t in _linspace(1000.0, 1.0, steps)]
    top = 0.999 if solver == "unipc" else 1.0
    return [_shift(s, shift) * 1000.0 for s in _linspace(top, 0.0, steps + 1)[:steps]]


def switch_thresholds(timesteps: Sequence[float], steps_per_phase: Sequence[int]) -> list[float]:
    """One threshold per phase boundary: midway between the last timestep of a phase and the next's first."""
    thresholds, done = [], 0
    for count in steps_per_phase[:-1]:
        done += count
        thresholds.append((timesteps[done - 1] + timesteps[done]) / 2.0)
    return thresholds


def phase_of_each_step(timesteps: Sequence[float], thresholds: Sequence[float]) -> list[int]:
    """The phase (0-based) of each step: phase k+1 starts at the first step with t <= threshold k."""
    phases, current = [], 0
    for t in timesteps:
        while current < len(thresholds) and t <= thresholds[current]:
            current += 1
        phases.append(current)
    return phases


@dataclass(frozen=True)
class PhasePlan:
    """Phases as a render uses them. `model_switch_phase` k: the low-noise expert from phase k+1 on."""

    steps_per_phase: tuple[int, ...]
    guidance: tuple[float, ...]
    solver: str = "euler"
    flow_shift: float = 5.0
    model_switch_phase: int = 1

    def __post_init__(self) -> None:
        count = len(self.steps_per_phase)
        if count not in (2, 3):
            raise PhaseError(f"phases: 2 or 3 phases are supported, got {count}")
        if any(int(s) < 1 for s in self.steps_per_phase):
            raise PhaseError(f"steps_per_phase must be >= 1 each, got {list(self.steps_per_phase)}")
        if len(self.guidance) != count:
            raise PhaseError(f"phases: {len(self.guidance)} guidance values for {count} phases")
        if not 1 <= self.model_switch_phase < count:
            raise PhaseError(f"model_switch_phase must be 1..{count - 1} with {count} phases (the expert switch "
                             f"comes after that phase; {count} never switches to the low-noise expert), "
                             f"got {self.model_switch_phase}")
        if self.solver not in SOLVERS:
            raise PhaseError(f"sample_solver must be one of {', '.join(SOLVERS)}, got {self.solver!r}")
        timesteps = solver_timesteps(self.solver, self.total_steps, self.flow_shift)
        implied = phase_of_each_step(timesteps, switch_thresholds(timesteps, self.steps_per_phase))
        if [implied.count(k) for k in range(count)] != list(self.steps_per_phase):
            raise PhaseError(f"steps_per_phase {list(self.steps_per_phase)} cannot be split by timestep at "
                             f"flow_shift {self.flow_shift:g} with {self.solver}")

    @property
    def num_phases(self) -> int:
        return len(self.steps_per_phase)

    @property
    def total_steps(self) -> int:
        return sum(self.steps_per_phase)

    @property
    def timesteps(self) -> list[float]:
        return solver_timesteps(self.solver, self.total_steps, self.flow_shift)

    @property
    def thresholds(self) -> list[float]:
        return switch_thresholds(self.timesteps, self.steps_per_phase)

    @property
    def step_phases(self) -> list[int]:
        """The phase (0-based) of each step."""
        return [k for k, count in enumerate(self.steps_per_phase) for _ in range(count)]

    @property
    def step_experts(self) -> list[int]:
        """The expert of each step: 0 high-noise, 1 low-noise."""
        return [0 if phase < self.model_switch_phase else 1 for phase in self.step_phases]

    @property
    def switch_step(self) -> int:
        """The first step (0-based) of the low-noise expert."""
        return sum(self.steps_per_phase[:self.model_switch_phase])

    @property
    def step_guidance(self) -> list[float]:
        return [self.guidance[phase] for phase in self.step_phases]

    def padded(self, strengths: Sequence[PhaseStrength]) -> tuple[PhaseStrength, ...]:
        """A LoRA's per-phase strengths for this plan's phases (fewer parts padded as Wan2GP pads them)."""
        return pad_phases(strengths, self.num_phases, self.model_switch_phase)

    def step_strengths(self, strengths: Union[float, Sequence[PhaseStrength]]) -> list[float]:
        """A LoRA's strength at each step: one number, or per phase (each a number or one per step)."""
        per_phase = self.padded((strengths,) if isinstance(strengths, (int, float)) else tuple(strengths))
        values: list[float] = []
        for k, (part, count) in enumerate(zip(per_phase, self.steps_per_phase, strict=False)):
            if isinstance(part, tuple):
                if len(part) != count:
                    raise PhaseError(f"phase {k + 1} has {count} steps but its per-step strengths list "
                                     f"{len(part)} values")
                values += [float(v) for v in part]
            else:
                values += [float(part)] * count
        return values

    def wan2gp_settings(self) -> dict:
        """The same phases in Wan2GP's settings."""
        settings = {
            "num_inference_steps": self.total_steps, "guidance_phases": self.num_phases,
            "guidance_scale": self.guidance[0], "guidance2_scale": self.guidance[1],
            "switch_threshold": round(self.thresholds[0], 3), "model_switch_phase": self.model_switch_phase,
            "sample_solver": self.solver, "flow_shift": self.flow_shift,
        }
        if self.num_phases == 3:
            settings.update(guidance3_scale=self.guidance[2], switch_threshold2=round(self.thresholds[1], 3))
        return settings


def pad_phases(strengths: Sequence[PhaseStrength], num_phases: int, model_switch_phase: int
               ) -> tuple[PhaseStrength, ...]:
    parts = tuple(strengths)
    if not parts:
        raise PhaseError("a phased strength needs at least one value")
    if len(parts) > num_phases:
        raise PhaseError(f"strength {phase_text(parts)!r} has {len(parts)} phases; the run has {num_phases}")
    while len(parts) < num_phases:
        parts = (parts[0],) + parts if model_switch_phase == 2 else parts + (parts[-1],)
    return parts


def parse_strength(value, where: str = "strength") -> Union[float, tuple[float, ...]]:
    """A LoRA strength as written: a number, `"a;b[;c]"` (per phase), or a list of 2-3 numbers."""
    if isinstance(value, bool):
        raise PhaseError(f"{where} must be a number or 'a;b[;c]' (one per phase), got {value!r}")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise PhaseError(f"{where} must be a finite number, got an integer of {len(str(abs(value)))} "
                             "digits") from None
    if isinstance(value, (list, tuple)):
        parts = list(value)
    elif isinstance(value, str):
        text = value.strip()
        if "," in text:
            raise PhaseError(f"{where} {value!r}: commas make a per-step schedule; separate phases with ';' "
                             f"(e.g. '1;0'), and separate LoRAs with spaces")
        parts = text.split(";") if ";" in text else [text]
    else:
        raise PhaseError(f"{where} must be a number or 'a;b[;c]' (one per phase), got {value!r}")
    numbers = []
    for part in parts:
        try:
            if isinstance(part, bool):
                raise ValueError
            number = float(part)
        except (TypeError, ValueError):
            raise PhaseError(f"{where} {value!r}: {part!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise PhaseError(f"{where} {value!r} must be finite")
        numbers.append(number)
    if len(numbers) == 1:
        return numbers[0]
    if len(numbers) > MAX_PHASES:
        raise PhaseError(f"{where} {value!r} has {len(numbers)} phases; at most {MAX_PHASES}")
    return tuple(numbers)


def is_phased(strength) -> bool:
    return isinstance(strength, (tuple, list))


def phase_text(strengths: Sequence[PhaseStrength]) -> str:
    """Per-phase strengths in Wan2GP's syntax: `;` between phases, `,` between the steps of a phase."""
    parts = []
    for part in strengths:
        if isinstance(part, (tuple, list)):
            parts.append(",".join(f"{float(v):g}" for v in part))
        else:
            parts.append(f"{float(part):g}")
    return ";".join(parts)


def strength_text(strength) -> str:
    return phase_text(strength) if is_phased(strength) else f"{float(strength):g}"


def plan_or_default(plan: Optional[PhasePlan], steps: int, guidance: float, shift: float, solver: str,
                    switch_step: int) -> PhasePlan:
    """`plan`, or two phases split at `switch_step` with one guidance (a two-expert model's own split)."""
    if plan is not None:
        return plan
    switch_step = min(max(switch_step, 1), steps - 1)
    return PhasePlan(steps_per_phase=(switch_step, steps - switch_step), guidance=(guidance, guidance),
                     solver=solver, flow_shift=shift, model_switch_phase=1)
