"""The `wgp` / `single_image` handlers, called with a TaskContext built here, and one worker run."""
from __future__ import annotations

from dataclasses import replace

from pathlib import Path

import pytest
from PIL import Image

from source.errors import InvalidParams, TaskCancelled, TransientError, UserError
from source.media.video_io import count_frames, video_info
from source.queue.model import Status, Task
from source.tasks.context import Done
from source.workflows.registry import context_for, get_handler

from .helpers.bridge import closed_port_url, gradient_frames, solid, write_test_video


def make_ctx(tmp_path: Path, settings, params: dict, task_id: str = "task-1", task_type: str = "wgp"):
    """The handler's context as the worker builds it (params validated), with outputs under tmp_path/out
    and progress collected in a list."""
    task = Task(id=task_id, task_type=task_type, params=params, status=Status.IN_PROGRESS)
    (tmp_path / "out").mkdir(parents=True, exist_ok=True)
    settings = replace(settings, main_output_dir=str(tmp_path / "out"), work_dir=str(tmp_path / "work"),
                       db_file=str(tmp_path / "tasks.db"))
    ctx = context_for(task, settings, worker_id="w1")
    progress = []
    ctx.progress_sink = lambda value, message: progress.append((value, message))
    return ctx, progress


def run(ctx):
    return get_handler(ctx.task.task_type)(ctx)


def test_wgp_t2v_reports_progress_and_writes_named_mp4(tiny_settings, tmp_path):
    ctx, progress = make_ctx(tmp_path, tiny_settings, {"model": "tiny", "prompt": "a boat", "resolution": "72x60",
                                                       "video_length": 10, "steps": 3, "seed": 5})
    result = run(ctx)
    assert isinstance(result, Done)
    path = Path(result.output_location)
    assert path.is_absolute() and path == (tmp_path / "out" / "task-1_tiny.mp4").resolve()
    assert count_frames(path) == 9 and (video_info(path)["width"], video_info(path)["height"]) == (64, 48)
    assert [p for p, _ in progress] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert progress[-1][1] == "denoising step 3/3"


def test_standard_wgp_task_vace_with_guide_and_mask_files(tiny_settings, tmp_path):
    guide = write_test_video(tmp_path / "guide.mp4", gradient_frames(17))
    mask = write_test_video(tmp_path / "mask.mp4", [solid((255, 255, 255))] * 17)
    ctx, _ = make_ctx(tmp_path, tiny_settings, {"model": "vace_14B", "prompt": "x", "resolution": "64x64",
                                                "frames": 17, "steps": 2, "video_guide_path": str(guide),
                                                "video_mask_path": str(mask)}, task_type="standard_wgp_task")
    path = Path(run(ctx).output_location)
    assert path.name == "task-1_vace_14B.mp4" and count_frames(path) == 17


def test_wgp_flf2v_with_image_lists(tiny_settings, tmp_path):
    start, end = tmp_path / "a.png", tmp_path / "b.png"
    solid((255, 0, 0)).save(start)
    solid((0, 0, 255)).save(end)
    ctx, _ = make_ctx(tmp_path, tiny_settings, {"model": "tiny", "prompt": "x", "resolution": "64x64", "frames": 9,
                                                "steps": 2, "image_start_paths": [str(start)],
                                                "image_end_paths": [str(end)]})
    assert count_frames(run(ctx).output_location) == 9


def test_single_image_writes_png(tiny_settings, tmp_path):
    ctx, _ = make_ctx(tmp_path, tiny_settings, {"model": "tiny", "prompt": "x", "resolution": "64x48", "steps": 2},
                      task_id="img/../1", task_type="single_image")
    path = Path(run(ctx).output_location)
    assert path.parent == (tmp_path / "out").resolve() and path.suffix == ".png"  # unsafe id sanitised
    with Image.open(path) as image:
        assert image.size == (64, 48)


