"""`python headless.py`: the long-running worker."""
from __future__ import annotations

import argparse
import logging
import os
import time
from typing import Optional

from ..config import ENGINES, scrub_secrets
from ..engines.runtime import DTYPES, OFFLOAD_MODES
from ..engines.wan2gp.options import WGP_FLAG_NAMES, WGP_FLAGS
from ..log import setup_logging
from ..retry import Backoff, retrying
from ..tasks.original_flags import add_retired
from .common import (
    QUEUE_FLAG_NAMES,
    CliError,
    OneLineArgumentParser,
    add_queue_arguments,
    add_setting_argument,
    die,
    open_migrated_queue,
    open_queue_or_exit,
    settings_from_args,
)

WORKER_FLAG_NAMES = QUEUE_FLAG_NAMES + (
    "poll_interval", "worker_id", "task_types", "lease_seconds", "engine", "offload", "compile",
    "attention", "dtype", "vae_tiling", "debug", "shutdown_grace_seconds", "queue_wakeup",
    "wan2gp_path", "wan2gp_python", "wan2gp_timeout",  # wan2gp engine, with the --wgp-* below
    "colour_match_videos", "public_dir",
) + WGP_FLAG_NAMES
# --wgp-compile and --wgp-transformer-dtype-policy take "" for "Wan2GP's own default" (legacy scripts pass it).
WGP_DEFAULT_VALUE = ""
# a database server that is full or starting up: tried every 0.5 to 1 s until a slot frees
SERVER_BUSY = Backoff(attempts=None, first_delay=1.0, max_delay=1.0, jitter=0.5)
WGP_FLAGS_TAKING_DEFAULT = ("wgp_compile", "wgp_transformer_dtype_policy")


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog="headless.py",
        description="Claim rows from the tasks table, render them, and record the results. "
                    "Runs until stopped (SIGINT/SIGTERM finish or give back the current task).")
    add_queue_arguments(parser)
    add_setting_argument(parser, "--poll-interval", "poll_interval",
                         help="seconds between backstop polls while idle; new rows wake the worker at once")
    add_setting_argument(parser, "--worker-id", "worker_id")
    add_setting_argument(parser, "--task-types", "task_types",
                         help="comma-separated task types this worker takes (not set: all)")
    add_setting_argument(parser, "--lease-seconds", "lease_seconds")
    add_setting_argument(parser, "--shutdown-grace-seconds", "shutdown_grace_seconds",
                         help="on SIGTERM, how long the running task may take to finish before it is given "
                              "back to the queue")
    add_setting_argument(parser, "--wakeup", "queue_wakeup", choices=("auto", "listen", "poll"),
                         help="how an idle postgres worker learns of new rows: LISTEN/NOTIFY, or polling "
                              "every 0.25 s (needed through pgbouncer in transaction mode or Supabase's "
                              "port 6543); auto polls on ports 6432 and 6543")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="run one task, then exit")
    mode.add_argument("--until-idle", action="store_true",
                      help="exit when no queued or running work remains (batch jobs, demos, tests)")
    parser.add_argument("--migrate-only", action="store_true",
                        help="create or upgrade the database schema, then exit")
    add_setting_argument(parser, "--debug", "debug", action="store_true", default=None)
    parser.add_argument("--save-logging", dest="save_logging", nargs="?", const="logs/headless.log",
                        metavar="FILE", help="also write the log to FILE (default logs/headless.log)")
    parser.add_argument("--delete-db", dest="delete_db", action="store_true",
                        help="delete the SQLite database file (every row in it) before starting; needs "
                             "--confirm-delete-db")
    parser.add_argument("--confirm-delete-db", dest="confirm_delete_db", action="store_true",
                        help="confirms --delete-db")
    add_setting_argument(parser, "--colour-match-videos", "colour_match_videos", action="store_true", default=None)
    add_setting_argument(parser, "--public-dir", "public_dir", metavar="DIR",
                         help="web-app mode: final artefacts move to DIR/files and rows store files/<name> "
                              "(relative DIR: beside the SQLite file)")
    add_original_flags(parser)
    render = parser.add_argument_group("rendering")
    add_setting_argument(render, "--engine", "engine", choices=("auto",) + ENGINES,
                         help="render engine (auto: diffusers on a GPU, else the random-weight tiny models); "
                              "preview: no model, the known frames morphed into each other, to check a run's "
                              "timing on a CPU")
    add_setting_argument(render, "--offload", "offload", choices=OFFLOAD_MODES,
                         help="CPU offload for GPUs with little memory")
    add_setting_argument(render, "--compile", "compile", action="store_true", default=None)
    add_setting_argument(render, "--attention", "attention", help="attention backend, e.g. sdpa, flash, sage")
    add_setting_argument(render, "--dtype", "dtype", choices=DTYPES,
                         help="weights precision (auto: bf16 on CUDA, fp32 on the CPU)")
    add_setting_argument(render, "--vae-tiling", "vae_tiling", action=argparse.BooleanOptionalAction, default=None,
                         help="decode the VAE in tiles to save GPU memory (not set: on when offloading)")
    add_wan2gp_arguments(parser)
    return parser


