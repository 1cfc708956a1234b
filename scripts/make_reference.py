#!/usr/bin/env python3
"""Write docs/TASKS.md, the parameter reference, from the params models.

    .venv/bin/python scripts/make_reference.py          # rewrite docs/TASKS.md and the table of docs/LIMITS.md
    .venv/bin/python scripts/make_reference.py --check  # exit 1 if either is stale

The text comes from source/workflows/reference.py (which `add_task.py --type T --describe` also prints), so a
new field, range or alias in a params model reaches the reference by running this script.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from source.engines.models import model_names  # noqa: E402
from source.workflows.reference import all_references, limits_table, markdown, with_limits_table  # noqa: E402

TASKS_MD = ROOT / "docs" / "TASKS.md"
LIMITS_MD = ROOT / "docs" / "LIMITS.md"


def reference_text() -> str:
    return markdown(all_references(), model_names())


def limits_text() -> str:
    return with_limits_table(LIMITS_MD.read_text(encoding="utf-8"), limits_table(all_references()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether docs/TASKS.md is current")
    args = parser.parse_args()
    written = {TASKS_MD: reference_text(), LIMITS_MD: limits_text()}
    if args.check:
        stale = [path for path, text in written.items()
                 if (path.read_text(encoding="utf-8") if path.is_file() else "") != text]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run .venv/bin/python scripts/make_reference.py", file=sys.stderr)
        return 1 if stale else 0
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
