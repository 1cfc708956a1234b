"""LoRAs: finding their files (local, LoRA folder, or URL into the LoRA cache) and applying them.

Each LoRA is loaded into the resident pipeline once, as its own peft adapter, and stays there; a task
then activates the adapters it asks for with their own strengths. Switching LoRAs between tasks never
reloads the base model.

The LoRA folder is `Settings.lora_path` (LORA_DIR, else <MODELS_DIR>/loras). URL downloads go there
too (timeout and size limit from source.storage.downloads; partial files never take the final name).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

from ..config import Settings
from ..errors import InvalidParams, UserError
from ..storage.downloads import DownloadError, UnreachableURL, download_url, is_url

LORA_TIMEOUT_S = 120.0
LORA_MAX_BYTES = 4 * 1024**3

_KIJAI = "https://huggingface.co/Kijai/WanVideo_comfy/resolve/main/"

# flag -> what the flag sets; the flags win over model defaults and over explicit values
ACCELERATOR_SETTINGS = {
    "causvid": {"steps": 9, "guidance_scale": 1.0, "flow_shift": 1.0},
    "lighti2x": {"steps": 5, "guidance_scale": 1.0, "flow_shift": 5.0},
}
# (flag, model size) -> (file name looked for in the LoRA folder, URL it is fetched from otherwise)
ACCELERATOR_FILES = {
    ("causvid", "14B"): ("Wan21_CausVid_14B_T2V_lora_rank32.safetensors",
                         _KIJAI + "Wan21_CausVid_14B_T2V_lora_rank32.safetensors"),
    ("causvid", "1.3B"): ("Wan21_CausVid_bidirect2_T2V_1_3B_lora_rank32.safetensors",
                          _KIJAI + "Wan21_CausVid_bidirect2_T2V_1_3B_lora_rank32.safetensors"),
    ("lighti2x", "14B"): ("Wan21_T2V_14B_lightx2v_cfg_step_distill_lora_rank32.safetensors",
                          _KIJAI + "Wan21_T2V_14B_lightx2v_cfg_step_distill_lora_rank32.safetensors"),
}
_SIZE_FAMILY = {"A14B": "14B"}  # Wan 2.2 A14B experts share the Wan 2.1 14B layout

# Lightning (Wan 2.2 A14B, two experts): 4 steps in two phases without CFG, its HIGH file on the high-noise
# expert only ("1;0") and its LOW file on the low-noise expert only ("0;1"). Set as phases
# (source/engines/phases.py), so every engine applies it the way it applies a phase_config.
LIGHTNING_SETTINGS = {"steps_per_phase": (2, 2), "guidance_scale": 1.0, "flow_shift": 5.0, "solver": "euler"}
_DBM = "https://huggingface.co/DeepBeepMeep/Wan2.2/resolve/main/loras_accelerators/"
# (t2v | i2v, HIGH | LOW) -> (file name looked for in the LoRA folder, URL it is fetched from otherwise)
LIGHTNING_FILES = {
    ("t2v", "HIGH"): ("Wan2.2-Lightning_T2V-v1.1-A14B-4steps-lora_HIGH_fp16.safetensors",
                      _DBM + "Wan2.2-Lightning_T2V-v1.1-A14B-4steps-lora_HIGH_fp16.safetensors"),
    ("t2v", "LOW"): ("Wan2.2-Lightning_T2V-v1.1-A14B-4steps-lora_LOW_fp16.safetensors",
                     _DBM + "Wan2.2-Lightning_T2V-v1.1-A14B-4steps-lora_LOW_fp16.safetensors"),
    ("i2v", "HIGH"): ("Wan2.2_I2V_A14B_HIGH_4steps_lora_rank64_Seko_V1_forKJ.safetensors",
                      _DBM + "Wan2.2_I2V_A14B_HIGH_4steps_lora_rank64_Seko_V1_forKJ.safetensors"),
    ("i2v", "LOW"): ("Wan2.2_I2V_A14B_LOW_4steps_lora_rank64_Seko_V1_forKJ.safetensors",
                     _DBM + "Wan2.2_I2V_A14B_LOW_4steps_lora_rank64_Seko_V1_forKJ.safetensors"),
}
LIGHTNING_STRENGTHS = {"HIGH": (1.0, 0.0), "LOW": (0.0, 1.0)}


def lightning_phases():
    """Lightning's phases: 2 + 2 steps, guidance 1, shift 5, euler, the expert switch after phase 1."""
    from .phases import PhasePlan

    s = LIGHTNING_SETTINGS
    return PhasePlan(steps_per_phase=s["steps_per_phase"], guidance=(s["guidance_scale"],) * 2, solver=s["solver"],
                     flow_shift=s["flow_shift"], model_switch_phase=1)


