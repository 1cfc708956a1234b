-- 110: the workers registry, and an index for listing runs newest first.
--
-- Each worker process registers a row at start and beats it while idle as well as busy; a clean exit
-- marks it stopped. A row whose last beat is older than a few of its own lease periods reads as gone
-- (source/queue/fleet.py decides that; nothing here changes a row on a clock). Timestamps are UTC
-- text, as in 001_schema.sql.

CREATE TABLE IF NOT EXISTS wq_workers (
    worker_id           TEXT PRIMARY KEY,
    host                TEXT NOT NULL,
    pid                 INTEGER,
    gpu_name            TEXT,
    gpu_memory_total_mb INTEGER,
    gpu_memory_used_mb  INTEGER,
    engine              TEXT,
    model               TEXT,
    version             TEXT,
    task_types          TEXT,
    lease_seconds       REAL NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('idle', 'busy', 'stopping', 'stopped')),
    current_task_id     TEXT,
    tasks_run           INTEGER NOT NULL DEFAULT 0,
    started_at          TEXT NOT NULL,
    last_seen_at        TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS wq_workers_by_last_seen ON wq_workers (last_seen_at);

-- A run is listed by its root row (the one no orchestrator fanned out); newest first. The columns never
-- change after the insert, so the index costs nothing on claims and status changes.
CREATE INDEX IF NOT EXISTS tasks_roots ON tasks (created_at) WHERE parent_task_id IS NULL;
