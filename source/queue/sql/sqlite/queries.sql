-- Every statement the SQLite backend runs, each under a `-- name: <name>` header with one line saying
-- what it does. Parameters are named (:now, :worker_id, ...). Timestamps are passed in by the backend
-- (UTC text with microseconds); the triggers in 001_schema.sql do the cascades.

-- name: claim
-- Take the best eligible row (Queued, not scheduled for later, no unmet dependency): priority desc,
-- then age; among the first :window candidates, rows for :prefer_model go first within a priority.
UPDATE tasks SET
    status = 'In Progress',
    worker_id = :worker_id,
    attempts = attempts + 1,
    lease_expires_at = :lease_until,
    scheduled_at = NULL,
    progress = NULL,
    progress_message = NULL,
    started_at = :now,
    updated_at = :now
WHERE id = (
    SELECT id FROM (
        SELECT id, priority, created_at, rowid AS seq,
               CASE WHEN :prefer_model IS NOT NULL AND json_valid(params) AND json_type(params) = 'object'
                    THEN coalesce(json_extract(params, '$.model') = :prefer_model
                                  OR json_extract(params, '$.model_name') = :prefer_model, 0)
                    ELSE 0 END AS preferred
        FROM tasks
        WHERE status = 'Queued' AND unmet_dependencies = 0
          AND (scheduled_at IS NULL OR scheduled_at <= :now)
          AND (:task_types IS NULL OR task_type IN (SELECT value FROM json_each(:task_types)))
        ORDER BY priority DESC, created_at, rowid
        LIMIT :window)
    ORDER BY priority DESC, preferred DESC, created_at, seq
    LIMIT 1)
RETURNING *, CASE WHEN json_valid(params) THEN json_type(params) ELSE 'invalid JSON' END AS params_kind;

-- name: fail_unreadable_params
-- A claimed row whose params are not a JSON object fails at once (cascading like any failure).
UPDATE tasks SET status = 'Failed', error_message = :error_message, lease_expires_at = NULL,
                 finished_at = :now, updated_at = :now
WHERE id = :task_id AND status = 'In Progress';

-- name: heartbeat
-- Extend the lease of an attempt this worker still owns.
UPDATE tasks SET lease_expires_at = :lease_until, updated_at = :now
WHERE id = :task_id AND worker_id = :worker_id AND attempts = :attempt
  AND status = 'In Progress' AND awaiting_task_id IS NULL;

-- name: progress
-- Record progress of an attempt this worker still owns.
UPDATE tasks SET progress = :progress, progress_message = :message, updated_at = :now
WHERE id = :task_id AND worker_id = :worker_id AND attempts = :attempt
  AND status = 'In Progress' AND awaiting_task_id IS NULL;

-- name: complete
-- Complete an attempt this worker still owns (the trigger wakes dependants and awaiting orchestrators).
UPDATE tasks SET status = 'Complete', output_location = :output_location, error_message = NULL,
                 progress = 1.0, lease_expires_at = NULL, finished_at = :now, updated_at = :now
WHERE id = :task_id AND worker_id = :worker_id AND attempts = :attempt
  AND status = 'In Progress' AND awaiting_task_id IS NULL;

-- name: fail
-- Fail an attempt this worker still owns: back to Queued after :delay_until when a retry is asked for
-- and attempts remain, else Failed (the trigger cascades).
UPDATE tasks SET
    status = CASE WHEN :retry AND attempts < max_attempts THEN 'Queued' ELSE 'Failed' END,
    scheduled_at = CASE WHEN :retry AND attempts < max_attempts THEN :delay_until END,
    worker_id = CASE WHEN :retry AND attempts < max_attempts THEN NULL ELSE worker_id END,
    finished_at = CASE WHEN :retry AND attempts < max_attempts THEN NULL ELSE :now END,
    error_message = :error_message,
    lease_expires_at = NULL,
    updated_at = :now
WHERE id = :task_id AND worker_id = :worker_id AND attempts = :attempt
  AND status = 'In Progress' AND awaiting_task_id IS NULL;

-- name: release
-- Give back an attempt this worker still owns: Queued again, the attempt not counted.
UPDATE tasks SET status = 'Queued', attempts = attempts - 1, worker_id = NULL, lease_expires_at = NULL,
                 started_at = NULL, progress = NULL, progress_message = NULL, updated_at = :now
WHERE id = :task_id AND worker_id = :worker_id AND attempts = :attempt
  AND status = 'In Progress' AND awaiting_task_id IS NULL;

