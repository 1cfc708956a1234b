"""Configuration, resolved in one place: command-line flag > environment > .env file > default.

Every command line (headless.py, add_task.py, steerable_motion.py) builds a `Settings` with
`resolve_settings(flags)`, where `flags` holds only the options the user actually typed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Optional

DB_TYPES = ("sqlite", "postgres", "supabase")
ENGINES = ("diffusers", "tiny", "wan2gp")


@dataclass(frozen=True)
class Option:
    env: str
    default: Any
    kind: type = str
    help: str = ""


# name -> (environment variable, default, type). `.env.example` documents each one.
OPTIONS: dict[str, Option] = {
    "db_type": Option("DB_TYPE", "sqlite", str, "queue backend: sqlite | postgres | supabase"),
    "db_file": Option("SQLITE_DB_PATH", "tasks.db", str, "SQLite database file"),
    "database_url": Option("DATABASE_URL", None, str, "PostgreSQL DSN (postgres backend)"),
    "supabase_url": Option("SUPABASE_URL", None, str, "Supabase project URL"),
    "supabase_service_key": Option("SUPABASE_SERVICE_KEY", None, str, "Supabase service-role key"),
    "supabase_video_bucket": Option("SUPABASE_VIDEO_BUCKET", "videos", str, "Storage bucket for outputs"),
    "supabase_signed_url_seconds": Option("SUPABASE_SIGNED_URL_SECONDS", 0, int,
                                          "signed URL lifetime for private buckets (0 = public URL)"),
    "main_output_dir": Option("MAIN_OUTPUT_DIR", "outputs", str, "folder for final artefacts"),
    "work_dir": Option("WORK_DIR", None, str, "folder for per-task / per-run work (default: <output>/_work)"),
    "poll_interval": Option("POLL_INTERVAL", 10.0, float, "seconds between backstop polls when idle"),
    "lease_seconds": Option("LEASE_SECONDS", 60.0, float, "lease length; renewed while a task runs"),
    "worker_id": Option("WORKER_ID", None, str, "worker name prefix (a unique suffix is added per start)"),
    "task_types": Option("TASK_TYPES", None, str, "comma-separated task types this worker takes"),
    "engine": Option("ENGINE", "auto", str, "render engine: auto | diffusers | tiny | wan2gp"),
    "models_dir": Option("MODELS_DIR", "models", str, "local folder of diffusers-format model folders"),
    "wan2gp_path": Option("WAN2GP_PATH", None, str, "a Wan2GP checkout for the wan2gp engine"),
    "tiny_models_dir": Option("TINY_MODELS_DIR", None, str,
                              "cache of the random-weight tiny models (default ~/.cache/headless-wan/tiny)"),
    "lora_dir": Option("LORA_DIR", None, str, "LoRA files and downloads (default <MODELS_DIR>/loras)"),
    "depth_model_path": Option("DEPTH_MODEL_PATH", None, str,
                               "a local transformers depth model for perspective_type depth"),
    "offload": Option("OFFLOAD", "none", str, "none | model | sequential (CPU offload for small GPUs)"),
    "compile": Option("COMPILE", False, bool, "regional torch.compile of transformer blocks"),
    "attention": Option("ATTENTION", "auto", str, "attention backend: auto | sdpa | flash | sage | ..."),
    "shutdown_grace_seconds": Option("SHUTDOWN_GRACE_SECONDS", 30.0, float,
                                     "on SIGTERM, how long the running task may take to finish"),
    "debug": Option("DEBUG", False, bool, "verbose logs; keep work folders"),
    # ---- wan2gp engine (issue 10); the --wgp-* names are the original tool's (docs/ENGINES.md) ----
    "wan2gp_python": Option("WAN2GP_PYTHON", None, str,
                            "Wan2GP's own interpreter (default: <WAN2GP_PATH>/venv/bin/python)"),
    "wan2gp_timeout": Option("WAN2GP_HELPER_TIMEOUT", 900.0, float,
                             "seconds the Wan2GP helper may stay silent before it is killed (task retried)"),
    "wgp_attention_mode": Option("WGP_ATTENTION_MODE", None, str, "auto | sdpa | sage | sage2 | flash | xformers"),
    "wgp_compile": Option("WGP_COMPILE", None, str, "transformer | none"),
    "wgp_profile": Option("WGP_PROFILE", None, str, "Wan2GP memory profile number (1-5)"),
    "wgp_vae_config": Option("WGP_VAE_CONFIG", None, str, "Wan2GP VAE tiling config (0 = auto)"),
    "wgp_boost": Option("WGP_BOOST", None, str, "Wan2GP boost (1 = on, 0 = off)"),
    "wgp_transformer_quantization": Option("WGP_TRANSFORMER_QUANTIZATION", None, str, "int8 | fp8 | bf16"),
    "wgp_transformer_dtype_policy": Option("WGP_TRANSFORMER_DTYPE_POLICY", None, str, "auto | fp16 | bf16"),
    "wgp_text_encoder_quantization": Option("WGP_TEXT_ENCODER_QUANTIZATION", None, str, "int8 | bf16"),
    "wgp_vae_precision": Option("WGP_VAE_PRECISION", None, str, "16 | 32"),
    "wgp_mixed_precision": Option("WGP_MIXED_PRECISION", None, str, "0 | 1"),
    "wgp_preload_policy": Option("WGP_PRELOAD_POLICY", None, str, "letters P,S,U (preload / switch / unload)"),
    "wgp_preload": Option("WGP_PRELOAD", None, str, "megabytes of the model to preload in VRAM"),
    "wgp_extra_args": Option("WGP_EXTRA_ARGS", None, str, "more Wan2GP command-line arguments (shell-quoted)"),
}


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _convert(name: str, value: Any) -> Any:
    option = OPTIONS[name]
    if value is None:
        return None
    try:
        if option.kind is bool:
            return _to_bool(value)
        if option.kind is int:
            return int(value)
        if option.kind is float:
            return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{option.env} must be a {option.kind.__name__}, got {value!r}") from None
    return str(value)


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (quotes stripped, # comments ignored). Missing file: empty."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


@dataclass
class Settings:
    db_type: str = "sqlite"
    db_file: str = "tasks.db"
    database_url: Optional[str] = None
    supabase_url: Optional[str] = None
    supabase_service_key: Optional[str] = None
    supabase_video_bucket: str = "videos"
    supabase_signed_url_seconds: int = 0
    main_output_dir: str = "outputs"
    work_dir: Optional[str] = None
    poll_interval: float = 10.0
    lease_seconds: float = 60.0
    worker_id: Optional[str] = None
    task_types: Optional[str] = None
    engine: str = "auto"
    models_dir: str = "models"
    wan2gp_path: Optional[str] = None
    tiny_models_dir: Optional[str] = None
    lora_dir: Optional[str] = None
    depth_model_path: Optional[str] = None
    offload: str = "none"
    compile: bool = False
    attention: str = "auto"
    shutdown_grace_seconds: float = 30.0
    debug: bool = False
    # wan2gp engine (issue 10)
    wan2gp_python: Optional[str] = None
    wan2gp_timeout: float = 900.0
    wgp_attention_mode: Optional[str] = None
    wgp_compile: Optional[str] = None
    wgp_profile: Optional[str] = None
    wgp_vae_config: Optional[str] = None
    wgp_boost: Optional[str] = None
    wgp_transformer_quantization: Optional[str] = None
    wgp_transformer_dtype_policy: Optional[str] = None
    wgp_text_encoder_quantization: Optional[str] = None
    wgp_vae_precision: Optional[str] = None
    wgp_mixed_precision: Optional[str] = None
    wgp_preload_policy: Optional[str] = None
    wgp_preload: Optional[str] = None
    wgp_extra_args: Optional[str] = None
    extra: dict = field(default_factory=dict)

    # ---- derived ----------------------------------------------------------------------------------
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
    def db_dir(self) -> Path:
        """Folder that relative output_locations resolve against."""
        return self.db_path.parent if self.db_type == "sqlite" else Path.cwd()

    @property
    def task_type_list(self) -> Optional[list[str]]:
        if not self.task_types:
            return None
        return [t.strip() for t in str(self.task_types).split(",") if t.strip()]

    def redacted(self) -> dict:
        """For logs: secrets never printed."""
        out = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in ("supabase_service_key",) and value:
                value = "***"
            if f.name == "database_url" and value:
                value = redact_dsn(value)
            out[f.name] = value
        return out


def redact_dsn(dsn: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db (also password=... forms)."""
    import re

    dsn = re.sub(r"(://[^:/@]+:)[^@]*(@)", r"\1***\2", dsn)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", dsn, flags=re.IGNORECASE)


