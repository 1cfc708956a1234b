#!/usr/bin/env python3
"""Travel-between-images benchmark. `.venv/bin/python benchmarks/travel_bench.py [--quick]`

1. A real 3-image run (samples/, 832x480, 81 frames, overlap 16, the `tiny` random-weight VACE model)
   through a SQLite queue and an in-process worker: wall time split into rendering (time inside
   generate_single_video) and everything else (orchestrator, guides, masks, carried frames, stitch,
   encoding), compared with the floor: decoding the segment videos once and encoding the final video
   once with the same codec settings.
2. The stitch alone against that floor (synthetic 832x480 segment clips), wall and CPU seconds.
3. Peak memory of the stitch as the run grows from 3 to 12 images (each size in a fresh process).

CPU seconds (user + system, all threads) are reported next to wall seconds because other processes
on a shared machine make wall times noisy; ratios are taken on CPU seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from source.media.stitch import stitch_clips  # noqa: E402
from source.media.video_io import VideoWriter, count_frames, iter_frames  # noqa: E402
from source.workflows.travel.plan import plan_travel  # noqa: E402

W, H, FRAMES, OVERLAP = 832, 480, 81, 16


class Clock:
    """Wall and CPU (all threads of this process) seconds of a block."""

    def __enter__(self):
        self.wall0, self.cpu0 = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall0, _cpu() - self.cpu0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def synthetic_clip(path: Path, seed: int, frames: int = FRAMES) -> Path:
    """Moving smooth patterns (real work for the encoder), written fast (ultrafast preset)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    with VideoWriter(path, preset="ultrafast", crf=17) as writer:
        for t in range(frames):
            frame = np.stack([128 + 100 * np.sin(x / 50 + t / 5 + seed), 128 + 100 * np.sin(y / 40 - t / 7),
                              128 + 100 * np.sin((x + y) / 70 + t / 9 + seed)], -1)
            writer.write(frame.astype(np.uint8))
    return path


def floor_decode_encode(clips: list[Path], total: int, out: Path) -> None:
    """The floor: every clip decoded once, `total` frames encoded once (same settings as the stitch)."""
    written = 0
    with VideoWriter(out) as writer:
        for clip in clips:
            for frame in iter_frames(clip):
                if written < total:
                    writer.write(frame)
                    written += 1


def best_of(runs: int, fn) -> Clock:
    best = None
    for _ in range(runs):
        with Clock() as clock:
            fn()
        if best is None or clock.cpu < best.cpu:
            best = clock
    return best


# ---- 1. a real run with the tiny model ---------------------------------------------------------------

def tiny_run(tmp: Path, resolution: str) -> dict:
    try:
        import source.wgp_utils as bridge
        from source.config import resolve_settings
        from source.queue.factory import open_queue
        from source.worker import Worker
        if not hasattr(bridge, "generate_single_video"):
            raise ImportError("render bridge not present")
    except ImportError as exc:
        return {"skipped": f"needs the queue, worker and render bridge: {exc}"}

    from source.queue.model import NewTask, Status
    from source.tasks.ids import new_run_id

    render = {"wall": 0.0, "cpu": 0.0, "calls": 0}
    original = bridge.generate_single_video

    def timed(**kwargs):
        with Clock() as clock:
            path = original(**kwargs)
        render["wall"] += clock.wall
        render["cpu"] += clock.cpu
        render["calls"] += 1
        return path

    bridge.generate_single_video = timed
    settings = resolve_settings({"db_file": str(tmp / "bench.db"), "main_output_dir": str(tmp / "out"),
                                 "engine": "tiny", "poll_interval": 0.2}, env={}, dotenv_path=tmp / "none")
    queue = open_queue(settings)
    queue.migrate()
    run_id = new_run_id()
    details = {
        "run_id": run_id, "input_image_paths_resolved": [str(ROOT / f"samples/anchor_{i}.png") for i in range(3)],
        "base_prompts_expanded": ["a day passing over green hills"], "segment_frames_expanded": [FRAMES],
        "frame_overlap_expanded": [OVERLAP], "parsed_resolution_wh": resolution, "model_name": "vace_14B",
        "seed_base": 123,
    }
    (root_id,) = queue.enqueue([NewTask("travel_orchestrator", {"orchestrator_details": details}, run_id=run_id)])
    # warm the tiny model (built and saved on first use) outside the timed run
    warm = tmp / "warm"
    warm.mkdir()
    from PIL import Image
    gray = [Image.new("RGB", (64, 64), (128, 128, 128))] * 17
    original(model="vace_14B", prompt="warm up", output_path=warm / "w.mp4", resolution="64x64", frames=17,
             guide_video=gray, mask_video=[Image.new("RGB", (64, 64), (255, 255, 255))] * 17, engine="tiny",
             settings=settings)
    with Clock() as total:
        Worker(settings, queue).run(until_idle=True)
    bridge.generate_single_video = original
    root = queue.get(root_id)
    if root.status != Status.COMPLETE:
        return {"error": f"run ended {root.status}: {root.error_message}"}
    final = Path(root.output_location)
    frames = count_frames(final)
    segments = sorted((tmp / "out").glob(f"{run_id}_seg*.mp4"))
    floor = best_of(2, lambda: floor_decode_encode(segments, frames, tmp / "floor_real.mp4"))
    other_wall, other_cpu = total.wall - render["wall"], total.cpu - render["cpu"]
    return {
        "resolution": resolution, "final_frames": frames, "expected_frames": 146,
        "total_wall_s": round(total.wall, 2),
        "render_wall_s": round(render["wall"], 2), "render_calls": render["calls"],
        "non_render_wall_s": round(other_wall, 2), "non_render_cpu_s": round(other_cpu, 2),
        "floor_wall_s": round(floor.wall, 2), "floor_cpu_s": round(floor.cpu, 2),
        "non_render_over_floor_cpu": round(other_cpu / floor.cpu, 2),
    }