def add_original_flags(parser: OneLineArgumentParser) -> None:
    """Legacy worker flags that are gone (docs/MIGRATING.md); the rest are flags above."""
    parser.add_argument("--mask-active-frames", action="store_true", help=argparse.SUPPRESS)  # always so
    add_retired(parser, "--no-mask-active-frames", "travel segments always carry a mask video (docs/TRAVEL.md)",
                takes_value=False)
    add_retired(parser, "--apply-reward-lora", 'it is per task now: "apply_reward_lora": true in the params '
                "(travel: in orchestrator_details)", takes_value=False)
    add_retired(parser, "--booster_loras", "give LoRAs per task: additional_loras {file: strength} in the params",
                takes_value=False)
    add_retired(parser, "--tasks-file", "rows come from the database: queue them with add_task.py")


def delete_database(settings) -> None:
    """--delete-db: the SQLite file and its -wal/-shm companions (nothing else)."""
    if settings.db_type != "sqlite":
        die("--delete-db deletes a SQLite file; with DB_TYPE=" + settings.db_type + " delete rows in the database itself")
    for path in (settings.db_path, settings.db_path.with_name(settings.db_path.name + "-wal"),
                 settings.db_path.with_name(settings.db_path.name + "-shm")):
        if path.exists():
            path.unlink()
            logging.getLogger("headless").warning("--delete-db: removed %s", path)


def add_wan2gp_arguments(parser: OneLineArgumentParser) -> None:
    """--wan2gp-* (where Wan2GP is) and --wgp-* (Wan2GP's runtime options), for --engine wan2gp."""
    group = parser.add_argument_group("engine wan2gp (docs/ENGINES.md)")
    add_setting_argument(group, "--wan2gp-path", "wan2gp_path", help="a Wan2GP checkout (not set: ./Wan2GP)")
    add_setting_argument(group, "--wan2gp-python", "wan2gp_python")
    add_setting_argument(group, "--wan2gp-timeout", "wan2gp_timeout")
    for flag in WGP_FLAGS:
        choices, metavar = flag.choices, None
        if flag.name in WGP_FLAGS_TAKING_DEFAULT:  # "" accepted, not shown
            choices, metavar = flag.choices + (WGP_DEFAULT_VALUE,), "{" + ",".join(flag.choices) + "}"
        add_setting_argument(group, "--" + flag.name.replace("_", "-"), flag.name, choices=choices, metavar=metavar,
                             type=str)


