"""Quiet model loading: diffusers' and transformers' progress bars and advice kept out of the worker's log.

A module of its own, importing nothing from the project, so both the model cache (`residency.py`) and the
tiny-model builder (`tiny.py`) can use it without importing each other.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def quiet_loading_bars() -> None:
    """No tqdm bars ("Writing model shards", "Loading checkpoint shards") and no advice (a missing
    torchvision) from diffusers/transformers between the worker's log lines, which set their own log
    levels when first imported; their errors still show. All of it comes back with --debug."""
    if log.isEnabledFor(logging.DEBUG):
        return
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for library in (diffusers_logging, transformers_logging):
        library.disable_progress_bar()
        library.set_verbosity_error()
