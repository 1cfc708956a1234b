-- 002: the queue operations, called by the postgres backend (psycopg) and the supabase backend
-- (PostgREST RPC) alike. Named arguments of plain types; rows come back as `tasks` rows.
-- Every write a worker makes after its claim is fenced: it applies only while the row is In Progress
-- with that worker_id and that attempt number, and not awaiting a fanned-out row.

-- wq_insert_tasks_v1: insert rows from a JSON array in order (existing ids left alone); used by enqueue and fan-out.
CREATE OR REPLACE FUNCTION wq_insert_tasks_v1(p_tasks jsonb, p_parent_task_id text DEFAULT NULL,
                                              p_run_id text DEFAULT NULL, p_project_id text DEFAULT NULL)
RETURNS text[] LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_item jsonb;
    v_id text;
    v_ids text[] := '{}';
    v_deps jsonb;
BEGIN
    IF p_tasks IS NULL OR jsonb_typeof(p_tasks) <> 'array' THEN
        RAISE EXCEPTION 'tasks must be a JSON array of task objects' USING ERRCODE = '22023';
    END IF;
    FOR v_item IN SELECT value FROM jsonb_array_elements(p_tasks) LOOP
        IF jsonb_typeof(v_item) <> 'object' THEN
            RAISE EXCEPTION 'each task must be a JSON object, got %', left(v_item::text, 80)
                USING ERRCODE = '22023';
        END IF;
        IF jsonb_typeof(v_item -> 'task_type') IS DISTINCT FROM 'string' OR btrim(v_item ->> 'task_type') = '' THEN
            RAISE EXCEPTION 'task_type must be a non-empty string' USING ERRCODE = '22023';
        END IF;
        IF v_item ? 'params' AND jsonb_typeof(v_item -> 'params') NOT IN ('object', 'null') THEN
            RAISE EXCEPTION 'params must be a JSON object, got %', jsonb_typeof(v_item -> 'params')
                USING ERRCODE = '22023';
        END IF;
        v_id := coalesce(nullif(btrim(v_item ->> 'id'), ''), gen_random_uuid()::text);
        v_deps := v_item -> 'dependant_on';
        INSERT INTO tasks (id, task_type, params, dependant_on, run_id, project_id, parent_task_id,
                           priority, max_attempts)
        VALUES (
            v_id,
            v_item ->> 'task_type',
            coalesce(nullif(v_item -> 'params', 'null'::jsonb), '{}'::jsonb),
            CASE WHEN v_deps IS NULL OR jsonb_typeof(v_deps) = 'null' THEN NULL
                 WHEN jsonb_typeof(v_deps) = 'string' THEN v_deps #>> '{}'
                 ELSE v_deps::text END,
            coalesce(v_item ->> 'run_id', p_run_id),
            coalesce(v_item ->> 'project_id', p_project_id),
            coalesce(p_parent_task_id, v_item ->> 'parent_task_id'),
            coalesce((v_item ->> 'priority')::integer, 0),
            coalesce((v_item ->> 'max_attempts')::integer, 3))
        ON CONFLICT (id) DO NOTHING;
        v_ids := v_ids || v_id;
    END LOOP;
    RETURN v_ids;
END $$;

-- wq_enqueue_v1: insert a batch of rows in one transaction; returns their ids (InvalidTask-style error 22023 on bad input).
CREATE OR REPLACE FUNCTION wq_enqueue_v1(p_tasks jsonb)
RETURNS text[] LANGUAGE sql SET search_path = public, pg_temp AS $$
    SELECT wq_insert_tasks_v1(p_tasks);
$$;

-- wq_claim_v1: take the best eligible row (priority desc, then age; p_prefer_model first among equals) or none.
CREATE OR REPLACE FUNCTION wq_claim_v1(p_worker_id text, p_lease_seconds float8,
                                       p_task_types text[] DEFAULT NULL, p_prefer_model text DEFAULT NULL)
RETURNS SETOF tasks LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_id text;
    v_row tasks;
