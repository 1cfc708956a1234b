"""The parameter layer: each task type's params are one typed model, validated once per process.

A workflow declares `class XParams(TaskParams)` with one field per parameter: its type, default,
range (`Field(ge=..., le=...)`), meaning (`description=`) and other accepted spellings
(`validation_alias=AliasChoices(...)`). The same model checks a row at enqueue time (add_task.py,
steerable_motion.py) and once in the worker, which hands the validated object to the handler.

- `Model.parse(raw, settings)` returns the validated object or raises `InvalidParams` with one line
  naming the field (`segment_frames_expanded[1] must be >= 1, got 0`).
- Keys a model does not declare are kept aside, not silently used: `obj.ignored_keys` lists them.
- `Model.describe()` lists the fields (name, type, default, range, meaning, aliases) for the generated
  parameter reference.

The field types below (`Int`, `Number`, `Flag`, `Text`, `choice(...)`, `location(...)`, `Resolution`,
`RenderResolution`, `ModelName`) accept what JSON writers send and refuse the rest with messages in one
style: `<field> must be an integer, got 'x'`.
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Optional, Union, get_args, get_origin

import annotated_types
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema, core_schema

from ..config import Settings, options
from ..engines.models import lookup_model
from ..errors import InvalidParams, UserError
from ..media.frames import WAN_FPS, parse_resolution, snap_resolution
from ..storage.roots import inside, read_problem, write_problem

# ---- limits --------------------------------------------------------------------------------------------
# Sizes that cost GPU memory or time (resolution, frames, steps, upscale, sleep) are bounded by settings
# (`Settings.max_*`, docs/LIMITS.md), so a worker with more memory can raise them in its environment.
# The client checks with its own settings at enqueue and the worker with its own when it runs the row.

_DEFAULT_SETTINGS = Settings()


def settings_of(info: Any) -> Any:
    """The Settings a model is validated with (limits, folders), or None."""
    context = getattr(info, "context", None) or {}
    return context.get("settings")


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def check_limit(value: Any, setting: str, settings: Optional[Settings], field: str, *,
                shown: Optional[str] = None, unit: str = "") -> Any:
    """`value` unless it is above the limit `settings.<setting>` (defaults without settings):
    InvalidParams `frames 300 is above the limit of 241 (MAX_FRAMES; raise it in the environment or .env)`."""
    limit = getattr(settings if settings is not None else _DEFAULT_SETTINGS, setting)
    if value > limit:
        env = options()[setting].env
        raise InvalidParams(f"{field} {shown or _shown(value)} is above the limit of {_shown(limit)}{unit} "
                            f"({env}; raise it in the environment or .env)", field=field)
    return value


def check_resolution(width: int, height: int, settings: Optional[Settings], field: str) -> None:
    """A frame size within MAX_RESOLUTION_SIDE and MAX_RESOLUTION_PIXELS."""
    shown = f"{width}x{height}"
    check_limit(max(width, height), "max_resolution_side", settings, field, shown=shown, unit=" pixels per side")
    check_limit(width * height, "max_resolution_pixels", settings, field, shown=shown, unit=" pixels per frame")


@dataclass(frozen=True)
class LimitedBy:
    """Field metadata: the value is at most the setting `name`, checked after the field's own validation
    and shown in the parameter reference: `frames: Annotated[Int, LimitedBy("max_frames")]`."""

    name: str

    @property
    def text(self) -> str:
        option = options()[self.name]
        return f"<= {option.env} ({_shown(option.default)})"

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        def check(value: Any, info: ValidationInfo) -> Any:
            # a number is checked here; a resolution's two limits are checked by its own validator
            # (check_resolution), the marker only names them in the reference
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return check_limit(value, self.name, settings_of(info), info.field_name or "")
            return value

        return core_schema.with_info_after_validator_function(check, handler(source))


# ---- field types -------------------------------------------------------------------------------------------


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise ValueError(f"must be an integer, got {value!r}")


def _as_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise ValueError(f"must be a finite number, got an integer of {len(str(abs(value)))} digits") from None
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number, got {value!r}")
    return number


def _as_flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


def _as_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {value!r}")
    return value


def _model_frame_rate(value: Any) -> int:
    fps = _as_int(value)
    if fps != WAN_FPS:
        raise ValueError(f"must be {WAN_FPS} (the model's frame rate; nothing is resampled), got {fps}")
    return fps


Int = Annotated[int, BeforeValidator(_as_int)]
# Guides, masks and outputs run at the model's frame rate: one value per model.
ModelFrameRate = Annotated[int, BeforeValidator(_model_frame_rate)]
Number = Annotated[float, BeforeValidator(_as_number)]
Flag = Annotated[bool, BeforeValidator(_as_flag)]
Text = Annotated[str, BeforeValidator(_as_text)]

# Seeds: -1 (a random one, where a type allows it) up to the largest 64-bit seed torch takes.
SEED_MAX = 2 ** 63 - 1
# Classifier-free guidance and flow shift: the models use single digits; beyond this is a typo.
GUIDANCE_MAX = 100
# A LoRA's strength: the models use about -2..2; beyond this is a typo. A two-expert model (Wan 2.2 A14B)
# also takes one per phase, "a;b[;c]" or [a, b] (source/engines/phases.py): kept as a tuple.
LORA_STRENGTH_MAX = 10


def _lora_strength(value: Any) -> Any:
    from ..engines.phases import PhaseError, parse_strength

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = _as_number(value)   # a number too large for a float is the usual one line
    try:
        strength = parse_strength(value, "strength")
    except PhaseError as exc:
        raise ValueError(str(exc)) from None
    for part in strength if isinstance(strength, tuple) else (strength,):
        if not -LORA_STRENGTH_MAX <= part <= LORA_STRENGTH_MAX:
            raise ValueError(f"must be between -{LORA_STRENGTH_MAX} and {LORA_STRENGTH_MAX}, got {value!r}")
    return strength


LoraStrength = Annotated[Union[float, tuple[float, ...]], BeforeValidator(_lora_strength)]


class Choice:
    """Field metadata for a `Literal[...]` field: a value outside it is refused with the values listed
    (`curve_type: Annotated[Easing, Choice()]`)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        values = get_args(source)

        def check(value: Any) -> Any:
            if value not in values:
                raise ValueError(f"must be one of {', '.join(values)}, got {value!r}")
            return value

        return core_schema.no_info_before_validator_function(check, handler(source))


