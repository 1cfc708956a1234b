#!/usr/bin/env python3
"""Print the Postgres migrations as one SQL script, for a Supabase project's SQL editor.

    .venv/bin/python scripts/supabase_sql.py > supabase_install.sql

The same files `headless.py --migrate-only` applies with DB_TYPE=postgres, in the same order, in one
transaction. Each migration is idempotent, so pasting the script again after an upgrade is safe. A
project set up with the original tool's README SQL is upgraded by it too, every row kept
(docs/MIGRATING.md).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from source.queue.sqlfiles import install_sql  # noqa: E402

if __name__ == "__main__":
    sys.stdout.write(install_sql())
