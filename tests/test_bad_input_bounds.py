"""Bad input is refused the same way on every backend (SPEC §9, docs/LIMITS.md): one stderr line naming
the field or limit, exit 2, no traceback, nothing queued; a row an app wrote past a limit is Failed by
the worker with the same line; a limit raised in the environment lets the value through.

Real processes (add_task.py, steerable_motion.py, headless.py) against real SQLite files, PostgreSQL and
PostgREST (the `backend` fixture, tests/helpers/workers.py). The command lines of one backend run side
by side to keep this quick.
"""
from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from source.queue.model import MAX_ID_LENGTH, PARAMS_TOO_DEEP, NewTask, Status
from source.workflows.registry import known_task_types, parse_params

from .helpers.workers import PYTHON, ROOT, wait_for_status, wait_terminal

ANCHORS = ["samples/anchor_0.png", "samples/anchor_1.png"]
TRAVEL = ["steerable_motion.py", "travel_between_images", "--input_images", *ANCHORS, "--base_prompts", "a",
          "--model_name", "tiny"]
LIMIT = "raise it in the environment or .env"


def add_task(task_type: str, params, *flags: str) -> list[str]:
    text = params if isinstance(params, str) else json.dumps(params)
    return ["add_task.py", "--type", task_type, "--params", text, *flags]


