"""The parameter reference, written from the params models so it cannot drift from them.

`docs/TASKS.md` (written by `scripts/make_reference.py`; a test fails when it is stale) and
`add_task.py --type T --describe` both come from here: for each task type, its summary, every parameter
of its model (`TaskParams.describe()`: name, type, default, range, meaning, other accepted names), the
fields of nested groups as `group.field`, and one example of its params (the workflow's declared example,
checked by the tests against the same model).
"""
from __future__ import annotations

import json
import textwrap
import types
from dataclasses import dataclass
from typing import Annotated, Any, Optional, Union, get_args, get_origin

from ..tasks.params import ParamDoc, Params, TaskParams


@dataclass(frozen=True)
class TaskReference:
    task_type: str
    workflow: str
    summary: str
    internal: bool            # written by an orchestrator, not queued by people
    params: tuple[ParamDoc, ...]
    example: Optional[dict]


def nested_model(annotation: Any) -> Optional[type[Params]]:
    """The group of parameters a field holds (a Params model, also inside Optional/Annotated), or None."""
    if isinstance(annotation, type) and issubclass(annotation, Params):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType, Annotated):
        for argument in get_args(annotation):
            found = nested_model(argument)
            if found is not None:
                return found
    return None


def parameter_docs(model: type[Params], prefix: str = "") -> list[ParamDoc]:
    """Every parameter of `model`, nested groups expanded as `group.field` after the group itself."""
    docs = []
    for doc in model.describe():
        name = prefix + doc.name
        docs.append(ParamDoc(name=name, type=doc.type, default=doc.default, range=doc.range, meaning=doc.meaning,
                             aliases=tuple(prefix + alias for alias in doc.aliases), required=doc.required))
        field = model.model_fields.get(doc.name)
        group = nested_model(field.annotation) if field is not None else None
        if group is not None:
            docs.extend(parameter_docs(group, prefix=f"{name}."))
    return docs


def task_reference(task_type: str) -> TaskReference:
    from .registry import example_params, lookup, params_model

    package, declaration = lookup(task_type)
    model: type[TaskParams] = params_model(task_type)
    return TaskReference(task_type=task_type, workflow=package, summary=declaration.summary,
                         internal=declaration.internal, params=tuple(parameter_docs(model)),
                         example=example_params(task_type))


def all_references() -> list[TaskReference]:
    """Every task type, in the order the workflows declare them."""
    from .registry import workflows

    return [task_reference(task_type.name) for _, workflow in workflows() for task_type in workflow.task_types]


# ---- writing --------------------------------------------------------------------------------------

def default_text(doc: ParamDoc) -> str:
    if doc.required:
        return "required"
    if doc.default is None:
        return "not set"
    if isinstance(doc.default, Params):
        return "its fields' defaults"
    return json.dumps(doc.default, default=str)


def example_json(reference: TaskReference) -> str:
    return _json(reference.example)


