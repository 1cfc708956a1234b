#!/usr/bin/env bash
# `make demo`: a travel between the three sample images on a CPU, in seconds, with no model: a SQLite
# queue (demo.db) and the preview engine, which keeps the anchors at the frames the plan puts them and
# morphs between them (source/engines/preview.py). Queues the run, drains the queue with one worker,
# shows the run's rows, and ends with the final video's path on its own last line.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export SQLITE_DB_PATH=${SQLITE_DB_PATH:-demo.db}
export MAIN_OUTPUT_DIR=${MAIN_OUTPUT_DIR:-outputs}
run_id=$($PY steerable_motion.py travel_between_images \
    --input_images samples/anchor_0.png samples/anchor_1.png samples/anchor_2.png \
    --base_prompts "a valley from dawn to dusk, the sun crossing the sky" \
    --resolution 256x256 --segment_frames 33 --frame_overlap 8 --seed 123)
$PY headless.py --until-idle --engine preview
$PY steerable_motion.py status "$run_id"
$PY steerable_motion.py wait "$run_id"