def bad_inputs(tmp_path, every_task_type: bool) -> list[tuple[str, list[str], str]]:
    """(name, command line, what the one line must say). The params of a task type are checked before the
    queue is opened, the same code on every backend: `every_task_type` (on one backend) adds an empty
    and a non-object params of each."""
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"prompt": "x" * (1024 * 1024 + 1)}))
    cases = [
        ("priority", add_task("noop", {}, "--priority", "99999999999999999999"), "--priority must be between"),
        ("max attempts", add_task("noop", {}, "--max-attempts", "99999999999"), "--max-attempts must be an integer"),
        ("nesting", add_task("noop", "[" * 5000 + "]" * 5000), PARAMS_TOO_DEEP),
        ("nesting in params", add_task("noop", {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}),
         PARAMS_TOO_DEEP),
        ("size", ["add_task.py", "--type", "noop", "--params", f"@{big}"], "above the limit of 1048576"),
        ("NUL", add_task("noop", {"output": "a\u0000b"}), "NUL character"),
        ("empty id", add_task("noop", {}, "--id", ""), "--id must not be empty"),
        ("blank id", add_task("noop", {}, "--id", "   "), "--id must not be empty"),
        ("spaced id", add_task("noop", {}, "--id", " a"), "--id ' a' has spaces at its start or end"),
        ("newline id", add_task("noop", {}, "--id", "a\nb"), "is not printable"),
        ("long id", add_task("noop", {}, "--id", "a" * (MAX_ID_LENGTH + 1)), f"above the limit of {MAX_ID_LENGTH}"),
        ("params.task_id", add_task("noop", {"task_id": "a\tb"}), "id 'a\\tb' contains a character"),
        ("wgp frames", add_task("wgp", {"model": "tiny", "prompt": "x", "frames": 100000000}),
         f"frames 100000000 is above the limit of 241 (MAX_FRAMES; {LIMIT})"),
        ("wgp resolution", add_task("wgp", {"model": "tiny", "prompt": "x", "resolution": "100000x100000"}),
         "resolution 100000x100000 is above the limit of 1920 pixels per side (MAX_RESOLUTION_SIDE"),
        ("wgp pixels", add_task("wgp", {"model": "tiny", "prompt": "x", "resolution": "1920x1920"}),
         "resolution 1920x1920 is above the limit of 2088960 pixels per frame (MAX_RESOLUTION_PIXELS"),
        ("wgp steps", add_task("wgp", {"model": "tiny", "prompt": "x", "steps": 1e9}),
         "steps 1000000000 is above the limit of 200 (MAX_STEPS"),
        ("wgp guidance nan", add_task("wgp", '{"model": "tiny", "guidance_scale": NaN}'), "guidance_scale must be a finite"),
        ("wgp guidance", add_task("wgp", {"model": "tiny", "guidance_scale": 1000}), "guidance_scale must be <= 100"),
        ("wgp seed", add_task("wgp", {"model": "tiny", "seed": 2 ** 64}), "seed must be <= 9223372036854775807"),
        ("upscale", add_task("upscale", {"input_image_path": ANCHORS[0], "upscale_factor": 1e6}),
         "upscale_factor 1000000 is above the limit of 4 (MAX_UPSCALE_FACTOR"),
        ("interpolate frames", add_task("rife_interpolate_images", {
            "input_image_path1": ANCHORS[0], "input_image_path2": ANCHORS[1], "frames": 5000,
            "resolution": "64x64"}), "frames 5000 is above the limit of 241 (MAX_FRAMES"),
        ("noop sleep", add_task("noop", {"sleep": 1e308}), "sleep 1e+308 is above the limit of 3600 (MAX_SLEEP"),
        ("travel priority", [*TRAVEL, "--priority", "99999999999999999999"], "--priority must be between"),
        ("travel resolution", [*TRAVEL, "--resolution", "100000x100000"],
         "--resolution 100000x100000 is above the limit of 1920 pixels per side"),
        ("travel frames", [*TRAVEL, "--segment_frames", "100000000"],
         f"--segment_frames 100000000 is above the limit of 241 (MAX_FRAMES; {LIMIT})"),
        ("travel run frames", [*TRAVEL[:3], *ANCHORS * 5, *TRAVEL[5:], "--segment_frames", "240"],
         "--segment_frames total 2160 is above the limit of 2000 (MAX_RUN_FRAMES"),
        ("travel upscale", [*TRAVEL, "--upscale_factor", "1e6"], "--upscale_factor 1000000 is above the limit of 4"),
        ("travel run id", [*TRAVEL, "--run_id", "a/../\x07"], "--run_id"),
        # numbers too large to convert to a float
        ("400 digits", add_task("noop", '{"sleep": ' + "9" * 400 + "}"), "sleep must be a finite number"),
        ("400 digits lora", add_task("wgp", '{"model": "tiny", "additional_loras": {"x": ' + "9" * 400 + "}}"),
         "additional_loras.x must be a finite number"),
        ("400 digits travel", [*TRAVEL, "--params_json_str", '{"flow_shift": ' + "9" * 400 + "}"], "flow_shift"),
        # paths outside the worker's folders (tests/test_row_paths.py: every such parameter)
        ("marker file", add_task("noop", {"marker_file": str(tmp_path / ".bashrc")}),
         "marker_file must be inside the worker's output folders"),
        ("input outside", add_task("upscale", {"input_image_path": "/etc/hostname", "upscale_factor": 2}),
         "input_image_path must be an http(s) URL or a file inside the input folders"),
        ("travel image outside", [*TRAVEL[:3], "/etc/hostname", *TRAVEL[4:]], "--input_images[0] must be an http(s)"),
        ("travel output outside", [*TRAVEL, "--output_dir", str(tmp_path / "elsewhere")],
         "--output_dir must be inside the worker's output folders"),
    ]
    if every_task_type:
        # every task type is checked at enqueue: none accepts an empty object but noop (all defaults) and
        # the one-generation types (a row without model renders t2v, docs/MIGRATING.md)
        cases += [(f"{task_type} empty", add_task(task_type, {}), "") for task_type in known_task_types()
                  if task_type not in ("noop", "wgp", "single_image", "standard_wgp_task")]
        cases += [(f"{task_type} list", add_task(task_type, "[]"), "must be a JSON object")
                  for task_type in known_task_types()]
    return cases


def run_side_by_side(backend, commands: list[list[str]], **env) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen([PYTHON, *command], cwd=ROOT, env=backend.process_env(**env), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for command in commands]
    results = []
    for command, proc in zip(commands, procs):
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return results


def row_count(queue) -> int:
    return sum(count.rows for count in queue.status_counts())


def test_bad_input_is_one_line_exit_2_and_queues_nothing(backend, tmp_path):
    queue = backend.queue()
    assert backend.run_cli("add_task.py", "--type", "noop", "--id", "abc").returncode == 0
    before = row_count(queue)
    cases = bad_inputs(tmp_path, every_task_type=backend.name == "sqlite")
    results = run_side_by_side(backend, [command for _, command, _ in cases] +
                               [["add_task.py", "--type", "noop", "--id", "abc"]])
    cases.append(("existing id", [], "a task with id abc already exists"))
    failures = []
    for (name, _, expected), result in zip(cases, results):
        lines = result.stderr.splitlines()
        if (result.returncode != 2 or len(lines) != 1 or not lines[0].startswith("error: ")
                or expected not in lines[0] or "Traceback" in result.stderr or result.stdout):
            failures.append(f"{name}: exit {result.returncode}, stdout {result.stdout!r}, stderr {result.stderr!r}")
    assert not failures, "\n".join(failures)
    assert row_count(queue) == before
    assert queue.get("abc").params == parse_params("noop", {}).to_json()  # the normalised dump of {}


