"""Joins run by a real worker (in this process) on SQLite with the preview engine; frames counted by
decoding. Rows are written as the original tool's apps write them (docs/JOINING.md)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from source.media.video_io import count_frames, read_frames, video_info
from source.queue.factory import open_migrated_queue
from source.queue.model import NewTask, Status
from source.worker import PREVIEW_NOTE
from tests.helpers.clips import serve_until_idle, sqlite_settings, value_clip

pytestmark = pytest.mark.timeout(600)


def _run(settings, rows):
    queue = open_migrated_queue(settings)
    try:
        queue.enqueue(rows)
    finally:
        queue.close()
    serve_until_idle(settings)
    queue = open_migrated_queue(settings)
    try:
        return {row.id: queue.get(row.id) for row in rows}, queue
    finally:
        pass


def _mean(frame):
    return float(frame.mean())


def test_insert_join_row_as_written_makes_175_frames_with_the_clips_untouched(tmp_path):
    a = value_clip(tmp_path / "a.mp4", 20, 81)
    b = value_clip(tmp_path / "b.mp4", 60, 81)
    settings = sqlite_settings(tmp_path)
    row = NewTask(task_type="join_clips_segment", id="join-insert", params={
        "task_id": "join-insert", "starting_video_path": str(a), "ending_video_path": str(b),
        "context_frame_count": 8, "gap_frame_count": 16, "replace_mode": False, "prompt": "",
        "model": "wan_2_2_vace_lightning_baseline_2_2_2", "seed": -1, "fps": None})
    done, queue = _run(settings, [row])
    task = done["join-insert"]
    assert task.status == Status.COMPLETE, task.error_message
    assert task.progress_message.endswith(PREVIEW_NOTE)    # a finished preview still says it was one
    out = read_frames(task.output_location)
    assert len(out) == 175
    src_a, src_b = read_frames(a), read_frames(b)
    # frames 0-72 are A's, 102-174 are B[8..80]
    for k in (0, 40, 72):
        assert np.abs(out[k].astype(int) - src_a[k].astype(int)).mean() <= 2
    for k in (102, 140, 174):
        assert np.abs(out[k].astype(int) - src_b[k - 94].astype(int)).mean() <= 2
    # the gap morphs from A's end to B's start
    low, high = sorted((_mean(src_a[80]), _mean(src_b[0])))
    assert low + 5 < _mean(out[87]) < high - 5
    queue.close()


def test_replace_join_makes_162_frames(tmp_path):
    a = value_clip(tmp_path / "a.mp4", 20, 81)
    b = value_clip(tmp_path / "b.mp4", 60, 81)
    settings = sqlite_settings(tmp_path)
    row = NewTask(task_type="join_clips_segment", id="join-replace", params={
        "starting_video_path": str(a), "ending_video_path": str(b), "context_frame_count": 8,
        "gap_frame_count": 16, "replace_mode": True, "keep_bridging_images": True})
    done, queue = _run(settings, [row])
    task = done["join-replace"]
    assert task.status == Status.COMPLETE, task.error_message
    out = read_frames(task.output_location)
    assert len(out) == 162
    src_a, src_b = read_frames(a), read_frames(b)
    assert np.abs(out[66].astype(int) - src_a[66].astype(int)).mean() <= 2
    assert np.abs(out[96].astype(int) - src_b[15].astype(int)).mean() <= 2
    queue.close()


def test_orchestrator_three_clips_at_16_and_30_fps_make_269_frames(tmp_path):
    a = value_clip(tmp_path / "a.mp4", 20, 81)
    b = value_clip(tmp_path / "b.mp4", 60, 152, fps=30, step=1)     # 5.07 s at 30 fps: 81 frames at 16
    c = value_clip(tmp_path / "c.mp4", 100, 81)
    settings = sqlite_settings(tmp_path)
    row = NewTask(task_type="join_clips_orchestrator", id="orch", run_id="jr", params={
        "orchestrator_details": {"run_id": "jr", "clip_list": [{"url": str(a)}, {"url": str(b)}, {"url": str(c)}],
                                 "context_frame_count": 8, "gap_frame_count": 16, "fps": 16}})
    done, queue = _run(settings, [row])
    root = queue.get("orch")
    assert root.status == Status.COMPLETE, root.error_message
    children = sorted((t for t in queue.list_run("jr") if t.task_type == "join_clips_segment"),
                      key=lambda t: t.params["join_index"])
    assert len(children) == 2
    assert children[0].dependant_on == [] and children[1].dependant_on == [children[0].id]
    assert children[0].params["starting_video_path"] == str(a) and children[1].params.get("starting_video_path") is None
    assert [t.params["is_last_join"] for t in children] == [False, True]
    assert count_frames(children[0].output_location) == 175
    assert root.output_location == children[1].output_location
    assert count_frames(root.output_location) == 269
    assert round(video_info(root.output_location)["fps"]) == 16
    queue.close()


def test_loop_mode_keeps_every_clip(tmp_path):
    a = value_clip(tmp_path / "a.mp4", 20, 41)
    b = value_clip(tmp_path / "b.mp4", 100, 41)
    settings = sqlite_settings(tmp_path)
    row = NewTask(task_type="join_clips", id="loop", run_id="lr", params={
        "orchestrator_details": {"run_id": "lr", "clip_list": [{"url": str(a)}, {"url": str(b)}],
                                 "loop_first_clip": True, "context_frame_count": 4, "gap_frame_count": 9}})
    done, queue = _run(settings, [row])
    root = queue.get("loop")
    assert root.status == Status.COMPLETE, root.error_message
    children = sorted((t for t in queue.list_run("lr") if t.task_type == "join_clips_segment"),
                      key=lambda t: t.params["join_index"])
    assert len(children) == 2                                       # a->b, b->reversed a
    assert children[0].params["ending_video_path"] == str(b)
    out = read_frames(root.output_location)
    assert len(out) == 41 * 3 + 2 * 9                               # 4 + 9 + 4 = 17: no rounding
    src_a, src_b = read_frames(a), read_frames(b)
    # B's middle frame is in the video (encoded twice: each join's output is encoded once more by the next)
    middle = 41 + 9 + 20
    assert np.abs(out[middle].astype(int) - src_b[20].astype(int)).mean() <= 3.5
    # the video ends where it starts (clip 0 reversed, encoded three times)
    assert np.abs(out[-1].astype(int) - src_a[0].astype(int)).mean() <= 4
    assert np.abs(out[-1].astype(int) - src_a[40].astype(int)).mean() > 20
    queue.close()


def _tone(path: Path, seconds: float, rate: int = 22050) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        samples = (np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 440 / rate) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize("seconds", [2.0, 30.0])
def test_audio_is_muxed_and_the_video_keeps_every_frame(tmp_path, seconds):
    import av

    a = value_clip(tmp_path / "a.mp4", 20, 33)
    b = value_clip(tmp_path / "b.mp4", 90, 33)
    audio = _tone(tmp_path / "tone.wav", seconds)
    settings = sqlite_settings(tmp_path)
    row = NewTask(task_type="join_clips_segment", id="join-audio", params={
        "starting_video_path": str(a), "ending_video_path": str(b), "context_frame_count": 4,
        "gap_frame_count": 9, "audio_url": str(audio)})
    done, queue = _run(settings, [row])
    task = done["join-audio"]
    assert task.status == Status.COMPLETE, task.error_message
    assert count_frames(task.output_location) == 33 + 33 + 9
    with av.open(task.output_location) as container:
        assert container.streams.audio and container.streams.audio[0].codec_context.name == "aac"
        audio_seconds = sum(f.samples for f in container.decode(audio=0)) / container.streams.audio[0].rate
    assert audio_seconds == pytest.approx(min(seconds, 75 / 16), abs=0.1)
    queue.close()


def test_every_video_output_gets_a_poster_in_params_thumbnail_url(tmp_path):
    from PIL import Image

    a = value_clip(tmp_path / "a.mp4", 20, 33)
    b = value_clip(tmp_path / "b.mp4", 90, 33)
    settings = sqlite_settings(tmp_path)
    row = NewTask(task_type="join_clips_orchestrator", id="orch-poster", run_id="pr", params={
        "orchestrator_details": {"run_id": "pr", "clip_list": [str(a), str(b)], "context_frame_count": 4,
                                 "gap_frame_count": 9}})
    done, queue = _run(settings, [row, NewTask(task_type="noop", id="no-video", params={})])
    root = queue.get("orch-poster")
    (child,) = [t for t in queue.list_run("pr") if t.task_type == "join_clips_segment"]
    poster = child.params["thumbnail_url"]
    assert Path(poster).name == Path(child.output_location).stem + "_poster.jpg"
    assert Path(poster).parent == Path(child.output_location).parent
    with Image.open(poster) as image:
        assert image.format == "JPEG" and image.size == (64, 64)
        first = np.asarray(image.convert("RGB"), dtype=int)
    assert np.abs(first - read_frames(child.output_location)[0].astype(int)).mean() < 4
    assert root.params["thumbnail_url"] == poster                  # the orchestrator takes its child's poster
    assert "thumbnail_url" not in queue.get("no-video").params      # no video, no poster
    queue.close()


def test_a_join_renders_with_the_tiny_vace_model(tmp_path):
    """engine tiny: the tiny random-weight VACE model stands in for the row's Wan2GP model id; the
    clips around the transition are still the clips."""
    a = value_clip(tmp_path / "a.mp4", 40, 21)
    b = value_clip(tmp_path / "b.mp4", 120, 21)
    settings = sqlite_settings(tmp_path, engine="tiny")
    row = NewTask(task_type="join_clips_segment", id="join-tiny", params={
        "starting_video_path": str(a), "ending_video_path": str(b), "context_frame_count": 4,
        "gap_frame_count": 9, "model": "wan_2_2_vace_lightning_baseline_2_2_2", "seed": 3})
    done, queue = _run(settings, [row])
    task = done["join-tiny"]
    assert task.status == Status.COMPLETE, task.error_message
    out = read_frames(task.output_location)
    assert len(out) == 21 + 21 + 9
    src_a = read_frames(a)
    assert np.abs(out[10].astype(int) - src_a[10].astype(int)).mean() <= 2
    queue.close()
