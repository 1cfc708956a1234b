"""The optional Wan2GP engine: a Wan2GP checkout named by WAN2GP_PATH or placed in ./Wan2GP.

Not built in this version. Choosing it fails at once with a message saying what is missing, rather
than rendering with something else.
"""
from __future__ import annotations

from typing import Optional
from pathlib import Path

from ..config import Settings
from ..errors import UserError


class EngineUnavailable(UserError):
    """The chosen engine cannot run here; the message says why and what to do."""


def find_wan2gp_checkout(settings: Settings) -> Optional[Path]:
    for path in settings.wan2gp_candidates:
        if (path / "wgp.py").is_file():
            return path
    return None


def check_wan2gp(settings: Settings) -> None:
    checkout = find_wan2gp_checkout(settings)
    if checkout is None:
        looked = ", ".join(str(p) for p in settings.wan2gp_candidates)
        raise EngineUnavailable(f"engine wan2gp needs a Wan2GP checkout (a folder with wgp.py): set WAN2GP_PATH "
                                f"or place it in Wan2GP/ (looked in: {looked}); or use --engine diffusers")
    raise EngineUnavailable(f"engine wan2gp: found a checkout at {checkout}, but this version does not drive "
                            f"Wan2GP yet; use --engine diffusers (the same models through diffusers)")
