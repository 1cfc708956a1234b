"""Tiny random-weight Wan pipelines in the real diffusers format, for CPU smoke runs and tests.

Each kind (t2v, i2v, flf2v, vace; t2v_a14b and i2v_a14b with two experts) is built from a fixed torch seed, saved with `save_pretrained` into a
cache folder on first use, and always loaded back with `from_pretrained`, so the same loading code serves
tiny and real models. The folder is built under a temporary name and renamed into place, so workers
starting at the same time never see (or leave) a half-written model.

Cache location: `Settings.tiny_models_path` (TINY_MODELS_DIR, default `~/.cache/headless-wan/tiny`), one
folder per kind and format version: `<root>/<kind>-v2`.
Renders 64x64x17 frames in well under a second on a CPU; the frames are noise, not pictures.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..config import Settings

TINY_KINDS = ("t2v", "i2v", "flf2v", "vace", "t2v_a14b", "i2v_a14b")
# Two-expert kinds (Wan 2.2 A14B): a high-noise `transformer` and a low-noise `transformer_2` of the same
# shape (different weights), switching at BOUNDARY_RATIO of the timesteps as Wan 2.2 T2V does.
TINY_BOUNDARY_RATIO = 0.875
TINY_FORMAT_VERSION = "v2"  # bump when the tiny configs change, so stale caches are not reused
TINY_SEED = 20241120

# Sizes checked on diffusers 0.42.1: small enough for a CPU, real enough for every code path.
_TRANSFORMER = dict(
    patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
    text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
    qk_norm="rms_norm_across_heads", rope_max_seq_len=1024,  # as real Wan: any resolution
)
_VOCAB_WORDS = (
    "a an the of and in on with at to from under over by man woman person cat dog bird horse car boat "
    "tree forest city street sky sea beach mountain river house room light dark red green blue yellow "
    "white black walks runs flies swims jumps dances turns looks smiles slowly fast camera pan zoom "
    "close up wide shot night day sun rain snow fire water blurry static ugly bad quality"
).split()


def tiny_model_dir(kind: str, settings: Settings) -> Path:
    _check_kind(kind)
    return settings.tiny_models_path / f"{kind}-{TINY_FORMAT_VERSION}"


def ensure_tiny_model(kind: str, settings: Settings) -> Path:
    """The tiny model folder of `kind`, built and saved on first use (atomically)."""
    target = tiny_model_dir(kind, settings)
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    from .quiet import quiet_loading_bars

    quiet_loading_bars()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build_tiny_pipeline(kind).save_pretrained(staging)
        try:
            staging.rename(target)  # atomic; fails if another worker got there first, which is fine
        except OSError:
            if not (target / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def build_tiny_pipeline(kind: str):
    """A random-weight pipeline of `kind`, built deterministically, in memory (eval mode)."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
        WanVACEPipeline,
        WanVACETransformer3DModel,
    )

    _check_kind(kind)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                               temperal_downsample=[False, True, True])
        text_encoder = _tiny_text_encoder()
        tokenizer = _tiny_tokenizer()
        scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                            num_train_timesteps=1000, flow_shift=3.0)
        if kind == "t2v":
            transformer = WanTransformer3DModel(**_TRANSFORMER)
            pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer,
                               vae=vae, scheduler=scheduler)
        elif kind == "t2v_a14b":
            pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder,
                               transformer=WanTransformer3DModel(**_TRANSFORMER),
                               transformer_2=WanTransformer3DModel(**_TRANSFORMER), vae=vae, scheduler=scheduler,
                               boundary_ratio=TINY_BOUNDARY_RATIO)
        elif kind == "i2v_a14b":  # as Wan 2.2 I2V: the image enters as latents only, no image encoder
            experts = [WanTransformer3DModel(**{**_TRANSFORMER, "in_channels": 36}) for _ in range(2)]
            pipe = WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder, transformer=experts[0],
                                           transformer_2=experts[1], vae=vae, scheduler=scheduler,
                                           boundary_ratio=TINY_BOUNDARY_RATIO)
        elif kind == "vace":
            transformer = WanVACETransformer3DModel(**{**_TRANSFORMER, "num_layers": 3},
                                                    vace_layers=[0, 2], vace_in_channels=96)
            pipe = WanVACEPipeline(tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer,
                                   vae=vae, scheduler=scheduler)
        else:
            from transformers import CLIPVisionConfig, CLIPVisionModel
            try:  # the PIL-backed processor needs no torchvision (which has no CPU wheel here)
                from transformers import CLIPImageProcessorPil as CLIPImageProcessor
            except ImportError:
                from transformers import CLIPImageProcessor

            # i2v: 16 noise + 4 mask + 16 image latent channels; flf2v adds a position embedding over
            # the two images' tokens (that is what lets `last_image` work): 2 * (8*8 patches + 1 cls).
            extra = {"pos_embed_seq_len": 2 * (8 * 8 + 1)} if kind == "flf2v" else {}
            transformer = WanTransformer3DModel(**{**_TRANSFORMER, "in_channels": 36}, image_dim=4, **extra)
            image_encoder = CLIPVisionModel(CLIPVisionConfig(
                hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                patch_size=4, intermediate_size=16))
            image_processor = CLIPImageProcessor(crop_size=32, size=32)
            pipe = WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder,
                                           transformer=transformer, vae=vae, scheduler=scheduler,
                                           image_encoder=image_encoder, image_processor=image_processor)
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()  # built modules start in training mode (dropout on): frames would not repeat
    return pipe


def build_tiny_lora(kind: str, path: Path, seed: int, rank: int = 4) -> Path:
    """A random LoRA for the tiny transformer of `kind`, saved as diffusers LoRA safetensors at `path`.

    Stands in for the accelerator LoRAs (CausVid, lightx2v) when the engine is tiny, so the LoRA code
    path runs for real. Written atomically.
    """
    import torch
    from diffusers import WanPipeline
    from peft import LoraConfig, get_peft_model_state_dict

    path = Path(path)
    if path.is_file():
        return path
    pipe = build_tiny_pipeline(kind)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        pipe.transformer.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=False,
                                                target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    # diffusers loads LoRA files with alpha = rank (scale 1); larger B weights give a visible effect
    layers = {k: v * 16 if "lora_B" in k else v for k, v in get_peft_model_state_dict(pipe.transformer).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", dir=path.parent))
    try:
        WanPipeline.save_lora_weights(staging, transformer_lora_layers=layers,
                                      weight_name="pytorch_lora_weights.safetensors")
        (staging / "pytorch_lora_weights.safetensors").replace(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _check_kind(kind: str) -> None:
    if kind not in TINY_KINDS:
        raise ValueError(f"no tiny model of kind {kind!r}; kinds: {', '.join(TINY_KINDS)}")


def _tiny_text_encoder():
    from transformers import UMT5Config, UMT5EncoderModel

    config = UMT5Config(vocab_size=len(_VOCAB_WORDS) + 3, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                        num_heads=4, relative_attention_num_buckets=8, dropout_rate=0.0)
    return UMT5EncoderModel(config)


def _tiny_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in _VOCAB_WORDS:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>", model_max_length=512)
