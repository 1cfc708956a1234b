"""Every command-line flag the original tool documented either works or stops with one line naming
what replaced it (exit 2), never `unrecognized arguments`. Parsed by the real programs' parsers and
clients, in process; the flags that act on files are run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from source.cli import steerable_motion_cli, worker_cli
from source.config import resolve_settings
from source.workflows.perspective.client import build_params
from source.workflows.travel.client import build_submission
from tests.helpers.original_tool import colour_image

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def images(tmp_path):
    return [str(colour_image(tmp_path / f"anchor{i}.png", rgb)) for i, rgb in
            enumerate([(200, 0, 0), (0, 200, 0), (0, 0, 200)])]


@pytest.fixture
def settings(tmp_path):
    # --output_dir folders below are under tmp_path: the worker's operator allows them (EXTRA_OUTPUT_DIRS)
    return resolve_settings({"db_file": str(tmp_path / "tasks.db"), "extra_output_dirs": str(tmp_path)}, env={},
                            dotenv_path=tmp_path / "none.env")


def refused(argv: list[str], parse, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unrecognized arguments" not in err, err
    return err


def travel_args(images, *more):
    return ["travel_between_images", "--input_images", *images, "--base_prompts", "a", "b",
            "--resolution", "64x64", "--segment_frames", "17", "--frame_overlap", "4", *more]


def sm_parse(argv):
    return steerable_motion_cli.build_parser().parse_args(argv)


# ---- steerable_motion.py --------------------------------------------------------------------------

def test_travel_flags_of_the_original_tool_work(images, settings, tmp_path):
    fade = json.dumps({"low_point": 0.1, "high_point": 0.9, "curve_type": "linear", "duration_factor": 0.5})
    args = sm_parse(travel_args(
        images, "--db_path", str(tmp_path / "other.db"), "--fade_in_duration", fade, "--fade_out_duration", fade,
        "--fps_helpers", "16", "--cfg_star_switch", "1", "--cfg_zero_step", "2", "--execution_engine", "wgp",
        "--initial_image_strength", "0.0", "--final_image_strength", "0",
        "--params_json_str", '{"steps": 3, "flow_shift": 2.0, "sample_solver": "unipc", "frames": 9}',
        "--poll_interval", "2", "--poll_timeout", "60", "--output_dir", str(tmp_path / "made"), "--debug",
        "--use_causvid_lora", "--skip_cleanup"))
    assert args.db_file == str(tmp_path / "other.db") and (args.wait_interval, args.wait_timeout) == (2.0, 60.0)
    details = build_submission(args, settings).rows[0].params["orchestrator_details"]
    assert details["fade_in_params_json_str"]["duration_factor"] == 0.5
    assert details["fade_out_params_json_str"]["curve_type"] == "linear"
    assert details["wgp_settings"] == {"cfg_star_switch": 1, "cfg_zero_step": 2, "sample_solver": "unipc"}
    assert (details["steps"], details["flow_shift"], details["apply_causvid"]) == (3, 2.0, True)
    assert details["output_dir"] == str(tmp_path / "made") and (tmp_path / "made").is_dir()
    assert details["debug_mode_enabled"] and details["skip_cleanup_enabled"]


def test_keys_of_params_json_str_that_match_nothing_are_warned_about(images, tmp_path, capsys):
    db = tmp_path / "tasks.db"
    code = steerable_motion_cli.main(travel_args(images, "--db-file", str(db),
                                                 "--params_json_str", '{"frames": 9, "steps": 2}'))
    assert code == 0
    err = capsys.readouterr().err
    assert "warning: travel_orchestrator does not use params key " \
           "orchestrator_details.params_json_str_override.frames" in err


@pytest.mark.parametrize("flag, value, reason", [
    ("--output_video_frames", "30", "a travel's length is --segment_frames"),
    ("--initial_image_strength", "0.5", "anchors are not VACE reference images here"),
    ("--final_image_strength", "1.0", "anchors are not VACE reference images here"),
    ("--upscale_model_name", "ltxv_13B", "upscaling is Lanczos, by --upscale_factor"),
    ("--booster_loras", None, "--loras PATH=STRENGTH"),
    ("--execution_engine", "comfyui", "ComfyUI is not supported"),
    ("--last_frame_duplication", "2", "the stitch keeps every frame"),
])
def test_travel_flags_whose_meaning_is_gone_say_what_replaced_them(images, capsys, flag, value, reason):
    err = refused(travel_args(images, flag, *([value] if value else [])), sm_parse, capsys)
    assert err.startswith(f"error: {flag} is gone: ") and reason in err


def test_the_readme_different_pose_command_works_with_its_flags(settings, tmp_path, monkeypatch):
    from tests.helpers.perspective import astronaut_png

    monkeypatch.chdir(tmp_path)
    image = astronaut_png(tmp_path)
    args = sm_parse(["different_pose", "--input_image", str(image), "--prompt", "Character waving hello",
                     "--resolution", "512x512", "--output_video_frames", "40", "--model_name", "vace_14B",
                     "--seed", "456", "--output_dir", "./my_video_outputs", "--debug", "--use_causvid_lora",
                     "--fps_helpers", "16", "--db_path", "tasks.db", "--execution_engine", "wgp",
                     "--cfg_star_switch", "0", "--params_json_str", '{"steps": 3}'])
    params = build_params(args, settings)
    assert params["output_dir"] == str(tmp_path / "my_video_outputs") and (tmp_path / "my_video_outputs").is_dir()
    assert params["debug_mode"] and params["use_causvid_lora"] and params["steps"] == 3
    assert params["output_video_frames"] == 40 and params["fps_helpers"] == 16


@pytest.mark.parametrize("flag, value", [("--fade_in_duration", "{}"), ("--cfg_star_switch", "1"),
                                         ("--final_image_strength", "0.7"), ("--booster_loras", None),
                                         ("--upscale_model_name", "ltxv_13B")])
def test_different_pose_refuses_travel_only_flags_with_a_reason(capsys, tmp_path, flag, value):
    err = refused(["different_pose", "--input_image", "x.png", "--prompt", "p", flag, *([value] if value else [])],
                  sm_parse, capsys)
    assert f"{flag} is gone: " in err


def test_poll_flags_without_wait_say_they_do_nothing(images, tmp_path, capsys):
    code = steerable_motion_cli.main(travel_args(images, "--db-file", str(tmp_path / "t.db"), "--poll_timeout", "5"))
    assert code == 0
    assert "apply with --wait" in capsys.readouterr().err


# ---- headless.py ----------------------------------------------------------------------------------

def hl_parse(argv):
    return worker_cli.build_parser().parse_args(argv)


def test_worker_flags_of_the_original_tool_parse(tmp_path):
    args = hl_parse(["--db-file", "x.db", "--main-output-dir", "out", "--poll-interval", "5", "--debug",
                     "--migrate-only", "--colour-match-videos", "--mask-active-frames", "--save-logging",
                     "--wgp-attention-mode", "sage2", "--wgp-compile", "", "--wgp-profile", "4",
                     "--wgp-vae-config", "0", "--wgp-boost", "1", "--wgp-transformer-quantization", "int8",
                     "--wgp-transformer-dtype-policy", "", "--wgp-text-encoder-quantization", "bf16",
                     "--wgp-vae-precision", "32", "--wgp-mixed-precision", "1", "--wgp-preload-policy", "P,S"])
    assert args.colour_match_videos and args.save_logging == "logs/headless.log"
    assert (args.wgp_attention_mode, args.wgp_profile, args.wgp_preload_policy) == ("sage2", "4", "P,S")
    settings = worker_cli.settings_from_args(args, worker_cli.WORKER_FLAG_NAMES)
    assert settings.colour_match_videos and settings.main_output_dir == "out" and settings.poll_interval == 5.0


@pytest.mark.parametrize("flag, reason", [
    ("--no-mask-active-frames", "travel segments always carry a mask video"),
    ("--apply-reward-lora", '"apply_reward_lora": true in the params'),
    ("--booster_loras", "additional_loras"),
    ("--tasks-file", "add_task.py"),
])
def test_worker_flags_whose_meaning_is_gone_say_what_replaced_them(capsys, flag, reason):
    err = refused([flag], hl_parse, capsys)
    assert f"{flag} is gone: " in err and reason in err


def run(script, *args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "HF_HUB_OFFLINE": "1"})


def test_save_logging_writes_the_log_to_a_file_and_delete_db_needs_confirming(tmp_path):
    db = tmp_path / "tasks.db"
    log = tmp_path / "logs" / "worker.log"
    result = run("headless.py", "--migrate-only", "--db-file", str(db), "--save-logging", str(log))
    assert result.returncode == 0 and db.is_file()
    assert "queue schema created" in log.read_text() and "queue schema created" in result.stderr

    unconfirmed = run("headless.py", "--migrate-only", "--db-file", str(db), "--delete-db")
    assert unconfirmed.returncode == 2 and "add --confirm-delete-db" in unconfirmed.stderr and db.is_file()
    add = run("add_task.py", "--type", "noop", "--db-file", str(db))
    task_id = add.stdout.strip()
    confirmed = run("headless.py", "--migrate-only", "--db-file", str(db), "--delete-db", "--confirm-delete-db")
    assert confirmed.returncode == 0 and f"removed {db}" in confirmed.stderr
    assert "no task with id" in run("add_task.py", "--status", task_id, "--db-file", str(db)).stderr
