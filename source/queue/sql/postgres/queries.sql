-- Every call the Postgres-family queue makes, each under a `-- name: <name>` header with one line saying
-- what it does. Each is one call of a versioned function of the migrations in this folder, written with
-- named arguments `p_x => %(x)s::type`. The psycopg connector runs this text as it stands; the PostgREST
-- connector calls the same function as an RPC with the same `p_` arguments (source/queue/sqlfiles.py
-- reads both from here). `SELECT * FROM f(...)` returns rows; `SELECT f(...)` returns one value.

-- name: enqueue
-- Insert a batch of rows in one transaction; returns their ids (an id that exists already is refused).
SELECT wq_enqueue_v3(p_tasks => %(tasks)s::jsonb);

-- name: get
-- One row (none if absent).
SELECT * FROM wq_get_v1(p_task_id => %(task_id)s::text);

-- name: list_run
-- All rows of a workflow run, oldest first.
SELECT * FROM wq_list_run_v1(p_run_id => %(run_id)s::text);

-- name: cancel
-- Cancel a row that has not ended, what it fanned out and its dependants; returns how many rows changed.
SELECT wq_cancel_v1(p_task_id => %(task_id)s::text, p_reason => %(reason)s::text);

-- name: retry
-- Put back a Failed/Cancelled row (attempts reset) and every Failed/Cancelled row that ended through it.
SELECT wq_retry_v1(p_task_id => %(task_id)s::text, p_note => %(note)s::text);

-- name: requeue_expired
-- A row In Progress past its lease is Queued again now; returns 1, or 0 when it is not such a row.
SELECT wq_requeue_expired_v1(p_task_id => %(task_id)s::text, p_note => %(note)s::text);

-- name: claim
-- Take the best eligible row under a lease (priority desc, then age; the loaded model first among equals).
SELECT * FROM wq_claim_v1(p_worker_id => %(worker_id)s::text, p_lease_seconds => %(lease_seconds)s::float8,
                          p_task_types => %(task_types)s::text[], p_prefer_model => %(prefer_model)s::text);

-- name: claimed_by
-- Rows this worker holds under a lease, newest first (after a claim whose answer was lost).
SELECT * FROM wq_claimed_by_v1(p_worker_id => %(worker_id)s::text);

-- name: heartbeat
-- Extend the lease of an attempt this worker still owns.
SELECT wq_heartbeat_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,
                       p_attempt => %(attempt)s::integer, p_lease_seconds => %(lease_seconds)s::float8);

-- name: progress
-- Record progress 0..1 and a short message for an attempt this worker still owns.
SELECT wq_progress_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,
                      p_attempt => %(attempt)s::integer, p_progress => %(progress)s::float8,
                      p_message => %(message)s::text);

-- name: complete
-- Complete an attempt this worker still owns, with its output_location.
SELECT wq_complete_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,
                      p_attempt => %(attempt)s::integer, p_output_location => %(output_location)s::text);

-- name: fail
-- Fail an attempt this worker still owns: retry after a delay while attempts remain (if asked), else Failed.
SELECT wq_fail_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,
                  p_attempt => %(attempt)s::integer, p_error_message => %(error_message)s::text,
                  p_retry => %(retry)s::boolean, p_retry_delay_seconds => %(retry_delay_seconds)s::float8);

-- name: release
-- Give back an attempt this worker still owns: Queued again, the attempt not counted.
SELECT wq_release_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,
                     p_attempt => %(attempt)s::integer);

-- name: fan_out
-- Insert the children and leave the orchestrator awaiting one of them, if this worker still owns it.
SELECT wq_fan_out_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,
                     p_attempt => %(attempt)s::integer, p_children => %(children)s::jsonb,
                     p_awaited_task_id => %(awaited_task_id)s::text);

-- name: sweep_expired
-- Expired leases back to Queued while attempts remain, else Failed (worker lost); returns rows changed.
SELECT wq_sweep_expired_v1();

