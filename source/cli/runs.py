"""Finding, watching, cancelling and retrying workflow runs from the command line (`runs`, `status RUN_ID`,
`cancel RUN_ID`, `retry RUN_ID`, `--wait`).

Generic over workflows: a run is the rows sharing a `run_id`; its root is the row with no parent.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Optional, TextIO

from ..dashboard.pages import span
from ..queue.fleet import RunFilter, RunSummary
from ..queue.model import Status, Task
from ..queue.rows import utc_now
from .add_task_cli import ignored_key_hints, resolve_location
from .common import add_queue_arguments, die, open_queue_or_exit, script_command, settings_from_args, worker_command
from .launch import EXIT_INTERRUPTED

NO_WORKER_HINT_S = 5.0   # --wait: after this long with nothing of the run claimed, say how to start a worker


def run_rows(queue, run_id: str) -> list[Task]:
    """The run's rows; RUN_ID may also be the id of one of its rows."""
    rows = queue.list_run(run_id)
    if not rows:
        task = queue.get(run_id)
        if task is not None and task.run_id:
            rows = queue.list_run(task.run_id)
        elif task is not None:
            rows = [task]
    return rows


def root_rows(rows: list[Task]) -> list[Task]:
    ids = {t.id for t in rows}
    return [t for t in rows if not t.parent_task_id or t.parent_task_id not in ids]


def segment_index(task: Task) -> Optional[int]:
    """The index a row of a segmented workflow carries (travel_segment), else None."""
    index = task.params.get("segment_index") if isinstance(task.params, dict) else None
    return index if isinstance(index, int) else None


def row_label(task: Task) -> str:
    index = segment_index(task)
    return task.task_type if index is None else f"{task.task_type}[{index}]"


def run_progress(rows: list[Task]) -> float:
    """Share of the run done: children averaged (a Complete row counts 1), else the root's progress."""
    children = [t for t in rows if t.parent_task_id]
    counted = children or rows
    if not counted:
        return 0.0
    return sum(1.0 if t.status == Status.COMPLETE else (t.progress or 0.0) for t in counted) / len(counted)


def step_order(root: Task, rows: list[Task]) -> list[Task]:
    """The rows the root fanned out, in the order they run: a row after the rows it depends on, then by
    segment index, then as listed (oldest first)."""
    children = [t for t in rows if t.parent_task_id == root.id]
    by_id = {t.id: t for t in children}
    depth: dict[str, int] = {}

    def depth_of(task: Task) -> int:
        if task.id not in depth:
            depth[task.id] = 0  # a guard against cycles; rows never form one
            depth[task.id] = 1 + max((depth_of(by_id[d]) for d in task.dependant_on if d in by_id), default=-1)
        return depth[task.id]

    return sorted(children, key=lambda t: (depth_of(t), segment_index(t) or 0))  # sorted() is stable


def step_line(root: Task, rows: list[Task]) -> str:
    """Where a run is: 'step 2/4 guide  50%: guide frames ready', from the row of the step that runs
    now (or else the last one that started); a run of one row shows that row's own progress message.
    A step is named by its task type without the workflow's prefix (the root's type up to its last
    '_': different_perspective_guide -> guide)."""
    steps = step_order(root, rows)
    started = [k for k, t in enumerate(steps) if t.status != Status.QUEUED]
    if not started:
        if root.status == Status.QUEUED or (steps and root.status == Status.IN_PROGRESS):
            return "waiting for a worker"
        message = root.progress_message if root.status == Status.IN_PROGRESS else None
        return f"{root.status}: {message}" if message else root.status
    running = [k for k in started if steps[k].status == Status.IN_PROGRESS]
    k = running[0] if running else started[-1]
    step = steps[k]
    prefix = root.task_type.rsplit("_", 1)[0] + "_"
    label = row_label(step)
    label = label[len(prefix):] if label.startswith(prefix) else label
    line = f"step {k + 1}/{len(steps)} {label}"
    if step.status == Status.IN_PROGRESS:
        line += f" {(step.progress or 0.0) * 100:3.0f}%"
        if step.progress_message:
            line += f": {step.progress_message}"
    else:
        line += f" ({step.status})"
    return line