@dataclass(frozen=True)
class Location:
    """Field metadata: an input given as a path or http(s) URL, a non-empty string (`<field> must be
    <kind> path or URL, got None`); whether the file exists is the worker's question
    (`TaskContext.local_file`). optional=True: null and "" mean "not given" (None). Written
    `Annotated[str, Location("an image")]` or `Annotated[Optional[str], Location(optional=True)]`."""

    kind: str = "a file"
    optional: bool = False

    def check(self, value: Any, info: ValidationInfo) -> Optional[str]:
        """The stripped value, which the row may read (`ReadPath`'s rule), or None when not given."""
        if self.optional and (value is None or value == ""):
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"must be {self.kind} path or URL, got {value!r}")
        return _readable(value.strip(), info)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_before_validator_function(self.check, handler(source))


def choice(*values: str) -> Any:
    """A string that must be one of `values` (message lists them), for a type made at run time;
    in an annotation, `Annotated[Literal[...], Choice()]` is what static analysis reads."""

    def check(value: Any) -> str:
        if value not in values:
            raise ValueError(f"must be one of {', '.join(values)}, got {value!r}")
        return value

    return Annotated[Literal[values], BeforeValidator(check)]  # type: ignore[valid-type]


def aliases(name: str, *others: str) -> AliasChoices:
    """`validation_alias` for a field also accepted under other names (the first is the field's own)."""
    return AliasChoices(name, *others)


