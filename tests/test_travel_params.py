"""The travel params: one model for the client and the worker; the plan computed once at enqueue,
persisted, read back and checked (not recomputed); messages name the flag on the command line and the
field on rows."""
import pytest

from source.cli.steerable_motion_cli import main as steerable_motion
from source.config import Settings
from source.errors import InvalidParams
from source.queue.factory import open_queue
from source.queue.model import Task
from source.workflows.registry import context_for, parse_params
from source.workflows.travel import ORCHESTRATOR, params as travel_params, steps
from source.workflows.travel.params import TravelOrchestratorParams, flag_of
from source.workflows.travel.plan import PlanError, TravelPlan, plan_travel
from tests.helpers.travel import solid_clip, write_anchor_images


@pytest.fixture
def images(tmp_path):
    return write_anchor_images(tmp_path / "in", 3)


def _settings(tmp_path) -> Settings:
    return Settings(db_file=str(tmp_path / "tasks.db"), main_output_dir=str(tmp_path / "out"),
                    work_dir=str(tmp_path / "work"))


def _queue_with_client(tmp_path, *args) -> Task:
    """Queue a run with steerable_motion.py (in this process) and return its orchestrator row."""
    assert steerable_motion(["travel_between_images", *args, "--run_id", "run_p", "--resolution", "64x64",
                             "--segment_frames", "17", "--frame_overlap", "4", "--model_name", "vace_14B",
                             "--db-file", str(tmp_path / "tasks.db"),
                             "--main-output-dir", str(tmp_path / "out")]) == 0
    queue = open_queue(_settings(tmp_path))
    try:
        (root,) = queue.list_run("run_p")
    finally:
        queue.close()
    return root


def _details(images, **extra):
    details = {"run_id": "run_a", "input_image_paths_resolved": images, "base_prompts_expanded": ["a cat"],
               "segment_frames_expanded": [17], "frame_overlap_expanded": [4], "parsed_resolution_wh": "64x64",
               "model_name": "vace_14B"}
    details.update(extra)
    return details


def _orchestrate(tmp_path, params):
    task = Task(id="orch-1", task_type=ORCHESTRATOR, params=params, status="In Progress", run_id="run_a")
    return steps.handle_orchestrator(context_for(task, _settings(tmp_path)))


def test_the_client_persists_the_plan_and_the_orchestrator_reads_it_back(tmp_path, images, monkeypatch):
    video = solid_clip(tmp_path / "earlier.mp4", (90, 90, 90), 21, (64, 64))
    root = _queue_with_client(tmp_path, "--input_images", *images[:2], "--continue_from_video", str(video))
    persisted = root.params["plan"]
    assert TravelPlan.parse(persisted) == plan_travel(2, [17], [4], continue_video_frames=21)
    assert parse_params(ORCHESTRATOR, root.params).ignored_keys == []     # the worker's model takes the row

    def must_not_run(*args, **kwargs):
        raise AssertionError("the orchestrator recomputed what the row already holds")

    monkeypatch.setattr(steps, "build_plan", must_not_run)
    monkeypatch.setattr("source.media.video_io.count_frames", must_not_run)   # the video is not decoded
    result = steps.handle_orchestrator(context_for(root, _settings(tmp_path)))
    assert all(child.params["plan"] == persisted for child in result.children)
    assert len(result.children) == 3                                          # 2 segments + the stitch


def test_a_row_without_a_plan_gets_one_from_the_orchestrator(tmp_path, images):
    video = solid_clip(tmp_path / "earlier.mp4", (90, 90, 90), 21, (64, 64))
    result = _orchestrate(tmp_path, {"orchestrator_details": _details(
        images[:2], continue_from_video_resolved_path=str(video))})
    assert TravelPlan.parse(result.children[-1].params["plan"]) == plan_travel(2, [17], [4], continue_video_frames=21)


@pytest.mark.parametrize("change,message", [
    ({"overlaps": [6]}, r"^plan\.overlaps\[0\] is 6"),                  # more than frame_overlap_expanded
    ({"segment_lengths": [17, 13]}, r"^plan\.segment_lengths\[1\] is 13"),
    ({"segment_lengths": [17]}, r"^plan\.segment_lengths has 1 values for 2 segments"),
    ({"num_images": 4}, r"^plan\.num_images is 4"),
    ({"independent": True}, r"^plan\.independent"),
    ({"continue_video_frames": 30}, r"^plan\.continue_video_frames"),
    ({"overlaps": [4, 4]}, r"^plan\.overlaps has 2 values for 1 joins"),
    ({"overlaps": "x"}, r"^plan\.overlaps must be a list"),
])
def test_a_persisted_plan_that_does_not_fit_its_run_is_refused(tmp_path, images, change, message):
    plan = {**plan_travel(3, [17], [4]).to_json(), **change}
    with pytest.raises(PlanError, match=message):
        _orchestrate(tmp_path, {"orchestrator_details": _details(images), "plan": plan})


