"""Where a model's diffusers-format weights are: a local folder, the Hugging Face cache, or a download.

Looked at in this order (the first folder holding a model_index.json wins):
  1. <models_dir>/<name>              e.g. models/vace_14B
  2. <models_dir>/<repo name>         e.g. models/Wan2.1-VACE-14B-diffusers
  3. <models_dir>/<org>/<repo name>   e.g. models/Wan-AI/Wan2.1-VACE-14B-diffusers
  4. the Hugging Face cache (HF_HOME / HF_HUB_CACHE), without touching the network
  5. a download from the Hugging Face Hub, unless HF_HUB_OFFLINE is set
"""
from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..errors import UserError
from .models import ModelSpec


class MissingWeights(UserError, FileNotFoundError):
    """No weights for a model anywhere we looked; the message names the model and every place."""


def hub_offline(settings: Settings) -> bool:
    """HF_HUB_OFFLINE as our settings read it, or as huggingface_hub read it at import."""
    import huggingface_hub.constants as hf_constants

    return settings.hf_hub_offline or bool(hf_constants.HF_HUB_OFFLINE)


def local_candidates(spec: ModelSpec, root: Path) -> list[Path]:
    paths = [root / spec.name]
    if spec.repo_id:
        paths += [root / spec.repo_id.split("/")[-1], root / spec.repo_id]
    return paths


def locate_weights(spec: ModelSpec, settings: Settings) -> Path:
    """A local folder with the model's weights (downloading them when allowed), or MissingWeights."""
    looked: list[str] = []
    for path in local_candidates(spec, settings.models_path):
        if (path / "model_index.json").is_file():
            return path
        looked.append(str(path))
    if spec.repo_id:
        import huggingface_hub
        import huggingface_hub.constants as hf_constants

        looked.append(f"Hugging Face cache {hf_constants.HF_HUB_CACHE} ({spec.repo_id})")
        try:
            cached = Path(huggingface_hub.snapshot_download(spec.repo_id, local_files_only=True))
            if (cached / "model_index.json").is_file():
                return cached
        except Exception:  # not in the cache (the hub raises several kinds for that)
            pass
        if hub_offline(settings):
            looked.append(f"Hugging Face Hub {spec.repo_id} (not tried: HF_HUB_OFFLINE is set)")
        else:
            try:
                return Path(huggingface_hub.snapshot_download(spec.repo_id))
            except Exception as exc:
                looked.append(f"Hugging Face Hub {spec.repo_id} (download failed: {type(exc).__name__})")
    raise MissingWeights(f"no weights for model {spec.name!r}; looked in: {'; '.join(looked)}. "
                         f"Put the diffusers-format folder in {looked[0]} or allow the download.")
