-- 184: a worker is registered as `starting` the moment it starts, while its self-check runs (seconds), then
-- beats `idle`. The state's CHECK gains the value; SQLite cannot alter a CHECK, so the table is rebuilt.

CREATE TABLE wq_workers_184 (
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
    state               TEXT NOT NULL CHECK (state IN ('starting', 'idle', 'busy', 'stopping', 'stopped')),
    current_task_id     TEXT,
    tasks_run           INTEGER NOT NULL DEFAULT 0,
    started_at          TEXT NOT NULL,
    last_seen_at        TEXT NOT NULL
);
INSERT INTO wq_workers_184 (worker_id, host, pid, gpu_name, gpu_memory_total_mb, gpu_memory_used_mb, engine, model,
                            version, task_types, lease_seconds, state, current_task_id, tasks_run, started_at,
                            last_seen_at)
SELECT worker_id, host, pid, gpu_name, gpu_memory_total_mb, gpu_memory_used_mb, engine, model, version, task_types,
       lease_seconds, state, current_task_id, tasks_run, started_at, last_seen_at
FROM wq_workers;
DROP TABLE wq_workers;
ALTER TABLE wq_workers_184 RENAME TO wq_workers;
CREATE INDEX IF NOT EXISTS wq_workers_by_last_seen ON wq_workers (last_seen_at);