def _json(value: Any, indent: int = 0) -> str:
    """JSON with one key per line and short lists kept on one line."""
    if isinstance(value, dict) and value:
        inner = " " * (indent + 2)
        items = [f"{inner}{json.dumps(key)}: {_json(item, indent + 2)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        inner = " " * (indent + 2)
        return "[\n" + ",\n".join(inner + _json(item, indent + 2) for item in value) + "\n" + " " * indent + "]"
    return json.dumps(value)


def queued_by(reference: TaskReference) -> str:
    if reference.internal:
        return "Written by its orchestrator when the run fans out; not queued by hand."
    return (f"Queue it with `.venv/bin/python add_task.py --type {reference.task_type} --params @params.json`, "
            "or as a row written by your own app.")


def markdown(references: list[TaskReference], models: str) -> str:
    """docs/TASKS.md."""
    lines = [
        "# Task types and their parameters",
        "",
        "<!-- Written by scripts/make_reference.py from the params models (source/workflows/*/params.py); do not",
        "     edit by hand: `.venv/bin/python scripts/make_reference.py` rewrites it, and a test fails when it",
        "     is stale. -->",
        "",
        "Every row of the `tasks` table has a `task_type` and a JSON object of `params`. Each task type's",
        "params are checked by one model, the same at enqueue time (`add_task.py`, `steerable_motion.py`) and",
        "in the worker: a value of the wrong type or out of range is refused with one line naming the",
        "parameter; a key the type does not use is named in a warning, not used. "
        "`.venv/bin/python add_task.py --type T --describe` prints one type's table in the terminal.",
        "",
        f"Model names (`model`, `model_name`): {_cell(models)}.",
        "",
    ]
    for reference in references:
        anchor = reference.task_type.replace("_", "-")
        lines.append(f"- [`{reference.task_type}`](#{anchor}): {reference.summary}")
    for reference in references:
        lines += ["", f"## {reference.task_type}", "", f"{_sentence(reference.summary)} {queued_by(reference)}",
                  "", "| parameter | type | default | range | meaning | also accepted as |",
                  "|---|---|---|---|---|---|"]
        for doc in reference.params:
            aliases = ", ".join(f"`{a}`" for a in doc.aliases)
            lines.append(f"| `{doc.name}` | {_cell(doc.type)} | {_cell(default_text(doc))} | {_cell(doc.range)} | "
                         f"{_cell(doc.meaning)} | {aliases} |")
        if reference.example is not None:
            lines += ["", "Example:", "", "```json", example_json(reference), "```"]
    return "\n".join(lines) + "\n"


def terminal_text(reference: TaskReference, width: int = 100) -> str:
    """One task type for `add_task.py --type T --describe`."""
    lines = [f"{reference.task_type}: {reference.summary}", queued_by(reference), "", "parameters:"]
    for doc in reference.params:
        facts = [doc.type, default_text(doc) if doc.required else f"default {default_text(doc)}"]
        if doc.range:
            facts.append(doc.range)
        text = f"{doc.name} ({'; '.join(facts)}): {doc.meaning}"
        if doc.aliases:
            text += f" (also accepted as {', '.join(doc.aliases)})"
        lines.append(textwrap.fill(text, width, initial_indent="  ", subsequent_indent="      "))
    if reference.example is not None:
        lines += ["", "example (--params):", textwrap.indent(example_json(reference), "  ")]
    return "\n".join(lines)


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else ""


def _cell(text: str) -> str:
    """Text for a markdown table cell: pipes and angle brackets (`wan2gp:<model type>`) kept as text."""
    return str(text).replace("|", "\\|").replace("<", "\\<").replace("\n", " ")


# ---- the limits table of docs/LIMITS.md ------------------------------------------------------------------

LIMITS_START = "<!-- limits table: written by scripts/make_reference.py from source/config.py and the params models -->"
LIMITS_END = "<!-- end of limits table -->"


def limits_table(references: list[TaskReference]) -> str:
    """Each size limit (a MAX_* setting): its key, default and meaning (source/config.py) and the
    parameters it bounds (the fields whose range names it), between the markers of docs/LIMITS.md."""
    from ..config import options

    lines = [LIMITS_START, "", "| key | default | what it bounds | parameters (task type: field) |", "|---|---|---|---|"]
    for option in options().values():
        if not option.env.startswith("MAX_"):
            continue
        bounded = [f"`{ref.task_type}`: `{doc.name}`" for ref in references if not ref.internal
                   for doc in ref.params if option.env in doc.range.split()]
        default = int(option.default) if isinstance(option.default, float) and option.default.is_integer() \
            else option.default
        lines.append(f"| `{option.env}` | {default} | {_cell(option.help)} | {', '.join(bounded)} |")
    return "\n".join(lines + ["", LIMITS_END])


def with_limits_table(text: str, table: str) -> str:
    """docs/LIMITS.md with its generated table replaced."""
    start, end = text.index(LIMITS_START), text.index(LIMITS_END) + len(LIMITS_END)
    return text[:start] + table + text[end:]
