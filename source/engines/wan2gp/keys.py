"""Wan2GP setting names the worker treats specially (no imports: handlers use this at enqueue time)."""

# Our own arguments set these; wgp_settings may not (the hint names the field to use instead).
MANAGED_KEYS = {
    "model_type": "model", "prompt": "prompt", "negative_prompt": "negative_prompt",
    "resolution": "resolution", "video_length": "frames", "seed": "seed",
    "num_inference_steps": "steps", "guidance_scale": "guidance_scale", "flow_shift": "flow_shift",
    "image_start": "image_start_paths", "image_end": "image_end_paths", "video_guide": "video_guide_path",
    "video_mask": "video_mask_path", "image_refs": "image_refs_paths", "activated_loras": "additional_loras",
    "loras_multipliers": "additional_loras", "output_filename": "the output path",
}

# Wan2GP (v12.60) settings a task may give at the top level of its params (legacy rows do);
# the `wgp` handler moves them into wgp_settings. Any other Wan2GP setting goes in wgp_settings itself.
NATIVE_KEYS = frozenset({
    "video_prompt_type", "image_prompt_type", "audio_prompt_type", "model_mode", "sample_solver",
    "sliding_window_size", "sliding_window_overlap", "sliding_window_overlap_noise",
    "sliding_window_discard_last_frames", "sliding_window_color_correction_strength",
    "skip_steps_cache_type", "skip_steps_multiplier", "skip_steps_start_step_perc",
    "perturbation_switch", "perturbation_layers", "perturbation_start_perc", "perturbation_end_perc",
    "cfg_star_switch", "cfg_zero_step", "apg_switch", "NAG_scale", "NAG_tau", "NAG_alpha",
    "RIFLEx_setting", "temporal_upsampling", "spatial_upsampling", "film_grain_intensity",
    "film_grain_saturation", "embedded_guidance_scale", "guidance2_scale", "guidance3_scale",
    "switch_threshold", "switch_threshold2", "guidance_phases", "model_switch_phase",
    "control_net_weight", "control_net_weight2", "denoising_strength", "masking_strength",
    "mask_expand", "keep_frames_video_guide", "frames_positions", "remove_background_images_ref",
    "image_refs_relative_size", "video_guide_outpainting", "force_fps",
    "override_profile", "override_attention",
})
