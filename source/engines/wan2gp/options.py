"""The worker settings the Wan2GP engine reads, in one object: where Wan2GP is, which interpreter runs
it, how long it may stay silent, and the `--wgp-*` runtime options.

Settings reach the engine the way they reach every engine: `generate_single_video(settings=...)` gets
the worker's settings mapping (the worker passes `{..., "settings": <Settings>}`; tests pass a plain
dict with the same names). Nothing here reads the environment: `source/config.py` resolved flag > env >
.env > default once.

The `--wgp-*` options keep the names the original headless tool used for Wan2GP's global config. Each
becomes either one of Wan2GP's own command-line arguments (given to `shared.api.init(cli_args=...)`)
or a `wgp_config.json` key that Wan2GP only reads from its config; the helper sets those in Wan2GP's
in-memory config right after `init()`, before any model loads, and never writes them to the checkout's
config file.
"""
from __future__ import annotations

import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from ..runtime import settings_dict
from .errors import EngineUnavailable

_PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_HELPER_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class WgpFlag:
    name: str                       # Settings field (and flag --wgp-..., env WGP_...)
    target: str                     # "cli" (a Wan2GP command-line argument) or "config" (a wgp_config key)
    key: str                        # the Wan2GP argument or config key
    choices: Optional[tuple] = None
    kind: type = str
    help: str = ""


WGP_FLAGS: tuple[WgpFlag, ...] = (
    WgpFlag("wgp_attention_mode", "cli", "--attention", ("auto", "sdpa", "sage", "sage2", "flash", "xformers"),
            help="Wan2GP attention mode"),
    WgpFlag("wgp_compile", "cli", "--compile", ("transformer", "none"),
            help="torch.compile Wan2GP's transformer ('transformer') or not ('none')"),
    WgpFlag("wgp_profile", "cli", "--profile", None, float,
            help="Wan2GP memory profile (mmgp): 1 HighRAM_HighVRAM ... 4 LowRAM_LowVRAM, 5 VerylowRAM_LowVRAM"),
    WgpFlag("wgp_vae_config", "cli", "--vae-config", None, int, help="Wan2GP VAE tiling config (0 = auto)"),
    WgpFlag("wgp_preload", "cli", "--preload", None, int,
            help="megabytes of the diffusion model to preload in VRAM (0 = none)"),
    WgpFlag("wgp_transformer_dtype_policy", "cli", "--fp16/--bf16", ("auto", "fp16", "bf16"),
            help="transformer dtype: auto (Wan2GP chooses), fp16 or bf16"),
    WgpFlag("wgp_boost", "config", "boost", None, int, help="Wan2GP boost (1 = joint CFG pass, 0 = off)"),
    WgpFlag("wgp_transformer_quantization", "config", "transformer_quantization", ("int8", "fp8", "bf16"),
            help="transformer weights: int8 / fp8 quantised or bf16"),
    WgpFlag("wgp_text_encoder_quantization", "config", "text_encoder_quantization", ("int8", "bf16"),
            help="text encoder weights: int8 quantised or bf16"),
    WgpFlag("wgp_vae_precision", "config", "vae_precision", ("16", "32"), help="VAE precision in bits"),
    WgpFlag("wgp_mixed_precision", "config", "mixed_precision", ("0", "1"),
            help="1 = mixed-precision transformer"),
    WgpFlag("wgp_preload_policy", "config", "preload_model_policy", None,
            help="comma-separated letters: P preload at start, S at switch, U unload after each task"),
    WgpFlag("wgp_extra_args", "cli", "", None,
            help="more Wan2GP command-line arguments, as one shell-quoted string (e.g. '--gpu cuda:1')"),
)
WGP_FLAG_NAMES = tuple(flag.name for flag in WGP_FLAGS)


@dataclass(frozen=True)
class HelperSpec:
    """What a running helper was started with; a change means stopping it and starting another."""

    python: str
    root: str
    cli_args: tuple[str, ...] = ()
    config: tuple[tuple[str, Any], ...] = ()   # wgp_config keys set in memory after init()
    output_dir: str = ""


@dataclass(frozen=True)
class Wan2GPOptions:
    spec: HelperSpec
    timeout_s: float = DEFAULT_HELPER_TIMEOUT_S   # longest silence while the helper starts or renders
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "wan2gp-work")
    lora_settings: Mapping[str, Any] = field(default_factory=dict)  # what source.engines.loras reads
    debug: bool = False


def flat_settings(settings: Any) -> dict:
    """The settings mapping with the worker's nested Settings object unfolded (outer keys win)."""
    values = settings_dict(settings)
    nested = values.get("settings")
    if nested is not None and nested is not settings and not isinstance(nested, (str, bytes)):
        merged = settings_dict(nested)
        merged.update({k: v for k, v in values.items() if k != "settings" and v is not None})
        return merged
    return values


def wan2gp_candidates(settings: Any = None) -> list[Path]:
    values = flat_settings(settings)
    paths = [values.get("wan2gp_path"), _PROJECT_ROOT / "Wan2GP"]
    return [Path(p).expanduser().resolve() for p in paths if p]


def find_wan2gp_checkout(settings: Any = None) -> Optional[Path]:
    for path in wan2gp_candidates(settings):
        if (path / "wgp.py").is_file():
            return path
    return None