def test_persisted_overlaps_must_leave_each_clip_its_frames(tmp_path, images):
    details = _details(images + images[:1], segment_frames_expanded=[17, 9, 17], frame_overlap_expanded=[8])
    with pytest.raises(PlanError, match="^frame_overlap_expanded: clip 1 has 9 frames"):
        plan_travel(4, [17, 9, 17], [8])
    plan = {"num_images": 4, "segment_lengths": [17, 9, 17], "overlaps": [6, 6]}
    with pytest.raises(PlanError, match=r"^plan\.overlaps: clip 1 has 9 frames"):
        _orchestrate(tmp_path, {"orchestrator_details": details, "plan": plan})


def test_children_carry_the_plan_not_its_inputs(tmp_path, images):
    result = _orchestrate(tmp_path, {"orchestrator_details": _details(images)})
    for child in result.children:
        assert set(child.params["travel"]).isdisjoint(
            {"frame_overlap_expanded", "segment_frames_expanded", "num_new_segments_to_generate"})
        assert "orchestrator_task_id" not in child.params and "stitch_task_id" not in child.params
        assert TravelPlan.parse(child.params["plan"]).overlaps == [4]
        assert parse_params(child.task_type, child.params).ignored_keys == []


def test_unknown_detail_keys_are_reported_not_used():
    params = TravelOrchestratorParams.parse({"orchestrator_details": _details(["a.png", "b.png"], shot_id="s1"),
                                             "project": "p"})
    assert params.ignored_keys == ["orchestrator_details.shot_id", "project"]


@pytest.mark.parametrize("flags,message", [
    (["--frame_overlap", "-2"], "error: --frame_overlap[0] must be a non-negative integer, got -2"),
    (["--segment_frames", "17", "0", "17"], "error: --segment_frames[1] must be a positive integer, got 0"),
    (["--model_name", "nope"], "error: --model_name: unknown model 'nope'"),
    (["--upscale_factor", "9"], "error: --upscale_factor 9 is above the limit of 4 (MAX_UPSCALE_FACTOR; "),
    (["--fade_out_params", '{"curve_type": "wobbly"}'], "error: --fade_out_params.curve_type must be one of"),
    (["--segment_frames", "17", "9", "17", "--frame_overlap", "8"], "error: --frame_overlap: clip 1 has 9 frames"),
    # one value per join: 4 images make 3 segments and 2 joins (or one per segment, the last one not used)
    (["--frame_overlap", "8", "8", "8", "8"],
     "error: --frame_overlap has 4 values; give 1 (used for every join) or 2 (one per join: 3 segment(s) make 2)"),
])
def test_command_line_messages_name_the_flag(tmp_path, images, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_:
        steerable_motion(["travel_between_images", "--input_images", *images, images[0],
                          "--db-file", str(tmp_path / "q.db"), *flags])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith(message)
    assert not (tmp_path / "q.db").exists()


@pytest.mark.parametrize("change,message", [
    ({"frame_overlap_expanded": [-2]}, "frame_overlap_expanded[0] must be a non-negative integer, got -2"),
    ({"segment_frames_expanded": [17, 0, 17]}, "segment_frames_expanded[1] must be a positive integer, got 0"),
    ({"model_name": "nope"}, "unknown model 'nope'"),
    ({"upscale_factor": 9}, "upscale_factor 9 is above the limit of 4 (MAX_UPSCALE_FACTOR; raise it"),
    ({"fade_out_params_json_str": '{"curve_type": "wobbly"}'}, "fade_out_params_json_str.curve_type must be one of"),
])
def test_row_messages_name_the_field(images, change, message):
    with pytest.raises(InvalidParams) as error:
        parse_params(ORCHESTRATOR, {"orchestrator_details": _details(images + images[:1], **change)})
    assert str(error.value).startswith(message)


def test_a_row_may_give_the_original_tools_one_overlap_per_segment(images):
    """The original tool wrote frame_overlap_expanded with one value per segment; the last one has no
    join after it. One per join is read the same; any other length is refused naming the count."""
    per_segment = parse_params(ORCHESTRATOR, {"orchestrator_details": _details(images + images[:1],
                                                                              frame_overlap_expanded=[6, 4, 2])})
    assert per_segment.orchestrator_details.frame_overlap_expanded == [6, 4]
    with pytest.raises(InvalidParams, match=r"^frame_overlap_expanded has 4 values; give 1 \(used for every join\) "
                                            r"or 2 \(one per join: 3 segment\(s\) make 2\)"):
        parse_params(ORCHESTRATOR, {"orchestrator_details": _details(images + images[:1],
                                                                    frame_overlap_expanded=[6, 4, 2, 0])})


def test_flag_of_follows_the_field_path():
    assert flag_of("frame_overlap_expanded[0]") == "--frame_overlap[0]"
    assert flag_of("fade_in_params_json_str.curve_type") == "--fade_in_params.curve_type"
    assert flag_of("input_image_paths_resolved[2]") == "--input_images[2]"
    assert flag_of("num_new_segments_to_generate") is None
    assert travel_params.OrchestratorDetails.model_fields["seed_base"].json_schema_extra == {"flag": "--seed"}
