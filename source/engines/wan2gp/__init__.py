"""The Wan2GP engine: renders through a Wan2GP checkout (WAN2GP_PATH, else ./Wan2GP) in a long-lived
helper process run by Wan2GP's own interpreter (WAN2GP_PYTHON, else the checkout's venv).

    engine.py       one render, top to bottom; `ENGINE`, registered as "wan2gp" (source/engines/registry.py)
    names.py        our model names -> Wan2GP model types
    frame_rule.py   Wan2GP's frame-count rule and what we ask for to get the frames wanted
    mapping.py      our arguments -> Wan2GP settings; input files; wgp_settings checks
    options.py      the worker settings this engine reads (checkout, interpreter, timeout, --wgp-*)
    helper.py       the worker's side of the helper process (start, requests, death and hang detection)
    helper_main.py  the helper program itself (standard library + Wan2GP only; runs in Wan2GP's venv)
    errors.py       how failures are classified (bad input / transient / cancelled)

docs/ENGINES.md explains when to use this engine and how to set Wan2GP up beside the worker.
Importing this package is cheap (no torch, no process): the helper starts on the first render.
"""
from .errors import EngineUnavailable
from .helper import stop_helper
from .options import WGP_FLAGS, check_wan2gp, find_wan2gp_checkout


def render(request, settings, progress_callback=None):
    """One render of a RenderRequest on the Wan2GP engine (see engine.render); imported lazily: it pulls in PyAV."""
    from .engine import render as _render

    return _render(request, settings, progress_callback)


__all__ = ["EngineUnavailable", "WGP_FLAGS", "check_wan2gp", "find_wan2gp_checkout", "render", "stop_helper"]