# ---- paths a row names (source/storage/roots.py) ---------------------------------------------------------
# Checked whenever the model is validated with settings: at enqueue with the client's, and when a worker
# claims the row with its own (a row written past the client fails there, with the same line).


def _readable(value: Any, info: ValidationInfo) -> Any:
    """An input path: an http(s) URL or a file inside the input folders."""
    settings = settings_of(info)
    if settings is not None and isinstance(value, str) and value.strip():
        problem = read_problem(settings, value.strip())
        if problem:
            raise ValueError(problem)
    return value


def _writable(value: Any, info: ValidationInfo) -> Any:
    """A path the task writes to: inside the worker's output folders."""
    settings = settings_of(info)
    if settings is not None and isinstance(value, str) and value.strip():
        problem = write_problem(settings, value.strip())
        if problem:
            raise ValueError(problem)
    return value


def _lora_readable(value: Any, info: ValidationInfo) -> Any:
    """A LoRA: an http(s) URL, a name inside the LoRA folder, or a file the row may read."""
    settings = settings_of(info)
    if settings is None or not isinstance(value, str) or not value.strip():
        return value
    folders = [settings.lora_path.resolve(), settings.models_path.resolve()]
    if inside((settings.lora_path / value.strip()).resolve(), folders):
        return value
    problem = read_problem(settings, value.strip(), extra_roots=folders)
    if problem:
        raise ValueError(problem.replace("input folders (", "input folders or the LoRA folder (", 1))
    return value


# A path the row's task reads (or an http(s) URL); a path it writes; a LoRA file, name or URL.
ReadPath = Annotated[str, BeforeValidator(_as_text), AfterValidator(_readable)]
WritePath = Annotated[str, BeforeValidator(_as_text), AfterValidator(_writable)]
LoraPath = Annotated[str, BeforeValidator(_as_text), AfterValidator(_lora_readable)]


def location(kind: str = "a file", *, optional: bool = False) -> Any:
    """`Annotated[str, Location(kind)]` (or Optional), for a type made at run time."""
    return Annotated[Optional[str] if optional else str, Location(kind, optional)]


def _resolution(value: Any, info: ValidationInfo, snapped: bool) -> str:
    try:
        width, height = parse_resolution(value)
        if snapped:
            snap_resolution((width, height))
    except ValueError as exc:
        raise InvalidParams(f"{info.field_name}: {exc}", field=info.field_name) from None
    check_resolution(width, height, settings_of(info), info.field_name)
    return f"{width}x{height}"


# "WxH" or [W, H], kept as given (written back as "WxH"), within the resolution limits. `RenderResolution`
# must also stay at least 16x16 once floored to multiples of 16, as the render bridge floors it (source/media/frames.py).
RESOLUTION_LIMITS = (LimitedBy("max_resolution_side"), LimitedBy("max_resolution_pixels"))
Resolution = Annotated[str, *RESOLUTION_LIMITS, BeforeValidator(lambda value, info: _resolution(value, info, snapped=False))]
RenderResolution = Annotated[str, *RESOLUTION_LIMITS,
                             BeforeValidator(lambda value, info: _resolution(value, info, snapped=True))]


def _model_name(value: Any, info: ValidationInfo) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError('is required (e.g. "t2v_1.3B", "vace_14B", "tiny")')
    try:
        lookup_model(value)
    except UserError as exc:  # UnknownModel: names the model and lists the known ones
        raise InvalidParams(f"{info.field_name}: {exc}", field=info.field_name) from None
    return value.strip()


# A model name the render bridge knows (source/engines/models.py), kept as the user spelt it.
ModelName = Annotated[str, BeforeValidator(_model_name)]


# ---- errors ------------------------------------------------------------------------------------------------


