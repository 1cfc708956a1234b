-- 182: indexes for the fleet's read-only views (/metrics, the overview): rows by type and status read
-- from an index alone, and the oldest Queued row and the rows that ended lately found without a scan.

CREATE INDEX IF NOT EXISTS tasks_by_type_status ON tasks (task_type, status);
CREATE INDEX IF NOT EXISTS tasks_by_status_created ON tasks (status, created_at);
