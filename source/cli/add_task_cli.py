"""`python add_task.py`: queue one row, or show / cancel a row."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

from ..queue.model import DEFAULT_MAX_ATTEMPTS, PARAMS_TOO_DEEP, InvalidTask, NewTask, new_task_id
from ..storage.outputs import readable_location
from ..tasks.params import ignored_key_hint
from ..workflows.registry import known_task_types, params_model, parse_params
from .common import (
    CliError,
    OneLineArgumentParser,
    add_queue_arguments,
    die,
    named_by_flag,
    open_queue_or_exit,
    settings_from_args,
)

# The row's columns given by flags, for messages about them.
COLUMN_FLAGS = {"id": "--id", "priority": "--priority", "max_attempts": "--max-attempts", "run_id": "--run-id",
                "project_id": "--project-id"}


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog="add_task.py",
        description="Queue one task row (prints its id), or show or cancel a row.",
        epilog="`--type T --describe` prints T's parameters (name, type, default, range, meaning, other "
               "accepted names) and an example; docs/TASKS.md holds them for every type.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--type", dest="task_type",
                        help=f"task type to queue; known: {', '.join(known_task_types())}")
    action.add_argument("--status", metavar="ID", help="print a row's status, progress and output")
    action.add_argument("--cancel", metavar="ID",
                        help="cancel a row (queued: at once; running: at its next step) and its dependants")
    parser.add_argument("--params", help="the task's params: a JSON object, or @file.json")
    parser.add_argument("--describe", action="store_true",
                        help="with --type: print the type's parameters and an example instead of queueing")
    parser.add_argument("--dependant-on", dest="dependant_on", action="append", default=[], metavar="ID",
                        help="a row this one waits for (repeat for several); runs when all are Complete")
    parser.add_argument("--priority", type=int, default=NewTask.priority,
                        help=f"higher runs first (default {NewTask.priority})")
    parser.add_argument("--max-attempts", dest="max_attempts", type=int, default=DEFAULT_MAX_ATTEMPTS,
                        help=f"how many claims before the row fails for good (default {DEFAULT_MAX_ATTEMPTS})")
    parser.add_argument("--id", dest="task_id", help="use this id (default: params.task_id, as the original tool "
                                                     "wrote it, else a new UUID4)")
    parser.add_argument("--run-id", dest="run_id", help="group the row into a workflow run")
    parser.add_argument("--project-id", dest="project_id", help="owner of the row (default: params.project_id)")
    add_queue_arguments(parser)
    return parser


def read_params(text: Optional[str]) -> dict:
    if text is None:
        return {}
    source = "--params"
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read params file {path}: {exc.strerror or exc}") from None
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise CliError(PARAMS_TOO_DEEP) from None
    if not isinstance(params, dict):
        raise CliError(f"{source} must be a JSON object, got {type(params).__name__}")
    return params


def row_ids(args, params: dict) -> tuple[Optional[str], Optional[str]]:
    """(id, project_id) of the new row. params.task_id is the row's id and
    params.project_id its owner; --id / --project-id win. The queue makes an id given in params.task_id
    the row's id (sql/*/100_seed_compat.sql), so a different --id is written there too, with a warning."""
    given = params.get("task_id")
    if args.task_id is None:
        task_id = given.strip() if isinstance(given, str) and given.strip() else None
    else:  # checked as given ('' and '  ' are refused by NewTask)
        task_id = args.task_id
        if isinstance(given, str) and given.strip() and given.strip() != args.task_id:
            print(f"warning: --id {args.task_id} replaces params.task_id {given.strip()!r}", file=sys.stderr)
            params["task_id"] = args.task_id
    project = params.get("project_id")
    if args.project_id is not None:
        return task_id, args.project_id
    return task_id, project.strip() if isinstance(project, str) and project.strip() else None


