#!/usr/bin/env bash
# The main job on the embedded default: a SQLite queue (demo.db) and, without a GPU or weights, the
# random-weight tiny models. Queues a travel between the three sample images, drains the queue with one
# worker, and prints the final video's path.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export SQLITE_DB_PATH=${SQLITE_DB_PATH:-demo.db}
export MAIN_OUTPUT_DIR=${MAIN_OUTPUT_DIR:-outputs}
run_id=$($PY steerable_motion.py travel_between_images \
    --input_images samples/anchor_0.png samples/anchor_1.png samples/anchor_2.png \
    --base_prompts "a valley at dusk, the sun setting behind green hills" \
    --resolution 256x256 --segment_frames 33 --frame_overlap 8 --model_name vace_14B --seed 123 | tail -n 1)
$PY headless.py --until-idle
$PY steerable_motion.py status "$run_id"