def field_path(loc: tuple) -> str:
    """('segment_frames_expanded', 1) -> 'segment_frames_expanded[1]'; nested names joined by dots."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


_BOUND_WORDS = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
                "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}


def first_error(exc: ValidationError) -> tuple[str, Optional[str]]:
    """The first problem of a ValidationError as (one line, field path)."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(p for p in error["loc"] if p != "__root__")
    if len(loc) >= 2 and loc[-1] == "[key]":  # a dict's key (a LoRA's path): the dict, then "key"
        loc = loc[:-2] + ("key",)
    where = field_path(loc)
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    cause = ctx.get("error")
    if isinstance(cause, UserError):          # a validator's own complete message
        return str(cause), cause.field or where or None
    if kind == "value_error":
        text = str(cause) if cause is not None else error["msg"]
    elif kind in _BOUND_WORDS:
        symbol, key = _BOUND_WORDS[kind]
        text = f"must be {symbol} {ctx[key]}, got {value!r}"
    elif kind == "missing":
        text = "is required"
    elif kind == "extra_forbidden":
        text = "is not a known key"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        text = f"must be a JSON object, got {type(value).__name__}"
    elif kind == "list_type":
        text = f"must be a list, got {value!r}"
    elif kind in ("too_short", "too_long"):
        text = error["msg"].replace("List", "list").replace("Value", "value")
    else:
        text = error["msg"]
    return (f"{where} {text}" if where else text), (where or None)


# ---- the models --------------------------------------------------------------------------------------------


class Params(BaseModel):
    """A nested group of parameters (e.g. fade settings): unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # What `parse` raises: InvalidParams, or a workflow's own kind of it (travel's PlanError).
    error_class: ClassVar[type[InvalidParams]] = InvalidParams

    @classmethod
    def parse(cls, raw: Any, settings: Any = None, *, prefix: Optional[str] = None):
        """The validated object, or InvalidParams naming the field (`prefix.` before nested names). Values
        from a command's flags and from a row are read by the same rules."""
        if isinstance(raw, cls):
            return raw
        if not isinstance(raw, dict):
            name = prefix or "params"
            raise cls.error_class(f"{name} must be a JSON object, got {type(raw).__name__}", field=prefix)
        try:
            return cls.model_validate(raw, context={"settings": settings})
        except OverflowError as exc:  # a number too large for a float, met outside the field types
            raise cls.error_class(f"{prefix or 'params'}: a number is too large ({exc})", field=prefix) from None
        except ValidationError as exc:
            message, where = first_error(exc)
            if prefix:
                message = f"{prefix}.{message}" if where else f"{prefix}: {message}"
                where = f"{prefix}.{where}" if where else prefix
            raise cls.error_class(message, field=where) from None

    def to_json(self) -> dict:
        """The validated values as JSON (what a child row or the reference shows)."""
        return self.model_dump(mode="json", exclude_none=False)

    @classmethod
    def describe(cls) -> list["ParamDoc"]:
        return [ParamDoc.of(name, info) for name, info in cls.model_fields.items()]

    # ---- command-line flags -------------------------------------------------------------------------
    @classmethod
    def flag_of(cls, field: str) -> Optional[str]:
        """The steerable_motion.py flag a field path is given with ('frame_overlap_expanded[0]' ->
        '--frame_overlap[0]'), from the field's `flag(...)` metadata; nested models are followed.
        None when the field has no flag."""
        name = field.split(".")[0].split("[")[0]
        info = cls.model_fields.get(name)
        if info is None:
            return None
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get("flag"):
            return extra["flag"] + field[len(name):]
        nested = info.annotation
        rest = field[len(name):].lstrip(".")
        if rest and isinstance(nested, type) and issubclass(nested, Params):
            return nested.flag_of(rest)
        return None

    @classmethod
    def for_command_line(cls, exc: UserError) -> UserError:
        """The same error as a command-line user reads it: the field it names becomes the flag."""
        message = str(exc)
        flag = cls.flag_of(exc.field) if exc.field else None
        if flag is None:
            return exc
        if message.startswith(exc.field):
            message = flag + message[len(exc.field):]
        else:
            message = f"{flag}: {message}"
        return type(exc)(message, field=flag)