def format_run(rows: list[Task], resolve) -> str:
    lines = []
    for task in rows:
        progress = f"{(task.progress or 0) * 100:3.0f}%" if task.status == Status.IN_PROGRESS else "    "
        line = f"{row_label(task):<28} {task.status:<12} {progress} {task.id}"
        if task.status == Status.IN_PROGRESS and task.progress_message:
            line += f"  {task.progress_message}"
        lines.append(line)
        if task.output_location:
            lines.append(f"    output: {shown_output(resolve(task.output_location))}")
        if task.error_message:
            lines.append(f"    error:  {task.error_message}")
        if task.status != Status.IN_PROGRESS and is_warning(task.progress_message):
            lines.append(f"    {task.progress_message}")
        for hint in ignored_key_hints(task):
            lines.append(f"    ignored: {hint}")
    return "\n".join(lines)


def is_warning(message: Optional[str]) -> bool:
    """A progress message a step leaves on its row for the person who queued it ("warning: ...")."""
    return message is not None and message.startswith("warning:")


def shown_output(location: str) -> str:
    """An output as `status` prints it; a local file that is gone says so (a run's intermediate files go
    with its work folder when the run ends: source/workflows/workdirs.py)."""
    if "://" in location or os.path.exists(location):
        return location
    return f"{location} (removed: an intermediate file; a run's work files go when it ends)"


def progress_bar(fraction: float, width: int = 30) -> str:
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    return "[" + "#" * filled + "-" * (width - filled) + f"] {fraction * 100:5.1f}%"


def wait_for_run(queue, root_id: str, resolve, timeout: Optional[float] = None,
                 stream: TextIO = sys.stderr, poll_seconds: float = 0.5, worker_hint: Optional[str] = None,
                 hint_after: float = NO_WORKER_HINT_S) -> int:
    """Show a progress bar across the run's rows, and the step that runs now, until the root row ends.

    Complete: prints the output path (stdout) and returns 0. Failed/Cancelled: the reason, returns 1.
    Nothing of the run claimed after `hint_after` seconds: says so once, with `worker_hint` (the command
    that starts a worker). Ctrl-C: one line saying the run goes on and how to follow or cancel it; 130.
    """
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    interactive = stream.isatty()
    last_line = ""
    hinted = False
    shown = 0.0
    root: Optional[Task] = None

    def end_line() -> None:
        if interactive and last_line:
            stream.write("\n")
            stream.flush()

    try:
        while True:
            root = queue.get(root_id)
            if root is None:
                end_line()
                print(f"error: row {root_id} disappeared", file=sys.stderr)
                return 1
            rows = queue.list_run(root.run_id) if root.run_id else [root]
            # the bar only moves forward: an orchestrator's own progress (checking inputs) gives way to its
            # children's mean once it fans out, which starts lower
            shown = done = max(shown, 1.0 if root.status == Status.COMPLETE else run_progress(rows))
            line = f"{progress_bar(done)} {step_line(root, rows)}"[:110]
            if line != last_line:
                if interactive:
                    stream.write("\r" + line.ljust(len(last_line)))
                else:
                    stream.write(line + "\n")
                stream.flush()
                last_line = line
            if root.status in Status.TERMINAL:
                end_line()
                for task in rows:
                    if task.id != root.id and is_warning(task.progress_message):
                        print(f"{task.progress_message} ({row_label(task)})", file=sys.stderr)
                if root.status == Status.COMPLETE:
                    print(resolve(root.output_location) if root.output_location else "", flush=True)
                    return 0
                print(f"error: run {root.status.lower()}: {root.error_message or 'no reason recorded'}",
                      file=sys.stderr)
                return 1
            if deadline is not None and time.monotonic() > deadline:
                end_line()
                print(f"error: still {root.status} after {timeout:.0f} s (the run goes on; "
                      f"see `steerable_motion.py status {root.run_id or root_id}`)", file=sys.stderr)
                return 1
            if (worker_hint and not hinted and time.monotonic() - started >= hint_after
                    and all(t.status == Status.QUEUED for t in rows)):
                hinted = True
                end_line()
                if interactive:
                    last_line = ""   # the bar starts again on the line after the hint
                stream.write(f"no worker has claimed this run after {hint_after:.0f} s (none is running, or all "
                             f"are busy); start one (in another terminal) with: {worker_hint}\n")
                stream.flush()
            try:
                queue.wait_for_change(poll_seconds)
            except Exception:
                time.sleep(poll_seconds)
    except KeyboardInterrupt:
        end_line()
        run = (root.run_id if root is not None else None) or root_id
        state = "running" if root is not None and root.status == Status.IN_PROGRESS else "queued"
        command = script_command("steerable_motion.py")
        print(f"stopped waiting; run {run} is still {state}: follow it with `{command} wait {run}`, "
              f"cancel it with `{command} cancel {run}`", file=sys.stderr)
        return EXIT_INTERRUPTED


