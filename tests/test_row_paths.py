"""Paths a row names (source/storage/roots.py): for writing, inside the worker's output folders; for
reading, inside the output or input folders, or an http(s) URL. Every path-bearing parameter of every
task type, given a path outside, is refused with one line naming it (the same check runs at enqueue
with the client's settings and when a worker claims the row with its own).
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from source.config import Settings
from source.errors import InvalidParams
from source.queue.model import NewTask, Status, Task
from source.tasks.params import Params
from source.workflows.registry import context_for, example_params, known_task_types, params_model, parse_params

# Every field of the params models that names a file or folder: (where in the row, read | write | lora).
# A new one must be added here (test_every_path_bearing_field_is_listed), so it is tested below.
PATH_FIELDS = {
    "noop": {"marker_file": "write"},
    "wgp": {"image_start_paths": "read", "image_end_paths": "read", "image_refs_paths": "read",
            "video_guide_path": "read", "video_mask_path": "read", "additional_loras": "lora",
            "output_dir": "write", "output_sub_dir": "write"},
    "generate_openpose": {"input_image_path": "read"},
    "extract_frame": {"input_video_path": "read"},
    "rife_interpolate_images": {"input_image_path1": "read", "input_image_path2": "read"},
    "upscale": {"input_image_path": "read", "input_video_path": "read"},
    "different_perspective_orchestrator": {"input_image_path": "read", "additional_loras": "lora",
                                           "output_dir": "write"},
    "travel_orchestrator": {"orchestrator_details.input_image_paths_resolved": "read",
                            "orchestrator_details.continue_from_video_resolved_path": "read",
                            "orchestrator_details.additional_loras": "lora",
                            "orchestrator_details.output_dir": "write",
                            # inside a list: test_a_structure_video_outside_the_roots_is_refused
                            "orchestrator_details.structure_guidance.videos.path": "listed"},
    "join_clips_orchestrator": {"orchestrator_details.additional_loras": "lora",
                                "orchestrator_details.output_dir": "write"},
    "join_clips_segment": {"additional_loras": "lora", "starting_video_path": "read", "ending_video_path": "read",
                           "output_dir": "write",
                           # accepted from legacy rows and never used (docs/JOINING.md): nothing is written there
                           "join_output_dir": "unused", "current_run_base_output_dir": "unused"},
    "edit_video_orchestrator": {"orchestrator_details.additional_loras": "lora",
                                "orchestrator_details.source_video_url": "read",
                                "orchestrator_details.output_dir": "write"},
    "edit_video_splice": {"source_video_url": "read", "output_dir": "write"},
    "inpaint_frames": {"additional_loras": "lora", "video_path": "read", "output_dir": "write"},
    "individual_travel_segment": {"individual_segment_params.input_image_paths_resolved": "read",
                                  "individual_segment_params.start_image_url": "read",
                                  "individual_segment_params.end_image_url": "read",
                                  "individual_segment_params.additional_loras": "lora",
                                  "input_image_paths_resolved": "read"},
    "travel_redo": {},
}
SAME_MODEL_AS = {"standard_wgp_task": "wgp", "single_image": "wgp",
                 **{t: "different_perspective_orchestrator" for t in known_task_types() if t.startswith("different_")},
                 "travel_segment": "travel_orchestrator", "travel_stitch": "travel_orchestrator",
                 "join_clips": "join_clips_orchestrator"}
PATHISH = ("path", "dir", "file", "lora")


def _fields(model: type[Params], prefix: str = "") -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        pending = [info.annotation]
        nested = None
        while pending:
            annotation = pending.pop()
            if isinstance(annotation, type) and issubclass(annotation, Params):
                nested = annotation
            pending += list(getattr(annotation, "__args__", ()))
        if nested is not None and name not in ("fade_in_params_json_str", "fade_out_params_json_str", "plan"):
            names += _fields(nested, f"{prefix}{name}.")
        elif any(word in name for word in PATHISH) and not name.endswith("_task_id") and "bool" not in str(info.annotation):
            names.append(prefix + name)
    return names


def test_every_path_bearing_field_is_listed():
    for task_type in known_task_types():
        listed = PATH_FIELDS[SAME_MODEL_AS.get(task_type, task_type)]
        leaves = {name.split(".")[-1] for name in listed}
        found = {name.split(".")[-1] for name in _fields(params_model(task_type))}
        assert found <= leaves, f"{task_type}: path fields not tested here: {sorted(found - leaves)}"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(db_file=str(tmp_path / "db" / "tasks.db"), main_output_dir=str(tmp_path / "outputs"),
                    models_dir=str(tmp_path / "models"))


def _with(params: dict, field: str, value) -> dict:
    params = copy.deepcopy(params)
    *parents, leaf = field.split(".")
    target = params
    for name in parents:
        target = target[name]
    target[leaf] = value
    return params


def _outside_values(kind: str, field: str, tmp_path: Path) -> list:
    outside = str(tmp_path / "elsewhere" / "file.png")
    escape = "../../elsewhere/file.png"
    if kind == "lora":
        return [{outside: 1.0}, {escape: 1.0}, {"/etc/hostname": 1.0}]
    if field.endswith("_paths") or field.endswith("_paths_resolved"):
        return [[outside], ["samples/anchor_0.png", escape]]
    if field.endswith("output_dir") and "orchestrator" not in field and "details" not in field:
        return [outside, escape]  # relative folders are allowed (inside the output folder) unless they escape
    return [outside, escape] if kind != "write" or field.endswith("marker_file") else [outside]


CASES = [(task_type, field, kind) for task_type, fields in PATH_FIELDS.items() for field, kind in fields.items()
         if kind not in ("unused", "listed")]


@pytest.mark.parametrize("task_type,field,kind", CASES, ids=[f"{t}:{f}" for t, f, _ in CASES])
def test_a_path_outside_the_roots_is_refused_naming_the_field(task_type, field, kind, settings, tmp_path):
    base = example_params(task_type) or {}
    if task_type == "extract_frame":
        base = {}
    if kind == "write":   # the examples read files anywhere (/videos/...): only the written path is tested
        settings = Settings(**{**settings.__dict__, "input_dirs": "/"})
    for value in _outside_values(kind, field, tmp_path):
        params = _with(base, field, value)
        with pytest.raises(InvalidParams) as refused:
            parse_params(task_type, params, settings)
        message = str(refused.value)
        assert "\n" not in message
        assert field.split(".")[-1] in message and ("output folders" in message or "input folders" in message), message


def test_a_structure_video_outside_the_roots_is_refused(settings, tmp_path):
    base = example_params("travel_orchestrator")
    for path in (str(tmp_path / "elsewhere" / "motion.mp4"), "/etc/hostname"):
        params = _with(base, "orchestrator_details.structure_guidance", {"videos": [{"path": path}]})
        with pytest.raises(InvalidParams, match=r"structure_guidance\.videos\[0\]\.path must be an http\(s\) "
                                                r"URL or a file inside the input folders"):
            parse_params("travel_orchestrator", params, settings)


def test_paths_inside_the_roots_and_urls_are_accepted(settings, tmp_path):
    inputs = tmp_path / "inputs"
    configured = Settings(**{**settings.__dict__, "input_dirs": str(inputs),
                             "extra_output_dirs": str(tmp_path / "published")})
    parse_params("wgp", {"model": "tiny", "image_start_paths": [str(inputs / "a.png"), "https://example.com/b.png"],
                         "video_guide_path": str(tmp_path / "outputs" / "guide.mp4"),
                         "additional_loras": {"style.safetensors": 1.0, str(tmp_path / "models" / "x.safetensors"): 0.5},
                         "output_dir": str(tmp_path / "published" / "day1"), "output_sub_dir": "a/b"}, configured)
    parse_params("noop", {"marker_file": "markers/m.txt"}, configured)
    # with INPUT_DIRS set, the database folder is no longer an input folder
    with pytest.raises(InvalidParams, match="image_start_paths"):
        parse_params("wgp", {"model": "tiny", "image_start_paths": str(tmp_path / "db" / "a.png")}, configured)
    # without settings (a model checked alone) nothing is known of the folders: not checked
    parse_params("noop", {"marker_file": "/anywhere/m.txt"})


def test_a_symlink_inside_the_outputs_that_leads_out_is_refused(settings, tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(InvalidParams, match="marker_file must be inside the worker's output folders"):
        parse_params("noop", {"marker_file": "link/m.txt"}, settings)


def test_an_earlier_rows_output_outside_the_roots_is_not_read(settings, tmp_path, sqlite_queue):
    """A row's `..._task_id` input: the earlier row's output_location is checked like a path."""
    secret = tmp_path / "secret.txt"
    secret.write_text("not for rows")
    [earlier] = sqlite_queue.enqueue([NewTask("noop", {})])
    claim = sqlite_queue.claim("w", 30)
    assert sqlite_queue.complete(claim, str(secret))
    task = Task(id="x", task_type="extract_frame", params={"input_video_task_id": earlier}, status=Status.IN_PROGRESS)
    ctx = context_for(task, settings, queue=sqlite_queue)
    with pytest.raises(InvalidParams, match=f"the output of task {earlier} must be an http"):
        ctx.local_file("input_video_task_id", task_id=earlier)
