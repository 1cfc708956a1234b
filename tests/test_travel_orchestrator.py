"""travel_orchestrator: validation (errors name the field), deterministic fan-out, persisted plan;
steerable_motion.py's checks before anything is written."""
import subprocess
import sys
from pathlib import Path

import pytest

from source.config import Settings
from source.errors import InvalidParams
from source.queue.model import Task
from source.tasks.context import FanOut
from source.workflows.registry import context_for
from source.workflows.travel.plan import TravelPlan
from source.workflows.travel.steps import handle_orchestrator
from tests.helpers.travel import solid_clip, write_anchor_images

ROOT = Path(__file__).resolve().parents[1]


def _details(images, **extra):
    details = {
        "run_id": "run_a", "input_image_paths_resolved": images, "base_prompts_expanded": ["a cat"],
        "negative_prompts_expanded": [""], "segment_frames_expanded": [17], "frame_overlap_expanded": [4],
        "parsed_resolution_wh": "64x64", "model_name": "vace_14B", "seed_base": 100,
    }
    details.update(extra)
    return details


def _ctx(tmp_path, params, task_id="orch-1"):
    task = Task(id=task_id, task_type="travel_orchestrator", params=params, status="In Progress",
                run_id="run_a")
    settings = Settings(main_output_dir=str(tmp_path / "out"), work_dir=str(tmp_path / "work"),
                        db_file=str(tmp_path / "tasks.db"))
    return context_for(task, settings, worker_id="w1")


@pytest.fixture
def images(tmp_path):
    return write_anchor_images(tmp_path / "in", 3)


def test_fan_out_rows_chain_segments_and_persist_the_plan(tmp_path, images):
    result = handle_orchestrator(_ctx(tmp_path, {"orchestrator_details": _details(images)}))
    assert isinstance(result, FanOut)
    seg0, seg1, stitch = result.children
    assert [c.task_type for c in result.children] == ["travel_segment", "travel_segment", "travel_stitch"]
    assert result.awaited_task_id == stitch.id
    assert seg0.dependant_on == [] and seg1.dependant_on == [seg0.id]
    assert stitch.dependant_on == [seg0.id, seg1.id]
    assert {c.run_id for c in result.children} == {"run_a"}
    assert (seg0.params["seed"], seg1.params["seed"]) == (100, 101)
    plan = TravelPlan.parse(stitch.params["plan"])
    assert plan.final_frames == 30 and plan.overlaps == [4]
    assert seg1.params["plan"] == stitch.params["plan"]
    assert (tmp_path / "work" / "runs" / "run_a").is_dir()

    again = handle_orchestrator(_ctx(tmp_path, {"orchestrator_details": _details(images)}))
    assert [c.id for c in again.children] == [c.id for c in result.children]      # idempotent ids
    other = handle_orchestrator(_ctx(tmp_path, {"orchestrator_details": _details(images, run_id="run_b")}))
    assert not {c.id for c in other.children} & {c.id for c in result.children}


def test_independent_segments_have_no_chain(tmp_path, images):
    result = handle_orchestrator(_ctx(tmp_path, {"orchestrator_details": _details(
        images + images[:1], independent_segments=True)}))
    segments = result.children[:-1]
    assert len(segments) == 3 and all(s.dependant_on == [] for s in segments)
    assert result.children[-1].dependant_on == [s.id for s in segments]


def test_continue_from_video_counts_its_frames(tmp_path, images):
    video = solid_clip(tmp_path / "prev.mp4", (90, 90, 90), 21, (64, 64))
    result = handle_orchestrator(_ctx(tmp_path, {"orchestrator_details": _details(
        images[:1], continue_from_video_resolved_path=str(video))}))
    plan = TravelPlan.parse(result.children[-1].params["plan"])
    assert plan.continue_video_frames == 21 and plan.final_frames == 21 + 17 - 4
    assert len(result.children) == 2


@pytest.mark.parametrize("change,message", [
    ({"segment_frames_expanded": [17, 17, 17]}, "^segment_frames_expanded has 3 values; give 1 or 2"),
    ({"base_prompts_expanded": ["a", "b", "c"]}, "^base_prompts_expanded has 3 values"),
    ({"parsed_resolution_wh": "big"}, "^parsed_resolution_wh"),
    ({"model_name": ""}, "^model_name"),
    ({"frame_overlap_expanded": [-4]}, r"^frame_overlap_expanded\[0\]"),
    ({"segment_frames_expanded": [0]}, r"^segment_frames_expanded\[0\]"),
    ({"fade_in_params_json_str": "{"}, "^fade_in_params_json_str"),
    ({"upscale_factor": -1}, "^upscale_factor"),
    ({"num_new_segments_to_generate": 5}, "^num_new_segments_to_generate"),
    ({"output_dir": "relative/dir"}, "^output_dir must be an absolute"),
    ({"output_dir": "/nonexistent/folder/x"}, "^output_dir must be inside the worker's output folders"),
])
def test_bad_details_name_the_field(tmp_path, images, change, message):
    with pytest.raises(InvalidParams, match=message):
        handle_orchestrator(_ctx(tmp_path, {"orchestrator_details": _details(images, **change)}))


def test_missing_image_fails_at_once_with_the_path(tmp_path, images):
    missing = str(tmp_path / "nowhere.png")
    with pytest.raises(InvalidParams, match=r"input_image_paths_resolved\[1\]: image not found: .*nowhere.png"):
        handle_orchestrator(_ctx(tmp_path, {"orchestrator_details": _details([images[0], missing])}))
    with pytest.raises(InvalidParams, match="orchestrator_details must be a JSON object"):
        handle_orchestrator(_ctx(tmp_path, {}))


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "steerable_motion.py", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("extra,needle", [
    (["--segment_frames", "17", "17", "17"], "--segment_frames has 3 values"),
    (["--resolution", "12x"], "--resolution"),
    (["--frame_overlap", "-2"], "--frame_overlap[0]"),
    (["--continue_from_video", "{tmp}/no_such.mp4"], "--continue_from_video: video not found"),
    (["--continue_from_video", "/no/such.mp4"], "--continue_from_video must be an http(s) URL or a file inside"),
    (["--fade_in_params", "{bad"], "--fade_in_params is not valid JSON"),
    (["--loras", "x.safetensors"], "--loras takes PATH=STRENGTH"),
])
def test_cli_refuses_bad_arguments_before_writing(tmp_path, images, extra, needle):
    db = tmp_path / "q.db"
    extra = [arg.replace("{tmp}", str(tmp_path)) for arg in extra]  # inside the input folder (the database's)
    result = _cli("travel_between_images", "--input_images", *images, "--db-file", str(db), *extra)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not db.exists()


def test_cli_missing_image_names_the_path(tmp_path, images):
    db = tmp_path / "q.db"
    result = _cli("travel_between_images", "--input_images", images[0], str(tmp_path / "gone.png"),
                  "--db-file", str(db))
    assert result.returncode == 2 and "gone.png" in result.stderr and "--input_images[1]" in result.stderr
    assert not db.exists()


def test_cli_help_explains_the_flags():
    result = _cli("travel_between_images", "--help")
    assert result.returncode == 0
    for flag in ("--continue_from_video", "--use_causvid_lora", "--upscale_factor", "--wait",
                 "--independent_segments", "--output_dir"):
        assert flag in result.stdout
