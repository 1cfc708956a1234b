"""Seconds per denoising step of full-size Wan 2.1 transformers on a GPU: stock diffusers vs. tuned.

    .venv/bin/python benchmarks/gpu_bench.py                      # 1.3B and 14B, every variant, 832x480x81
    .venv/bin/python benchmarks/gpu_bench.py --models 1.3B --steps 5 --json out.json
    .venv/bin/python benchmarks/gpu_bench.py --tiny               # CPU: tiny-model render time, 64x64x17

Random bf16 weights with the real Wan 2.1 dimensions (the weights do not change the speed), one step
with classifier-free guidance = two transformer forwards (cond + uncond), as diffusers' WanPipeline runs
it. Latents 16 x 21 x 60 x 104 (832x480, 81 frames), text 512 x 4096.

Variants: stock (diffusers defaults: bf16, PyTorch SDPA as dispatched by diffusers), cudnn (SDPA's cuDNN
kernel), flash (flash-attn package, when installed), and each with regional torch.compile of the
transformer blocks. Reported against the compute floor: FLOP per CFG step / the measured H200 bf16 rate.
Exits 0 with a message when no CUDA device exists.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

H200_BF16_TFLOPS = 790.0  # dense bf16 rate measured by this workplace (FACTS.md)
WIDTH, HEIGHT, FRAMES = 832, 480, 81
TEXT_TOKENS, TEXT_DIM = 512, 4096

# Wan 2.1 transformer configurations (diffusers WanTransformer3DModel arguments)
CONFIGS = {
    "1.3B": dict(num_attention_heads=12, attention_head_dim=128, ffn_dim=8960, num_layers=30),
    "14B": dict(num_attention_heads=40, attention_head_dim=128, ffn_dim=13824, num_layers=40),
}
COMMON = dict(patch_size=(1, 2, 2), in_channels=16, out_channels=16, text_dim=TEXT_DIM, freq_dim=256,
              cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)


def latent_shape(width: int = WIDTH, height: int = HEIGHT, frames: int = FRAMES) -> tuple[int, int, int]:
    """(latent frames, latent height, latent width): VAE stride 4 in time, 8 in space."""
    return (frames - 1) // 4 + 1, height // 8, width // 8


def video_tokens(width: int = WIDTH, height: int = HEIGHT, frames: int = FRAMES) -> int:
    t, h, w = latent_shape(width, height, frames)
    return t * (h // 2) * (w // 2)  # patch 1x2x2


def forward_tflop(size: str, tokens: int, text_tokens: int = TEXT_TOKENS) -> float:
    """Matmul FLOP of one transformer forward (multiply-add = 2 FLOP); norms and RoPE left out."""
    cfg = CONFIGS[size]
    d = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    per_layer = (
        2 * tokens * 4 * d * d                # self-attention q, k, v, out projections
        + 2 * 2 * tokens * tokens * d         # self-attention scores and weighted sum
        + 2 * tokens * 2 * d * d              # cross-attention q and out
        + 2 * text_tokens * 2 * d * d         # cross-attention k and v over the text
        + 2 * 2 * tokens * text_tokens * d    # cross-attention scores and weighted sum
        + 2 * tokens * 2 * d * cfg["ffn_dim"]  # feed-forward up and down
    )
    return per_layer * cfg["num_layers"] / 1e12


def floor_seconds_per_step(size: str) -> float:
    return 2 * forward_tflop(size, video_tokens()) / H200_BF16_TFLOPS


def build_transformer(size: str):
    import torch
    from diffusers import WanTransformer3DModel

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # build straight in bf16 on the GPU (no fp32 copy)
    try:
        with torch.device("cuda"):
            model = WanTransformer3DModel(**COMMON, **CONFIGS[size])
    finally:
        torch.set_default_dtype(previous)
    return model.eval().requires_grad_(False)


def time_cfg_steps(model, steps: int, warmup: int) -> list[float]:
    import torch

    t, h, w = latent_shape()
    gen = torch.Generator(device="cuda").manual_seed(0)
    latents = torch.randn(1, 16, t, h, w, device="cuda", dtype=torch.bfloat16, generator=gen)
    cond = torch.randn(1, TEXT_TOKENS, TEXT_DIM, device="cuda", dtype=torch.bfloat16, generator=gen)
    uncond = torch.randn(1, TEXT_TOKENS, TEXT_DIM, device="cuda", dtype=torch.bfloat16, generator=gen)
    timestep = torch.tensor([500.0], device="cuda")
    times = []
    with torch.inference_mode():
        for i in range(warmup + steps):
            torch.cuda.synchronize()
            start = time.perf_counter()
            a = model(hidden_states=latents, timestep=timestep, encoder_hidden_states=cond, return_dict=False)[0]
            b = model(hidden_states=latents, timestep=timestep, encoder_hidden_states=uncond, return_dict=False)[0]
            _ = b + 5.0 * (a - b)
            torch.cuda.synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return times


def attention_available(name: str) -> bool:
    if name == "flash":
        try:
            import flash_attn  # noqa: F401
        except ImportError:
            return False
    return True


def bench_model(size: str, steps: int, warmup: int, variants: list[str]) -> list[dict]:
    import torch

    model = build_transformer(size)
    floor = floor_seconds_per_step(size)
    rows = []
    # uncompiled variants first: compiling changes the model in place
    order = sorted(variants, key=lambda v: v.endswith("+compile"))
    compiled = False
    for variant in order:
        attention, _, compile_flag = variant.partition("+")
        backend = {"stock": None, "cudnn": "_native_cudnn", "flash": "flash", "sdpa_flash": "_native_flash"}[attention]
        if backend and not attention_available(attention):
            rows.append({"model": size, "variant": variant, "skipped": f"{attention} not installed"})
            continue
        model.set_attention_backend(backend or "native")
        if compile_flag and not compiled:
            model.compile_repeated_blocks(fullgraph=True)
            compiled = True
        try:
            times = time_cfg_steps(model, steps, warmup + (2 if compile_flag else 0))
        except Exception as exc:  # a backend that refuses these shapes: say so, go on
            rows.append({"model": size, "variant": variant, "skipped": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        median = statistics.median(times)
        rows.append({"model": size, "variant": variant, "s_per_step": round(median, 3),
                     "floor_s": round(floor, 3), "x_floor": round(median / floor, 2),
                     "tflops": round(2 * forward_tflop(size, video_tokens()) / median, 1),
                     "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1)})
        print(json.dumps(rows[-1]), flush=True)
    del model
    torch.cuda.empty_cache()
    return rows


def bench_tiny_cpu(repeats: int) -> dict:
    """Tiny-model render through generate_single_video: 64x64x17, 4 steps, CPU."""
    import tempfile

    from source.config import Settings
    from source.engines.residency import RESIDENT
    from source.wgp_utils import generate_single_video

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(engine="tiny", tiny_models_dir=str(Path(tmp) / "tiny"), hf_hub_offline=True)
        times = []
        for i in range(repeats + 1):
            start = time.perf_counter()
            generate_single_video(model="tiny", prompt="a red car", output_path=Path(tmp) / f"{i}.mp4",
                                  resolution="64x64", frames=17, seed=i, settings=settings)
            times.append(time.perf_counter() - start)
        RESIDENT.release()
    return {"tiny_cpu_first_s": round(times[0], 3), "tiny_cpu_warm_median_s": round(statistics.median(times[1:]), 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                        help="transformer sizes to measure")
    parser.add_argument("--variants", nargs="+", default=["stock", "cudnn", "flash", "stock+compile",
                                                          "cudnn+compile", "flash+compile"],
                        help="attention backend [+compile] combinations")
    parser.add_argument("--steps", type=int, default=3, help="measured CFG steps per variant (median)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured steps first")
    parser.add_argument("--json", type=Path, help="write the rows here as JSON")
    parser.add_argument("--tiny", action="store_true", help="measure the tiny model on the CPU instead")
    args = parser.parse_args(argv)

    if args.tiny:
        result = bench_tiny_cpu(repeats=5)
        print(json.dumps(result))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return 0
    import torch

    if not torch.cuda.is_available():
        print("gpu_bench: no CUDA device found; nothing measured (needs an NVIDIA GPU; "
              "try --tiny for the CPU tiny-model timing)")
        return 0
    print(f"gpu_bench: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
          f"{WIDTH}x{HEIGHT}x{FRAMES} = {video_tokens()} tokens", flush=True)
    for size in args.models:
        print(f"floor {size}: {2 * forward_tflop(size, video_tokens()):.0f} TFLOP per CFG step -> "
              f"{floor_seconds_per_step(size):.2f} s at {H200_BF16_TFLOPS:.0f} TFLOP/s", flush=True)
    rows = []
    for size in args.models:
        rows += bench_model(size, args.steps, args.warmup, args.variants)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