BEGIN
    LOOP
        v_id := NULL;
        IF p_prefer_model IS NULL THEN
            SELECT t.id INTO v_id FROM tasks AS t
            WHERE t.status = 'Queued' AND t.unmet_dependencies = 0
              AND (t.scheduled_at IS NULL OR t.scheduled_at <= now())
              AND (p_task_types IS NULL OR t.task_type = ANY (p_task_types))
            ORDER BY t.priority DESC, t.created_at, t.id
            LIMIT 1 FOR UPDATE SKIP LOCKED;
        ELSE
            SELECT t.id INTO v_id
            FROM (SELECT c.id, c.priority, c.created_at,
                         coalesce(c.params ->> 'model' = p_prefer_model
                                  OR c.params ->> 'model_name' = p_prefer_model, false) AS preferred
                  FROM tasks AS c
                  WHERE c.status = 'Queued' AND c.unmet_dependencies = 0
                    AND (c.scheduled_at IS NULL OR c.scheduled_at <= now())
                    AND (p_task_types IS NULL OR c.task_type = ANY (p_task_types))
                  ORDER BY c.priority DESC, c.created_at, c.id
                  LIMIT 32) AS candidate
            JOIN tasks AS t ON t.id = candidate.id
            WHERE t.status = 'Queued' AND t.unmet_dependencies = 0
            ORDER BY candidate.priority DESC, candidate.preferred DESC, candidate.created_at, candidate.id
            LIMIT 1 FOR UPDATE OF t SKIP LOCKED;
        END IF;
        IF v_id IS NULL THEN
            RETURN;
        END IF;
        UPDATE tasks SET status = 'In Progress', worker_id = p_worker_id, attempts = attempts + 1,
                         lease_expires_at = now() + make_interval(secs => p_lease_seconds),
                         scheduled_at = NULL, progress = NULL, progress_message = NULL,
                         started_at = now(), updated_at = now()
        WHERE tasks.id = v_id
        RETURNING * INTO v_row;
        IF jsonb_typeof(v_row.params) = 'object' THEN
            RETURN NEXT v_row;
            RETURN;
        END IF;
        -- a row a client wrote with params that are not an object fails at once, and the claim goes on
        UPDATE tasks SET status = 'Failed', lease_expires_at = NULL, finished_at = now(), updated_at = now(),
                         error_message = 'params must be a JSON object, got ' || jsonb_typeof(v_row.params)
        WHERE tasks.id = v_id;
    END LOOP;
END $$;

-- wq_heartbeat_v1: extend the lease of an attempt this worker still owns.
CREATE OR REPLACE FUNCTION wq_heartbeat_v1(p_task_id text, p_worker_id text, p_attempt integer,
                                           p_lease_seconds float8)
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE tasks SET lease_expires_at = now() + make_interval(secs => p_lease_seconds), updated_at = now()
    WHERE id = p_task_id AND worker_id = p_worker_id AND attempts = p_attempt
      AND status = 'In Progress' AND awaiting_task_id IS NULL;
    RETURN FOUND;
END $$;

-- wq_progress_v1: record progress 0..1 and a short message for an attempt this worker still owns.
CREATE OR REPLACE FUNCTION wq_progress_v1(p_task_id text, p_worker_id text, p_attempt integer,
                                          p_progress float8, p_message text DEFAULT '')
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE tasks SET progress = p_progress, progress_message = p_message, updated_at = now()
    WHERE id = p_task_id AND worker_id = p_worker_id AND attempts = p_attempt
      AND status = 'In Progress' AND awaiting_task_id IS NULL;
    RETURN FOUND;
END $$;

