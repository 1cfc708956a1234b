"""The render bridge: `generate_single_video` is the only way handlers render.

CONTRACT (implemented by the render-bridge work, issue 3; signature fixed so handlers can rely on it):

    generate_single_video(
        *, model: str, prompt: str, output_path: str | Path,
        negative_prompt: str = "", resolution: str | tuple[int, int] = "832x480",
        frames: int = 81, seed: int = 0, steps: int | None = None,
        guidance_scale: float | None = None, flow_shift: float | None = None,
        start_image: PIL.Image | str | None = None, end_image: PIL.Image | str | None = None,
        guide_video: list[PIL.Image] | str | None = None, mask_video: list[PIL.Image] | str | None = None,
        reference_images: list[PIL.Image | str] | None = None,
        loras: dict[str, float] | None = None,          # {path_or_url: strength}
        use_causvid_lora: bool = False, use_lighti2x_lora: bool = False,
        engine: str | None = None,                      # diffusers | tiny | wan2gp (default: settings)
        progress_callback: Callable[[int, int], None] | None = None,  # (step, total); may raise to cancel
        settings: dict | None = None,                   # worker settings: offload, compile, attention, dtype
    ) -> Path

Frames are snapped to 4k+1 and the resolution floored to multiples of 16 by `source.media.frames`
(one helper). Writes an H.264 mp4 (yuv420p, 16 fps) at `output_path` (or a PNG when the path ends in
.png and frames == 1) and returns that path; raises with a message a user understands otherwise.
"""
