"""The worker's side of the Wan2GP helper process: start it, talk to it, notice when it dies or hangs.

One helper per worker, started on first use by the task thread and kept between tasks (Wan2GP's models
stay loaded in it). `HELPERS.get(spec)` returns the running helper, or starts one: when none runs, when
the last one died, or when the settings it was started with changed.

The channel is a Unix socketpair; the helper inherits one end as a file descriptor (see helper_main.py
for the messages). A reader thread turns incoming lines into a queue, so the task thread can wait with a
timeout; end of file on the channel means the helper is gone. The helper's stdout and stderr (Wan2GP
prints there at import; a crash leaves its traceback there) are read by a second thread and logged at
debug level under the task id of the render in progress; their last lines go into the one-line reason
when the helper dies.

The helper runs in its own session (process group), so a Ctrl-C in the worker's terminal reaches only
the worker, which then decides: finish the task within the grace period, or cancel it, then stop the
helper (`stop_helper()` from the worker's shutdown path, and at interpreter exit as a backstop).
"""
from __future__ import annotations

import atexit
import collections
import itertools
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ...errors import TransientError
from ...log import task_logging
from .errors import EngineUnavailable, helper_failed, one_line
from .options import HelperSpec

log = logging.getLogger("wan2gp")

HELPER_PROGRAM = Path(__file__).with_name("helper_main.py")
STOP_GRACE_S = 20.0          # a shutdown request may take this long (releasing a big model) before SIGTERM
CANCEL_GRACE_S = 60.0        # after a cancel, the job must end within this long or the helper is killed
_EOF = object()
_DOING = {"render": "rendering", "describe": "reading the model list", "ping": "answering a ping"}


class HelperGone(TransientError):
    """Internal: the helper died or went silent; the message is the one-line reason."""


@dataclass
class Answer:
    """A request's reply, and the exception that interrupted the wait for it, if any (the progress
    callback raised: the job was cancelled and this is the cancelled, or already finished, reply)."""

    message: dict
    interrupted: Optional[BaseException] = None


