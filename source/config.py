"""Configuration, resolved in one place: command-line flag > environment > .env file > default.

`Settings` is the one settings object. Each field declares its environment variable, default and help
once (`setting(...)` below); the command lines and the engines read these declarations, and a test
(tests/test_settings_seam.py) holds `.env.example` to them. Every command line builds its `Settings`
with `resolve_settings(flags)`, where `flags` holds only the options the user actually typed, and hands
that object, unchanged, down to the worker, the handlers, the render bridge and the engines. No other
module reads the environment. A few legacy environment keys are read under their names here
(`ORIGINAL_ENV_NAMES`, docs/MIGRATING.md), with a warning.
"""
from __future__ import annotations

import logging
import os
import re
import typing
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional

DB_TYPES = ("sqlite", "postgres", "supabase")
ENGINES = ("diffusers", "tiny", "wan2gp", "preview")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def setting(env: str, default: Any, help: str) -> Any:
    """A Settings field: its environment variable, default and one-line help, written once."""
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    # ---- queue ----------------------------------------------------------------------------------------
    db_type: str = setting("DB_TYPE", "sqlite", "queue backend: sqlite | postgres | supabase")
    db_file: str = setting("SQLITE_DB_PATH", "tasks.db", "SQLite database file")
    database_url: Optional[str] = setting("DATABASE_URL", None, "PostgreSQL DSN (postgres backend)")
    queue_wakeup: str = setting("QUEUE_WAKEUP", "auto",
                                "how an idle postgres worker learns of new rows: listen (LISTEN/NOTIFY) | poll "
                                "(through a transaction pooler) | auto (poll on ports 6432 and 6543)")
    supabase_url: Optional[str] = setting("SUPABASE_URL", None, "Supabase project URL")
    supabase_service_key: Optional[str] = setting("SUPABASE_SERVICE_KEY", None, "Supabase service-role key")
    default_project_id: str = setting(
        "DEFAULT_PROJECT_ID", "default_project_id",
        "project_id of rows that add_task.py and steerable_motion.py queue without one (apps write their own)")
    supabase_video_bucket: str = setting("SUPABASE_VIDEO_BUCKET", "videos", "Storage bucket for outputs")
    supabase_signed_url_seconds: int = setting("SUPABASE_SIGNED_URL_SECONDS", 0,
                                               "signed URL lifetime for private buckets (0 = public URL)")
    # ---- worker ---------------------------------------------------------------------------------------
    main_output_dir: str = setting("MAIN_OUTPUT_DIR", "outputs", "folder for final artefacts")
    work_dir: Optional[str] = setting("WORK_DIR", None,
                                      "folder for per-task / per-run work (default: <output>/_work)")
    public_dir: Optional[str] = setting("PUBLIC_DIR", None,
                                        "web-app mode: final artefacts move to <PUBLIC_DIR>/files and rows store "
                                        "files/<name> (a relative PUBLIC_DIR is beside the SQLite file)")
    extra_output_dirs: Optional[str] = setting(
        "EXTRA_OUTPUT_DIRS", None,
        "comma-separated folders, besides MAIN_OUTPUT_DIR, WORK_DIR and PUBLIC_DIR, that a row may name as its "
        "output folder (output_dir); a row can write nowhere else")
    input_dirs: Optional[str] = setting(
        "INPUT_DIRS", None,
        "comma-separated folders a row may read input files from, besides the output folders (default: the "
        "SQLite file's folder, or the working folder); other inputs must be http(s) URLs")
    poll_interval: float = setting("POLL_INTERVAL", 10.0, "seconds between backstop polls when idle")
    lease_seconds: float = setting("LEASE_SECONDS", 60.0, "lease length; renewed while a task runs")
    worker_id: Optional[str] = setting("WORKER_ID", None,
                                       "worker name prefix (a unique suffix is added per start)")
    task_types: Optional[str] = setting("TASK_TYPES", None, "comma-separated task types this worker takes")
    shutdown_grace_seconds: float = setting("SHUTDOWN_GRACE_SECONDS", 30.0,
                                            "on SIGTERM, how long the running task may take to finish")
    machine_fault_give_up_seconds: float = setting(
        "MACHINE_FAULT_GIVE_UP_SECONDS", 1800.0,
        "after a machine fault (disk full or read-only, I/O error) the worker claims nothing and re-runs its "
        "self-check with back-off; past this many seconds it exits (code 3) for a supervisor to restart")
    same_failure_limit: int = setting(
        "SAME_FAILURE_LIMIT", 5,
        "a worker whose tasks fail this many times in a row with the same error (not a params error) "
        "stops (code 3) rather than fail the whole queue")
    debug: bool = setting("DEBUG", False, "verbose logs; keep work folders")
    colour_match_videos: bool = setting("COLOUR_MATCH_VIDEOS", False,
                                        "colour-match every travel segment to its anchors, as if each run "
                                        "asked for it (colour_match_videos)")
    postgres_table_name: str = setting("POSTGRES_TABLE_NAME", "tasks",
                                       "the original tool's table name; this queue serves only tasks")
    # ---- rendering ------------------------------------------------------------------------------------
    engine: str = setting("ENGINE", "auto", "render engine: auto | diffusers | tiny | wan2gp | preview")
    models_dir: str = setting("MODELS_DIR", "models", "local folder of diffusers-format model folders")
    wan2gp_path: Optional[str] = setting("WAN2GP_PATH", None, "a Wan2GP checkout for the wan2gp engine")
    tiny_models_dir: Optional[str] = setting(
        "TINY_MODELS_DIR", None, "cache of the random-weight tiny models (default ~/.cache/headless-wan/tiny)")
    lora_dir: Optional[str] = setting("LORA_DIR", None, "LoRA files and downloads (default <MODELS_DIR>/loras)")
    depth_model_path: Optional[str] = setting("DEPTH_MODEL_PATH", None,
                                              "a local transformers depth model for perspective_type depth")
    offload: str = setting("OFFLOAD", "none", "none | model | sequential (CPU offload for small GPUs)")
    compile: bool = setting("COMPILE", False, "regional torch.compile of transformer blocks")
    attention: str = setting("ATTENTION", "auto", "attention backend: auto | sdpa | flash | sage | ...")
    dtype: str = setting("DTYPE", "auto", "weights precision: auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32")
    vae_tiling: Optional[bool] = setting("VAE_TILING", None,
                                         "decode the VAE in tiles (default: on when offloading)")
    hf_hub_offline: bool = setting("HF_HUB_OFFLINE", False,
                                   "never download weights from the Hugging Face Hub (local folders and cache only)")
    # ---- engine wan2gp; the --wgp-* flags (docs/ENGINES.md) --------------------------------------
    wan2gp_python: Optional[str] = setting("WAN2GP_PYTHON", None,
                                           "Wan2GP's own interpreter (default: <checkout>/venv/bin/python)")
    wan2gp_timeout: float = setting("WAN2GP_HELPER_TIMEOUT", 900.0,
                                    "seconds the Wan2GP helper may stay silent before it is killed (task retried)")
    wgp_attention_mode: Optional[str] = setting("WGP_ATTENTION_MODE", None,
                                                "Wan2GP attention: auto | sdpa | sage | sage2 | flash | xformers")
    wgp_compile: Optional[str] = setting("WGP_COMPILE", None, "torch.compile Wan2GP's transformer: transformer | none")
    wgp_profile: Optional[str] = setting("WGP_PROFILE", None,
                                         "Wan2GP memory profile (mmgp): 1 HighRAM_HighVRAM ... 4 LowRAM_LowVRAM, "
                                         "5 VerylowRAM_LowVRAM")
    wgp_vae_config: Optional[str] = setting("WGP_VAE_CONFIG", None, "Wan2GP VAE tiling config (0 = auto)")
    wgp_preload: Optional[str] = setting("WGP_PRELOAD", None,
                                         "megabytes of the diffusion model to preload in VRAM (0 = none)")
    wgp_transformer_dtype_policy: Optional[str] = setting("WGP_TRANSFORMER_DTYPE_POLICY", None,
                                                          "transformer dtype: auto | fp16 | bf16")
    wgp_boost: Optional[str] = setting("WGP_BOOST", None, "Wan2GP boost: 1 = joint CFG pass, 0 = off")
    wgp_transformer_quantization: Optional[str] = setting("WGP_TRANSFORMER_QUANTIZATION", None,
                                                          "transformer weights: int8 | fp8 | bf16")
    wgp_text_encoder_quantization: Optional[str] = setting("WGP_TEXT_ENCODER_QUANTIZATION", None,
                                                           "text encoder weights: int8 | bf16")
    wgp_vae_precision: Optional[str] = setting("WGP_VAE_PRECISION", None, "VAE precision in bits: 16 | 32")
    wgp_mixed_precision: Optional[str] = setting("WGP_MIXED_PRECISION", None, "1 = mixed-precision transformer")
    wgp_preload_policy: Optional[str] = setting("WGP_PRELOAD_POLICY", None,
                                                "letters P (preload at start), S (at switch), U (unload after "
                                                "each task), e.g. P,S")
    wgp_extra_args: Optional[str] = setting("WGP_EXTRA_ARGS", None,
                                            "more Wan2GP command-line arguments, shell-quoted (e.g. '--gpu cuda:1')")
    # ---- limits of a task's size (docs/LIMITS.md); the defaults fit one H200 ------------------------
    max_resolution_side: int = setting("MAX_RESOLUTION_SIDE", 1920,
                                       "longest side in pixels of a rendered or interpolated frame")
    max_resolution_pixels: int = setting("MAX_RESOLUTION_PIXELS", 1920 * 1088,
                                         "pixels (width x height) of a rendered or interpolated frame")
    max_frames: int = setting("MAX_FRAMES", 241, "frames of one render (a wgp video, a travel segment, a "
                                                 "perspective clip, an interpolated clip)")
    max_run_frames: int = setting("MAX_RUN_FRAMES", 2000, "frames a travel run renders in all (its segments' sum)")
    max_steps: int = setting("MAX_STEPS", 200, "denoising steps of one render")
    max_upscale_factor: float = setting("MAX_UPSCALE_FACTOR", 4.0, "scale of each side by an upscale")
    max_sleep: float = setting("MAX_SLEEP", 3600.0, "seconds a noop task may sleep or stay busy")
    # ---- dashboard (steerable_motion.py dashboard) ------------------------------------------------------
    dashboard_host: str = setting("DASHBOARD_HOST", "127.0.0.1",
                                  "address the dashboard binds; any but loopback needs DASHBOARD_TOKEN")
    dashboard_port: int = setting("DASHBOARD_PORT", 8765, "port of the dashboard")
    dashboard_token: Optional[str] = setting("DASHBOARD_TOKEN", None,
                                             "token the dashboard asks for (header or login form)")
    dashboard_hostnames: Optional[str] = setting(
        "DASHBOARD_HOSTNAMES", None,
        "comma-separated names the dashboard answers to besides its address (a Host header naming anything "
        "else is refused: DNS rebinding)")
    dashboard_output_roots: Optional[str] = setting(
        "DASHBOARD_OUTPUT_ROOTS", None,
        "comma-separated folders, besides MAIN_OUTPUT_DIR, whose files the dashboard may serve")

    # ---- derived ----------------------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return Path(self.db_file).expanduser().resolve()

    @property
    def output_path(self) -> Path:
        return Path(self.main_output_dir).expanduser().resolve()

    @property
    def work_path(self) -> Path:
        if self.work_dir:
            return Path(self.work_dir).expanduser().resolve()
        return self.output_path / "_work"

    @property
    def public_path(self) -> Optional[Path]:
        """PUBLIC_DIR as an absolute folder (relative: beside the SQLite file), or None."""
        if not self.public_dir:
            return None
        path = Path(self.public_dir).expanduser()
        if not path.is_absolute():
            path = (self.db_path.parent if self.db_type == "sqlite" else Path.cwd()) / path
        return path.resolve()

    @property
    def output_roots(self) -> list[Path]:
        """Every folder a row may make the worker write to: MAIN_OUTPUT_DIR, WORK_DIR, PUBLIC_DIR and
        EXTRA_OUTPUT_DIRS (absolute)."""
        roots = [self.output_path, self.work_path] + ([self.public_path] if self.public_path else [])
        roots += _folders(self.extra_output_dirs)
        return list(dict.fromkeys(roots))

    @property
    def input_roots(self) -> list[Path]:
        """Every folder a row may name an input file in: the output roots, INPUT_DIRS (default: the
        folder relative paths are read from) and the project's samples/."""
        given = _folders(self.input_dirs) or [self.db_dir.resolve()]
        return list(dict.fromkeys(self.output_roots + given + [PROJECT_ROOT / "samples"]))

    @property
    def db_dir(self) -> Path:
        """Folder that relative output_locations resolve against."""
        return self.db_path.parent if self.db_type == "sqlite" else Path.cwd()

    @property
    def task_type_list(self) -> Optional[list[str]]:
        if not self.task_types:
            return None
        return [t.strip() for t in str(self.task_types).split(",") if t.strip()]

    @property
    def models_path(self) -> Path:
        return Path(self.models_dir).expanduser().resolve()

    @property
    def lora_path(self) -> Path:
        if self.lora_dir:
            return Path(self.lora_dir).expanduser().resolve()
        return self.models_path / "loras"

    @property
    def tiny_models_path(self) -> Path:
        if self.tiny_models_dir:
            return Path(self.tiny_models_dir).expanduser().resolve()
        return (user_cache_dir() / "headless-wan" / "tiny").resolve()

    @property
    def depth_model_folder(self) -> Optional[Path]:
        """The depth model folder when it exists, else None."""
        if self.depth_model_path and Path(self.depth_model_path).expanduser().is_dir():
            return Path(self.depth_model_path).expanduser()
        return None

    @property
    def wan2gp_candidates(self) -> list[Path]:
        """Where a Wan2GP checkout may be: WAN2GP_PATH, then ./Wan2GP beside the scripts."""
        paths = [self.wan2gp_path, PROJECT_ROOT / "Wan2GP"]
        return [Path(p).expanduser().resolve() for p in paths if p]

    def redacted(self) -> dict:
        """For logs: secrets never printed."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("supabase_service_key", "dashboard_token") and value:
                value = "***"
            if f.name == "database_url" and value:
                value = redact_dsn(value)
            out[f.name] = value
        return out


def _folders(text: Optional[str]) -> list[Path]:
    """A comma-separated list of folders as absolute paths."""
    return [Path(part.strip()).expanduser().resolve() for part in (text or "").split(",") if part.strip()]


def user_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


@dataclass(frozen=True)
class Option:
    """One setting as the command lines and `.env.example` see it."""

    name: str
    env: str
    default: Any
    kind: type
    help: str


@lru_cache(maxsize=None)
def options() -> dict[str, Option]:
    """name -> Option, from the Settings fields (the one place each is declared)."""
    hints = typing.get_type_hints(Settings)
    table = {}
    for f in fields(Settings):
        hint = hints[f.name]
        kind = next((t for t in typing.get_args(hint) if t is not type(None)), hint)
        table[f.name] = Option(f.name, f.metadata["env"], f.default, kind, f.metadata["help"])
    return table


def _to_bool(option: Option, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{option.env} must be true or false, got {value!r}")


def _convert(option: Option, value: Any) -> Any:
    if value is None:
        return None
    if option.kind is bool:
        return _to_bool(option, value)
    try:
        if option.kind is int:
            return int(value)
        if option.kind is float:
            return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{option.env} must be a {option.kind.__name__}, got {value!r}") from None
    return str(value)


def default_dotenv_path() -> Path:
    """`.env` in the working directory, else the one beside the scripts."""
    here = Path.cwd() / ".env"
    return here if here.is_file() else PROJECT_ROOT / ".env"


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE pairs of a .env file (python-dotenv's reading); a missing file gives nothing."""
    if not Path(path).is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


