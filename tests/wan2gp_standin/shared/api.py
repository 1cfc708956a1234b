"""STAND-IN for Wan2GP's `shared/api.py` (see ../README.md): the same init() / session / job / events
surface, rendering a real mp4 without any model."""
from __future__ import annotations

import contextlib
import copy
import importlib
import io
import json
import os
import queue
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

_RUNTIME = None
_RUNTIME_LOCK = threading.Lock()


@dataclass(frozen=True)
class StreamMessage:
    stream: str
    text: str


@dataclass(frozen=True)
class ProgressUpdate:
    phase: str
    status: str
    progress: int
    current_step: int | None
    total_steps: int | None
    raw_phase: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class SessionEvent:
    kind: str
    data: Any = None
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True)
class GenerationError:
    message: str
    task_index: int | None = None
    task_id: Any = None
    stage: str | None = None

    def __str__(self) -> str:
        return self.message

    @property
    def cancelled(self) -> bool:
        return str(self.stage or "").lower() == "cancelled"


@dataclass(frozen=True)
class GenerationResult:
    success: bool
    generated_files: list
    errors: list
    total_tasks: int
    successful_tasks: int
    failed_tasks: int
    artifacts: tuple = ()

    @property
    def cancelled(self) -> bool:
        return len(self.errors) > 0 and all(error.cancelled for error in self.errors)


class SessionStream:
    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        self._sentinel = object()

    def put(self, kind: str, data: Any = None) -> None:
        if not self._closed.is_set():
            self._queue.put(SessionEvent(kind=kind, data=data))

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._queue.put(self._sentinel)

    def get(self, timeout: float | None = None):
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        return None if item is self._sentinel else item

    def iter(self, timeout: float | None = None) -> Iterator[SessionEvent]:
        while True:
            event = self.get(timeout=timeout)
            if event is None:
                if self._closed.is_set():
                    break
                continue
            yield event


class _Capture(io.TextIOBase):
    """Like Wan2GP: while a job runs, print() anywhere in the process becomes a `stream` event."""

    def __init__(self, name: str, job: "SessionJob") -> None:
        self.name, self.job, self.buffer_text = name, job, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.buffer_text += text
        while "\n" in self.buffer_text:
            line, self.buffer_text = self.buffer_text.split("\n", 1)
            if line:
                self.job.events.put("stream", StreamMessage(self.name, line))
        return len(text)


class SessionJob:
    def __init__(self) -> None:
        self.events = SessionStream()
        self._done = threading.Event()
        self._cancel = threading.Event()
        self._result: GenerationResult | None = None

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def result(self, timeout: float | None = None) -> GenerationResult:
        if not self._done.wait(timeout=timeout):
            raise TimeoutError("WanGP session job timed out")
        return self._result

    join = result

    @property
    def done(self) -> bool:
        return self._done.is_set()


