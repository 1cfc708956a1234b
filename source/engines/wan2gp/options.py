"""The worker settings the Wan2GP engine reads: where Wan2GP is, which interpreter runs it, how long it
may stay silent, and the `--wgp-*` runtime options.

Settings reach the engine the way they reach every engine: `generate_single_video(settings=...)` gets
the worker's `Settings` object (source/config.py resolved flag > env > .env > default once); nothing
here reads the environment.

The `--wgp-*` options keep the names the original headless tool used for Wan2GP's global config. Each
becomes either one of Wan2GP's own command-line arguments (given to `shared.api.init(cli_args=...)`)
or a `wgp_config.json` key that Wan2GP only reads from its config; the helper sets those in Wan2GP's
in-memory config right after `init()`, before any model loads, and never writes them to the checkout's
config file.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ...config import Settings
from .errors import EngineUnavailable, bad_input


@dataclass(frozen=True)
class WgpFlag:
    name: str                       # Settings field (and flag --wgp-..., env WGP_...)
    target: str                     # "cli" (a Wan2GP command-line argument) or "config" (a wgp_config key)
    key: str                        # the Wan2GP argument or config key
    choices: Optional[tuple] = None
    kind: type = str


WGP_FLAGS: tuple[WgpFlag, ...] = (   # the help text of each is its Settings field's (source/config.py)
    WgpFlag("wgp_attention_mode", "cli", "--attention", ("auto", "sdpa", "sage", "sage2", "flash", "xformers")),
    WgpFlag("wgp_compile", "cli", "--compile", ("transformer", "none")),
    WgpFlag("wgp_profile", "cli", "--profile", None, float),
    WgpFlag("wgp_vae_config", "cli", "--vae-config", None, int),
    WgpFlag("wgp_preload", "cli", "--preload", None, int),
    WgpFlag("wgp_transformer_dtype_policy", "cli", "--fp16/--bf16", ("auto", "fp16", "bf16")),
    WgpFlag("wgp_boost", "config", "boost", None, int),
    WgpFlag("wgp_transformer_quantization", "config", "transformer_quantization", ("int8", "fp8", "bf16")),
    WgpFlag("wgp_text_encoder_quantization", "config", "text_encoder_quantization", ("int8", "bf16")),
    WgpFlag("wgp_vae_precision", "config", "vae_precision", ("16", "32")),
    WgpFlag("wgp_mixed_precision", "config", "mixed_precision", ("0", "1")),
    WgpFlag("wgp_preload_policy", "config", "preload_model_policy"),
    WgpFlag("wgp_extra_args", "cli", ""),
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
    settings: Settings                             # for the LoRA folder and the accelerator LoRAs
    timeout_s: float                               # longest silence while the helper starts or renders
    work_dir: Path = Path("wan2gp-work")           # <WORK_DIR>/wan2gp: the helper's outputs, render inputs
    debug: bool = False


def find_wan2gp_checkout(settings: Settings) -> Optional[Path]:
    for path in settings.wan2gp_candidates:
        if (path / "wgp.py").is_file():
            return path
    return None


def python_candidates(root: Path) -> list[Path]:
    """Where Wan2GP's own interpreter usually is when WAN2GP_PYTHON is not set."""
    return [root / "venv" / "bin" / "python", root / ".venv" / "bin" / "python",
            root / "venv" / "Scripts" / "python.exe", root / ".venv" / "Scripts" / "python.exe"]


def find_wan2gp_python(root: Path, settings: Settings) -> Path:
    if settings.wan2gp_python:
        path = Path(settings.wan2gp_python).expanduser()
        if not path.is_absolute():
            path = path.absolute()  # not resolve(): a venv's python is a symlink that must stay one
        if not path.is_file():
            raise EngineUnavailable(f"engine wan2gp: WAN2GP_PYTHON {settings.wan2gp_python} does not exist; point "
                                    f"it at the python of the venv where Wan2GP's requirements are installed")
        return path
    for candidate in python_candidates(root):
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(p) for p in python_candidates(root)[:2])
    raise EngineUnavailable(f"engine wan2gp needs Wan2GP's own Python (it cannot run in the worker's venv): set "
                            f"WAN2GP_PYTHON (--wan2gp-python) to the python of Wan2GP's venv (looked in {looked})")


def check_wan2gp(settings: Settings) -> Path:
    """The checkout's root, or EngineUnavailable saying what to set. Cheap: no process is started."""
    root = find_wan2gp_checkout(settings)
    if root is None:
        looked = ", ".join(str(p) for p in settings.wan2gp_candidates)
        raise EngineUnavailable(f"engine wan2gp needs a Wan2GP checkout (a folder with wgp.py): set WAN2GP_PATH "
                                f"(--wan2gp-path) or place it in Wan2GP/ (looked in: {looked})")
    find_wan2gp_python(root, settings)
    runtime_arguments(settings)
    return root


def runtime_arguments(settings: Settings) -> tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]:
    """The `--wgp-*` settings as (Wan2GP cli_args, wgp_config overrides); UserError naming a bad one."""
    cli: list[str] = []
    config: dict[str, Any] = {}
    for flag in WGP_FLAGS:
        raw = getattr(settings, flag.name)
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
                raise bad_input(f"WGP_PRELOAD_POLICY (--wgp-preload-policy): unknown letter(s) {', '.join(bad)}; "
                                f"use P, S and/or U")
            config[flag.key] = letters
        else:
            config[flag.key] = value
    return tuple(cli), tuple(sorted(config.items()))


def _checked(flag: WgpFlag, raw: Any) -> Any:
    name = f"{flag.name.upper()} (--{flag.name.replace('_', '-')})"
    text = str(raw).strip()
    if flag.kind in (int, float):
        try:
            number = float(text)
        except ValueError:
            raise bad_input(f"{name} must be a number, got {raw!r}") from None
        if flag.kind is int:
            if not number.is_integer():
                raise bad_input(f"{name} must be a whole number, got {raw!r}")
            return int(number)
        return number
    if flag.name == "wgp_compile" and text == "":
        text = "none"
    if flag.choices and text not in flag.choices:
        raise bad_input(f"{name} must be one of {', '.join(flag.choices)}, got {raw!r}")
    return text


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def engine_options(settings: Settings) -> Wan2GPOptions:
    """Everything the engine needs from the worker settings; EngineUnavailable / UserError when wrong."""
    root = check_wan2gp(settings)
    python = find_wan2gp_python(root, settings)
    cli_args, config = runtime_arguments(settings)
    base = settings.work_path / "wan2gp"
    spec = HelperSpec(python=str(python), root=str(root), cli_args=cli_args, config=config,
                      output_dir=str(base / "outputs"))
    return Wan2GPOptions(spec=spec, settings=settings, timeout_s=float(settings.wan2gp_timeout), work_dir=base,
                         debug=bool(settings.debug))
