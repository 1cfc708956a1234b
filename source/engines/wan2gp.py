"""The optional Wan2GP engine: a Wan2GP checkout named by WAN2GP_PATH or placed in ./Wan2GP.

Not built in this version. Choosing it fails at once with a message saying what is missing, rather
than rendering with something else.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .runtime import settings_dict

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class EngineUnavailable(RuntimeError):
    """The chosen engine cannot run here; the message says why and what to do."""


def wan2gp_candidates(settings: Any = None) -> list[Path]:
    values = settings_dict(settings)
    paths = [values.get("wan2gp_path"), os.environ.get("WAN2GP_PATH"), _PROJECT_ROOT / "Wan2GP"]
    return [Path(p).expanduser().resolve() for p in paths if p]


def find_wan2gp_checkout(settings: Any = None):
    for path in wan2gp_candidates(settings):
        if (path / "wgp.py").is_file():
            return path
    return None


def check_wan2gp(settings: Any = None) -> None:
    checkout = find_wan2gp_checkout(settings)
    if checkout is None:
        looked = ", ".join(str(p) for p in wan2gp_candidates(settings))
        raise EngineUnavailable(f"engine wan2gp needs a Wan2GP checkout (a folder with wgp.py): set WAN2GP_PATH "
                                f"or place it in Wan2GP/ (looked in: {looked}); or use --engine diffusers")
    raise EngineUnavailable(f"engine wan2gp: found a checkout at {checkout}, but this version does not drive "
                            f"Wan2GP yet; use --engine diffusers (the same models through diffusers)")
