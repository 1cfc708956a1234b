"""The Wan2GP engine end to end against the stand-in checkout (tests/wan2gp_standin): a real helper
process, the real channel, a real mp4; no Wan2GP. Run by the project's own python."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from source.config import Settings
from source.engines.wan2gp import EngineUnavailable, stop_helper
from source.engines.wan2gp.helper import HELPERS
from source.errors import TaskCancelled, TransientError, UserError
from source.media.video_io import count_frames, read_frames, video_info
from source.wgp_utils import generate_single_video

STANDIN = Path(__file__).resolve().parent / "wan2gp_standin"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wan2gp")
    yield folder
    stop_helper()


@pytest.fixture
def settings(work):
    return Settings(engine="wan2gp", wan2gp_path=str(STANDIN), wan2gp_python=sys.executable, work_dir=str(work),
                    lora_dir=str(work / "loras"), wan2gp_timeout=30.0)


def tuned(settings: Settings, **changes) -> Settings:
    return dataclasses.replace(settings, **changes)


def received(work: Path) -> dict:
    """The settings the stand-in's submit_task got last."""
    lines = (work / "wan2gp" / "outputs" / "standin_settings.jsonl").read_text().splitlines()
    return json.loads(lines[-1])


def render(settings, tmp_path, name="out.mp4", **kwargs):
    kwargs.setdefault("model", "t2v_1.3B")
    kwargs.setdefault("prompt", "a boat")
    kwargs.setdefault("resolution", "64x48")
    kwargs.setdefault("frames", 9)
    return generate_single_video(output_path=tmp_path / name, settings=settings, **kwargs)


def frames_of(count, size=(64, 48), start=20):
    return [Image.new("RGB", size, (start + 10 * i,) * 3) for i in range(count)]


def test_t2v_parameters_progress_and_output(settings, work, tmp_path):
    progress = []
    path = render(settings, tmp_path, prompt="a red car", negative_prompt="blur", frames=9, seed=11, steps=4,
                  guidance_scale=6.5, flow_shift=2.0, progress_callback=lambda s, t: progress.append((s, t)))
    assert path == tmp_path / "out.mp4" and count_frames(path) == 9
    assert (video_info(path)["width"], video_info(path)["height"]) == (64, 48)
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert received(work) == {"model_type": "t2v_1.3B", "prompt": "a red car", "negative_prompt": "blur",
                              "resolution": "64x48", "video_length": 9, "seed": 11, "num_inference_steps": 4,
                              "guidance_scale": 6.5, "flow_shift": 2.0}
    assert not list((work / "wan2gp" / "outputs").glob("*.mp4"))  # moved, not copied


def test_unset_steps_guidance_shift_are_left_to_wan2gp(settings, work, tmp_path):
    render(settings, tmp_path, model="t2v", frames=5)
    sent = received(work)
    assert "num_inference_steps" not in sent and "guidance_scale" not in sent and "flow_shift" not in sent
    assert sent["model_type"] == "t2v"


def test_the_helper_is_reused_between_renders(settings, tmp_path):
    render(settings, tmp_path, name="a.mp4", steps=1)
    first = HELPERS.current().pid
    render(settings, tmp_path, name="b.mp4", steps=1)
    assert HELPERS.current().pid == first


def test_vace_guide_mask_refs_are_files_and_short_requests_are_trimmed(settings, work, tmp_path):
    guide = frames_of(9)
    mask = [Image.new("RGB", (64, 48), (255, 255, 255))] * 9
    ref = Image.new("RGB", (64, 48), (200, 10, 10))
    path = render(settings, tmp_path, model="vace_1.3B", frames=9, steps=2, guide_video=guide, mask_video=mask,
                  reference_images=[ref])
    sent = received(work)
    assert sent["video_prompt_type"] == "VAI" and sent["video_length"] == 17  # VACE renders at least 17
    assert sent["remove_background_images_ref"] == 0
    assert [Path(p).suffix for p in sent["image_refs"]] == [".png"]
    assert count_frames(path) == 9                                            # and we keep the 9 asked
    kept = read_frames(path)
    for index in (0, 4, 8):  # the stand-in plays the guide back: the kept frames are the guide's
        assert abs(int(kept[index].mean()) - (20 + 10 * index)) <= 3
    assert not Path(sent["video_guide"]).exists()  # the render's input folder is cleaned up