def flag(name: str, *others: str, metavar: Optional[str] = None, unit: Optional[str] = None,
         path: bool = False, exists: bool = False, folder: bool = False, cli_default: Any = None,
         cli_reason: Optional[str] = None) -> dict:
    """Field metadata: the command-line flag a field is given with (`Field(..., json_schema_extra=flag("--seed"))`)
    and how source/tasks/command_line.py makes the option: other flag names (`others`), the `metavar`,
    the `unit` shown in the help, `path` (a local path made absolute; URLs kept), `exists` (and the file
    must exist), `folder` (an output folder, created). The help, type, range and default come from the
    field itself. `cli_default` (with `cli_reason`, shown in --help) only where a command line really
    needs another default than a row."""
    meta: dict[str, Any] = {"flag": name}
    if others:
        meta["flags"] = (name, *others)
    for key, text in (("metavar", metavar), ("unit", unit), ("cli_reason", cli_reason)):
        if text is not None:
            meta[key] = text
    for key, switch in (("path", path), ("exists", exists), ("folder", folder)):
        if switch:
            meta[key] = True
    if cli_default is not None:
        if not cli_reason:
            raise TypeError(f"{name}: a cli_default needs its cli_reason (why the command line differs from a row)")
        meta["cli_default"] = cli_default
    return meta


# Keys of a legacy row (docs/MIGRATING.md) that the queue itself reads: params.task_id is the row's id
# and params.project_id its owner (source/queue/sql/*/100_seed_compat.sql). Never reported as ignored.
ROW_KEYS = frozenset({"task_id", "project_id"})


