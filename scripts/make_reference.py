#!/usr/bin/env python3
"""Write docs/TASKS.md, the parameter reference, from the params models.

    .venv/bin/python scripts/make_reference.py          # rewrite docs/TASKS.md
    .venv/bin/python scripts/make_reference.py --check  # exit 1 if docs/TASKS.md is stale

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
from source.workflows.reference import all_references, markdown  # noqa: E402

TASKS_MD = ROOT / "docs" / "TASKS.md"


def reference_text() -> str:
    return markdown(all_references(), model_names())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether docs/TASKS.md is current")
    args = parser.parse_args()
    text = reference_text()
    if args.check:
        current = TASKS_MD.read_text(encoding="utf-8") if TASKS_MD.is_file() else ""
        if current != text:
            print(f"{TASKS_MD.relative_to(ROOT)} is stale: run .venv/bin/python scripts/make_reference.py",
                  file=sys.stderr)
            return 1
        return 0
    TASKS_MD.write_text(text, encoding="utf-8")
    print(TASKS_MD)
    return 0


if __name__ == "__main__":
    sys.exit(main())