def worker_hint_for(args) -> str:
    """The command that starts a worker on the queue these arguments name (secrets left out)."""
    parts = [worker_command()]
    for flag, name in (("--db-type", "db_type"), ("--db-file", "db_file"), ("--main-output-dir", "main_output_dir")):
        if getattr(args, name, None):
            parts.append(f"{flag} {shlex.quote(str(getattr(args, name)))}")
    if getattr(args, "database_url", None):
        parts.append("--database-url <the same URL>")
    return " ".join(parts)


# ---- subcommands ------------------------------------------------------------------------------------

def register_status(subparsers) -> None:
    parser = subparsers.add_parser("status", help="a run's rows: status, progress, outputs",
                                   description="Show every row of a run: status, progress, output "
                                               "paths (absolute) and errors.")
    parser.add_argument("run_id", metavar="RUN_ID", help="the run id printed when the run was queued "
                                                         "(or any of its row ids)")
    parser.add_argument("--watch", action="store_true", help="refresh every second until the run ends")
    add_queue_arguments(parser)
    parser.set_defaults(func=status_command)


def register_wait(subparsers) -> None:
    parser = subparsers.add_parser("wait", help="follow a run until it ends; print its final artefact's path",
                                   description="Show a run's progress bar until it ends, then print the final "
                                               "artefact's path (exit 0) or the failure (exit 1), as --wait does.")
    parser.add_argument("run_id", metavar="RUN_ID", help="the run id (or any of its row ids)")
    parser.add_argument("--wait_timeout", type=float, metavar="SECONDS",
                        help="give up waiting after this many seconds (the run goes on)")
    add_queue_arguments(parser)
    parser.set_defaults(func=wait_command)


def register_runs(subparsers) -> None:
    parser = subparsers.add_parser(
        "runs", help="recent runs: id, type, status, progress, age, final output (--status, --type, --since)",
        description="List recent runs, newest first: run id, task type, status, progress, age and final "
                    "output. Give a run id to `status`, `wait`, `cancel` or `retry`.")
    parser.add_argument("--status", choices=Status.ALL, metavar="STATUS",
                        help=f"only runs whose root row has this status ({', '.join(Status.ALL)})")
    parser.add_argument("--type", dest="task_type", metavar="TASK_TYPE",
                        help="only runs of this task type (the root's, e.g. travel_orchestrator)")
    parser.add_argument("--project", dest="project_id", metavar="PROJECT_ID", help="only runs of this project")
    parser.add_argument("--since", type=age_seconds, metavar="AGE",
                        help="only runs queued in the last AGE: 90s, 30m, 2h, 7d (a number: seconds)")
    parser.add_argument("--search", metavar="TEXT",
                        help="only runs with this run or row id, or with TEXT in the root's params (the prompt)")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="at most N runs (default 20)")
    parser.add_argument("--json", action="store_true", help="one JSON object per run, one per line")
    add_queue_arguments(parser)
    parser.set_defaults(func=runs_command)


def register_retry(subparsers) -> None:
    parser = subparsers.add_parser(
        "retry", help="run a failed or cancelled run (or row) again, attempts reset",
        description="Put a failed or cancelled run back in the queue: the row named (or the run's root) and "
                    "every failed or cancelled row that ended with it go back with their attempts reset; "
                    "rows that completed keep their outputs, and each row keeps its last error until it runs.")
    parser.add_argument("run_id", metavar="RUN_ID", help="the run id (or one of its row ids: that row and what "
                                                         "ended through it)")
    add_queue_arguments(parser)
    parser.set_defaults(func=retry_command)


def register_cancel(subparsers) -> None:
    parser = subparsers.add_parser("cancel", help="cancel a run (queued rows at once, running rows at "
                                                  "their next step)")
    parser.add_argument("run_id", metavar="RUN_ID", help="the run id (or any of its row ids)")
    add_queue_arguments(parser)
    parser.set_defaults(func=cancel_command)


@contextmanager
def opened_run(args) -> Iterator[tuple]:
    """(settings, queue, rows) of the run RUN_ID names; one line and exit 2 when there is none."""
    settings = settings_from_args(args)
    queue = open_queue_or_exit(settings)
    try:
        rows = run_rows(queue, args.run_id)
        if not rows:
            die(f"no run or row with id {args.run_id}")
        yield settings, queue, rows
    finally:
        queue.close()


