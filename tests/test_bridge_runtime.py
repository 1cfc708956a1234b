"""GPU/runtime settings: parsed in one place, wrong values named; the SDPA backend runs on the CPU."""
from __future__ import annotations

from dataclasses import replace

import pytest

from source.config import Settings
from source.engines.runtime import attention_backend, runtime_options
from source.media.video_io import count_frames
from source.wgp_utils import generate_single_video



def test_defaults_cpu_and_cuda():
    cpu = runtime_options(Settings(), cuda=False)
    assert (cpu.device, cpu.dtype_name, cpu.attention, cpu.offload, cpu.compile) == ("cpu", "fp32", None, "none", False)
    gpu = runtime_options(Settings(offload="model", compile=True, attention="cudnn"), cuda=True)
    assert (gpu.device, gpu.dtype_name, gpu.attention, gpu.offload, gpu.compile, gpu.vae_tiling) == (
        "cuda", "bf16", "_native_cudnn", "model", True, True)  # offload turns VAE tiling on


def test_settings_object_is_accepted():
    options = runtime_options(Settings(attention="sdpa", offload="sequential"), cuda=False)
    assert options.attention == "native" and options.offload == "none"  # no CUDA: offload ignored


@pytest.mark.parametrize("values,match", [({"attention": "warp"}, "attention must be auto"),
                                          ({"offload": "disk"}, "offload must be one of"),
                                          ({"dtype": "int4"}, "dtype must be one of")])
def test_bad_values_are_named(values, match):
    with pytest.raises(ValueError, match=match):
        runtime_options(Settings(**values), cuda=True)


def test_diffusers_backend_names_pass_through():
    assert attention_backend("_native_flash") == "_native_flash"
    assert attention_backend("auto") is None and attention_backend(None) is None


def test_render_with_explicit_sdpa_backend(tiny_settings, tmp_path):
    settings = replace(tiny_settings, attention="sdpa")
    path = generate_single_video(model="tiny", prompt="x", output_path=tmp_path / "a.mp4", resolution="64x64",
                                 frames=5, steps=2, settings=settings)
    assert count_frames(path) == 5
