"""Command-line flags generated from a params model: the model is the one declaration of a parameter.

A field given a flag in its metadata (`json_schema_extra=flag("--segment_frames", ...)`,
source/tasks/params.py) becomes a command-line option: its name and its other spelling
(`--segment_frames` and `--segment-frames` both work), its help (the field's description, unit, range
and default), its type (integers, numbers, text, true/false switches, lists as several values, a
`{key: number}` object as KEY=NUMBER pairs, a nested group or a [W, H] pair as text) and its choices.
The command line has no defaults of its own: a flag left out is a key left out of the params, so the
model's default applies exactly as it does to a row (a field that really needs another default on the
command line declares it with its reason: `flag(..., cli_default=16, cli_reason="...")`).

How a client (`source/workflows/<name>/client.py`) uses it:

    def register(subparsers):
        parser = subparsers.add_parser("my_command", help=..., description=...)
        add_params_arguments(parser, MyParams)          # one option per field with a flag
        parser.set_defaults(build=build_submission)
        return parser

    def build_submission(args, settings):
        raw = params_from_args(args, MyParams)          # {field: value} of the flags given (+ cli defaults)
        try:
            params = MyParams.parse(raw, settings)   # the worker's own check
        except UserError as exc:
            raise MyParams.for_command_line(exc) from None             # the message names the flag
        row = NewTask(task_type=..., params=params.to_json(), ...)      # the validated, normalised dump
        ...

Every program's parser is a `BothSpellingsParser`, so each flag, generated or hand-written (a queue or
worker flag, a row column such as --priority), is accepted in both spellings from its one declaration.
"""
from __future__ import annotations

import argparse
import json
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Sequence, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ..errors import UserError
from .params import Params, bounds_text

UNSET = object()

SPELLING_NOTE = "Every --flag_name may also be written --flag-name, and the reverse."


def other_spelling(option: str) -> str:
    """`--segment_frames` <-> `--segment-frames` (a short option or one without either is itself)."""
    if not option.startswith("--"):
        return option
    body = option[2:]
    return "--" + (body.replace("_", "-") if "_" in body else body.replace("-", "_"))


class BothSpellingsParser(argparse.ArgumentParser):
    """An ArgumentParser where every long flag is also accepted in its other spelling (`--db-type` and
    `--db_type`, `--segment_frames` and `--segment-frames`): a flag declared once, in one spelling, and
    shown so in --help (whose epilog says that both work). Subcommand parsers made with
    `add_subparsers(parser_class=...)` of this class behave the same."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        epilog = kwargs.get("epilog")
        kwargs["epilog"] = f"{epilog}\n{SPELLING_NOTE}" if epilog else SPELLING_NOTE
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Optional[Sequence[str]] = None, namespace: Any = None):  # type: ignore[override]
        import sys

        given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args([self._declared_spelling(arg) for arg in given], namespace)

    def _declared_spelling(self, arg: str) -> str:
        if not arg.startswith("--") or arg == "--":
            return arg
        name, sep, value = arg.partition("=")
        known = self._option_string_actions
        if name in known:
            return arg
        other = other_spelling(name)
        return other + sep + value if other in known else arg


# ---- fields -> options -----------------------------------------------------------------------------------

def flag_meta(info: FieldInfo) -> dict:
    """The command-line metadata of a field (`flag(...)`), or {} when it has no flag."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return extra if extra.get("flag") else {}


def flagged_fields(model: type[Params]) -> list[tuple[str, FieldInfo, dict]]:
    return [(name, info, flag_meta(info)) for name, info in model.model_fields.items() if flag_meta(info)]