def lightning_lora_files(kind: str, settings: Settings, tiny_kind: Optional[str] = None) -> dict[Path, tuple]:
    """Lightning's HIGH and LOW files for a t2v or i2v A14B model -> their per-phase strengths; found in
    the LoRA folder or fetched. With the tiny engine tiny random LoRAs stand in."""
    family = "i2v" if kind in ("i2v", "flf2v", "i2v_a14b") else "t2v"
    files = {}
    for expert, strength in LIGHTNING_STRENGTHS.items():
        if tiny_kind is not None:
            from .tiny import build_tiny_lora

            path = build_tiny_lora(tiny_kind, settings.tiny_models_path / "loras" /
                                   f"lightning_{expert}_{tiny_kind}.safetensors", seed=303 if expert == "HIGH" else 304)
        else:
            filename, url = LIGHTNING_FILES[(family, expert)]
            path = settings.lora_path / filename
            if not path.is_file():
                try:
                    path = download_url(url, settings.lora_path, timeout=LORA_TIMEOUT_S, max_bytes=LORA_MAX_BYTES,
                                        filename=filename)
                except DownloadError as exc:
                    raise LoraFetchError(f"lightning {expert} LoRA not found at {settings.lora_path / filename} and "
                                         f"could not be fetched: {exc}") from None
        files[path] = strength
    return files


class LoraError(UserError):
    """A LoRA that cannot be found or applied; the message names it."""


class LoraFetchError(LoraError, DownloadError):
    """A LoRA URL that did not answer or refused the download (transient: may pass on a retry)."""


class LoraNotFound(LoraError, InvalidParams):
    """A LoRA named in a task's `additional_loras` that is neither a file nor in the LoRA folder."""


def resolve_lora_file(path_or_url: str, folder: Path) -> Path:
    """A LoRA given as a URL (downloaded into `folder`), a path, or a file name inside `folder`."""
    if is_url(path_or_url):
        try:
            return download_url(path_or_url, folder, timeout=LORA_TIMEOUT_S, max_bytes=LORA_MAX_BYTES)
        except DownloadError as exc:
            raise LoraFetchError(f"LoRA could not be fetched: {exc}") from None
        except UnreachableURL as exc:
            raise LoraError(f"additional_loras: LoRA could not be fetched: {exc}", field="additional_loras") from None
    path = Path(path_or_url).expanduser()
    for candidate in (path, folder / path):
        if candidate.is_file():
            return candidate.resolve()
    raise LoraNotFound(f"additional_loras: LoRA file not found: {path_or_url} (also looked in {folder})",
                       field="additional_loras")


def accelerator_lora_file(flag: str, size: str, settings: Settings, tiny_kind: Optional[str] = None) -> Path:
    """The CausVid / lightx2v LoRA for a model size: found in the LoRA folder or fetched.

    With the tiny engine a tiny random LoRA (built once, cached beside the tiny models) stands in.
    """
    if tiny_kind is not None:
        from .tiny import build_tiny_lora

        seed = 101 if flag == "causvid" else 202
        return build_tiny_lora(tiny_kind, settings.tiny_models_path / "loras" / f"{flag}_{tiny_kind}.safetensors",
                               seed=seed)
    family = _SIZE_FAMILY.get(size, size)
    entry = ACCELERATOR_FILES.get((flag, family))
    folder = settings.lora_path
    if entry is None:
        raise LoraError(f"no {flag} LoRA is known for {size} models; known sizes: "
                        f"{', '.join(sorted(s for f, s in ACCELERATOR_FILES if f == flag))}")
    filename, url = entry
    local = folder / filename
    if local.is_file():
        return local
    try:
        return download_url(url, folder, timeout=LORA_TIMEOUT_S, max_bytes=LORA_MAX_BYTES, filename=filename)
    except DownloadError as exc:
        raise LoraFetchError(f"{flag} LoRA not found at {local} and could not be fetched: {exc}") from None
    except UnreachableURL as exc:
        raise LoraError(f"{flag} LoRA not found at {local} and could not be fetched: {exc}") from None


class AdapterState:
    """The adapters loaded into one resident pipeline: file identity -> adapter name."""

    def __init__(self) -> None:
        self.loaded: dict[str, str] = {}


def apply_loras(pipe, state: AdapterState, loras: list[tuple[Path, float]]) -> list[tuple[str, object]]:
    """Activate exactly `loras` ([(file, strength)]) on `pipe`, loading files not loaded before; a
    two-expert pipeline gets each LoRA on both experts. A strength may be one per phase (a tuple: the
    engine sets it per step, source/engines/diffusers_engine.py); until then its first value applies.
    Returns [(adapter name, strength)]."""
    names, strengths = [], []
    second = getattr(pipe, "transformer_2", None) is not None
    for path, strength in loras:
        stat = path.stat()
        identity = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        name = state.loaded.get(identity)
        if name is None:
            name = "lora_" + hashlib.sha256(identity.encode()).hexdigest()[:12]
            try:
                pipe.load_lora_weights(str(path), adapter_name=name)
                if second:
                    pipe.load_lora_weights(str(path), adapter_name=name, load_into_transformer_2=True)
            except Exception as exc:
                raise LoraError(f"LoRA {path.name} could not be applied to this model: {exc}") from None
            state.loaded[identity] = name
        if name in names:  # the same file twice: strengths add up
            i = names.index(name)
            if isinstance(strength, tuple) or isinstance(strengths[i], tuple):
                raise LoraError(f"LoRA {path.name} is given twice with per-phase strengths; give it once")
            strengths[i] += float(strength)
            continue
        names.append(name)
        strengths.append(strength if isinstance(strength, tuple) else float(strength))
    if names:
        weights = [float(s[0]) if isinstance(s, tuple) else s for s in strengths]
        pipe.enable_lora()
        pipe.set_adapters(names, weights)
    elif state.loaded:
        pipe.disable_lora()
    return list(zip(names, strengths, strict=False))