class Wan2GPHelper:
    """One helper process and its channel."""

    def __init__(self, spec: HelperSpec, timeout_s: float) -> None:
        self.spec = spec
        self.timeout_s = timeout_s
        self.proc: Optional[subprocess.Popen] = None
        self.sock: Optional[socket.socket] = None
        self.inbox: "queue.Queue" = queue.Queue()
        self.output_tail: collections.deque = collections.deque(maxlen=20)
        self.task_id: Optional[str] = None     # the task whose render runs now (tags relayed log lines)
        self.info: dict = {}
        self.started_at = 0.0
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._dead_reason: Optional[str] = None

    # ---- life ------------------------------------------------------------------------------------
    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self._dead_reason is None

    def start(self) -> None:
        Path(self.spec.output_dir).mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair()
        command = [self.spec.python, "-u", str(HELPER_PROGRAM), "--root", self.spec.root,
                   "--channel-fd", str(theirs.fileno()), "--output-dir", self.spec.output_dir,
                   "--cli-args", json.dumps(list(self.spec.cli_args)),
                   "--config", json.dumps(dict(self.spec.config))]
        self.started_at = time.monotonic()
        try:
            self.proc = subprocess.Popen(command, pass_fds=(theirs.fileno(),), cwd=self.spec.root,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            ours.close()
            raise EngineUnavailable(f"engine wan2gp: cannot start {self.spec.python}: {exc}") from None
        finally:
            theirs.close()
        self.sock = ours
        threading.Thread(target=self._read_channel, name="wan2gp-channel", daemon=True).start()
        threading.Thread(target=self._read_output, name="wan2gp-output", daemon=True).start()
        log.info("starting the Wan2GP helper (pid %d, %s, %s)", self.proc.pid, self.spec.python, self.spec.root)
        try:
            message = self._next(lambda m: m.get("type") in ("ready", "fatal"), what="starting")
        except HelperGone as exc:  # died or hung without a word: may pass (OOM, a busy machine)
            self.kill()
            raise helper_failed(f"{exc}; the next attempt starts a fresh helper") from None
        if message["type"] == "fatal":  # Wan2GP raised while starting: this interpreter cannot run it
            self.kill()
            raise EngineUnavailable(f"engine wan2gp: Wan2GP could not start under {self.spec.python}: "
                                    f"{one_line(message.get('error'))}")
        self.info = message
        log.info("Wan2GP helper ready in %.1f s (pid %d, Wan2GP %s)", time.monotonic() - self.started_at,
                 self.proc.pid, message.get("version") or "?")

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Ask the helper to release its model and exit; then SIGTERM, then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            self._close_channel()
            return
        try:
            self._send({"op": "shutdown"})
            self.proc.wait(timeout=grace_s)
        except (HelperGone, subprocess.TimeoutExpired):
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        log.info("Wan2GP helper stopped (pid %d, exit %s)", self.proc.pid, self.proc.returncode)
        self._close_channel()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._close_channel()

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self.proc.pid, signum)  # the helper leads its own process group
        except (ProcessLookupError, PermissionError):
            try:
                self.proc.send_signal(signum)
            except ProcessLookupError:
                pass

    def _close_channel(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass

    # ---- requests ----------------------------------------------------------------------------------
    def request(self, op: str, on_event: Optional[Callable[[dict], None]] = None, **fields) -> Answer:
        """Send one request and wait for its reply, passing its events to `on_event`.

        Once `on_event` raises (the progress callback: the row was cancelled or lost), a cancel goes to
        the helper and the wait continues for the reply, which is returned with that exception for the
        caller to raise once it has dealt with the reply. Raises HelperGone when the helper dies, or
        stays silent longer than the timeout (it is then killed).
        """
        request_id = next(self._ids)
        self._send({"op": op, "id": request_id, **fields})
        raised: Optional[BaseException] = None
        cancel_deadline: Optional[float] = None

        def cancel() -> None:
            nonlocal cancel_deadline
            if cancel_deadline is None:
                cancel_deadline = time.monotonic() + min(CANCEL_GRACE_S, self.timeout_s)
                log.info("cancelling the Wan2GP job")
                self._send({"op": "cancel", "id": request_id})

        def wanted(message: dict) -> bool:
            nonlocal raised
            if message.get("id") != request_id:
                return False
            if message.get("type") == "reply":
                return True
            if message.get("type") == "event" and on_event is not None and raised is None:
                try:
                    on_event(message)
                except BaseException as exc:  # the progress callback says stop (row cancelled / lost)
                    raised = exc
                    cancel()
            return False

        def poll() -> None:
            if cancel_deadline is not None and time.monotonic() > cancel_deadline:
                self.kill()
                raise HelperGone(f"the Wan2GP job did not stop within {CANCEL_GRACE_S:.0f} s of a cancel; "
                                 f"helper killed")

        reply = self._next(wanted, what=_DOING.get(op, op), poll=poll)
        return Answer(reply, raised)

    def _send(self, message: dict) -> None:
        data = (json.dumps(message) + "\n").encode("utf-8")
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                raise HelperGone(self._death_reason("while sending a request")) from None

    def _next(self, wanted: Callable[[dict], bool], what: str, poll: Optional[Callable[[], None]] = None) -> dict:
        """Handle messages until `wanted(message)`; log lines are logged here (on the caller's thread,
        so they carry its task id)."""
        last_heard = time.monotonic()
        while True:
            try:
                message = self.inbox.get(timeout=0.2)
            except queue.Empty:
                if poll is not None:
                    poll()
                if time.monotonic() - last_heard > self.timeout_s:
                    self.kill()
                    self._dead_reason = f"was silent for {self.timeout_s:.0f} s while {what}; killed"
                    raise HelperGone(f"Wan2GP helper {self._dead_reason} (WAN2GP_HELPER_TIMEOUT)") from None
                continue
            if message is _EOF:
                raise HelperGone(self._death_reason(f"while {what}"))
            last_heard = time.monotonic()
            if message.get("type") == "log":
                _relay(message.get("level"), message.get("text", ""))
                continue
            if wanted(message):
                return message
            if poll is not None:
                poll()

    def _death_reason(self, when: str) -> str:
        if self._dead_reason:
            return f"Wan2GP helper {self._dead_reason}"
        code = None
        if self.proc is not None:
            try:
                code = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
                code = self.proc.returncode
        if code is not None and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        elif code is not None:
            how = f"exited with code {code}"
        else:
            how = "closed its channel"
        if code == -signal.SIGKILL:
            how += " (out of memory, or killed by hand)"
        tail = [line for line in self.output_tail if line.strip()]
        last = f"; last output: {one_line(tail[-1], 200)}" if tail and code not in (None, -signal.SIGKILL) else ""
        return f"Wan2GP helper {how} {when}{last}"

    # ---- reader threads ------------------------------------------------------------------------------
    def _read_channel(self) -> None:
        reader = self.sock.makefile("rb")
        try:
            for line in reader:
                try:
                    self.inbox.put(json.loads(line))
                except ValueError:
                    log.warning("Wan2GP helper sent a line that is not JSON: %r", line[:200])
        except (OSError, ValueError):
            pass
        self.inbox.put(_EOF)

    def _read_output(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            self.output_tail.append(line)
            with task_logging(self.task_id):
                log.debug("helper output: %s", line)
        self.proc.stdout.close()


def _relay(level: Optional[str], text: str) -> None:
    number = {"debug": logging.DEBUG, "warning": logging.WARNING, "error": logging.ERROR}.get(level or "",
                                                                                               logging.INFO)
    log.log(number, "helper: %s", text.rstrip())


class HelperRegistry:
    """The worker's helper: at most one, started on demand, replaced when dead or when settings change."""

    def __init__(self) -> None:
        self._helper: Optional[Wan2GPHelper] = None
        self._lock = threading.Lock()

    def get(self, spec: HelperSpec, timeout_s: float) -> Wan2GPHelper:
        with self._lock:
            helper = self._helper
            if helper is not None and helper.spec == spec and helper.alive():
                helper.timeout_s = timeout_s
                return helper
            if helper is not None:
                if helper.spec != spec:
                    log.info("Wan2GP settings changed; restarting the helper")
                    helper.stop()
                else:
                    log.warning("%s; starting a fresh one", helper._death_reason("since the last task")
                                if helper.proc and helper.proc.poll() is not None
                                else "the previous Wan2GP helper is unusable")
                    helper.kill()
            # published before it starts, so that stop() (worker shutdown) can end a slow start
            helper = self._helper = Wan2GPHelper(spec, timeout_s)
        try:
            helper.start()
        except BaseException:
            self.discard(helper)
            raise
        return helper

    def current(self) -> Optional[Wan2GPHelper]:
        return self._helper

    def discard(self, helper: Wan2GPHelper) -> None:
        """Forget a helper that failed mid-request (it is killed if still running)."""
        helper.kill()
        if self._helper is helper:
            self._helper = None

    def stop(self) -> None:
        helper, self._helper = self._helper, None   # no lock: a start in progress must not delay exit
        if helper is not None:
            helper.stop()


HELPERS = HelperRegistry()
atexit.register(HELPERS.stop)


def stop_helper() -> None:
    """Stop the worker's Wan2GP helper if one runs (worker shutdown; safe to call any time)."""
    HELPERS.stop()
