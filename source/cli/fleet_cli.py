"""`steerable_motion.py workers` (the workers registry as a table) and `steerable_motion.py dashboard`
(the web view of runs, rows, outputs and workers, with /metrics)."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict

from ..dashboard.pages import span
from ..queue.fleet import WorkerRecord, WorkerState
from .common import QUEUE_FLAG_NAMES, CliError, add_queue_arguments, open_queue_or_exit, settings_from_args

RECENT_WORKERS_S = 24 * 3600.0
ALL_WORKERS_S = 10 * 365 * 24 * 3600.0


def register_workers(subparsers) -> None:
    parser = subparsers.add_parser(
        "workers", help="the workers registry: who is up, what each is rendering",
        description="List the workers that registered with this queue: state (busy, idle, stopping, gone, "
                    "stopped), current task and progress, GPU, engine and model. A worker silent for three "
                    "of its lease periods shows as gone.")
    parser.add_argument("--all", action="store_true", help="also workers not seen in the last day")
    parser.add_argument("--json", action="store_true", help="one JSON object per worker, one per line")
    add_queue_arguments(parser)
    parser.set_defaults(func=workers_command)


def register_dashboard(subparsers) -> None:
    parser = subparsers.add_parser(
        "dashboard", help="a live web view of runs, their outputs and the workers (plus /metrics)",
        description="Serve a read-only web view of the queue: overview, runs with their videos, each run's "
                    "rows, the workers, and Prometheus metrics at /metrics. Binds 127.0.0.1 unless told "
                    "otherwise; any other address needs DASHBOARD_TOKEN (environment or .env).")
    parser.add_argument("--host", dest="dashboard_host", metavar="ADDRESS",
                        help="address to bind (env DASHBOARD_HOST; default 127.0.0.1)")
    parser.add_argument("--port", dest="dashboard_port", type=int, metavar="PORT",
                        help="port (env DASHBOARD_PORT; default 8765)")
    parser.add_argument("--output-roots", dest="dashboard_output_roots", metavar="FOLDERS",
                        help="comma-separated folders besides MAIN_OUTPUT_DIR whose files the page may play "
                             "(env DASHBOARD_OUTPUT_ROOTS)")
    add_queue_arguments(parser)
    parser.set_defaults(func=dashboard_command)


# ---- workers --------------------------------------------------------------------------------------------
def workers_command(args) -> int:
    settings = settings_from_args(args)
    queue = open_queue_or_exit(settings)
    try:
        workers = queue.list_workers(ALL_WORKERS_S if args.all else RECENT_WORKERS_S)
    finally:
        queue.close()
    if args.json:
        for worker in workers:
            print(json.dumps(dict(asdict(worker), shown_state=worker.shown_state), default=str))
        return 0
    print(format_workers(workers))
    return 0


def format_workers(workers: list[WorkerRecord]) -> str:
    if not workers:
        return "no worker has registered lately (--all lists older ones)"
    lines = [f"{'WORKER':<34} {'STATE':<9} {'TASK':<36} {'GPU':<26} {'ENGINE/MODEL':<22} {'TASKS':>5}  SEEN"]
    for w in workers:
        task = ""
        if w.current_task_id and w.shown_state in (WorkerState.BUSY, WorkerState.STOPPING):
            task = f"{w.current_task_type or 'task'} {100 * (w.current_progress or 0):.0f}%"
        gpu = w.gpu_name or "-"
        if w.gpu_name and w.gpu_memory_total_mb:
            used = f"{w.gpu_memory_used_mb / 1024:.0f}/" if w.gpu_memory_used_mb is not None else ""
            gpu += f" {used}{w.gpu_memory_total_mb / 1024:.0f}G"
        engine = "/".join(x for x in (w.engine, w.model) if x) or "-"
        lines.append(f"{w.worker_id:<34} {w.shown_state:<9} {task:<36} {gpu[:26]:<26} {engine[:22]:<22} "
                     f"{w.tasks_run:>5}  {span(w.silent_seconds)} ago")
    return "\n".join(lines)


# ---- dashboard ------------------------------------------------------------------------------------------
def dashboard_command(args) -> int:
    from ..dashboard.access import binding_problem

    settings = settings_from_args(args, QUEUE_FLAG_NAMES + ("dashboard_host", "dashboard_port",
                                                           "dashboard_output_roots"))
    problem = binding_problem(settings.dashboard_host, settings.dashboard_token)
    if problem:
        raise CliError(problem)
    if not 0 < settings.dashboard_port < 65536:
        raise CliError(f"--port must be between 1 and 65535, got {settings.dashboard_port}")
    queue = open_queue_or_exit(settings)
    try:
        return serve(settings, queue)
    finally:
        queue.close()


def serve(settings, queue) -> int:
    import uvicorn

    from ..dashboard.app import create_app

    app = create_app(settings, queue)
    config = uvicorn.Config(app, host=settings.dashboard_host, port=settings.dashboard_port,
                            log_level="warning", access_log=False, server_header=False)
    server = uvicorn.Server(config)
    from ..log import setup_logging

    setup_logging(worker_id="dashboard")   # the actions' log lines (source/dashboard/app.py)
    host = f"[{settings.dashboard_host}]" if ":" in settings.dashboard_host else settings.dashboard_host
    print(f"dashboard on http://{host}:{settings.dashboard_port}/ ({settings.db_type} queue"
          f"{', token required' if settings.dashboard_token else ''}); Ctrl-C stops it", flush=True)
    server.run()
    if not server.started:
        print(f"error: could not serve on {host}:{settings.dashboard_port} (in use?)", file=sys.stderr)
        return 2
    return 0