-- name: owns
-- Whether this worker still owns the attempt (fan-out checks it before inserting children).
SELECT 1 FROM tasks
WHERE id = :task_id AND worker_id = :worker_id AND attempts = :attempt
  AND status = 'In Progress' AND awaiting_task_id IS NULL;

-- name: await
-- Leave the orchestrator In Progress without a lease, awaiting :awaited_task_id.
UPDATE tasks SET awaiting_task_id = :awaited_task_id, lease_expires_at = NULL, updated_at = :now
WHERE id = :task_id AND worker_id = :worker_id AND attempts = :attempt
  AND status = 'In Progress' AND awaiting_task_id IS NULL;

-- name: end_if_awaited_ended
-- The awaited row had already ended (a re-run after a crash): the orchestrator ends the same way now.
UPDATE tasks SET
    status = awaited.status,
    output_location = CASE WHEN awaited.status = 'Complete' THEN awaited.output_location END,
    error_message = CASE WHEN awaited.status = 'Complete' THEN NULL
                         ELSE 'awaited task ' || awaited.id || ' ' || lower(awaited.status) || ': ' ||
                              coalesce(awaited.error_message, lower(awaited.status)) END,
    progress = CASE WHEN awaited.status = 'Complete' THEN 1.0 ELSE tasks.progress END,
    finished_at = :now,
    updated_at = :now
FROM tasks AS awaited
WHERE tasks.id = :task_id AND tasks.status = 'In Progress' AND awaited.id = tasks.awaiting_task_id
  AND awaited.status IN ('Complete', 'Failed', 'Cancelled');

-- name: sweep_expired
-- Rows whose lease expired: Queued again while attempts remain, else Failed saying the worker was lost.
UPDATE tasks SET
    status = CASE WHEN attempts < max_attempts THEN 'Queued' ELSE 'Failed' END,
    error_message = 'worker ' || coalesce(worker_id, '?') || ' was lost (lease expired) after ' ||
                    attempts || CASE WHEN attempts = 1 THEN ' attempt' ELSE ' attempts' END,
    worker_id = CASE WHEN attempts < max_attempts THEN NULL ELSE worker_id END,
    finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE :now END,
    lease_expires_at = NULL,
    updated_at = :now
WHERE status = 'In Progress' AND lease_expires_at < :now;

-- name: cancel
-- Cancel a row that has not ended (the trigger cancels what it fanned out and its dependants).
UPDATE tasks SET status = 'Cancelled', error_message = :reason, lease_expires_at = NULL,
                 finished_at = :now, updated_at = :now
WHERE id = :task_id AND status IN ('Queued', 'In Progress');

-- name: retry_reach
-- The rows a retry of :task_id puts back: the row when it ended Failed/Cancelled, and every Failed or
-- Cancelled row reached from it through dependants, awaiting orchestrators and fanned-out rows
-- (sql/postgres/180_operator_actions.sql says why).
WITH RECURSIVE reach(id) AS (
    SELECT id FROM tasks WHERE id = :task_id AND status IN ('Failed', 'Cancelled')
    UNION
    SELECT t.id FROM reach AS r JOIN task_dependencies AS d ON d.depends_on = r.id
    JOIN tasks AS t ON t.id = d.task_id WHERE t.status IN ('Failed', 'Cancelled')
    UNION
    SELECT t.id FROM reach AS r JOIN tasks AS t ON t.awaiting_task_id = r.id
    WHERE t.status IN ('Failed', 'Cancelled')
    UNION
    SELECT t.id FROM reach AS r JOIN tasks AS t ON t.parent_task_id = r.id
    WHERE t.status IN ('Failed', 'Cancelled'))
SELECT id FROM reach;