def test_vace_start_and_end_images_go_through_the_guide(settings, work, tmp_path):
    start, end = Image.new("RGB", (64, 48), (250, 0, 0)), Image.new("RGB", (64, 48), (0, 0, 250))
    path = render(settings, tmp_path, model="vace_14B", frames=17, steps=1, start_image=start, end_image=end)
    sent = received(work)
    assert sent["video_prompt_type"] == "VA" and "image_start" not in sent
    first, last = read_frames(path)[0], read_frames(path)[-1]
    assert first[..., 0].mean() > 200 and last[..., 2].mean() > 200


def test_i2v_and_flf2v_take_start_and_end_images(settings, work, tmp_path):
    start = tmp_path / "start.png"
    Image.new("RGB", (80, 60), (0, 255, 0)).save(start)
    render(settings, tmp_path, model="i2v", frames=5, steps=1, start_image=str(start))
    sent = received(work)
    assert sent["image_prompt_type"] == "S" and sent["image_start"].endswith("start.png")
    render(settings, tmp_path, model="flf2v_720p", frames=5, steps=1, start_image=str(start),
           end_image=Image.new("RGB", (64, 48)))
    sent = received(work)
    assert sent["image_prompt_type"] == "SE" and "image_end" in sent


def test_inputs_a_model_cannot_take_are_one_line_errors(settings, tmp_path):
    with pytest.raises(UserError, match="model t2v_1.3B makes video from text only"):
        render(settings, tmp_path, start_image=Image.new("RGB", (64, 48)))
    with pytest.raises(UserError, match="takes no guide or mask video; use a VACE model"):
        render(settings, tmp_path, guide_video=frames_of(9))


def test_single_frame_png_from_the_model_minimum(settings, work, tmp_path):
    path = render(settings, tmp_path, name="still.png", frames=1, steps=1)
    assert path.suffix == ".png" and Image.open(path).size == (64, 48)
    assert received(work)["video_length"] == 5


def test_loras_and_the_causvid_preset(settings, work, tmp_path):
    lora_dir = work / "loras"
    lora_dir.mkdir(exist_ok=True)
    mine = tmp_path / "style.safetensors"
    mine.write_bytes(b"x")
    (lora_dir / "Wan21_CausVid_bidirect2_T2V_1_3B_lora_rank32.safetensors").write_bytes(b"x")
    render(settings, tmp_path, steps=30, guidance_scale=5.0, loras={str(mine): 0.7}, use_causvid_lora=True)
    sent = received(work)
    assert sent["activated_loras"] == [str(mine.resolve()),
                                       str(lora_dir / "Wan21_CausVid_bidirect2_T2V_1_3B_lora_rank32.safetensors")]
    assert sent["loras_multipliers"] == "0.7 1"
    assert (sent["num_inference_steps"], sent["guidance_scale"], sent["flow_shift"]) == (9, 1.0, 1.0)


def test_wgp_settings_pass_through_and_unknown_keys_fail(settings, work, tmp_path):
    render(settings, tmp_path, model="vace_1.3B", frames=17, steps=1, guide_video=frames_of(17),
           wgp_settings={"sliding_window_size": 33, "NAG_scale": 1.5, "video_prompt_type": "VI"})
    sent = received(work)
    assert (sent["sliding_window_size"], sent["NAG_scale"], sent["video_prompt_type"]) == (33, 1.5, "VI")
    with pytest.raises(UserError, match="wgp_settings.sliding_window: not a setting of Wan2GP model t2v_1.3B"):
        render(settings, tmp_path, wgp_settings={"sliding_window": 33})


def test_any_wan2gp_model_type_is_checked_against_the_checkout(settings, work, tmp_path):
    path = render(settings, tmp_path, model="wan2gp:ltxv_13B", frames=9, steps=1)
    assert received(work)["model_type"] == "ltxv_13B" and count_frames(path) == 9
    with pytest.raises(UserError, match=r"unknown Wan2GP model type 'ltxv_31B' in this checkout; did you mean ltxv_13B.*"
                                         r"known types: .*vace_14B"):
        render(settings, tmp_path, model="wan2gp:ltxv_31B")


def test_tiny_picks_the_harness_model_by_inputs(settings, work, tmp_path):
    render(settings, tmp_path, model="tiny", frames=5, steps=1)
    assert received(work)["model_type"] == "tiny_t2v"
    render(settings, tmp_path, model="tiny", frames=17, steps=1, guide_video=frames_of(17))
    assert received(work)["model_type"] == "tiny_vace"


