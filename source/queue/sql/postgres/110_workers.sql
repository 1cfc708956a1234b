-- 110: the workers registry, the fleet's read-only views (overview, runs, durations), and an index for
-- listing runs newest first.
--
-- Each worker process registers a row at start and beats it while idle as well as busy; a clean exit
-- marks it stopped. A row whose last beat is older than a few of its own lease periods reads as gone
-- (source/queue/fleet.py decides that from `silent_seconds`, measured here on the database's clock so
-- that the clocks of the worker and the reader never matter). Durations are given as seconds ago for
-- the same reason.

CREATE TABLE IF NOT EXISTS wq_workers (
    worker_id           text PRIMARY KEY,
    host                text NOT NULL,
    pid                 integer,
    gpu_name            text,
    gpu_memory_total_mb integer,
    gpu_memory_used_mb  integer,
    engine              text,
    model               text,
    version             text,
    task_types          text,
    lease_seconds       double precision NOT NULL,
    state               text NOT NULL CHECK (state IN ('idle', 'busy', 'stopping', 'stopped')),
    current_task_id     text,
    tasks_run           integer NOT NULL DEFAULT 0,
    started_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_seen_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX IF NOT EXISTS wq_workers_by_last_seen ON wq_workers (last_seen_at);

-- A run is listed by its root row (the one no orchestrator fanned out); newest first. The columns never
-- change after the insert, so the index costs nothing on claims and status changes.
CREATE INDEX IF NOT EXISTS tasks_roots ON tasks (created_at DESC, id DESC) WHERE parent_task_id IS NULL;

-- wq_register_worker_v1: record a worker at its start; rows last seen more than p_forget_after_seconds
-- ago (long stopped or gone) are dropped on the way.
CREATE OR REPLACE FUNCTION wq_register_worker_v1(p_worker jsonb, p_forget_after_seconds float8)
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF jsonb_typeof(p_worker) IS DISTINCT FROM 'object' OR coalesce(p_worker ->> 'worker_id', '') = '' THEN
        RAISE EXCEPTION 'a worker needs a worker_id' USING ERRCODE = '22023';
    END IF;
    DELETE FROM wq_workers
    WHERE last_seen_at < clock_timestamp() - make_interval(secs => p_forget_after_seconds);
    INSERT INTO wq_workers AS w (worker_id, host, pid, gpu_name, gpu_memory_total_mb, gpu_memory_used_mb,
                                 engine, model, version, task_types, lease_seconds, state, tasks_run)
    VALUES (p_worker ->> 'worker_id', coalesce(p_worker ->> 'host', '?'), (p_worker ->> 'pid')::integer,
            p_worker ->> 'gpu_name', (p_worker ->> 'gpu_memory_total_mb')::integer,
            (p_worker ->> 'gpu_memory_used_mb')::integer, p_worker ->> 'engine', p_worker ->> 'model',
            p_worker ->> 'version', p_worker ->> 'task_types', (p_worker ->> 'lease_seconds')::float8,
            'idle', 0)
    ON CONFLICT (worker_id) DO UPDATE SET
        host = excluded.host, pid = excluded.pid, gpu_name = excluded.gpu_name,
        gpu_memory_total_mb = excluded.gpu_memory_total_mb, engine = excluded.engine,
        version = excluded.version, task_types = excluded.task_types, lease_seconds = excluded.lease_seconds,
        state = 'idle', last_seen_at = clock_timestamp();
    RETURN true;
END $$;

-- wq_beat_worker_v1: a worker's beat, saying what it is doing now. False when it has no row (then it
-- registers again) or was marked stopped.
CREATE OR REPLACE FUNCTION wq_beat_worker_v1(p_worker_id text, p_state text, p_current_task_id text,
                                             p_model text, p_gpu_memory_used_mb integer, p_tasks_run integer)
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE wq_workers SET state = p_state, current_task_id = p_current_task_id, model = p_model,
                          gpu_memory_used_mb = p_gpu_memory_used_mb, tasks_run = p_tasks_run,
                          last_seen_at = clock_timestamp()
    WHERE worker_id = p_worker_id AND state <> 'stopped';
    RETURN FOUND;
END $$;