-- wq_complete_v1: Complete with output_location (dependants and awaiting orchestrators follow by trigger).
CREATE OR REPLACE FUNCTION wq_complete_v1(p_task_id text, p_worker_id text, p_attempt integer,
                                          p_output_location text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE tasks SET status = 'Complete', output_location = p_output_location, error_message = NULL,
                     progress = 1.0, lease_expires_at = NULL, finished_at = now(), updated_at = now()
    WHERE id = p_task_id AND worker_id = p_worker_id AND attempts = p_attempt
      AND status = 'In Progress' AND awaiting_task_id IS NULL;
    RETURN FOUND;
END $$;

-- wq_fail_v1: retry after a delay while attempts remain (when asked), else Failed (cascading by trigger).
CREATE OR REPLACE FUNCTION wq_fail_v1(p_task_id text, p_worker_id text, p_attempt integer,
                                      p_error_message text, p_retry boolean DEFAULT false,
                                      p_retry_delay_seconds float8 DEFAULT 0)
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE tasks SET
        status = CASE WHEN p_retry AND attempts < max_attempts THEN 'Queued' ELSE 'Failed' END,
        scheduled_at = CASE WHEN p_retry AND attempts < max_attempts
                            THEN now() + make_interval(secs => greatest(p_retry_delay_seconds, 0)) END,
        worker_id = CASE WHEN p_retry AND attempts < max_attempts THEN NULL ELSE worker_id END,
        finished_at = CASE WHEN p_retry AND attempts < max_attempts THEN NULL ELSE now() END,
        error_message = p_error_message,
        lease_expires_at = NULL,
        updated_at = now()
    WHERE id = p_task_id AND worker_id = p_worker_id AND attempts = p_attempt
      AND status = 'In Progress' AND awaiting_task_id IS NULL;
    RETURN FOUND;
END $$;

-- wq_release_v1: give the row back (shutdown): Queued again, the attempt not counted.
CREATE OR REPLACE FUNCTION wq_release_v1(p_task_id text, p_worker_id text, p_attempt integer)
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE tasks SET status = 'Queued', attempts = attempts - 1, worker_id = NULL, lease_expires_at = NULL,
                     started_at = NULL, progress = NULL, progress_message = NULL, updated_at = now()
    WHERE id = p_task_id AND worker_id = p_worker_id AND attempts = p_attempt
      AND status = 'In Progress' AND awaiting_task_id IS NULL;
    RETURN FOUND;
END $$;

-- wq_fan_out_v1: insert the children (idempotent by id) and leave the orchestrator awaiting p_awaited_task_id.
CREATE OR REPLACE FUNCTION wq_fan_out_v1(p_task_id text, p_worker_id text, p_attempt integer,
                                         p_children jsonb, p_awaited_task_id text)
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_parent tasks;
    v_awaited tasks;
BEGIN
    SELECT * INTO v_parent FROM tasks
    WHERE id = p_task_id AND worker_id = p_worker_id AND attempts = p_attempt
      AND status = 'In Progress' AND awaiting_task_id IS NULL
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM wq_insert_tasks_v1(p_children, v_parent.id, v_parent.run_id, v_parent.project_id);
    IF p_awaited_task_id = p_task_id THEN
        RAISE EXCEPTION 'task % cannot await itself', p_task_id USING ERRCODE = '22023';
    END IF;
    -- locked so that an awaited row ending concurrently waits and then finds this orchestrator
    SELECT * INTO v_awaited FROM tasks WHERE id = p_awaited_task_id FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'awaited task % does not exist and is not a child', p_awaited_task_id
            USING ERRCODE = '22023';
    END IF;
    UPDATE tasks SET awaiting_task_id = p_awaited_task_id, lease_expires_at = NULL, updated_at = now()
    WHERE id = p_task_id;
    IF v_awaited.status IN ('Complete', 'Failed', 'Cancelled') THEN
        -- the awaited row had already ended (a re-run after a crash): end the same way now
        UPDATE tasks SET
            status = v_awaited.status,
            output_location = CASE WHEN v_awaited.status = 'Complete' THEN v_awaited.output_location END,
            error_message = CASE WHEN v_awaited.status = 'Complete' THEN NULL
                                 ELSE 'awaited task ' || v_awaited.id || ' ' || lower(v_awaited.status) || ': ' ||
                                      coalesce(v_awaited.error_message, lower(v_awaited.status)) END,
            progress = CASE WHEN v_awaited.status = 'Complete' THEN 1.0 ELSE progress END,
            finished_at = now(),
            updated_at = now()
        WHERE id = p_task_id;
    END IF;
    RETURN true;
END $$;

-- wq_cancel_v1: cancel a row that has not ended, what it fanned out and its dependants; returns rows changed.
CREATE OR REPLACE FUNCTION wq_cancel_v1(p_task_id text, p_reason text DEFAULT 'cancelled by user')
RETURNS integer LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    PERFORM 1 FROM tasks WHERE id = p_task_id AND status IN ('Queued', 'In Progress') FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    SELECT count(*) INTO v_count FROM wq_reach_v1(p_task_id, 'Cancelled');
    UPDATE tasks SET status = 'Cancelled', error_message = p_reason, lease_expires_at = NULL,
                     finished_at = now(), updated_at = now()
    WHERE id = p_task_id;
    RETURN v_count + 1;
END $$;

-- wq_sweep_expired_v1: expired leases back to Queued while attempts remain, else Failed (worker lost).
CREATE OR REPLACE FUNCTION wq_sweep_expired_v1()
RETURNS integer LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    WITH expired AS (
        SELECT id FROM tasks WHERE status = 'In Progress' AND lease_expires_at < now()
        FOR UPDATE SKIP LOCKED)
    UPDATE tasks SET
        status = CASE WHEN attempts < max_attempts THEN 'Queued' ELSE 'Failed' END,
        error_message = 'worker ' || coalesce(worker_id, '?') || ' was lost (lease expired) after ' ||
                        attempts || CASE WHEN attempts = 1 THEN ' attempt' ELSE ' attempts' END,
        worker_id = CASE WHEN attempts < max_attempts THEN NULL ELSE worker_id END,
        finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END,
        lease_expires_at = NULL,
        updated_at = now()
    FROM expired WHERE tasks.id = expired.id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END $$;

-- wq_get_v1: one row (none if absent).
CREATE OR REPLACE FUNCTION wq_get_v1(p_task_id text)
RETURNS SETOF tasks LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT * FROM tasks WHERE id = p_task_id;
$$;

-- wq_list_run_v1: all rows of a workflow run, oldest first.
CREATE OR REPLACE FUNCTION wq_list_run_v1(p_run_id text)
RETURNS SETOF tasks LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT * FROM tasks WHERE run_id = p_run_id ORDER BY created_at, id;
$$;

-- wq_next_wakeup_v1: seconds until the earliest row in retry back-off becomes eligible (NULL if none).
CREATE OR REPLACE FUNCTION wq_next_wakeup_v1()
RETURNS float8 LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT extract(epoch FROM min(scheduled_at) - now())::float8
    FROM tasks WHERE status = 'Queued' AND scheduled_at > now();
$$;
