-- The original tool's SQLite table (its source/db_operations.py, _init_db_sqlite), as an existing
-- tasks.db holds it (test data). Rows: id, task_type, params (JSON text), status, dependant_on (one id),
-- output_location (a Failed row's reason was written here), created_at (local time, no zone),
-- updated_at (UTC ISO with a Z), project_id.
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    task_type TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'Queued',
    dependant_on TEXT NULL,
    output_location TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NULL,
    project_id TEXT NOT NULL,
    FOREIGN KEY (project_id) REFERENCES projects(id)
);
CREATE INDEX IF NOT EXISTS idx_status_created ON tasks(status, created_at);
CREATE INDEX IF NOT EXISTS idx_dependant_on ON tasks(dependant_on);