-- wq_list_workers_v1: workers seen in the last p_seen_within_seconds, each with the task it is running
-- (type, progress, run) and how long it has been silent; newest beat first.
CREATE OR REPLACE FUNCTION wq_list_workers_v1(p_seen_within_seconds float8)
RETURNS TABLE (worker_id text, host text, pid integer, gpu_name text, gpu_memory_total_mb integer,
               gpu_memory_used_mb integer, engine text, model text, version text, task_types text,
               lease_seconds float8, state text, current_task_id text, tasks_run integer,
               started_at timestamptz, last_seen_at timestamptz, silent_seconds float8,
               current_task_type text, current_progress float8, current_progress_message text,
               current_run_id text)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT w.worker_id, w.host, w.pid, w.gpu_name, w.gpu_memory_total_mb, w.gpu_memory_used_mb, w.engine,
           w.model, w.version, w.task_types, w.lease_seconds, w.state, w.current_task_id, w.tasks_run,
           w.started_at, w.last_seen_at,
           greatest(0, extract(epoch FROM clock_timestamp() - w.last_seen_at))::float8,
           t.task_type, t.progress, t.progress_message, t.run_id
    FROM wq_workers AS w LEFT JOIN tasks AS t ON t.id = w.current_task_id
    WHERE w.last_seen_at >= clock_timestamp() - make_interval(secs => p_seen_within_seconds)
    ORDER BY w.last_seen_at DESC, w.worker_id;
$$;

-- wq_status_counts_v1: rows by task type and status.
CREATE OR REPLACE FUNCTION wq_status_counts_v1()
RETURNS TABLE (task_type text, status text, rows bigint)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT t.task_type, t.status, count(*) FROM tasks AS t GROUP BY t.task_type, t.status ORDER BY 1, 2;
$$;

-- wq_fleet_overview_v1: runs (root rows) in all and in the last p_within_seconds, rows failed and
-- completed in that time, and the age in seconds of the oldest Queued row (NULL if none).
CREATE OR REPLACE FUNCTION wq_fleet_overview_v1(p_within_seconds float8)
RETURNS TABLE (runs bigint, runs_since bigint, failed_since bigint, completed_since bigint,
               oldest_queued_seconds float8)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    WITH since AS (SELECT clock_timestamp() - make_interval(secs => p_within_seconds) AS moment)
    SELECT (SELECT count(*) FROM tasks WHERE parent_task_id IS NULL),
           (SELECT count(*) FROM tasks, since WHERE parent_task_id IS NULL AND created_at >= since.moment),
           (SELECT count(*) FROM tasks, since WHERE status = 'Failed' AND finished_at >= since.moment),
           (SELECT count(*) FROM tasks, since WHERE status = 'Complete' AND finished_at >= since.moment),
           (SELECT greatest(0, extract(epoch FROM clock_timestamp() - min(created_at)))::float8
              FROM tasks WHERE status = 'Queued');
$$;

-- wq_list_roots_v1: one page of root rows (a run each), newest first, optionally only those with p_status.
CREATE OR REPLACE FUNCTION wq_list_roots_v1(p_status text, p_limit integer, p_offset integer)
RETURNS SETOF tasks LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT * FROM tasks
    WHERE parent_task_id IS NULL AND (p_status IS NULL OR status = p_status)
    ORDER BY created_at DESC, id DESC
    LIMIT greatest(0, p_limit) OFFSET greatest(0, p_offset);
$$;

-- wq_run_counts_v1: the fanned-out rows of the given runs by status: how many, their progress summed,
-- the last finish.
CREATE OR REPLACE FUNCTION wq_run_counts_v1(p_run_ids text[])
RETURNS TABLE (run_id text, status text, rows bigint, progress float8, last_finished_at timestamptz)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT t.run_id, t.status, count(*), sum(coalesce(t.progress, 0))::float8, max(t.finished_at)
    FROM tasks AS t
    WHERE t.run_id = ANY (p_run_ids) AND t.parent_task_id IS NOT NULL
    GROUP BY t.run_id, t.status;
$$;

-- wq_task_durations_v1: Complete rows' run times (finished_at - started_at) by task type: for each bound
-- of p_bounds how many took at most that long, and (bound NULL) how many in all and their seconds summed.
CREATE OR REPLACE FUNCTION wq_task_durations_v1(p_bounds float8[])
RETURNS TABLE (task_type text, le float8, rows bigint, seconds float8)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    WITH done AS (
        SELECT t.task_type, extract(epoch FROM t.finished_at - t.started_at)::float8 AS seconds
        FROM tasks AS t
        WHERE t.status = 'Complete' AND t.started_at IS NOT NULL AND t.finished_at IS NOT NULL)
    SELECT done.task_type, bound.le, count(*) FILTER (WHERE done.seconds <= bound.le), NULL::float8
    FROM done CROSS JOIN unnest(p_bounds) AS bound(le)
    GROUP BY done.task_type, bound.le
    UNION ALL
    SELECT done.task_type, NULL, count(*), sum(done.seconds) FROM done GROUP BY done.task_type;
$$;

SELECT wq_secure_queue_v1();