# Legacy environment keys (docs/MIGRATING.md) read as these settings (each says so once per process).
ORIGINAL_ENV_NAMES = {"SQLITE_DB_PATH_ENV": "SQLITE_DB_PATH"}
_said: set[str] = set()


def with_original_names(source: Mapping[str, str]) -> Mapping[str, str]:
    """`source` with a legacy key copied to its name here, when that name is not set itself."""
    found = {old: new for old, new in ORIGINAL_ENV_NAMES.items()
             if source.get(old, "") != "" and source.get(new, "") == ""}
    if not found:
        return source
    merged = dict(source)
    for old, new in found.items():
        merged[new] = source[old]
        if old not in _said:
            _said.add(old)
            logging.getLogger("config").warning("%s is the original tool's name: read as %s (rename it)", old, new)
    return merged


def resolve_settings(flags: Optional[Mapping[str, Any]] = None, env: Optional[Mapping[str, str]] = None,
                     dotenv_path: Optional[Path] = None) -> Settings:
    """flag > environment > .env > default. `flags` holds only options the user gave (None = not given)."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = with_original_names(os.environ if env is None else env)
    dotenv = with_original_names(read_dotenv(dotenv_path if dotenv_path is not None else default_dotenv_path()))
    values: dict[str, Any] = {}
    for name, option in options().items():
        if name in flags:
            raw = flags[name]
        elif env.get(option.env, "") != "":
            raw = env[option.env]
        elif dotenv.get(option.env, "") != "":
            raw = dotenv[option.env]
        else:
            continue  # the dataclass default
        values[name] = _convert(option, raw)
    settings = Settings(**values)
    validate_settings(settings)
    return settings


def validate_settings(settings: Settings) -> None:
    if settings.db_type not in DB_TYPES:
        raise ValueError(f"DB_TYPE must be one of {', '.join(DB_TYPES)}, got {settings.db_type!r}")
    if settings.engine not in ENGINES + ("auto",):
        raise ValueError(f"engine must be one of auto, {', '.join(ENGINES)}, got {settings.engine!r}")
    if settings.db_type == "postgres" and not settings.database_url:
        raise ValueError("DB_TYPE=postgres needs DATABASE_URL (a PostgreSQL connection string)")
    if settings.db_type == "supabase" and not (settings.supabase_url and settings.supabase_service_key):
        raise ValueError("DB_TYPE=supabase needs SUPABASE_URL and SUPABASE_SERVICE_KEY")
    if settings.queue_wakeup not in ("auto", "listen", "poll"):
        raise ValueError(f"QUEUE_WAKEUP must be auto, listen or poll, got {settings.queue_wakeup!r}")
    if settings.db_type != "sqlite" and settings.postgres_table_name != "tasks":
        raise ValueError(f"POSTGRES_TABLE_NAME={settings.postgres_table_name}: this queue keeps its rows in the "
                         f"table tasks; rename yours (ALTER TABLE {settings.postgres_table_name} RENAME TO tasks) "
                         "and unset POSTGRES_TABLE_NAME (docs/MIGRATING.md)")
    if settings.lease_seconds <= 0 or settings.poll_interval <= 0:
        raise ValueError("lease seconds and poll interval must be positive")
    for option in options().values():
        if option.env.startswith("MAX_") and not getattr(settings, option.name) > 0:
            raise ValueError(f"{option.env} must be positive, got {getattr(settings, option.name)}")
    if settings.machine_fault_give_up_seconds <= 0 or settings.same_failure_limit < 1:
        raise ValueError("MACHINE_FAULT_GIVE_UP_SECONDS and SAME_FAILURE_LIMIT must be positive")
    if settings.wan2gp_timeout <= 0:
        raise ValueError(f"WAN2GP_HELPER_TIMEOUT must be positive, got {settings.wan2gp_timeout}")


def redact_dsn(dsn: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db (also password=... forms)."""
    dsn = re.sub(r"(://[^:/@]+:)[^@]*(@)", r"\1***\2", dsn)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", dsn, flags=re.IGNORECASE)


def scrub_secrets(text: str, settings: Settings) -> str:
    """Remove the service key and database password from a message before it is logged or shown."""
    text = redact_dsn(str(text))
    for secret in (settings.supabase_service_key, settings.database_url, settings.dashboard_token):
        if secret and len(secret) >= 8:
            text = text.replace(secret, redact_dsn(secret) if secret == settings.database_url else "***")
    return text