def test_progress_callback_raising_cancels_the_job_within_a_step(settings, work, tmp_path):
    steps_seen = []

    def cancel_at_two(step, total):
        steps_seen.append(step)
        if step == 2:
            raise TaskCancelled("row cancelled")

    started = time.monotonic()
    with pytest.raises(TaskCancelled, match="row cancelled"):
        render(settings, tmp_path, name="never.mp4", prompt="[slow] slow boat", steps=40,
               progress_callback=cancel_at_two)
    assert time.monotonic() - started < 5   # 40 slow steps would take 10 s
    assert steps_seen == [1, 2] and not (tmp_path / "never.mp4").exists()
    assert not list((work / "wan2gp" / "outputs").glob("*.mp4"))
    pid = HELPERS.current().pid
    render(settings, tmp_path, steps=1)      # the helper is still usable
    assert HELPERS.current().pid == pid


def test_a_helper_crash_is_transient_and_the_next_render_gets_a_fresh_helper(settings, tmp_path):
    render(settings, tmp_path, steps=1)
    before = HELPERS.current().pid
    with pytest.raises(TransientError) as info:
        render(settings, tmp_path, name="crash.mp4", prompt="[crash@2] boom", steps=5)
    message = str(info.value)
    assert "Wan2GP helper was killed by SIGKILL" in message and "fresh helper" in message and "\n" not in message
    assert not (tmp_path / "crash.mp4").exists()
    path = render(settings, tmp_path, name="after.mp4", steps=1)
    assert count_frames(path) == 9 and HELPERS.current().pid != before


def test_a_helper_killed_from_outside_is_noticed(settings, tmp_path):
    render(settings, tmp_path, steps=1)
    helper = HELPERS.current()
    threading.Timer(0.6, os.kill, (helper.pid, signal.SIGKILL)).start()
    with pytest.raises(TransientError, match="killed by SIGKILL"):
        render(settings, tmp_path, prompt="[slow] x", steps=40)
    assert count_frames(render(settings, tmp_path, name="again.mp4", steps=1)) == 9


def test_a_silent_helper_is_killed_after_the_timeout(settings, tmp_path):
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"Wan2GP helper was silent for 2 s while rendering; killed \(WAN2GP_HELPER_TIMEOUT\)"):
        render(tuned(settings, wan2gp_timeout=2.0), tmp_path, prompt="[hang@1] x", steps=3)
    assert time.monotonic() - started < 15
    assert count_frames(render(settings, tmp_path, name="again.mp4", steps=1)) == 9


def test_printing_to_stdout_during_a_job_does_not_disturb_the_channel(settings, tmp_path, caplog):
    caplog.set_level("DEBUG", logger="wan2gp")
    path = render(settings, tmp_path, prompt="[print] chatty", steps=3)
    assert count_frames(path) == 9
    text = caplog.text
    assert "stand-in print() during step 2" in text          # print(): a Wan2GP stream event
    assert "stand-in raw fd1 write during step 3" in text    # raw fd 1: the helper's output, logged


def test_a_wan2gp_error_fails_the_render_without_killing_the_helper(settings, tmp_path):
    render(settings, tmp_path, steps=1)
    pid = HELPERS.current().pid
    with pytest.raises(RuntimeError, match="Wan2GP: RuntimeError: stand-in failure requested by the prompt"):
        render(settings, tmp_path, prompt="[fail] x", steps=1)
    assert HELPERS.current().pid == pid


def test_wgp_options_reach_init_and_the_config(settings, work, tmp_path):
    render(tuned(settings, wgp_attention_mode="sdpa", wgp_profile="4", wgp_vae_precision="32",
                 wgp_preload_policy="P"), tmp_path, steps=1)
    helper = HELPERS.current()
    runtime = json.loads((work / "wan2gp" / "outputs" / "standin_runtime.json").read_text())
    assert runtime["cli_args"] == ["--attention", "sdpa", "--profile", "4"] and runtime["pid"] == helper.pid
    assert helper.info["applied_config"] == {"vae_precision": "32", "preload_model_policy": ["P"]}
    render(settings, tmp_path, steps=1)  # different options: a new helper
    assert HELPERS.current().pid != helper.pid