-- name: pending_count
-- Rows that may still run (Queued, or In Progress under a lease), optionally only of these task types.
SELECT wq_pending_count_v1(p_task_types => %(task_types)s::text[]);

-- name: next_wakeup
-- Seconds until the earliest row in retry back-off becomes eligible (NULL if none).
SELECT wq_next_wakeup_v1();

-- name: poll
-- The change counter (bumped on inserts and status changes) and next_wakeup, for waiting without LISTEN.
SELECT * FROM wq_poll_v1();

-- name: schema_version
-- The newest migration applied.
SELECT wq_schema_version_v1();

-- ---- the workers registry and the fleet's read-only views (110_workers.sql) ---------------------------

-- name: register_worker
-- Record a worker at its start; registry rows not seen for p_forget_after_seconds are dropped.
SELECT wq_register_worker_v1(p_worker => %(worker)s::jsonb, p_forget_after_seconds => %(forget_after_seconds)s::float8);

-- name: beat_worker
-- A worker's beat (state, current task, model, GPU memory used, tasks run); False when it has no live row.
SELECT wq_beat_worker_v1(p_worker_id => %(worker_id)s::text, p_state => %(state)s::text,
                         p_current_task_id => %(current_task_id)s::text, p_model => %(model)s::text,
                         p_gpu_memory_used_mb => %(gpu_memory_used_mb)s::integer,
                         p_tasks_run => %(tasks_run)s::integer);

-- name: list_workers
-- Workers seen lately, with their current task's type, progress and run, and seconds since their last beat.
SELECT * FROM wq_list_workers_v1(p_seen_within_seconds => %(seen_within_seconds)s::float8);

-- name: status_counts
-- Rows by task type and status.
SELECT * FROM wq_status_counts_v1();

-- name: fleet_overview
-- Runs in all and lately, rows failed and completed lately, the oldest Queued row's age in seconds.
SELECT * FROM wq_fleet_overview_v1(p_within_seconds => %(within_seconds)s::float8);

-- name: list_roots
-- One page of root rows (a run each), newest first, optionally of one status.
SELECT * FROM wq_list_roots_v1(p_status => %(status)s::text, p_limit => %(limit)s::integer,
                               p_offset => %(offset)s::integer);

-- name: list_roots_filtered
-- One page of root rows, newest first, filtered by status, type, project, age and a search text.
SELECT * FROM wq_list_roots_v2(p_status => %(status)s::text, p_task_type => %(task_type)s::text,
                               p_project_id => %(project_id)s::text,
                               p_since_seconds => %(since_seconds)s::float8, p_search => %(search)s::text,
                               p_limit => %(limit)s::integer, p_offset => %(offset)s::integer);

-- name: run_counts
-- The fanned-out rows of some runs by status: count, summed progress, last finish.
SELECT * FROM wq_run_counts_v1(p_run_ids => %(run_ids)s::text[]);

-- name: event_counts
-- Counters of what happened to rows (completed, failed, cancelled, retried, lease_expired, operator_retried).
SELECT * FROM wq_event_counts_v1();

-- name: duration_counts
-- The completed rows' run times by task type and bucket (counted as rows complete; they never go down).
SELECT * FROM wq_duration_counts_v1();

-- name: task_durations
-- Complete rows' run times by task type, counted under each bound, plus the total count and sum.
SELECT * FROM wq_task_durations_v1(p_bounds => %(bounds)s::float8[]);

-- name: record_ignored_keys
-- The params keys the row's task type does not use (a JSON list), for an attempt this worker still owns.
SELECT wq_record_ignored_keys_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,
                                 p_attempt => %(attempt)s::integer, p_keys => %(keys)s::jsonb);

-- name: record_thumbnail
-- params.thumbnail_url (the output's poster) for an attempt this worker still owns, just before it completes.
SELECT wq_record_thumbnail_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,
                              p_attempt => %(attempt)s::integer, p_thumbnail_url => %(thumbnail_url)s::text);
