"""How a pipeline runs on this machine: device, dtype, attention backend, compile, offload, VAE tiling.

Read from the worker's `Settings` (flags --dtype, --attention, --compile, --offload, --vae-tiling):
  dtype      auto | bf16 | fp16 | fp32   (auto: bf16 on CUDA, fp32 on CPU)
  attention  auto | sdpa | cudnn | sdpa_flash | sdpa_efficient | flash | flash3 | sage | flex | xformers,
             or any diffusers attention backend name (auto keeps diffusers' default, PyTorch SDPA)
  compile    regional torch.compile of the transformer blocks (compiled once, reused every step)
  offload    none | model | sequential   (CPU offload for small GPUs; ignored without CUDA)
  vae_tiling decode the VAE in tiles (on by default whenever offload is on)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

from ..config import Settings

log = logging.getLogger(__name__)

OFFLOAD_MODES = ("none", "model", "sequential")
DTYPES = ("auto", "bf16", "fp16", "fp32")
# our short names -> diffusers attention backend names (diffusers.models.attention_dispatch)
ATTENTION_ALIASES = {
    "sdpa": "native", "native": "native", "cudnn": "_native_cudnn", "sdpa_flash": "_native_flash",
    "sdpa_efficient": "_native_efficient", "flash": "flash", "flash3": "_flash_3", "sage": "sage",
    "flex": "flex", "xformers": "xformers",
}


@dataclass(frozen=True)
class RuntimeOptions:
    device: str = "cpu"
    dtype_name: str = "fp32"
    attention: Optional[str] = None     # a diffusers backend name, or None for the default
    compile: bool = False
    offload: str = "none"
    vae_tiling: bool = False

    @property
    def dtype(self):
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.dtype_name]

    @property
    def key(self) -> tuple:
        """What a loaded pipeline depends on: a change means loading it again."""
        return (self.device, self.dtype_name, self.attention, self.compile, self.offload, self.vae_tiling)


def runtime_options(settings: Settings, cuda: Optional[bool] = None) -> RuntimeOptions:
    """RuntimeOptions from worker settings; ValueError naming the setting when a value is wrong."""
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    dtype = str(settings.dtype or "auto").lower()
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype == "auto":
        dtype = "bf16" if cuda else "fp32"
    offload = str(settings.offload or "none").lower()
    if offload not in OFFLOAD_MODES:
        raise ValueError(f"offload must be one of {', '.join(OFFLOAD_MODES)}, got {offload!r}")
    if offload != "none" and not cuda:
        log.warning("offload=%s ignored: no CUDA device", offload)
        offload = "none"
    vae_tiling = (offload != "none") if settings.vae_tiling is None else bool(settings.vae_tiling)
    return RuntimeOptions(
        device="cuda" if cuda else "cpu", dtype_name=dtype, attention=attention_backend(settings.attention),
        compile=bool(settings.compile), offload=offload, vae_tiling=vae_tiling,
    )


def attention_backend(name: Any) -> Optional[str]:
    """Our attention setting -> a diffusers backend name (None keeps the default)."""
    if name is None or str(name).lower() in ("", "auto", "default"):
        return None
    text = str(name)
    if text.lower() in ATTENTION_ALIASES:
        return ATTENTION_ALIASES[text.lower()]
    from diffusers.models.attention_dispatch import AttentionBackendName

    known = {b.value for b in AttentionBackendName}
    if text in known:
        return text
    raise ValueError(f"attention must be auto, one of {', '.join(ATTENTION_ALIASES)}, or a diffusers "
                     f"backend name ({', '.join(sorted(known))}); got {text!r}")


def apply_runtime_options(pipe, options: RuntimeOptions) -> None:
    """Place a freshly loaded pipeline on its device with the chosen kernels."""
    transformers = [t for t in (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None))
                    if t is not None]
    if options.attention:
        for transformer in transformers:
            transformer.set_attention_backend(options.attention)
    if options.offload == "model":
        pipe.enable_model_cpu_offload()
    elif options.offload == "sequential":
        pipe.enable_sequential_cpu_offload()
    else:
        pipe.to(options.device)
    if options.vae_tiling and hasattr(pipe.vae, "enable_tiling"):
        pipe.vae.enable_tiling()
    if options.compile:
        # Regional compile: one compiled graph for the repeated block, reused by every layer; compiles
        # in seconds instead of minutes and gives most of the speed of compiling the whole model.
        for transformer in transformers:
            transformer.compile_repeated_blocks(fullgraph=True)

