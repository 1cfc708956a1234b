"""Test helpers for the render bridge: tiny-model settings, simple images and videos, a peft LoRA."""
from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from source.config import Settings
from source.media.video_io import read_frames, write_video


@pytest.fixture(scope="session")
def tiny_settings(tmp_path_factory) -> Settings:
    """Settings for renders with the tiny engine; tiny models cached once per test session."""
    root = tmp_path_factory.mktemp("bridge")
    return Settings(engine="tiny", tiny_models_dir=str(root / "tiny"), models_dir=str(root / "models"),
                    lora_dir=str(root / "loras"), hf_hub_offline=True)


def solid(color, size=(64, 64)) -> Image.Image:
    return Image.new("RGB", size, tuple(color))


def gradient_frames(count: int, size=(64, 64)) -> list[Image.Image]:
    """Frames whose brightness rises over time (a guide with something in it)."""
    width, height = size
    frames = []
    for i in range(count):
        level = int(40 + 180 * i / max(count - 1, 1))
        array = np.zeros((height, width, 3), np.uint8)
        array[:, : width // 2] = level
        array[:, width // 2:] = (level, 255 - level, 90)
        frames.append(Image.fromarray(array))
    return frames


def write_test_video(path: Path, images: list[Image.Image]) -> Path:
    return write_video((np.asarray(image.convert("RGB")) for image in images), path)


def decode(path: Path) -> np.ndarray:
    return np.stack(read_frames(path))


def build_peft_lora(tiny_dir: str, kind: str, path: Path, seed: int = 7) -> Path:
    """A LoRA made here with peft on the tiny transformer of `kind`, saved in diffusers' LoRA format."""
    import diffusers
    import torch
    from peft import LoraConfig, get_peft_model_state_dict

    from source.engines.diffusers_engine import PIPELINE_CLASSES
    from source.engines.tiny import ensure_tiny_model

    folder = ensure_tiny_model(kind, Settings(tiny_models_dir=str(tiny_dir)))
    transformer_cls = diffusers.WanVACETransformer3DModel if kind == "vace" else diffusers.WanTransformer3DModel
    transformer = transformer_cls.from_pretrained(folder, subfolder="transformer")
    torch.manual_seed(seed)
    transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                       target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    pipeline_cls = getattr(diffusers, PIPELINE_CLASSES[kind])
    path.parent.mkdir(parents=True, exist_ok=True)
    # diffusers loads LoRAs with alpha = rank (scale 1); larger B weights make the effect plain to see
    layers = {k: v * 16 if "lora_B" in k else v for k, v in get_peft_model_state_dict(transformer).items()}
    pipeline_cls.save_lora_weights(path.parent, transformer_lora_layers=layers, weight_name=path.name)
    return path


def closed_port_url(name: str = "lora.safetensors") -> str:
    """A URL on localhost where nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"
