"""Watching and cancelling a workflow run from the command line (`status RUN_ID`, `cancel RUN_ID`, `--wait`).

Generic over workflows: a run is the rows sharing a `run_id`; its root is the row with no parent.
"""
from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

from ..queue.model import Status, Task
from .add_task_cli import resolve_location
from .common import add_queue_arguments, die, open_migrated_queue, settings_from_args


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


def row_label(task: Task) -> str:
    index = task.params.get("segment_index") if isinstance(task.params, dict) else None
    return f"{task.task_type}[{index}]" if isinstance(index, int) else task.task_type


def run_progress(rows: list[Task]) -> float:
    """Share of the run done: children averaged (a Complete row counts 1), else the root's progress."""
    children = [t for t in rows if t.parent_task_id]
    counted = children or rows
    if not counted:
        return 0.0
    return sum(1.0 if t.status == Status.COMPLETE else (t.progress or 0.0) for t in counted) / len(counted)


def format_run(rows: list[Task], resolve) -> str:
    lines = []
    for task in rows:
        progress = f"{(task.progress or 0) * 100:3.0f}%" if task.status == Status.IN_PROGRESS else "    "
        line = f"{row_label(task):<28} {task.status:<12} {progress} {task.id}"
        if task.status == Status.IN_PROGRESS and task.progress_message:
            line += f"  {task.progress_message}"
        lines.append(line)
        if task.output_location:
            lines.append(f"    output: {resolve(task.output_location)}")
        if task.error_message:
            lines.append(f"    error:  {task.error_message}")
    return "\n".join(lines)


def progress_bar(fraction: float, width: int = 30) -> str:
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    return "[" + "#" * filled + "-" * (width - filled) + f"] {fraction * 100:5.1f}%"


def wait_for_run(queue, root_id: str, resolve, timeout: Optional[float] = None,
                 stream: TextIO = sys.stderr) -> int:
    """Show a progress bar across the run's rows until the root row ends.

    Complete: prints the output path (stdout) and returns 0. Failed/Cancelled: the reason, returns 1.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    interactive = stream.isatty()
    last_line = ""
    while True:
        root = queue.get(root_id)
        if root is None:
            print(f"error: row {root_id} disappeared", file=sys.stderr)
            return 1
        rows = queue.list_run(root.run_id) if root.run_id else [root]
        running = [t for t in rows if t.status == Status.IN_PROGRESS and t.parent_task_id]
        note = f"{row_label(running[0])}: {running[0].progress_message or ''}" if running else root.status
        line = f"{progress_bar(1.0 if root.status == Status.COMPLETE else run_progress(rows))} {note}"[:110]
        if line != last_line:
            if interactive:
                stream.write("\r" + line.ljust(len(last_line)))
            else:
                stream.write(line + "\n")
            stream.flush()
            last_line = line
        if root.status in Status.TERMINAL:
            if interactive:
                stream.write("\n")
            if root.status == Status.COMPLETE:
                print(resolve(root.output_location) if root.output_location else "")
                return 0
            print(f"error: run {root.status.lower()}: {root.error_message or 'no reason recorded'}",
                  file=sys.stderr)
            return 1
        if deadline is not None and time.monotonic() > deadline:
            print(f"error: still {root.status} after {timeout:.0f} s (the run goes on; "
                  f"see `steerable_motion.py status {root.run_id or root_id}`)", file=sys.stderr)
            return 1
        try:
            queue.wait_for_change(0.5)
        except Exception:
            time.sleep(0.5)


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


def register_cancel(subparsers) -> None:
    parser = subparsers.add_parser("cancel", help="cancel a run (queued rows at once, running rows at "
                                                  "their next step)")
    parser.add_argument("run_id", metavar="RUN_ID", help="the run id (or any of its row ids)")
    add_queue_arguments(parser)
    parser.set_defaults(func=cancel_command)


def status_command(args) -> int:
    settings = settings_from_args(args)
    queue = open_migrated_queue(settings)
    try:
        while True:
            rows = run_rows(queue, args.run_id)
            if not rows:
                die(f"no run or row with id {args.run_id}")
            text = format_run(rows, lambda loc: resolve_location(settings, loc))
            print(text, flush=True)
            if not args.watch or all(t.status in Status.TERMINAL for t in root_rows(rows)):
                return 0
            time.sleep(1.0)
            print()
    finally:
        queue.close()


def cancel_command(args) -> int:
    settings = settings_from_args(args)
    queue = open_migrated_queue(settings)
    try:
        rows = run_rows(queue, args.run_id)
        if not rows:
            die(f"no run or row with id {args.run_id}")
        changed = 0
        for task in root_rows(rows) + rows:
            current = queue.get(task.id)
            if current is not None and current.status not in Status.TERMINAL:
                changed += queue.cancel(task.id, "cancelled by user (steerable_motion.py cancel)")
        print(f"cancelled {changed} row(s)" if changed else "nothing to cancel: the run has ended")
        return 0
    finally:
        queue.close()
