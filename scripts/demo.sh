#!/usr/bin/env bash
# The main job: queue work on the default SQLite queue (demo.db) and let one worker drain it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export SQLITE_DB_PATH=${SQLITE_DB_PATH:-demo.db}
export MAIN_OUTPUT_DIR=${MAIN_OUTPUT_DIR:-outputs}
id=$($PY add_task.py --type noop --params '{"output": "hello from the demo"}')
echo "queued task $id"
$PY headless.py --until-idle
$PY add_task.py --status "$id"
