"""The Wan2GP helper: a long-lived process, run by Wan2GP's own interpreter, that owns one Wan2GP session.

    <wan2gp python> helper_main.py --root WAN2GP_DIR --channel-fd N --output-dir DIR
                                   [--cli-args JSON] [--config JSON]

This file is a program, not a module of the worker: it runs in Wan2GP's venv, so it imports only the
standard library and Wan2GP (`shared.api`), never the worker's packages. The worker starts it on first
use (source/engines/wan2gp/helper.py) and keeps it, with Wan2GP's models loaded, across tasks.

Why a separate process: Wan2GP pins its own versions of torch/diffusers/transformers/numpy/gradio (a
mismatch calls exit()), parses sys.argv and changes the working directory and torch's default device at
import, and redirects stdout/stderr process-wide while a job runs.

The channel: one end of a Unix socketpair, inherited as file descriptor N; never stdout, which Wan2GP
writes to at import and swaps during jobs. The worker reads this process's stdout and stderr only as log
text. Messages are JSON objects, one per line, UTF-8.

  worker -> helper
    {"op": "describe", "id": 1, "model_type": "vace_1.3B"}      what the engine needs to know of a model
    {"op": "render", "id": 2, "settings": {...}}                 one Wan2GP task (generate_media keys)
    {"op": "cancel", "id": 2}                                    cancel render 2 (stops at the next step)
    {"op": "shutdown"}                                           release the model and exit
  helper -> worker
    {"type": "ready", "pid": ..., "version": "12.60", "applied_config": {...}}    once, after init()
    {"type": "fatal", "error": "..."}                             init() failed; the helper exits
    {"type": "log", "level": "info", "text": "..."}               the helper's own log lines
    {"type": "event", "id": 2, "kind": "progress", "phase": "inference", "step": 3, "total": 20, ...}
    {"type": "event", "id": 2, "kind": "status" | "info" | "stream", "text": "...", "stream": "stdout"}
    {"type": "reply", "id": 1, "ok": true, "data": {...}}         the answer to a request
    {"type": "reply", "id": 2, "ok": false, "error": "...", "stage": "validation", "error_type": "..."}

Every Wan2GP event is forwarded as it happens, so the worker can tell a busy helper from a hung one by
silence alone (WAN2GP_HELPER_TIMEOUT). If the worker goes away (the channel closes), the helper exits.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import queue
import socket
import sys
import threading
import time
import traceback

PROTOCOL_VERSION = 1

# wgp_config keys the worker may set, and the module globals Wan2GP derived from them at import
# (`None`: Wan2GP reads the key from server_config when it loads a model).
CONFIG_TARGETS = {
    "boost": "boost",
    "transformer_quantization": "transformer_quantization",
    "text_encoder_quantization": "text_encoder_quantization",
    "preload_model_policy": "preload_model_policy",
    "vae_precision": None,
    "mixed_precision": None,
}
# generate_media arguments that are not settings (the job supplies them)
NOT_SETTINGS = {"task", "send_cmd", "state", "plugin_data", "mode", "client_id", "config"}


class Channel:
    """JSON lines over the inherited socket; writes from any thread."""

    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.reader = self.sock.makefile("rb")
        self.lock = threading.Lock()

    def send(self, message: dict) -> None:
        data = (json.dumps(message, default=str) + "\n").encode("utf-8")
        with self.lock:
            try:
                self.sock.sendall(data)
            except OSError:
                os._exit(0)  # the worker is gone; nobody wants our results

    def log(self, text: str, level: str = "info") -> None:
        self.send({"type": "log", "level": level, "text": text})

    def receive(self):
        line = self.reader.readline()
        return json.loads(line) if line else None


class Helper:
    def __init__(self, args: argparse.Namespace, channel: Channel) -> None:
        self.args = args
        self.channel = channel
        self.session = None
        self.wgp = None
        self.requests: "queue.Queue[dict | None]" = queue.Queue()
        self.active_job = None          # (request id, SessionJob) while a render runs
        self.cancelled_ids: set = set()
        self.lock = threading.Lock()

    # ---- start -------------------------------------------------------------------------------------
    def start(self) -> None:
        root = os.path.abspath(self.args.root)
        if root not in sys.path:
            sys.path.insert(0, root)
        started = time.monotonic()
        from shared.api import init  # Wan2GP's API; imports wgp (gradio, torch, ...) on init()

        self.session = init(root=root, output_dir=self.args.output_dir, cli_args=tuple(self.args.cli_args),
                            console_output=False, console_isatty=False)
        self.wgp = sys.modules.get("wgp")
        applied = self.apply_config(self.args.config)
        version = getattr(self.wgp, "WanGP_version", None) if self.wgp is not None else None
        self.channel.log(f"Wan2GP {version or '?'} initialised in {time.monotonic() - started:.1f} s "
                         f"(root {root}, cli args {' '.join(self.args.cli_args) or 'none'})")
        self.channel.send({"type": "ready", "pid": os.getpid(), "version": version, "protocol": PROTOCOL_VERSION,
                           "applied_config": applied, "python": sys.executable})

    def apply_config(self, overrides: dict) -> dict:
        """Set wgp_config keys in Wan2GP's memory (never in its config file) before any model loads."""
        if not overrides:
            return {}
        if self.wgp is None or not isinstance(getattr(self.wgp, "server_config", None), dict):
            raise RuntimeError("this Wan2GP has no server_config; --wgp-* config options cannot be applied")
        applied = {}
        for key, value in overrides.items():
            if key not in CONFIG_TARGETS:
                raise RuntimeError(f"unknown Wan2GP config key {key}")
            self.wgp.server_config[key] = value
            global_name = CONFIG_TARGETS[key]
            if global_name is not None and hasattr(self.wgp, global_name):
                setattr(self.wgp, global_name, value)
            applied[key] = value
        return applied

    # ---- requests ----------------------------------------------------------------------------------
    def read_requests(self) -> None:
        """Reader thread: cancels act at once (a render is running); the rest queue for the main thread."""
        while True:
            try:
                message = self.channel.receive()
            except (OSError, ValueError):
                message = None
            if message is None:
                os._exit(0)  # the worker closed the channel (exited or killed): no one to render for
            if message.get("op") == "cancel":
                self.cancel(message.get("id"))
            else:
                self.requests.put(message)

    def cancel(self, request_id) -> None:
        with self.lock:
            self.cancelled_ids.add(request_id)
            active = self.active_job
        if active is not None and active[0] == request_id:
            active[1].cancel()

    def serve(self) -> None:
        while True:
            message = self.requests.get()
            op, request_id = message.get("op"), message.get("id")
            if op == "shutdown":
                self.close()
                return
            try:
                if op == "describe":
                    self.reply(request_id, self.describe(str(message.get("model_type") or "")))
                elif op == "render":
                    self.render(request_id, message.get("settings") or {})
                elif op == "ping":
                    self.reply(request_id, {"pid": os.getpid()})
                else:
                    self.fail(request_id, f"unknown op {op!r}", "protocol")
            except Exception as exc:  # a failure answers the request; the helper stays up
                self.channel.log(traceback.format_exc(), "debug")
                self.fail(request_id, f"{type(exc).__name__}: {exc}", "runtime", error_type=type(exc).__name__)

    def reply(self, request_id, data: dict) -> None:
        self.channel.send({"type": "reply", "id": request_id, "ok": True, "data": data})

    def fail(self, request_id, error: str, stage: str, error_type: str = "") -> None:
        self.channel.send({"type": "reply", "id": request_id, "ok": False, "error": error, "stage": stage,
                           "error_type": error_type})

    # ---- describe ----------------------------------------------------------------------------------
    def describe(self, model_type: str) -> dict:
        """A model's frame grid, inputs and settings keys; or the known model types when unknown."""
        model_def = self.session.get_model_def(model_type) if model_type else None
        if model_def is None:
            types = sorted(str(d.get("model_type")) for d in self.session.list_model_defs() if d.get("model_type"))
            return {"known": False, "model_types": types}
        steps = model_def.get("frames_steps", 4)
        return {
            "known": True,
            "model_type": model_type,
            "name": model_def.get("name"),
            "architecture": model_def.get("architecture"),
            "frames_minimum": model_def.get("frames_minimum", 5),
            "frames_step": model_def.get("latent_size", steps),
            "frames_offset": model_def.get("frames_offset", 1),
            "fps": model_def.get("fps"),
            "vace": bool(model_def.get("vace_class")),
            "guide": bool(model_def.get("vace_class") or model_def.get("guide_preprocessing")
                          or model_def.get("guide_custom_choices")),
            "image_prompt_types_allowed": str(model_def.get("image_prompt_types_allowed", "") or ""),
            "settings_keys": self.settings_keys(model_type),
        }

    def settings_keys(self, model_type: str) -> dict:
        """The settings Wan2GP accepts for this model: its schema's when it lists them, else the arguments
        of generate_media (Wan2GP drops any other key without a word), plus the model's defaults."""
        schema = getattr(self.session, "get_model_schema", None)
        schema = schema(model_type) if callable(schema) else None
        listed = None
        if isinstance(schema, dict):
            for name in ("settings", "properties", "parameters"):
                if isinstance(schema.get(name), (dict, list)):
                    listed = sorted(schema[name])
                    break
        if listed is not None:
            return {"source": "get_model_schema", "keys": listed}
        keys = set()
        generate = getattr(self.wgp, "generate_media", None)
        if generate is not None:
            keys.update(inspect.signature(generate).parameters)
            source = "generate_media"
        else:
            keys.update(self.session.get_default_settings(model_type))
            source = "get_default_settings"
        return {"source": source, "keys": sorted(keys - NOT_SETTINGS)}

    # ---- render ------------------------------------------------------------------------------------
    def render(self, request_id, settings: dict) -> None:
        started = time.monotonic()
        job = self.session.submit_task(settings)
        with self.lock:
            self.active_job = (request_id, job)
            cancel_now = request_id in self.cancelled_ids
        if cancel_now:
            job.cancel()
        try:
            for event in job.events.iter(timeout=0.5):
                self.forward(request_id, event)
            result = job.result()
        finally:
            with self.lock:
                self.active_job = None
                self.cancelled_ids.discard(request_id)
        errors = [{"message": str(getattr(e, "message", e)), "stage": getattr(e, "stage", None)}
                  for e in result.errors]
        self.reply(request_id, {"success": bool(result.success), "cancelled": bool(result.cancelled),
                                "files": [str(f) for f in result.generated_files], "errors": errors,
                                "seconds": round(time.monotonic() - started, 3)})

    def forward(self, request_id, event) -> None:
        kind, data = event.kind, event.data
        message = {"type": "event", "id": request_id, "kind": kind}
        if kind == "progress":
            message.update(phase=data.phase, status=data.status, progress=data.progress,
                           step=data.current_step, total=data.total_steps)
        elif kind == "stream":
            message.update(stream=data.stream, text=data.text)
        elif kind in ("status", "info"):
            message.update(text=str(data))
        elif kind == "error":
            message.update(text=str(getattr(data, "message", data)), stage=getattr(data, "stage", None))
        elif kind in ("started", "output", "completed", "preview", "refresh_models"):
            message.update(text="")  # no payload worth sending (a preview image, the result object)
        else:
            message.update(text=str(data)[:500])
        self.channel.send(message)

    def close(self) -> None:
        try:
            self.session.close()  # releases the loaded model
        except Exception as exc:
            self.channel.log(f"session.close() failed: {exc}", "warning")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Wan2GP helper for the headless worker")
    parser.add_argument("--root", required=True)
    parser.add_argument("--channel-fd", type=int, required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--cli-args", default="[]", type=json.loads)
    parser.add_argument("--config", default="{}", type=json.loads)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    # This file's folder holds the worker's own modules; it must not shadow Wan2GP's top-level packages.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    args = parse_args(argv)
    channel = Channel(args.channel_fd)
    helper = Helper(args, channel)
    threading.Thread(target=helper.read_requests, name="channel-reader", daemon=True).start()
    try:
        helper.start()
    except BaseException as exc:  # includes SystemExit: Wan2GP calls exit() on a version mismatch
        channel.log(traceback.format_exc(), "debug")
        reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, SystemExit) else f"exit({exc.code})"
        channel.send({"type": "fatal", "error": reason})
        return 3
    helper.serve()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # Wan2GP leaves non-daemon threads behind; they must not keep the process alive