class TaskParams(Params):
    """A task type's params. Unknown keys are kept aside (`ignored_keys`) and reported, not used."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    # A key given as null counts as not given, so its default applies (rows of some task types have
    # always been written with nulls for "unset").
    null_is_unset: ClassVar[bool] = False
    # A required field that is not given is checked as null by its own type, so the message says what
    # is expected ("input_image_path2 must be a file path or URL, got None") rather than "is required".
    missing_as_null: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _current_shape(cls, data: Any) -> Any:
        """The original tool's shapes converted (source/tasks/original_keys.py: the one place), then null
        and missing keys as the type reads them."""
        from .original_keys import current_shape

        data = current_shape(cls, data)
        if not isinstance(data, dict):
            return data
        if cls.null_is_unset:
            data = {key: value for key, value in data.items() if value is not None}
        if cls.missing_as_null:
            for name, info in cls.model_fields.items():
                alias = info.validation_alias
                names = [c for c in alias.choices if isinstance(c, str)] if isinstance(alias, AliasChoices) else []
                if info.is_required() and not any(key in data for key in [name, *names]):
                    data = {**data, name: None}
        return data

    @property
    def ignored_keys(self) -> list[str]:
        return sorted(key for key in self.model_extra or {} if key not in ROW_KEYS)

    def ignored_key_hints(self) -> list[str]:
        """Each ignored key with what to use instead: 'image_start (did you mean image_start_paths?)'."""
        return [ignored_key_hint(type(self), key) for key in self.ignored_keys]

    @property
    def keeps_work_folder(self) -> bool:
        """The run's work folder stays after the run ends (a workflow's debug or skip-cleanup keys)."""
        return False


def accepted_names(model: type[Params]) -> list[str]:
    """The keys a model reads: its fields and their other accepted spellings."""
    names = []
    for name, info in model.model_fields.items():
        names.append(name)
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names += [c for c in alias.choices if isinstance(c, str) and c != name]
    return names


def flag_of(model: type, field: str) -> Optional[str]:
    """The command-line flag of a field (looked up in nested params models too), with the item's number
    for a list item: `input_image_paths_resolved[1]` -> `--input_images #2`. None without one."""
    match = re.match(r"^(\w+)(?:\[(\d+)\])?$", field.strip())
    if match is None or not (isinstance(model, type) and issubclass(model, Params)):
        return None
    name, index = match.group(1), match.group(2)
    pending, seen = [model], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        info = current.model_fields.get(name)
        extra = info.json_schema_extra if info is not None else None
        if isinstance(extra, dict) and isinstance(extra.get("flag"), str):
            return extra["flag"] + (f" #{int(index) + 1}" if index is not None else "")
        pending += [nested for other in current.model_fields if (nested := _nested_model(current, other))]
    return None


def _nested_model(model: type[Params], name: str) -> Optional[type[Params]]:
    info = model.model_fields.get(name)
    pending = [info.annotation] if info is not None else []
    while pending:
        annotation = pending.pop()
        if isinstance(annotation, type) and issubclass(annotation, Params):
            return annotation
        pending += list(get_args(annotation))
    return None


def ignored_key_hint(model: type[Params], key: str) -> str:
    """`key (did you mean <closest accepted name>?)`, or why a legacy key is gone (original_keys.py). A dotted
    key ('orchestrator_details.x') is looked up in the nested model."""
    from .original_keys import RETIRED_KEYS, dropped_value_reason

    head, _, rest = key.partition(".")
    nested = _nested_model(model, head) if rest else None
    if nested is not None:
        return f"{head}.{ignored_key_hint(nested, rest)}"
    leaf = key.rsplit(".", 1)[-1]
    if leaf in RETIRED_KEYS:
        return f"{key} ({RETIRED_KEYS[leaf]})"
    if dropped_value_reason(leaf):
        return f"{key} ({dropped_value_reason(leaf)})"
    names = accepted_names(model)
    if leaf != key and leaf in names:  # a name of this task type, written at another level
        return f"{key} (write {leaf} at the top level of params, not inside {key.rsplit('.', 1)[0]})"
    match = difflib.get_close_matches(leaf, [name for name in names if name != leaf], n=1, cutoff=0.6)
    return f"{key} (did you mean {match[0]}?)" if match else f"{key} (no parameter of this task type is like it)"


# ---- the reference -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamDoc:
    name: str
    type: str
    default: Any
    range: str
    meaning: str
    aliases: tuple[str, ...]
    required: bool

    @classmethod
    def of(cls, name: str, info: FieldInfo) -> "ParamDoc":
        others: tuple[str, ...] = ()
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            others = tuple(str(c) for c in alias.choices if isinstance(c, str) and c != name)
        if info.is_required():
            default = None
        elif info.default_factory is not None:
            default = info.default_factory()
        else:
            default = info.default
        return cls(name=name, type=type_name(info.annotation), default=default,
                   range=bounds_text(info), meaning=info.description or "", aliases=others,
                   required=info.is_required())


def bounds_text(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            bound = getattr(item, attr, None)
            if bound is not None and isinstance(item, annotated_types.BaseMetadata):
                parts.append(f"{symbol} {bound}")
        if isinstance(item, LimitedBy):
            parts.append(item.text)
    for inner in get_args(info.annotation):  # Optional[Annotated[Int, LimitedBy(...)]]
        parts += [item.text for item in getattr(inner, "__metadata__", ()) if isinstance(item, LimitedBy)]
    return ", ".join(parts)


def type_name(annotation: Any) -> str:
    """A short, reader-facing name of a field's type."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return type_name(get_args(annotation)[0])
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(annotation))
    if origin in (list, tuple):
        inner = [type_name(a) for a in get_args(annotation) if a is not Ellipsis]
        return f"list of {inner[0]}" if inner else "list"
    if origin is dict:
        key, value = (type_name(a) for a in get_args(annotation)) if get_args(annotation) else ("str", "any")
        return f"object {{{key}: {value}}}"
    args = get_args(annotation)
    if args and type(None) in args:  # Optional[X] / X | None
        rest = [type_name(a) for a in args if a is not type(None)]
        return " | ".join(rest)
    if args:
        return " | ".join(type_name(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return {int: "integer", float: "number", bool: "boolean", str: "string"}.get(annotation,
                                                                             getattr(annotation, "__name__", str(annotation)))