-- name: retry_awaiting
-- Retried orchestrators that had fanned out wait again for the same row (first, so the summaries of
-- their children's changes land on them).
UPDATE tasks SET status = 'In Progress', worker_id = NULL, lease_expires_at = NULL, finished_at = NULL,
                 progress_message = :note, updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND awaiting_task_id IS NOT NULL
  AND status IN ('Failed', 'Cancelled');

-- name: retry_queued
-- Every other retried row: Queued, attempts reset; its last error stays (history).
UPDATE tasks SET status = 'Queued', attempts = 0, worker_id = NULL, lease_expires_at = NULL,
                 scheduled_at = NULL, started_at = NULL, finished_at = NULL, progress = NULL,
                 progress_message = :note, updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND awaiting_task_id IS NULL
  AND status IN ('Failed', 'Cancelled');

-- name: requeue_expired
-- A row In Progress past its lease is Queued again now (the attempt counts, as a sweep would count it).
UPDATE tasks SET status = 'Queued', worker_id = NULL, lease_expires_at = NULL, scheduled_at = NULL,
                 started_at = NULL, progress = NULL, progress_message = :note,
                 error_message = 'worker ' || coalesce(worker_id, '?') || ' was lost (lease expired)',
                 updated_at = :now
WHERE id = :task_id AND status = 'In Progress' AND awaiting_task_id IS NULL AND lease_expires_at < :now;

-- name: cancelled_count
-- How many rows have been cancelled so far (the event counter), to tell how many one cancel reached.
SELECT coalesce(sum(n), 0) FROM wq_task_events WHERE event = 'cancelled';

-- name: insert
-- Insert one row; an existing id is left as it is (idempotent fan-out).
INSERT INTO tasks (id, task_type, params, dependant_on, run_id, project_id, parent_task_id, priority,
                   max_attempts, created_at, updated_at)
VALUES (:id, :task_type, :params, :dependant_on, :run_id, :project_id, :parent_task_id, :priority,
        :max_attempts, :now, :now)
ON CONFLICT (id) DO NOTHING;

-- name: existing_ids
-- Which of the ids in the JSON list :ids exist.
SELECT id FROM tasks WHERE id IN (SELECT value FROM json_each(:ids));

-- name: get
-- One row.
SELECT * FROM tasks WHERE id = :task_id;

-- name: claimed_by
-- Rows this worker holds under a lease, newest first (after a claim whose answer was lost).
SELECT * FROM tasks
WHERE status = 'In Progress' AND worker_id = :worker_id AND lease_expires_at IS NOT NULL
ORDER BY started_at DESC, id;

-- name: schema_version
-- The newest migration applied.
SELECT max(version) FROM queue_migrations;

-- name: list_run
-- All rows of a workflow run, oldest first.
SELECT * FROM tasks WHERE run_id = :run_id ORDER BY created_at, rowid;

-- name: next_scheduled
-- When the earliest row waiting for its retry back-off becomes eligible.
SELECT min(scheduled_at) FROM tasks WHERE status = 'Queued' AND scheduled_at > :now;

-- name: pending_count
-- Rows that may still run (Queued, or In Progress under a lease), optionally of the JSON list :task_types.
SELECT count(*) FROM tasks
WHERE (status = 'Queued' OR (status = 'In Progress' AND lease_expires_at IS NOT NULL))
  AND (:task_types IS NULL OR task_type IN (SELECT value FROM json_each(:task_types)));

-- ---- the workers registry and the fleet's read-only views (110_workers.sql) ---------------------------

-- name: register_worker
-- Record a worker at its start (a restarted process has a new worker_id, so this inserts).
INSERT INTO wq_workers (worker_id, host, pid, gpu_name, gpu_memory_total_mb, gpu_memory_used_mb, engine,
                        model, version, task_types, lease_seconds, state, current_task_id, tasks_run,
                        started_at, last_seen_at)
VALUES (:worker_id, :host, :pid, :gpu_name, :gpu_memory_total_mb, :gpu_memory_used_mb, :engine, :model,
        :version, :task_types, :lease_seconds, coalesce(:state, 'idle'), NULL, 0, :now, :now)
ON CONFLICT (worker_id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, gpu_name = excluded.gpu_name,
    gpu_memory_total_mb = excluded.gpu_memory_total_mb, engine = excluded.engine,
    version = excluded.version, task_types = excluded.task_types, lease_seconds = excluded.lease_seconds,
    state = excluded.state, last_seen_at = excluded.last_seen_at;

-- name: forget_workers
-- Registry rows last seen before :before (long stopped or gone) are dropped.
DELETE FROM wq_workers WHERE last_seen_at < :before;

-- name: beat_worker
-- A worker's beat: what it is doing now; a stopped row stays stopped.
UPDATE wq_workers SET state = :state, current_task_id = :current_task_id, model = :model,
                      gpu_memory_used_mb = :gpu_memory_used_mb, tasks_run = :tasks_run, last_seen_at = :now
WHERE worker_id = :worker_id AND state <> 'stopped';

-- name: list_workers
-- Workers seen since :since, with the task each is running (type, progress, run), newest beat first.
SELECT w.*, t.task_type AS current_task_type, t.progress AS current_progress,
       t.progress_message AS current_progress_message, t.run_id AS current_run_id
FROM wq_workers AS w LEFT JOIN tasks AS t ON t.id = w.current_task_id
WHERE w.last_seen_at >= :since
ORDER BY w.last_seen_at DESC, w.worker_id;

-- name: status_counts
-- Rows by task type and status.
SELECT task_type, status, count(*) AS rows FROM tasks GROUP BY task_type, status ORDER BY task_type, status;

-- name: fleet_overview
-- Runs (root rows) in all and since :since, rows failed and completed since :since, the oldest Queued row.
SELECT
    (SELECT count(*) FROM tasks WHERE parent_task_id IS NULL) AS runs,
    (SELECT count(*) FROM tasks WHERE parent_task_id IS NULL AND created_at >= :since) AS runs_since,
    (SELECT count(*) FROM tasks WHERE status = 'Failed' AND finished_at >= :since) AS failed_since,
    (SELECT count(*) FROM tasks WHERE status = 'Complete' AND finished_at >= :since) AS completed_since,
    (SELECT min(created_at) FROM tasks WHERE status = 'Queued') AS oldest_queued_at;

-- name: list_roots
-- One page of root rows (a run each), newest first, optionally only those with :status.
SELECT * FROM tasks INDEXED BY tasks_roots
WHERE parent_task_id IS NULL AND (:status IS NULL OR status = :status)
ORDER BY created_at DESC, rowid DESC
LIMIT :limit OFFSET :offset;

-- name: list_roots_filtered
-- One page of root rows, newest first, filtered: status, task type, project, created since :since, and
-- :search (a row id or run id of the run, or text in the root's params such as its prompt, any case).
SELECT * FROM tasks INDEXED BY tasks_roots
WHERE parent_task_id IS NULL
  AND (:status IS NULL OR status = :status)
  AND (:task_type IS NULL OR task_type = :task_type)
  AND (:project_id IS NULL OR project_id = :project_id)
  AND (:since IS NULL OR created_at >= :since)
  AND (:search IS NULL OR id = :search OR run_id = :search
       OR run_id = (SELECT s.run_id FROM tasks AS s WHERE s.id = :search)
       OR instr(lower(params), lower(:search)) > 0)
ORDER BY created_at DESC, rowid DESC
LIMIT :limit OFFSET :offset;

-- name: run_counts
-- The fanned-out rows of the runs in the JSON list :run_ids, by status: how many, their progress summed,
-- the last finish.
SELECT run_id, status, count(*) AS rows, sum(coalesce(progress, 0)) AS progress,
       max(finished_at) AS last_finished_at
FROM tasks
WHERE run_id IN (SELECT value FROM json_each(:run_ids)) AND parent_task_id IS NOT NULL
GROUP BY run_id, status;

-- name: event_counts
-- Counters of what happened to rows (sql/sqlite/181_task_events.sql), by event and task type.
SELECT event, task_type, n FROM wq_task_events ORDER BY event, task_type;

-- name: duration_counts
-- The completed rows' run times by task type and bucket (181_task_events.sql; they never go down).
SELECT task_type, le, n, seconds FROM wq_task_durations ORDER BY task_type, le;

-- name: task_durations
-- Complete rows' run times (finished_at - started_at) by task type: for each bound of the JSON list
-- :bounds how many took at most that long, and (bound NULL) how many in all and their seconds summed.
WITH done AS MATERIALIZED (
    SELECT task_type, (julianday(finished_at) - julianday(started_at)) * 86400.0 AS seconds
    FROM tasks WHERE status = 'Complete' AND started_at IS NOT NULL AND finished_at IS NOT NULL)
SELECT done.task_type, bound.value AS le, sum(done.seconds <= bound.value) AS rows, NULL AS seconds
FROM done CROSS JOIN json_each(:bounds) AS bound
GROUP BY done.task_type, bound.value
UNION ALL
SELECT task_type, NULL, count(*), sum(seconds) FROM done GROUP BY task_type;

-- name: record_ignored_keys
-- The params keys the row's task type does not use (a JSON list, NULL for none), for an attempt this
-- worker still owns.
UPDATE tasks SET ignored_keys = :keys
WHERE id = :task_id AND worker_id = :worker_id AND attempts = :attempt AND status = 'In Progress';

-- name: record_thumbnail
-- params.thumbnail_url (the output's poster) for an attempt this worker still owns, just before it completes.
UPDATE tasks SET params = json_set(coalesce(params, '{}'), '$.thumbnail_url', :thumbnail_url)
WHERE id = :task_id AND worker_id = :worker_id AND attempts = :attempt AND status = 'In Progress'
  AND awaiting_task_id IS NULL;