class WanGPSession:
    def __init__(self, *, root=None, config_path=None, output_dir=None, callbacks=None, cli_args=(),
                 console_output=True, console_isatty=True, webui_state=None) -> None:
        self._root = Path(root or Path(__file__).resolve().parents[1]).resolve()
        self._output_dir = Path(output_dir).resolve() if output_dir else self._root / "outputs"
        self._cli_args = tuple(str(a) for a in cli_args)
        self._active: SessionJob | None = None
        self._lock = threading.Lock()
        self._loaded_model: str | None = None

    def ensure_ready(self) -> "WanGPSession":
        global _RUNTIME
        with _RUNTIME_LOCK:
            if _RUNTIME is None:
                if str(self._root) not in sys.path:
                    sys.path.insert(0, str(self._root))
                previous = os.getcwd()
                os.chdir(self._root)
                try:
                    _RUNTIME = importlib.import_module("wgp")
                finally:
                    os.chdir(previous)
        self._output_dir.mkdir(parents=True, exist_ok=True)
        (self._output_dir / "standin_runtime.json").write_text(json.dumps(
            {"cli_args": list(self._cli_args), "pid": os.getpid()}))
        return self

    @property
    def wgp(self):
        return _RUNTIME

    # ---- models -------------------------------------------------------------------------------------
    def list_model_defs(self, **filters) -> list:
        return [{"model_type": name, **copy.deepcopy(d)} for name, d in sorted(self.wgp.MODELS.items())]

    def get_model_def(self, model_type: str):
        model_def = self.wgp.get_model_def(model_type)
        return None if model_def is None else {"model_type": model_type, **copy.deepcopy(model_def)}

    def get_default_settings(self, model_type: str) -> dict:
        if self.get_model_def(model_type) is None:
            raise ValueError(f"Unknown model_type: {model_type}")
        return {**self.wgp.DEFAULTS, "model_type": model_type}

    def get_model_schema(self, model_type: str):
        model_def = self.get_model_def(model_type)
        return None if model_def is None else {"metadata": {"name": model_def["name"], "model_type": model_type}}

    # ---- jobs ---------------------------------------------------------------------------------------
    def submit_task(self, settings: dict, callbacks=None) -> SessionJob:
        with self._lock:
            if self._active is not None and not self._active.done:
                raise RuntimeError("WanGP session already has a generation in progress")
            job = SessionJob()
            self._active = job
        settings = copy.deepcopy(settings)
        with open(self._output_dir / "standin_settings.jsonl", "a", encoding="utf-8") as record:
            record.write(json.dumps(settings) + "\n")
        threading.Thread(target=self._run, args=(job, settings), daemon=True, name="wangp-session-job").start()
        return job

    def cancel(self) -> None:
        if self._active is not None:
            self._active.cancel()

    def close(self) -> None:
        self._loaded_model = None

    def _run(self, job: SessionJob, settings: dict) -> None:
        job.events.put("started", {"tasks": 1})
        errors, files = [], []
        try:
            with contextlib.redirect_stdout(_Capture("stdout", job)), contextlib.redirect_stderr(_Capture("stderr", job)):
                files = self._generate(job, settings)
        except _Refused as exc:
            errors.append(GenerationError(str(exc), 1, 1, "validation"))
        except _Cancelled:
            errors.append(GenerationError("Generation was cancelled", 1, 1, "cancelled"))
        except Exception as exc:
            errors.append(GenerationError(f"{type(exc).__name__}: {exc}", 1, 1, "generation"))
        for error in errors:
            job.events.put("error", error)
        result = GenerationResult(success=not errors, generated_files=files, errors=errors, total_tasks=1,
                                  successful_tasks=0 if errors else 1, failed_tasks=1 if errors else 0)
        job._result = result
        job.events.put("completed", result)
        job._done.set()
        job.events.close()

    def _generate(self, job: SessionJob, settings: dict) -> list:
        model_type = settings.get("model_type")
        model_def = self.wgp.get_model_def(model_type)
        if model_def is None:
            raise _Refused(f"Unknown model type {model_type}")
        unknown = [key for key in settings if key not in self.wgp.GENERATE_MEDIA_ARGS]
        if unknown:
            raise _Refused(f"unexpected settings {unknown}")
        values = {**self.wgp.DEFAULTS, **settings}
        match = re.fullmatch(r"(\d+)x(\d+)", str(values["resolution"]))
        if not match:
            raise _Refused(f"bad resolution {values['resolution']!r}")
        width, height = int(match.group(1)), int(match.group(2))
        for lora in settings.get("activated_loras") or []:
            if not Path(lora).is_file():
                raise RuntimeError(f"Lora '{lora}' not found")
        for key in ("video_guide", "video_mask", "image_start", "image_end"):
            if settings.get(key) and not Path(settings[key]).is_file():
                raise RuntimeError(f"{key} file not found: {settings[key]}")
        prompt = str(values["prompt"])
        frames = self.wgp.floor_frame_count(int(values["video_length"]), model_def["frames_minimum"])
        steps = int(values["num_inference_steps"])
        if self._loaded_model != model_type:
            job.events.put("status", f"Loading model {model_def['name']}...")
            time.sleep(0.3)
            self._loaded_model = model_type
            job.events.put("status", "Model loaded")
        if "[fail]" in prompt:
            raise RuntimeError("stand-in failure requested by the prompt")
        crash_at = _marker(prompt, "crash")
        once = self._output_dir / "standin_crashed_once"
        if _marker(prompt, "crash-once") and not once.exists():
            crash_at = _marker(prompt, "crash-once")
            once.write_text("the next attempt renders")
        hang_at = _marker(prompt, "hang")
        for step in range(1, steps + 1):
            if job.cancel_requested:
                raise _Cancelled()
            if "[slow]" in prompt:
                time.sleep(0.25)
            if "[print]" in prompt:
                print(f"stand-in print() during step {step}")
                os.write(1, f"stand-in raw fd1 write during step {step}\n".encode())
                os.write(2, f"stand-in raw fd2 write during step {step}\n".encode())
            if crash_at == step:
                os.kill(os.getpid(), signal.SIGKILL)
            if hang_at == step:
                while True:
                    time.sleep(3600)
            job.events.put("progress", ProgressUpdate("inference", f"Denoising {step}/{steps}",
                                                      int(100 * step / steps), step, steps, "Denoising"))
        if job.cancel_requested:
            raise _Cancelled()
        job.events.put("progress", ProgressUpdate("decoding", "Decoding", 100, None, None, "VAE Decoding"))
        path = self._output_dir / f"{time.strftime('%Y-%m-%d-%Hh%Mm%Ss')}_seed{values['seed']}_{_slug(prompt)}.mp4"
        _write_mp4(path, _frames(settings, values, frames, width, height), fps=model_def["fps"])
        job.events.put("output", None)
        return [str(path)]


class _Refused(Exception):
    pass


class _Cancelled(Exception):
    pass


def _marker(prompt: str, name: str):
    match = re.search(rf"\[{name}@(\d+)\]", prompt)
    return int(match.group(1)) if match else None


def _slug(prompt: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", prompt)[:40].strip("_") or "video"


def _frames(settings: dict, values: dict, count: int, width: int, height: int):
    """The guide's frames when there is a guide (padded by repeating its last), else a seeded gradient."""
    import av
    import numpy as np

    if settings.get("video_guide"):
        guide = []
        with av.open(settings["video_guide"]) as container:
            for frame in container.decode(container.streams.video[0]):
                guide.append(frame.to_ndarray(format="rgb24", width=width, height=height))
        for index in range(count):
            yield guide[min(index, len(guide) - 1)]
        return
    seed = int(values.get("seed") or 0)
    y, x = np.mgrid[0:height, 0:width]
    for index in range(count):
        frame = np.stack([(x + index * 3 + seed) % 256, (y + seed * 7) % 256,
                          np.full_like(x, (index * 16 + seed) % 256)], axis=-1)
        yield frame.astype(np.uint8)


def _write_mp4(path: Path, frames, fps: int) -> None:
    import av

    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=fps)
                stream.width, stream.height = frame.shape[1], frame.shape[0]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "0", "preset": "ultrafast"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def init(*, root=None, config_path=None, output_dir=None, callbacks=None, cli_args: Sequence[str] = (),
         console_output=True, console_isatty=True, webui_state=None) -> WanGPSession:
    """Create and eagerly initialise a session (as Wan2GP's init())."""
    return WanGPSession(root=root, config_path=config_path, output_dir=output_dir, callbacks=callbacks,
                        cli_args=cli_args, console_output=console_output, console_isatty=console_isatty).ensure_ready()
