"""LoRAs, model residency, engine choice, the registry and the tiny model cache."""
from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

from source.config import Settings
from source.engines.choice import choose_engine
from source.engines.models import lookup_model, tiny_kind_for
from source.engines.residency import RESIDENT
from source.engines.tiny import ensure_tiny_model
from source.engines.wan2gp import EngineUnavailable
from source.wgp_utils import generate_single_video

from .helpers.bridge import build_peft_lora, gradient_frames, solid


def still(settings, out, **kwargs):
    """One frame as PNG: lossless, so equal pixels can be asserted exactly."""
    from PIL import Image

    args = dict(model="tiny", prompt="a dog runs", resolution="64x64", frames=1, seed=4, steps=3,
                settings=settings)
    args.update(kwargs)
    path = generate_single_video(output_path=out, **args)
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def test_lora_changes_output_strength_zero_gives_base_and_no_reload(tiny_settings, tmp_path):
    lora = build_peft_lora(tiny_settings.tiny_models_dir, "t2v", tmp_path / "style.safetensors", seed=1)
    other = build_peft_lora(tiny_settings.tiny_models_dir, "t2v", tmp_path / "other.safetensors", seed=2)
    base = still(tiny_settings, tmp_path / "base.png")
    loads = RESIDENT.loads
    styled = still(tiny_settings, tmp_path / "styled.png", loras={str(lora): 1.0})
    zero = still(tiny_settings, tmp_path / "zero.png", loras={str(lora): 0.0})
    both = still(tiny_settings, tmp_path / "both.png", loras={str(lora): 1.0, str(other): 0.7})
    again = still(tiny_settings, tmp_path / "again.png")  # no LoRA: the adapters are switched off
    assert np.abs(styled - base).mean() > 0.2
    assert np.array_equal(zero, base)
    assert np.abs(both - styled).mean() > 0.2  # the second LoRA's own strength counts
    assert np.array_equal(again, base)
    assert RESIDENT.loads == loads  # switching LoRAs never reloaded the base model


def test_lora_by_file_name_in_lora_folder(tiny_settings, tmp_path):
    from pathlib import Path

    build_peft_lora(tiny_settings.tiny_models_dir, "t2v", Path(tiny_settings.lora_dir) / "named.safetensors")
    base = still(tiny_settings, tmp_path / "base.png")
    named = still(tiny_settings, tmp_path / "named.png", loras={"named.safetensors": 1.0})
    assert np.abs(named - base).mean() > 0.2


@pytest.mark.parametrize("flag,steps", [("use_causvid_lora", 9), ("use_lighti2x_lora", 5)])
def test_accelerator_flags_set_steps_and_apply_a_lora(tiny_settings, tmp_path, flag, steps):
    seen = []
    base = still(tiny_settings, tmp_path / "base.png", steps=steps, guidance_scale=1.0,
                 flow_shift=1.0 if steps == 9 else 5.0)
    fast = still(tiny_settings, tmp_path / "fast.png", steps=30, progress_callback=lambda s, t: seen.append(t),
                 **{flag: True})
    assert seen and set(seen) == {steps}  # the flag's step count wins over the 30 asked for
    assert np.abs(fast - base).mean() > 0.2  # same settings, so only the applied LoRA differs


def test_same_model_loads_once_and_switch_frees_the_first(tiny_settings, tmp_path):
    still(tiny_settings, tmp_path / "warm.png")  # tiny t2v resident
    loads = RESIDENT.loads
    still(tiny_settings, tmp_path / "a.png", seed=1)
    still(tiny_settings, tmp_path / "b.png", seed=2, prompt="another prompt")
    assert RESIDENT.loads == loads
    first = RESIDENT.pipeline
    first_ref = __import__("weakref").ref(first)
    del first
    # a guide makes it a VACE render: another model, so the t2v pipeline is freed before loading
    generate_single_video(model="tiny", prompt="x", output_path=tmp_path / "v.mp4", resolution="64x64", frames=5,
                          steps=2, guide_video=gradient_frames(5), settings=tiny_settings)
    assert RESIDENT.loads == loads + 1
    gc.collect()
    assert RESIDENT.last_freed is not None and RESIDENT.last_freed() is None
    assert first_ref() is None  # nothing kept the old pipeline alive


def test_choose_engine():
    assert choose_engine(None, Settings(engine="auto"), cuda=True) == "diffusers"
    assert choose_engine(None, Settings(), cuda=False) == "tiny"
    assert choose_engine("tiny", Settings(engine="diffusers")) == "tiny"  # the explicit choice wins
    assert choose_engine(None, Settings(engine="diffusers"), cuda=False) == "diffusers"
    with pytest.raises(ValueError, match="unknown engine 'magic'"):
        choose_engine("magic", Settings())


def test_wan2gp_engine_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("WAN2GP_PATH", raising=False)
    with pytest.raises(EngineUnavailable, match="needs a Wan2GP checkout.*WAN2GP_PATH"):
        choose_engine("wan2gp", Settings(wan2gp_path=str(tmp_path / "nowhere")))
    (tmp_path / "wgp.py").write_text("# a checkout\n")
    # a checkout is found; what is missing now is Wan2GP's own interpreter
    with pytest.raises(EngineUnavailable, match="needs Wan2GP's own Python.*WAN2GP_PYTHON"):
        choose_engine("wan2gp", Settings(wan2gp_path=str(tmp_path)))


def test_registry_names_and_tiny_kinds():
    assert lookup_model("VACE_14b").name == "vace_14B"
    assert lookup_model("vace").repo_id == "Wan-AI/Wan2.1-VACE-14B-diffusers"
    assert lookup_model("t2v_1.3B").size == "1.3B"
    assert tiny_kind_for("auto", has_guide=True, has_start=True, has_end=False) == "vace"
    assert tiny_kind_for("auto", has_guide=False, has_start=True, has_end=True) == "flf2v"
    assert tiny_kind_for("flf2v", has_guide=False, has_start=True, has_end=False) == "i2v"
    assert tiny_kind_for("t2v", has_guide=False, has_start=False, has_end=False) == "t2v"


def test_tiny_model_built_once_atomically_under_concurrency(tmp_path):
    settings = Settings(tiny_models_dir=str(tmp_path / "tiny"))
    results, errors = [], []

    def build():
        try:
            results.append(ensure_tiny_model("t2v", settings))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 1 and (results[0] / "model_index.json").is_file()
    assert [p.name for p in (tmp_path / "tiny").iterdir()] == [results[0].name]  # no staging folders left
    from diffusers import WanPipeline

    WanPipeline.from_pretrained(results[0])  # what was left is a complete, loadable model


def test_vace_built_from_start_image_with_named_model(tiny_settings, tmp_path):
    from source.media.video_io import count_frames

    path = generate_single_video(model="vace_1.3B", prompt="x", output_path=tmp_path / "v.mp4", resolution="64x64",
                                 frames=9, steps=2, start_image=solid((255, 0, 0)), end_image=solid((0, 0, 255)),
                                 settings=tiny_settings)
    assert RESIDENT.key[0] == "tiny-vace"
    assert count_frames(path) == 9
