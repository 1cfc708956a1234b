"""The Wan2GP engine's pure parts: the frame rule, model names, --wgp-* options, settings checks, and the
one-line errors for a missing checkout or interpreter. No process is started here."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from source.config import Settings, resolve_settings
from source.engines.models import lookup_model
from source.engines.wan2gp import EngineUnavailable, check_wan2gp
from source.errors import UserError
from source.engines.wan2gp.frame_rule import FrameGrid, plan_frames, wan2gp_frame_count
from source.engines.wan2gp.mapping import ModelInfo, check_wgp_settings, multipliers_text, unknown_model_message
from source.engines.wan2gp.names import resolve_model
from source.engines.wan2gp.options import engine_options, runtime_arguments

STANDIN = Path(__file__).resolve().parent / "wan2gp_standin"
WAN, VACE = FrameGrid(5, 4, 1), FrameGrid(17, 4, 1)


@pytest.mark.parametrize("requested,grid,expected", [
    (3, WAN, 5), (5, WAN, 5), (6, WAN, 5), (8, WAN, 5), (9, WAN, 9), (81, WAN, 81), (1, WAN, 5),
    (5, VACE, 17), (17, VACE, 17), (20, VACE, 17), (21, VACE, 21), (9, VACE, 17),
    (10, FrameGrid(9, 8, 1), 9), (17, FrameGrid(9, 8, 1), 17),
])
def test_frame_rule_matches_what_wan2gp_renders(requested, grid, expected):
    # the harness README lists 3->5, 8->5, 9->9 for t2v and 5->17 for VACE, seen through the API
    assert wan2gp_frame_count(requested, grid) == expected


def test_below_the_minimum_renders_the_minimum_and_keeps_the_frames_asked():
    assert plan_frames(9, VACE).render == 17 and plan_frames(9, VACE).keep == 9 and plan_frames(9, VACE).trims
    assert plan_frames(1, WAN).render == 5 and plan_frames(1, WAN).keep == 1
    assert not plan_frames(21, VACE).trims and plan_frames(21, VACE).render == 21


def test_a_count_off_the_grid_is_refused_rather_than_silently_changed():
    with pytest.raises(ValueError, match="10 is not on this model's frame grid.*would render 9"):
        plan_frames(10, WAN)


@pytest.mark.parametrize("name,inputs,model_type,size", [
    ("t2v", False, "t2v", "14B"), ("t2v_1.3B", False, "t2v_1.3B", "1.3B"), ("vace", True, "vace_14B", "14B"),
    ("flf2v", True, "flf2v_720p", "14B"), ("i2v_720p", True, "i2v_720p", "14B"), ("Wan2.2_T2V", False, "t2v_2_2", "A14B"),
    ("tiny", False, "tiny_t2v", "tiny"), ("tiny", True, "tiny_vace", "tiny"),
    ("wan2gp:ltxv_13B", False, "ltxv_13B", None), ("hunyuan", False, "hunyuan", None),
])
def test_model_names_map_to_wan2gp_model_types(name, inputs, model_type, size):
    chosen = resolve_model(name, uses_images_or_guide=inputs)
    assert (chosen.model_type, chosen.size) == (model_type, size)


def test_wan2gp_prefix_passes_enqueue_checks_and_is_refused_by_other_engines(tmp_path):
    from source.wgp_utils import generate_single_video

    assert lookup_model("wan2gp:ltxv_13B").kind == "wan2gp"
    with pytest.raises(ValueError, match="'wan2gp:ltxv_13B' is a Wan2GP model type; it renders with --engine wan2gp"):
        generate_single_video(model="wan2gp:ltxv_13B", prompt="x", output_path=tmp_path / "o.mp4", frames=5,
                              engine="tiny", settings=Settings(engine="tiny", tiny_models_dir=str(tmp_path)))


def test_unknown_model_message_names_the_known_types_and_a_close_one():
    message = unknown_model_message("vace_13B", "vace_13B", ["t2v", "vace_1.3B", "vace_14B"])
    assert "unknown Wan2GP model type 'vace_13B'" in message and "did you mean vace_1.3B" in message
    assert "known types: t2v, vace_1.3B, vace_14B" in message and "\n" not in message
    many = unknown_model_message("x", "x", [f"model_{i:03d}" for i in range(300)])
    assert "more)" in many and len(many) < 700


def test_wgp_flags_become_cli_args_and_config_keys():
    settings = resolve_settings({}, env={
        "WGP_ATTENTION_MODE": "sdpa", "WGP_COMPILE": "transformer", "WGP_PROFILE": "4", "WGP_VAE_CONFIG": "1",
        "WGP_PRELOAD": "2000", "WGP_TRANSFORMER_DTYPE_POLICY": "bf16", "WGP_BOOST": "0",
        "WGP_TRANSFORMER_QUANTIZATION": "bf16", "WGP_TEXT_ENCODER_QUANTIZATION": "bf16", "WGP_VAE_PRECISION": "32",
        "WGP_MIXED_PRECISION": "1", "WGP_PRELOAD_POLICY": "P,S", "WGP_EXTRA_ARGS": "--perc-reserved-mem-max 0.3",
    }, dotenv_path=Path("/nonexistent.env"))
    cli, config = runtime_arguments(settings)
    assert cli == ("--attention", "sdpa", "--compile", "--profile", "4", "--vae-config", "1", "--preload", "2000",
                   "--bf16", "--perc-reserved-mem-max", "0.3")
    assert dict(config) == {"boost": 0, "transformer_quantization": "bf16", "text_encoder_quantization": "bf16",
                            "vae_precision": "32", "mixed_precision": "1", "preload_model_policy": ["P", "S"]}
    assert runtime_arguments(Settings()) == ((), ())


@pytest.mark.parametrize("values,match", [
    ({"wgp_attention_mode": "fastest"}, "WGP_ATTENTION_MODE .*must be one of auto, sdpa"),
    ({"wgp_profile": "high"}, "WGP_PROFILE .*must be a number"),
    ({"wgp_preload_policy": "P,X"}, "unknown letter"),
])
def test_bad_wgp_options_are_one_line_errors_naming_the_option(values, match):
    with pytest.raises(UserError, match=match):
        runtime_arguments(Settings(**values))


def test_worker_flags_reach_the_settings():
    from source.cli.worker_cli import WORKER_FLAG_NAMES, build_parser
    from source.cli.common import settings_from_args

    args = build_parser().parse_args(["--engine", "wan2gp", "--wan2gp-path", str(STANDIN), "--wan2gp-python",
                                      sys.executable, "--wgp-profile", "3", "--wgp-attention-mode", "sage",
                                      "--wan2gp-timeout", "42"])
    settings = settings_from_args(args, WORKER_FLAG_NAMES)
    assert (settings.wgp_profile, settings.wgp_attention_mode, settings.wan2gp_timeout) == ("3", "sage", 42.0)
    options = engine_options(settings)
    assert options.spec.cli_args == ("--attention", "sage", "--profile", "3") and options.timeout_s == 42.0
    assert options.spec.root == str(STANDIN) and options.spec.python == sys.executable


def test_missing_checkout_is_a_one_line_error(tmp_path):
    with pytest.raises(EngineUnavailable) as info:
        check_wan2gp(Settings(wan2gp_path=str(tmp_path / "nowhere")))
    message = str(info.value)
    assert "needs a Wan2GP checkout" in message and "WAN2GP_PATH" in message and "\n" not in message


def test_missing_interpreter_is_a_one_line_error(tmp_path):
    (tmp_path / "wgp.py").write_text("")
    with pytest.raises(EngineUnavailable) as info:
        check_wan2gp(Settings(wan2gp_path=str(tmp_path)))
    assert "WAN2GP_PYTHON" in str(info.value) and "venv/bin/python" in str(info.value)
    with pytest.raises(EngineUnavailable, match="WAN2GP_PYTHON /no/python does not exist"):
        check_wan2gp(Settings(wan2gp_path=str(tmp_path), wan2gp_python="/no/python"))
    venv_python = tmp_path / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("")
    assert check_wan2gp(Settings(wan2gp_path=str(tmp_path))) == tmp_path.resolve()  # the checkout's venv by default


def test_headless_refuses_to_start_without_a_checkout(tmp_path):
    import subprocess

    result = subprocess.run([sys.executable, "headless.py", "--engine", "wan2gp", "--db-file", str(tmp_path / "t.db"),
                             "--wan2gp-path", str(tmp_path / "nowhere"), "--once"],
                            cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "needs a Wan2GP checkout" in result.stderr


def _info(keys=("sliding_window_size", "NAG_scale", "video_prompt_type")):
    return ModelInfo("vace_1.3B", "Vace", True, True, "", frozenset(keys), "generate_media")


def test_wgp_settings_are_checked_against_the_model():
    assert check_wgp_settings({"sliding_window_size": 33, "NAG_scale": 1.5}, _info()) == {
        "sliding_window_size": 33, "NAG_scale": 1.5}
    with pytest.raises(ValueError, match=r"wgp_settings.sliding_windw_size: not a setting of Wan2GP model vace_1.3B "
                                         r"\(did you mean sliding_window_size\?\)"):
        check_wgp_settings({"sliding_windw_size": 33}, _info())
    with pytest.raises(ValueError, match="wgp_settings.video_length: set it with the task's own 'frames'"):
        check_wgp_settings({"video_length": 33}, _info())


def test_lora_multipliers_are_one_value_per_lora():
    assert multipliers_text([1.0, 0.5, 0.25]) == "1 0.5 0.25"


def test_wgp_params_collect_native_keys_and_reject_a_non_object():
    from source.errors import InvalidParams
    from source.workflows.registry import parse_params

    params = parse_params("wgp", {"model": "t2v", "video_prompt_type": "PV", "wgp_settings": {"NAG_scale": 2}})
    assert params.wgp_settings == {"video_prompt_type": "PV", "NAG_scale": 2} and params.ignored_keys == []
    parse_params("wgp", {"model": "wan2gp:ltxv_13B", "wgp_settings": {"sliding_window_size": 33}})
    with pytest.raises(InvalidParams, match="wgp_settings must be an object"):
        parse_params("wgp", {"model": "t2v", "wgp_settings": ["x"]})
