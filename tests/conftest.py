"""Shared test set-up: fixtures from tests/helpers (registered as plugins), offline Hugging Face.

Fixtures available to every test: `tiny_settings` (helpers/bridge.py), `backend` (helpers/workers.py),
`queue_factory` and `postgres_databases` (helpers/queue.py), `browser` (helpers/dashboard.py).
"""
import os

pytest_plugins = ["tests.helpers.bridge", "tests.helpers.queue", "tests.helpers.workers",
                  "tests.helpers.dashboard", "tests.helpers.pgbouncer"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