def row_run_id(args, params: dict, task_id: Optional[str]) -> Optional[str]:
    """The run a row joins: --run-id, else the run id its params give (`run_id`, or an orchestrator's
    `orchestrator_details.run_id`), else, for an orchestrator, its own id (so `steerable_motion.py status`
    and the dashboard find the rows it fans out under one run). Other rows stay runs of one."""
    if args.run_id is not None:
        return args.run_id
    details = params.get("orchestrator_details")
    for value in (params.get("run_id"), details.get("run_id") if isinstance(details, dict) else None):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return task_id if args.task_type.endswith("_orchestrator") else None


def format_status(task, resolve) -> str:
    lines = [f"id:       {task.id}", f"type:     {task.task_type}", f"status:   {task.status}"]
    if task.progress is not None:
        lines.append(f"progress: {task.progress * 100:.0f}% {task.progress_message or ''}".rstrip())
    if task.attempts:
        lines.append(f"attempts: {task.attempts}/{task.max_attempts}")
    if task.dependant_on:
        lines.append(f"waits on: {', '.join(task.dependant_on)}")
    if task.output_location:
        lines.append(f"output:   {resolve(task.output_location)}")
    if task.error_message:
        lines.append(f"error:    {task.error_message}")
    for hint in ignored_key_hints(task):
        lines.append(f"ignored:  {hint}")
    return "\n".join(lines)


def ignored_key_hints(task) -> list[str]:
    """The row's ignored params keys with the closest known names: as the worker recorded them, or (a row
    no worker has validated yet) as its task type's model finds them now."""
    try:
        model = params_model(task.task_type)
        if task.ignored_keys:
            return [ignored_key_hint(model, key) for key in task.ignored_keys]
        if task.attempts == 0:
            return model.parse(task.params).ignored_key_hints()
    except ValueError:  # an unknown task type or params the worker will refuse: its error says so
        pass
    return []


def resolve_location(settings, location: str) -> str:
    """output_location as a person can open it: URLs as they are, paths absolute."""
    return readable_location(settings, location)


def describe_command(args) -> int:
    """`--type T --describe`: the reference of one task type (docs/TASKS.md has them all)."""
    from ..workflows.reference import task_reference, terminal_text
    from ..workflows.registry import UnknownTaskType

    if args.task_type is None:
        die("--describe goes with --type T")
    try:
        print(terminal_text(task_reference(args.task_type)))
    except UnknownTaskType as exc:
        die(str(exc))
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.describe:
        return describe_command(args)
    try:
        settings = settings_from_args(args)
        if args.task_type is not None:
            params = read_params(args.params)
            parsed = parse_params(args.task_type, params, settings)
            for hint in parsed.ignored_key_hints():
                print(f"warning: {args.task_type} does not use params key {hint}", file=sys.stderr)
            task_id, project_id = row_ids(args, params)
            project_id = project_id or settings.default_project_id
            stored = parsed.to_json()  # the validated, normalised dump: every row in the current shape
            if "task_id" in params:    # as row_ids left it (--id wins over params.task_id)
                stored["task_id"] = params["task_id"]
            if task_id is None and args.task_type.endswith("_orchestrator"):
                task_id = new_task_id()   # the run is named after its root unless the params name it
            task = NewTask(task_type=args.task_type, params=stored, id=task_id,
                           dependant_on=args.dependant_on, priority=args.priority,
                           max_attempts=args.max_attempts, run_id=row_run_id(args, params, task_id),
                           project_id=project_id)
    except (CliError, InvalidTask, ValueError) as exc:  # UnknownTaskType and InvalidParams are ValueErrors
        die(named_by_flag(exc, COLUMN_FLAGS))
    queue = open_queue_or_exit(settings)
    try:
        if args.task_type is not None:
            try:
                (task_id,) = queue.enqueue([task])
            except InvalidTask as exc:
                die(named_by_flag(exc, COLUMN_FLAGS))
            print(task_id)
            return 0
        task_id = args.status or args.cancel
        task = queue.get(task_id)
        if task is None:
            die(f"no task with id {task_id}")
        if args.cancel:
            changed = queue.cancel(task_id)
            print(f"cancelled {changed} row(s)" if changed else f"nothing to cancel: {task_id} is {task.status}",
                  file=sys.stderr)
            return 0
        print(format_status(task, lambda loc: resolve_location(settings, loc)))
        return 0
    finally:
        queue.close()
