"""The original tool's queues and payloads, built from the test data in tests/data/original_tool/."""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data" / "original_tool"


def sqlite_seed_queue(path: Path, rows: Iterable[dict]) -> int:
    """A tasks.db as the original tool left it, holding `rows` (its columns); returns the row count."""
    conn = sqlite3.connect(path)
    conn.executescript((DATA / "sqlite_tasks.sql").read_text())
    for row in rows:
        row = dict(row)
        if not isinstance(row.get("params"), str):
            row["params"] = json.dumps(row.get("params", {}))
        conn.execute(f"INSERT INTO tasks ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))
    conn.commit()
    count = conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
    conn.close()
    return count


def supabase_seed_queue(dsn: str, rows: Iterable[dict], extra_columns: Iterable[str] = ()) -> int:
    """The README's Supabase set-up in the database `dsn`, holding `rows`; `extra_columns` (e.g.
    "dependant_on TEXT") as deployments that followed the original code's notes added. Row count."""
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute((DATA / "readme_supabase.sql").read_text())
        for column in extra_columns:
            conn.execute(f"ALTER TABLE tasks ADD COLUMN {column}")
        for row in rows:
            row = {k: Jsonb(v) if k == "params" else v for k, v in row.items()}
            conn.execute(f"INSERT INTO tasks ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                         list(row.values()))
        return conn.execute("SELECT count(*) FROM tasks").fetchone()[0]


def without_comments(text: str) -> str:
    """JSON from the README's example: its // line comments and /* */ comments removed, and the trailing
    commas they leave."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    return re.sub(r",(\s*[}\]])", r"\1", text)


def readme_travel_params(images: list[str], output_dir: str, **overrides: Any) -> dict:
    """The README's travel_orchestrator params, paths replaced by real ones (and `overrides` merged into
    orchestrator_details)."""
    params = json.loads(without_comments((DATA / "readme_travel_params.jsonc").read_text()))
    details = params["orchestrator_details"]
    details["input_image_paths_resolved"] = images
    details["main_output_dir_for_run"] = output_dir
    details.update(overrides)
    return params


def perspective_params(image: str, **overrides: Any) -> dict:
    params = json.loads((DATA / "different_perspective_params.json").read_text())
    params["input_image_path"] = image
    params.update(overrides)
    return params


def colour_image(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> Path:
    from source.media import video_io

    return video_io.save_png(np.full((size[1], size[0], 3), rgb, np.uint8), path)


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sqlite_rows(path: Path, table: str = "tasks", where: Optional[str] = None) -> list[dict]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute(f"SELECT * FROM {table}" + (f" WHERE {where}" if where else ""))]
    conn.close()
    return rows