def python_candidates(root: Path) -> list[Path]:
    """Where Wan2GP's own interpreter usually is when WAN2GP_PYTHON is not set."""
    return [root / "venv" / "bin" / "python", root / ".venv" / "bin" / "python",
            root / "venv" / "Scripts" / "python.exe", root / ".venv" / "Scripts" / "python.exe"]


def find_wan2gp_python(root: Path, settings: Any = None) -> Path:
    values = flat_settings(settings)
    given = values.get("wan2gp_python")
    if given:
        path = Path(str(given)).expanduser()
        if not path.is_absolute():
            path = path.absolute()  # not resolve(): a venv's python is a symlink that must stay one
        if not path.is_file():
            raise EngineUnavailable(f"engine wan2gp: WAN2GP_PYTHON {given} does not exist; point it at the python "
                                    f"of the venv where Wan2GP's requirements are installed")
        return path
    for candidate in python_candidates(root):
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(p) for p in python_candidates(root)[:2])
    raise EngineUnavailable(f"engine wan2gp needs Wan2GP's own Python (it cannot run in the worker's venv): set "
                            f"WAN2GP_PYTHON (--wan2gp-python) to the python of Wan2GP's venv (looked in {looked})")


def check_wan2gp(settings: Any = None) -> Path:
    """The checkout's root, or EngineUnavailable saying what to set. Cheap: no process is started."""
    root = find_wan2gp_checkout(settings)
    if root is None:
        looked = ", ".join(str(p) for p in wan2gp_candidates(settings))
        raise EngineUnavailable(f"engine wan2gp needs a Wan2GP checkout (a folder with wgp.py): set WAN2GP_PATH "
                                f"(--wan2gp-path) or place it in Wan2GP/ (looked in: {looked})")
    find_wan2gp_python(root, settings)
    runtime_arguments(settings)
    return root


def runtime_arguments(settings: Any = None) -> tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]:
    """The `--wgp-*` settings as (Wan2GP cli_args, wgp_config overrides); ValueError naming a bad one."""
    values = flat_settings(settings)
    cli: list[str] = []
    config: dict[str, Any] = {}
    for flag in WGP_FLAGS:
        raw = values.get(flag.name)
        if raw is None or str(raw).strip() == "":
            continue
        value = _checked(flag, raw)
        if flag.name == "wgp_extra_args":
            cli.extend(shlex.split(value))
        elif flag.name == "wgp_compile":
            if value == "transformer":
                cli.append("--compile")
        elif flag.name == "wgp_transformer_dtype_policy":
            if value != "auto":
                cli.append(f"--{value}")
        elif flag.target == "cli":
            cli.extend([flag.key, _number_text(value)])
        elif flag.name == "wgp_preload_policy":
            letters = [part.strip().upper() for part in value.replace(" ", ",").split(",") if part.strip()]
            bad = [letter for letter in letters if letter not in ("P", "S", "U")]
            if bad:
                raise ValueError(f"wgp_preload_policy: unknown letter(s) {', '.join(bad)}; use P, S and/or U")
            config[flag.key] = letters
        else:
            config[flag.key] = value
    return tuple(cli), tuple(sorted(config.items()))


def _checked(flag: WgpFlag, raw: Any) -> Any:
    env = flag.name.upper()
    text = str(raw).strip()
    if flag.kind in (int, float):
        try:
            number = flag.kind(float(text)) if flag.kind is int and float(text).is_integer() else flag.kind(text)
        except ValueError:
            raise ValueError(f"{env} (--{flag.name.replace('_', '-')}) must be a number, got {raw!r}") from None
        return number
    if flag.name == "wgp_compile" and text == "":
        text = "none"
    if flag.choices and text not in flag.choices:
        raise ValueError(f"{env} (--{flag.name.replace('_', '-')}) must be one of {', '.join(flag.choices)}, "
                         f"got {raw!r}")
    return text


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def engine_options(settings: Any = None) -> Wan2GPOptions:
    """Everything the engine needs from the worker settings; EngineUnavailable / ValueError when wrong."""
    values = flat_settings(settings)
    root = check_wan2gp(values)
    python = find_wan2gp_python(root, values)
    cli_args, config = runtime_arguments(values)
    work = values.get("work_dir")
    nested = settings_dict(settings).get("settings")
    if not work and nested is not None and hasattr(nested, "work_path"):
        work = nested.work_path
    base = Path(work).expanduser().resolve() / "wan2gp" if work else Path(tempfile.gettempdir()) / "wan2gp-work"
    timeout = values.get("wan2gp_timeout")
    try:
        timeout = DEFAULT_HELPER_TIMEOUT_S if timeout in (None, "") else float(timeout)
    except (TypeError, ValueError):
        raise ValueError(f"WAN2GP_HELPER_TIMEOUT must be a number of seconds, got {timeout!r}") from None
    if timeout <= 0:
        raise ValueError(f"WAN2GP_HELPER_TIMEOUT must be positive, got {timeout}")
    spec = HelperSpec(python=str(python), root=str(root), cli_args=cli_args, config=config,
                      output_dir=str(base / "outputs"))
    lora_keys = ("lora_dir", "models_dir")
    return Wan2GPOptions(spec=spec, timeout_s=timeout, work_dir=base,
                         lora_settings={k: values[k] for k in lora_keys if values.get(k)},
                         debug=bool(values.get("debug")))