def resolve_settings(flags: Optional[Mapping[str, Any]] = None, env: Optional[Mapping[str, str]] = None,
                     dotenv_path: Optional[Path] = None) -> Settings:
    """flag > environment > .env > default. `flags` holds only options the user gave (None = not given)."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    dotenv = read_dotenv(dotenv_path if dotenv_path is not None else Path.cwd() / ".env")
    values: dict[str, Any] = {}
    for name, option in OPTIONS.items():
        if name in flags:
            raw = flags[name]
        elif option.env in env and env[option.env] != "":
            raw = env[option.env]
        elif option.env in dotenv and dotenv[option.env] != "":
            raw = dotenv[option.env]
        else:
            raw = option.default
        values[name] = _convert(name, raw)
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
    if settings.lease_seconds <= 0 or settings.poll_interval <= 0:
        raise ValueError("lease seconds and poll interval must be positive")
    if settings.wan2gp_timeout is not None and settings.wan2gp_timeout <= 0:
        raise ValueError("WAN2GP_HELPER_TIMEOUT must be positive")


def scrub_secrets(text: str, settings: Settings) -> str:
    """Remove the service key and database password from a message before it is logged or shown."""
    text = redact_dsn(str(text))
    for secret in (settings.supabase_service_key, settings.database_url):
        if secret and len(secret) >= 8:
            text = text.replace(secret, redact_dsn(secret) if secret == settings.database_url else "***")
    return text