def test_a_raised_limit_lets_the_value_through(backend):
    results = run_side_by_side(backend, [
        add_task("wgp", {"model": "tiny", "prompt": "x", "frames": 300}),
        add_task("noop", {"sleep": 4000}),
    ], MAX_FRAMES="301", MAX_SLEEP="4000")
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]


def insert_deep_row(backend) -> str | None:
    """A row nested 5000 levels deep written straight into the table, as an app may, past every client
    check: SQLite stores it (its id is returned, for the worker to fail); PostgreSQL refuses it with the
    clients' message (sql/postgres/150_params_limits.sql)."""
    task_id, text = f"deep-{uuid.uuid4().hex[:8]}", '{"a": ' + "[" * 5000 + "]" * 5000 + "}"
    if backend.name == "sqlite":
        import sqlite3

        with sqlite3.connect(backend.env["SQLITE_DB_PATH"]) as conn:
            conn.execute("INSERT INTO tasks (id, task_type, params) VALUES (?, 'noop', ?)", (task_id, text))
        return task_id
    import psycopg

    dsn = backend.env.get("DATABASE_URL") or backend.stack.database_url
    with psycopg.connect(dsn, autocommit=True) as conn, pytest.raises(psycopg.errors.InvalidParameterValue) as refused:
        conn.execute("INSERT INTO tasks (id, task_type, params) VALUES (%s, 'noop', %s::jsonb)", (task_id, text))
    assert refused.value.diag.message_primary == PARAMS_TOO_DEEP
    return None


def test_rows_past_a_limit_fail_in_the_worker_with_the_enqueue_message(backend):
    queue = backend.queue()
    [over] = queue.enqueue([NewTask("noop", {"sleep": 1e308})])
    [frames] = queue.enqueue([NewTask("wgp", {"model": "tiny", "prompt": "x", "frames": 100000000})])
    deep = insert_deep_row(backend)
    [fine] = queue.enqueue([NewTask("noop", {"output": "still served"})])
    # rows an app wrote past the client: a path outside the output folders, a 400-digit number
    marker = backend.tmp / "outside" / "marker.txt"
    [outside] = queue.enqueue([NewTask("noop", {"marker_file": str(marker)})])
    [digits] = queue.enqueue([NewTask("noop", {"sleep": 10 ** 400})])
    worker = backend.start_worker("--until-idle", "--engine", "tiny")
    assert worker.wait(timeout=90) == 0, worker.log_path.read_text()[-3000:]
    assert wait_terminal(queue, over).error_message == \
        f"sleep 1e+308 is above the limit of 3600 (MAX_SLEEP; {LIMIT})"
    assert wait_terminal(queue, frames).error_message == \
        f"frames 100000000 is above the limit of 241 (MAX_FRAMES; {LIMIT})"
    if deep is not None:
        assert wait_terminal(queue, deep).error_message == PARAMS_TOO_DEEP
    assert wait_terminal(queue, outside).error_message.startswith(
        "marker_file must be inside the worker's output folders (")
    assert not marker.exists()
    assert wait_terminal(queue, digits).error_message == "sleep must be a finite number, got an integer of 401 digits"
    assert all(queue.get(t).status == Status.FAILED for t in (over, frames, deep, outside, digits) if t)
    assert wait_terminal(queue, fine).status == Status.COMPLETE
    assert "Traceback" not in worker.log_path.read_text()

    # the same kind of row, within a limit the worker's environment raised, runs
    [raised] = queue.enqueue([NewTask("noop", {"sleep": 3700})])
    backend.start_worker("--once", "--engine", "tiny", MAX_SLEEP="3700")
    wait_for_status(queue, raised, Status.IN_PROGRESS, timeout=60)
    backend.stop_all()