def status_command(args) -> int:
    with opened_run(args) as (settings, queue, rows):
        while True:
            print(format_run(rows, lambda loc: resolve_location(settings, loc)), flush=True)
            if not args.watch or all(t.status in Status.TERMINAL for t in root_rows(rows)):
                return 0
            time.sleep(1.0)
            print()
            rows = run_rows(queue, args.run_id)


def wait_command(args) -> int:
    with opened_run(args) as (settings, queue, rows):
        return wait_for_run(queue, root_rows(rows)[0].id, lambda loc: resolve_location(settings, loc),
                            timeout=args.wait_timeout, worker_hint=worker_hint_for(args))


def cancel_command(args) -> int:
    with opened_run(args) as (_, queue, rows):
        changed = 0
        for task in root_rows(rows) + rows:
            current = queue.get(task.id)
            if current is not None and current.status not in Status.TERMINAL:
                changed += queue.cancel(task.id, "cancelled by user (steerable_motion.py cancel)")
        print(f"cancelled {changed} row(s)" if changed else "nothing to cancel: the run has ended", file=sys.stderr)
        return 0


def retry_command(args) -> int:
    with opened_run(args) as (_, queue, rows):
        named = next((t for t in rows if t.id == args.run_id), None)
        first = named or root_rows(rows)[0]
        note = "retried by user (steerable_motion.py retry)"
        changed = queue.retry(first.id, note)
        if not changed:  # the root did not end that way: retry the rows that did
            for task in rows:
                changed += queue.retry(task.id, note)
        run = first.run_id or first.id
        if not changed:
            print(f"nothing to retry: no row of run {run} failed or was cancelled", file=sys.stderr)
            return 0
        print(f"retried {plural(changed, 'row')} of run {run}; follow it with "
              f"`{script_command('steerable_motion.py')} wait {run}`", file=sys.stderr)
        return 0


# ---- runs ---------------------------------------------------------------------------------------------
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def age_seconds(text: str) -> float:
    """90s, 30m, 2h, 7d, 1w or a number of seconds."""
    match = _AGE.match(text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"--since takes an age such as 90s, 30m, 2h or 7d, not {text!r}")
    return float(match.group(1)) * _AGE_UNITS[match.group(2)]


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def run_record(summary: RunSummary, resolve, now) -> dict:
    root = summary.root
    return {"run_id": root.run_id or root.id, "root_id": root.id, "task_type": root.task_type,
            "status": root.status, "progress": round(summary.progress, 4),
            "rows": 1 + summary.children, "project_id": root.project_id,
            "created_at": root.created_at.isoformat() if root.created_at else None,
            "age_seconds": round((now - root.created_at).total_seconds(), 1) if root.created_at else None,
            "output": resolve(root.output_location) if root.output_location else None,
            "error": root.error_message if root.status in (Status.FAILED, Status.CANCELLED) else None}


def format_runs(records: list[dict]) -> str:
    if not records:
        return "no runs match"
    width = max(len(r["run_id"]) for r in records)
    kind = max(len(r["task_type"]) for r in records)
    lines = [f"{'RUN':<{width}}  {'TYPE':<{kind}}  {'STATUS':<11}  {'DONE':>4}  {'AGE':>8}  OUTPUT"]
    for r in records:
        shown = r["output"] or (f"error: {r['error']}"[:100] if r["error"] else "")
        lines.append(f"{r['run_id']:<{width}}  {r['task_type']:<{kind}}  {r['status']:<11}  "
                     f"{r['progress'] * 100:3.0f}%  {span(r['age_seconds']):>8}  {shown}")
    return "\n".join(lines)


def runs_command(args) -> int:
    if args.limit < 1:
        die("--limit must be at least 1")
    settings = settings_from_args(args)
    queue = open_queue_or_exit(settings)
    try:
        summaries = queue.list_runs(args.limit, where=RunFilter(
            status=args.status, task_type=args.task_type, project_id=args.project_id,
            since_seconds=args.since, search=args.search))
    finally:
        queue.close()
    now = utc_now()
    records = [run_record(s, lambda loc: resolve_location(settings, loc), now) for s in summaries]
    if args.json:
        for record in records:
            print(json.dumps(record))
    else:
        print(format_runs(records))
    return 0