# ---- 2. the stitch against the floor ------------------------------------------------------------------

def stitch_vs_floor(tmp: Path, clips: list[Path]) -> dict:
    plan = plan_travel(3, [FRAMES], [OVERLAP])
    pair = clips[:2]
    stitch = best_of(2, lambda: stitch_clips(pair, plan.overlaps, tmp / "stitched.mp4",
                                             expected_lengths=plan.clip_lengths, sharp_amount=0.3))
    floor = best_of(2, lambda: floor_decode_encode(pair, plan.final_frames, tmp / "floor.mp4"))
    assert count_frames(tmp / "stitched.mp4") == plan.final_frames == 146
    return {"frames": plan.final_frames, "stitch_wall_s": round(stitch.wall, 2),
            "stitch_cpu_s": round(stitch.cpu, 2), "floor_wall_s": round(floor.wall, 2),
            "floor_cpu_s": round(floor.cpu, 2), "stitch_over_floor_cpu": round(stitch.cpu / floor.cpu, 2)}


# ---- 3. stitch memory as the run grows -----------------------------------------------------------------

def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: reset at exec, unlike ru_maxrss on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory_child(images: int, clip_paths: list[str], out: str, preset: str) -> None:
    """Runs in a fresh process: peak RSS before and after stitching `images` - 1 segments."""
    plan = plan_travel(images, [FRAMES], [OVERLAP])
    clips = [clip_paths[k % len(clip_paths)] for k in range(plan.num_segments)]
    next(iter_frames(clips[0]))                      # libraries and decoder warmed before the baseline
    before = _peak_rss_mb()
    with Clock() as clock:
        stitch_clips(clips, plan.overlaps, out, expected_lengths=plan.clip_lengths, sharp_amount=0.3,
                     preset=preset)
    after = _peak_rss_mb()
    print(json.dumps({"images": images, "final_frames": plan.final_frames, "peak_rss_mb": round(after, 1),
                      "growth_mb": round(after - before, 1), "wall_s": round(clock.wall, 2)}))


def memory_curve(tmp: Path, clips: list[Path], sizes: list[int], preset: str) -> list[dict]:
    rows = []
    for images in sizes:
        result = subprocess.run([sys.executable, __file__, "--memory-child", str(images), "--preset", preset,
                                 "--out", str(tmp / f"mem_{images}.mp4"), *map(str, clips)],
                                capture_output=True, text=True, check=True)
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        (tmp / f"mem_{images}.mp4").unlink(missing_ok=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="memory curve at 3 and 6 images only")
    parser.add_argument("--skip-run", action="store_true", help="skip the tiny-model run")
    parser.add_argument("--resolution", default=f"{W}x{H}", help="resolution of the tiny-model run")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--preset", default="veryfast", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("clips", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(args.memory_child, args.clips, args.out, args.preset)
        return 0

    results = {"machine_cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="travel_bench_") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        clips = [synthetic_clip(tmp / f"clip{k}.mp4", k) for k in range(3)]
        if not args.skip_run:
            results["tiny_run"] = tiny_run(tmp, args.resolution)
            print(json.dumps({"tiny_run": results["tiny_run"]}), flush=True)
        results["stitch_vs_floor"] = stitch_vs_floor(tmp, clips)
        print(json.dumps({"stitch_vs_floor": results["stitch_vs_floor"]}), flush=True)
        sizes = [3, 6] if args.quick else [3, 6, 9, 12]
        # The memory curve uses a faster x264 preset so 12 images fit the time budget; the encoder's
        # buffers depend on the preset, not on the run's length, which is what the curve is about.
        results["stitch_memory"] = memory_curve(tmp, clips, sizes, preset=args.preset)
        print(json.dumps({"stitch_memory": results["stitch_memory"]}), flush=True)
        results["bench_wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
