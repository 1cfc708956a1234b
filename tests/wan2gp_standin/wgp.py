"""STAND-IN for Wan2GP's main module `wgp` (see README.md): model definitions, config, generate_media.

Like the real one, importing it prints to stdout.
"""
from __future__ import annotations

import inspect
import sys

print("[stand-in wgp] imported (the real wgp prints kernel notes here)")
sys.stdout.flush()

WanGP_version = "standin-12.60"
server_config = {"attention_mode": "auto", "transformer_quantization": "int8", "text_encoder_quantization": "int8",
                 "boost": 1, "preload_model_policy": [], "vae_precision": "16", "mixed_precision": "0"}
# module globals the real wgp derives from server_config at import
transformer_quantization = "int8"
text_encoder_quantization = "int8"
boost = 1
preload_model_policy = []


def _model(name, architecture, *, vace=False, images="", minimum=None, fps=16):
    return {"name": name, "architecture": architecture, "vace_class": vace,
            "frames_minimum": minimum or (17 if vace else 5), "frames_steps": 4, "fps": fps,
            "image_prompt_types_allowed": images,
            "guide_preprocessing": {"selection": ["", "V"]} if vace else None}


MODELS = {
    "t2v": _model("Wan2.1 t2v 14B", "t2v"),
    "t2v_1.3B": _model("Wan2.1 t2v 1.3B", "t2v_1.3B"),
    "i2v": _model("Wan2.1 i2v 480p 14B", "i2v", images="SE"),
    "i2v_720p": _model("Wan2.1 i2v 720p 14B", "i2v", images="SE"),
    "flf2v_720p": _model("Wan2.1 flf2v 720p 14B", "flf2v_720p", images="SE"),
    "vace_1.3B": _model("Vace 1.3B", "vace_1.3B", vace=True),
    "vace_14B": _model("Vace 14B", "vace_14B", vace=True),
    "t2v_2_2": _model("Wan2.2 t2v A14B", "t2v_2_2"),
    "i2v_2_2": _model("Wan2.2 i2v A14B", "i2v_2_2", images="SE"),
    "ti2v_2_2": _model("Wan2.2 ti2v 5B", "ti2v_2_2", images="S", fps=24),
    "tiny_t2v": _model("Tiny random t2v (stand-in)", "t2v_1.3B"),
    "tiny_vace": _model("Tiny random vace (stand-in)", "vace_1.3B", vace=True),
    "ltxv_13B": _model("LTX Video 13B (stand-in)", "ltxv_13B", images="SE", minimum=9, fps=30),
}

DEFAULTS = {"prompt": "", "negative_prompt": "", "resolution": "832x480", "video_length": 81,
            "num_inference_steps": 30, "guidance_scale": 5.0, "flow_shift": 3.0, "seed": -1}

# The real generate_media's arguments (v12.60), so that inspect.signature() answers as it does there.
GENERATE_MEDIA_ARGS = (
    "task send_cmd client_id image_mode prompt alt_prompt negative_prompt resolution video_length duration_seconds "
    "pause_seconds batch_size seed force_fps num_inference_steps guidance_scale guidance2_scale guidance3_scale "
    "switch_threshold switch_threshold2 guidance_phases model_switch_phase alt_guidance_scale alt_scale "
    "audio_guidance_scale audio_scale flow_shift sample_solver embedded_guidance_scale repeat_generation "
    "multi_prompts_gen_type multi_images_gen_type skip_steps_cache_type skip_steps_multiplier "
    "skip_steps_start_step_perc activated_loras loras_multipliers image_prompt_type image_start image_end "
    "model_mode video_source keep_frames_video_source input_video_strength video_prompt_type image_refs "
    "frames_positions video_guide video_guide2 image_guide keep_frames_video_guide denoising_strength "
    "masking_strength video_guide_outpainting video_guide_outpainting_ratio video_mask image_mask "
    "control_net_weight control_net_weight2 control_net_weight_alt motion_amplitude mask_expand audio_guide "
    "audio_guide2 custom_guide audio_source replace_voice_method replace_voice_sample replace_voice_sample2 "
    "audio_prompt_type speakers_locations sliding_window_size sliding_window_overlap sub_parallel_window_size "
    "sub_parallel_window_overlap sliding_window_color_correction_strength sliding_window_overlap_noise "
    "sliding_window_discard_last_frames sliding_window_trim_first_frames image_refs_relative_size "
    "remove_background_images_ref temporal_upsampling spatial_upsampling film_grain_intensity "
    "film_grain_saturation postprocess_audio postprocess_audio_prompt postprocess_audio_neg_prompt "
    "RIFLEx_setting NAG_scale NAG_tau NAG_alpha perturbation_switch perturbation_layers perturbation_start_perc "
    "perturbation_end_perc apg_switch cfg_star_switch cfg_zero_step prompt_enhancer min_frames_if_references "
    "override_profile override_attention attention_sparsity temperature custom_settings top_p top_k "
    "self_refiner_setting self_refiner_plan self_refiner_f_uncertainty self_refiner_certain_percentage "
    "output_filename config state model_type mode plugin_data"
).split()


def generate_media(*args, **kwargs):
    raise NotImplementedError("the stand-in renders in shared/api.py")


generate_media.__signature__ = inspect.Signature(
    [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in GENERATE_MEDIA_ARGS])


def get_model_def(model_type):
    return MODELS.get(model_type)


def floor_frame_count(frame_count, minimum, step=4, offset=1):
    """Wan2GP's rule (shared/utils/frame_scheduler.py)."""
    frame_count = max(minimum, frame_count)
    lower = ((frame_count - offset) // step) * step + offset
    if lower >= minimum:
        return lower
    return -(-(minimum - offset) // step) * step + offset