def test_cancel_stops_render_and_leaves_no_file(tiny_settings, tmp_path):
    ctx, progress = make_ctx(tmp_path, tiny_settings, {"model": "tiny", "prompt": "x", "resolution": "64x64",
                                                       "frames": 9, "steps": 6})
    original = ctx.progress_sink

    def lose_after_two(value, message):
        original(value, message)
        if len(progress) == 2:
            ctx.lost.set()  # what the worker does when the row is cancelled

    ctx.progress_sink = lose_after_two
    with pytest.raises(TaskCancelled):
        run(ctx)
    assert len(progress) == 2
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("params,match", [
    ({"model": "", "prompt": "x"}, "model is required"),
    ({"model": "wan_9000"}, "unknown model 'wan_9000'; known models: t2v, "),
    ({"model": "tiny", "resolution": "wide"}, "resolution"),
    ({"model": "tiny", "frames": -2}, "frames must be >= 1"),
    ({"model": "tiny", "frames": "ten"}, "frames must be an integer"),
    ({"model": "tiny", "guidance_scale": "high"}, "guidance_scale must be a number"),
    # outside the worker's input folders: refused before anything is opened (tests/test_row_paths.py)
    ({"model": "tiny", "image_start_paths": ["/no/such.png"]},
     r"image_start_paths\[0\] must be an http\(s\) URL or a file inside the input folders"),
    ({"model": "tiny", "additional_loras": {"/no/lora.safetensors": 1.0}},
     r"additional_loras.key must be an http\(s\) URL or a file inside the input folders or the LoRA folder"),
    ({"model": "tiny", "additional_loras": {"missing.safetensors": 1.0}}, "additional_loras: LoRA file not found"),
    ({"model": "tiny", "additional_loras": {"x.safetensors": "strong"}}, "strength for x.safetensors"),
    ({"model": "tiny", "use_causvid_lora": "yes"}, "use_causvid_lora must be true or false"),
])
def test_bad_params_name_the_field(tiny_settings, tmp_path, params, match):
    with pytest.raises(InvalidParams, match=match):   # refused when the params are read, or by the handler
        ctx, _ = make_ctx(tmp_path, tiny_settings, {"resolution": "64x64", "frames": 5, "steps": 1, **params})
        run(ctx)
    assert list((tmp_path / "out").iterdir()) == []


def test_unreachable_lora_url_is_one_line_naming_it_and_not_retried_as_a_row(tiny_settings, tmp_path):
    url = closed_port_url("detail.safetensors")   # a refused connection: tried once more, then the row fails
    ctx, _ = make_ctx(tmp_path, tiny_settings, {"model": "tiny", "frames": 5, "steps": 1, "resolution": "64x64",
                                                "additional_loras": {url: 1.0}})
    with pytest.raises(UserError, match=r"LoRA could not be fetched: download failed: http://127\.0\.0\.1:\d+/"
                                        r"detail\.safetensors: connection refused") as caught:
        run(ctx)
    assert not isinstance(caught.value, TransientError) and "\n" not in str(caught.value)


def test_missing_weights_message(tiny_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = replace(tiny_settings, engine="diffusers", models_dir=str(tmp_path / "models"))
    ctx, _ = make_ctx(tmp_path, settings, {"model": "vace_1.3B", "frames": 5, "steps": 1, "resolution": "64x64",
                                           "video_guide_path": str(write_test_video(tmp_path / "g.mp4",
                                                                                    gradient_frames(5)))})
    with pytest.raises(FileNotFoundError, match="no weights for model 'vace_1.3B'; looked in: .*models/vace_1.3B"):
        run(ctx)


def test_headless_until_idle_renders_a_wgp_row(tiny_settings, tmp_path):
    """End to end: a `wgp` row in a SQLite queue, one worker process, a decoded mp4 on the row."""
    from .helpers.workers import make_backend, wait_terminal
    from source.queue.model import NewTask

    with make_backend("sqlite", tmp_path) as backend:
        queue = backend.queue()
        task = NewTask("wgp", {"model": "vace_14B", "prompt": "a red car", "resolution": "72x60", "frames": 10,
                               "steps": 2, "seed": 1, "image_start_paths": [str(_png(tmp_path))]})
        queue.enqueue([task])
        proc = backend.start_worker("--until-idle", "--engine", "tiny",
                                    TINY_MODELS_DIR=tiny_settings.tiny_models_dir)
        row = wait_terminal(queue, task.id, timeout=120)
        assert proc.wait(timeout=30) == 0, proc.log_path.read_text()[-2000:]
        assert row.status == Status.COMPLETE, row.error_message
        assert row.progress == pytest.approx(1.0)
        path = Path(row.output_location)
        assert path.is_file() and count_frames(path) == 9
        assert (video_info(path)["width"], video_info(path)["height"]) == (64, 48)


def _png(tmp_path: Path) -> Path:
    path = tmp_path / "start.png"
    solid((10, 200, 10), (72, 60)).save(path)
    return path