def test_an_interpreter_without_wan2gp_is_a_one_line_error(tmp_path):
    checkout = tmp_path / "Wan2GP"
    checkout.mkdir()
    (checkout / "wgp.py").write_text("")  # a checkout without shared/api.py
    broken = Settings(engine="wan2gp", wan2gp_path=str(checkout), wan2gp_python=sys.executable,
                      work_dir=str(tmp_path / "work"))
    with pytest.raises(EngineUnavailable) as info:
        render(broken, tmp_path)
    message = str(info.value)
    assert "Wan2GP could not start under" in message and "ModuleNotFoundError" in message and "\n" not in message
    stop_helper()


def test_stop_helper_ends_the_process(settings, tmp_path):
    render(settings, tmp_path, steps=1)
    proc = HELPERS.current().proc
    stop_helper()
    assert proc.poll() == 0 and HELPERS.current() is None


def test_a_helper_that_dies_while_starting_is_transient(tmp_path):
    checkout = tmp_path / "Wan2GP"
    (checkout / "shared").mkdir(parents=True)
    (checkout / "wgp.py").write_text("")
    (checkout / "shared" / "__init__.py").write_text("")
    (checkout / "shared" / "api.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    dying = Settings(engine="wan2gp", wan2gp_path=str(checkout), wan2gp_python=sys.executable,
                     work_dir=str(tmp_path / "work"))
    with pytest.raises(TransientError, match="Wan2GP helper was killed by SIGKILL .* while starting"):
        render(dying, tmp_path)
    assert HELPERS.current() is None


def test_phases_and_phased_strengths_in_wan2gp_syntax(settings, work, tmp_path):
    """LATER.md's worked example as Wan2GP receives it; Lightning's HIGH/LOW files on their experts."""
    from source.engines.loras import LIGHTNING_FILES
    from source.workflows.registry import parse_params
    from source.tasks.phase_params import all_loras

    lora_dir = work / "loras"
    lora_dir.mkdir(exist_ok=True)
    files = {name: tmp_path / f"{name}.safetensors" for name in ("HIGH", "LOW", "X")}
    for path in files.values():
        path.write_bytes(b"x")
    config = {"steps_per_phase": [3, 3], "flow_shift": 5.0, "sample_solver": "euler", "model_switch_phase": 1,
              "phases": [{"guidance_scale": 1.0, "loras": [{"url": str(files["HIGH"]), "multiplier": 1.2},
                                                          {"url": str(files["X"]), "multiplier": 0.5}]},
                         {"guidance_scale": 1.0, "loras": [{"url": str(files["LOW"]), "multiplier": 1.0},
                                                          {"url": str(files["X"]), "multiplier": 0.5}]}]}
    params = parse_params("wgp", {"model": "t2v_2_2", "prompt": "a boat", "phase_config": config})
    render(settings, tmp_path, model="t2v_2_2", loras=all_loras(params.additional_loras, params.phase_config),
           phases=params.phase_config.plan())
    sent = received(work)
    assert sent["activated_loras"] == [str(files[k].resolve()) for k in ("HIGH", "X", "LOW")]
    assert sent["loras_multipliers"] == "1.2;0 0.5;0.5 0;1"
    assert {k: sent[k] for k in ("num_inference_steps", "guidance_phases", "guidance_scale", "guidance2_scale",
                                 "switch_threshold", "model_switch_phase", "sample_solver", "flow_shift")} == {
        "num_inference_steps": 6, "guidance_phases": 2, "guidance_scale": 1.0, "guidance2_scale": 1.0,
        "switch_threshold": 826.1, "model_switch_phase": 1, "sample_solver": "euler", "flow_shift": 5.0}

    for expert in ("HIGH", "LOW"):
        (lora_dir / LIGHTNING_FILES[("t2v", expert)][0]).write_bytes(b"x")
    render(settings, tmp_path, model="t2v_2_2", steps=30, use_lightning_lora=True)
    sent = received(work)
    assert sent["activated_loras"] == [str(lora_dir / LIGHTNING_FILES[("t2v", e)][0]) for e in ("HIGH", "LOW")]
    assert sent["loras_multipliers"] == "1;0 0;1"
    assert (sent["num_inference_steps"], sent["guidance_scale"], sent["guidance2_scale"], sent["flow_shift"],
            sent["switch_threshold"]) == (4, 1.0, 1.0, 5.0, 812.056)
    with pytest.raises(UserError, match="need a two-expert model"):
        render(settings, tmp_path, model="t2v_1.3B", use_lightning_lora=True)
    with pytest.raises(UserError, match="wgp_settings.switch_threshold: the phases set it"):
        render(settings, tmp_path, model="t2v_2_2", use_lightning_lora=True, wgp_settings={"switch_threshold": 900})
