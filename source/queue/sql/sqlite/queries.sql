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

-- name: record_ignored_keys
-- The params keys the row's task type does not use (a JSON list, NULL for none), for an attempt this
-- worker still owns.
UPDATE tasks SET ignored_keys = :keys
WHERE id = :task_id AND worker_id = :worker_id AND attempts = :attempt AND status = 'In Progress';