def open_worker_queue(settings, log: logging.Logger):
    """open_queue_or_exit, except that a server that is full or starting up is waited for: in a fleet,
    a slot frees when another worker leaves."""
    from ..queue.model import DatabaseUnavailable, SchemaTooNew
    from ..queue.psycopg_connector import server_busy

    waiting_since: list[float] = []

    def busy(exc: BaseException) -> bool:
        if not (isinstance(exc, DatabaseUnavailable) and server_busy(exc)):
            return False
        if not waiting_since:
            waiting_since.append(time.monotonic())
            log.warning("waiting for the database: %s", scrub_secrets(str(exc), settings))
        return True

    try:
        queue = retrying(lambda: open_migrated_queue(settings), SERVER_BUSY, should_retry=busy, announce=False)
    except SchemaTooNew:
        raise
    except Exception:  # refused for another reason: the usual one line and exit 2
        return open_queue_or_exit(settings)
    if waiting_since:
        log.warning("database reached after %.1f s", time.monotonic() - waiting_since[0])
    return queue


def unused_wan2gp_flags(args, engine: Optional[str]) -> list[str]:
    """The --wgp-* / --wan2gp-* flags given on this command line when the worker's engine is not wan2gp."""
    if engine == "wan2gp":
        return []
    names = ("wan2gp_path", "wan2gp_python", "wan2gp_timeout") + WGP_FLAG_NAMES
    return ["--" + name.replace("_", "-") for name in names if getattr(args, name, None) is not None]


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in WGP_FLAGS_TAKING_DEFAULT:  # "" ("not set") leaves Wan2GP's default
        if getattr(args, name, None) == WGP_DEFAULT_VALUE:
            setattr(args, name, None)
    if args.delete_db and not args.confirm_delete_db:
        parser.error("--delete-db deletes the database file and every row in it: add --confirm-delete-db")
    try:
        settings = settings_from_args(args, WORKER_FLAG_NAMES)
    except CliError as exc:
        die(str(exc))
    from ..errors import EXIT_BROKEN
    from ..fleet import WorkerPresence
    from ..queue.model import SchemaTooNew
    from ..worker import Worker, make_worker_id

    worker_id = make_worker_id(settings.worker_id)
    setup_logging(settings.debug, worker_id, log_file=args.save_logging)
    if args.delete_db:
        delete_database(settings)
    log = logging.getLogger("headless")
    log.debug("settings: %s", settings.redacted())
    ignored = unused_wan2gp_flags(args, settings.engine)
    if ignored:
        log.warning("%s %s only for renders on the wan2gp engine; this worker's engine is %s (a task may still "
                    "ask for wan2gp)", ", ".join(ignored), "applies" if len(ignored) == 1 else "apply",
                    settings.engine or "auto")
    try:
        queue = open_worker_queue(settings, log)
    except SchemaTooNew as exc:  # a worker refuses it as its self-check would; --migrate-only is a bad argument
        if args.migrate_only:
            die(str(exc))
        die(f"self-check failed, nothing claimed: {exc}", code=EXIT_BROKEN)
    if args.migrate_only:
        where = f"sqlite {settings.db_path}" if settings.db_type == "sqlite" else settings.db_type
        log.info("%s: %s", where, queue.migration)
        queue.close()
        return 0
    if settings.engine == "wan2gp":  # a missing checkout or interpreter: one line now, not on every task
        from ..engines.wan2gp import check_wan2gp

        try:
            check_wan2gp(settings)
        except ValueError as exc:
            queue.close()
            die(str(exc))
    from ..selfcheck import SelfCheckFailed, run_selfcheck

    worker = Worker(settings, queue, worker_id=worker_id)
    presence = WorkerPresence(worker)
    presence.start(starting=True)   # shown at once as `starting`, while the self-check runs
    try:
        for line in run_selfcheck(settings, worker.queue):  # the worker's queue waits out an outage
            log.info("self-check: %s", line)
    except SelfCheckFailed as exc:
        presence.stop()
        queue.close()
        die(f"self-check failed, nothing claimed: {exc}", code=EXIT_BROKEN)
    presence.started()
    worker.install_signal_handlers()
    try:
        code = worker.run(once=args.once, until_idle=args.until_idle)
    finally:
        presence.stop()
        queue.close()
    if worker.abandoned_task:
        # the row is already back in the queue; don't wait at exit for a thread stuck in a GPU call
        logging.shutdown()
        os._exit(code)
    return code