def _strip(annotation: Any) -> Any:
    """The type under Optional[...] and Annotated[...]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _scalar(annotation: Any) -> tuple[Any, Optional[tuple]]:
    """(argparse type, choices) of a single value."""
    annotation = _strip(annotation)
    if get_origin(annotation) is Literal:
        return str, tuple(get_args(annotation))
    if annotation is bool:
        return _bool_text, None
    if annotation is int:
        return int, None
    if annotation is float:
        return float, None
    return str, None  # text, a nested group as JSON, a [W, H] pair as "WxH"


def _bool_text(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"must be true or false, got {text!r}")


def field_default(info: FieldInfo) -> Any:
    if info.is_required():
        return UNSET
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return info.default


def cli_default(info: FieldInfo) -> Any:
    """What a command line uses when the flag is left out: the field's `cli_default` (declared with its
    reason) or UNSET (the key is left out and the model's default applies)."""
    return flag_meta(info).get("cli_default", UNSET)


def _shown(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "its fields' defaults"
    if isinstance(value, (list, tuple)):
        return " ".join(_shown(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return json.dumps(value) if value else "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value == "":
        return "empty"
    return str(value)


def help_text(info: FieldInfo, meta: dict) -> str:
    """The option's help: description, unit, range and default, from the field (and its cli default)."""
    parts = [meta.get("help") or info.description or ""]
    facts = []
    if meta.get("unit"):
        facts.append(meta["unit"])
    bounds = bounds_text(info)
    if bounds:
        facts.append(bounds)
    default = field_default(info)
    command_line = cli_default(info)
    if command_line is not UNSET:
        facts.append(f"default {_shown(command_line)} here, {_shown(default)} in a row: {meta['cli_reason']}")
    elif default is UNSET:
        facts.append("required")
    elif default is not None and default is not False:
        facts.append(f"default {_shown(default)}")
    text = parts[0] + (f" ({'; '.join(facts)})" if facts else "")
    return text.replace("%", "%%")


def argument_options(info: FieldInfo, meta: dict) -> dict:
    """add_argument keyword arguments for a field."""
    annotation = _strip(info.annotation)
    origin = get_origin(annotation)
    options: dict[str, Any] = {"help": help_text(info, meta), "default": None}
    options["metavar"] = meta.get("metavar") or meta["flag"].lstrip("-").upper()
    if annotation is bool:
        options.pop("metavar")
        if field_default(info) is True:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["action"] = "store_const"
            options["const"] = True
        return options
    if origin in (list, tuple) and not (origin is tuple and len(get_args(annotation)) == 2
                                        and all(_strip(a) is int for a in get_args(annotation))):
        options["nargs"] = "+"
        options["type"], options["choices"] = _scalar(get_args(annotation)[0] if get_args(annotation) else str)
    elif origin is dict:
        options["nargs"] = "+"
        options["metavar"] = meta.get("metavar") or "KEY=VALUE"
    else:
        options["type"], options["choices"] = _scalar(annotation)
    if options.get("choices") is None:
        options.pop("choices", None)
    if field_default(info) is UNSET and cli_default(info) is UNSET:
        options["required"] = True
    return options


def add_params_arguments(parser: argparse.ArgumentParser, model: type[Params],
                         group_title: Optional[str] = None) -> None:
    """One option per field of `model` that has a flag, with help, type, choices and range from the
    field; the parsed value lands at the field's name (`args.segment_frames_expanded`). Both spellings
    of each flag work when `parser` is a `BothSpellingsParser` (every program's parser is).
    `params_from_args` turns the parsed arguments back into params."""
    target = parser.add_argument_group(group_title) if group_title else parser
    for name, info, meta in flagged_fields(model):
        names = meta.get("flags") or (meta["flag"],)
        target.add_argument(*names, dest=name, **argument_options(info, meta))


def params_from_args(args: argparse.Namespace, model: type[Params]) -> dict:
    """{field: value} of the flags given, converted as the field declares (`path`, `exists`, `folder`,
    pairs); a field whose flag was left out is left out (the model's default applies) unless it declares
    a `cli_default`."""
    raw: dict[str, Any] = {}
    for name, info, meta in flagged_fields(model):
        value = getattr(args, name, None)
        if value is None:
            command_line = cli_default(info)
            if command_line is UNSET:
                continue
            raw[name] = command_line
            continue
        raw[name] = _converted(value, info, meta)
    return raw


def _converted(value: Any, info: FieldInfo, meta: dict) -> Any:
    flag_name = meta["flag"]
    if get_origin(_strip(info.annotation)) is dict:
        value = _pairs(value, flag_name, info)
    if meta.get("folder"):
        from ..storage.outputs import prepare_output_folder

        return prepare_output_folder(value, flag_name)
    if meta.get("path") or meta.get("exists"):
        exists = bool(meta.get("exists"))
        if isinstance(value, dict):
            return {_path(key, flag_name, exists): item for key, item in value.items()}
        if isinstance(value, list):
            return [_path(item, flag_name, exists) for item in value]
        return _path(value, flag_name, exists)
    return value


def _pairs(items: Sequence[str], flag_name: str, info: FieldInfo) -> dict:
    """KEY=VALUE items as {key: value} (numbers when the field's values are numbers)."""
    value_type = _scalar(get_args(_strip(info.annotation))[1])[0] if get_args(_strip(info.annotation)) else str
    metavar = flag_meta(info).get("metavar", "KEY=VALUE")
    pairs = {}
    for item in items:
        key, sep, text = item.rpartition("=")
        if not sep or not key:
            raise UserError(f"{flag_name} takes {metavar}, got {item!r}", field=flag_name)
        try:
            pairs[key] = value_type(text) if value_type in (int, float) else text
        except ValueError:
            what = "a number" if value_type in (int, float) else "valid"
            raise UserError(f"{flag_name}: the value of {key} must be {what}, got {text!r}",
                            field=flag_name) from None
    return pairs


def _path(value: str, flag_name: str, must_exist: bool) -> str:
    """A local path as absolute (the worker may run elsewhere in the tree); URLs unchanged."""
    from ..storage.downloads import is_url

    if is_url(value):
        return value
    path = Path(value).expanduser()
    if must_exist and not path.is_file():
        raise UserError(f"{flag_name}: file not found: {value}", field=flag_name)
    return str(path.resolve())


# ---- a subcommand that queues one row ----------------------------------------------------------------------

def one_row_client(command: str, task_type: str, model: type[Params], *, help: str, description: str = "",
                   build_notes: Any = None) -> Any:
    """The `register(subparsers)` of a subcommand that queues one row of `task_type`: its flags are the
    flagged fields of `model`, its row the validated dump (with the row columns --run_id, --project_id,
    --priority). A workflow whose client needs nothing more names this in its declaration, e.g. in
    `client.py`: `register = one_row_client("join_clips", JOIN, JoinParams, help="...")`.
    `build_notes(params) -> [str]`: what the run renders differently from what was asked (optional)."""

    def build_submission(args: argparse.Namespace, settings: Any) -> Any:
        from ..queue.model import NewTask
        from .ids import new_run_id
        from .submission import Submission

        try:
            parsed = model.parse(params_from_args(args, model), settings)
        except UserError as exc:
            raise model.for_command_line(exc) from None
        params = parsed.to_json()
        run_id = args.run_id or params.get("run_id") or new_run_id()
        if "run_id" in model.model_fields and params.get("run_id") is None:
            params["run_id"] = run_id
        row = NewTask(task_type=task_type, params=params, run_id=run_id, project_id=args.project_id,
                      priority=args.priority)
        notes = tuple(build_notes(parsed)) if build_notes else ()
        return Submission(rows=[row], run_id=run_id, summary=f"{task_type} run {run_id}", notes=notes,
                          ignored=tuple(parsed.ignored_key_hints()))

    def register(subparsers: Any) -> argparse.ArgumentParser:
        from ..queue.model import NewTask

        parser = subparsers.add_parser(command, help=help, description=description or help)
        add_params_arguments(parser, model)
        columns = parser.add_argument_group("the row")
        if "run_id" not in dict((name, 1) for name, _, _ in flagged_fields(model)):
            columns.add_argument("--run_id", help="name the run (default: time + random suffix)")
        columns.add_argument("--project_id", help="owner of the row")
        columns.add_argument("--priority", type=int, default=NewTask.priority,
                             help=f"higher runs first (default {NewTask.priority})")
        parser.set_defaults(build=build_submission)
        return parser

    return register
