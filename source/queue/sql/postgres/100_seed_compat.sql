-- 100: the original tool's queue and rows move over.
--
-- * `ignored_keys` (jsonb list): the keys of a row's params its task type does not use, each with the
--   closest known name; written by the worker (wq_record_ignored_keys_v1) when it validates the params.
-- * `params.task_id`, when it is a non-empty string, is the row's id, and `params.project_id` fills an
--   empty project_id (trigger tasks_assign_id, which runs before tasks_before_insert: triggers of one
--   event fire in name order). Rows the queue inserts have no task_id key or the same id, so this only
--   changes rows an app writes directly, as the original tool's apps did.
-- * The rows of the original tool's table (moved to wq_seed_backup.tasks_pending_copy by
--   seed/before_migrations.sql) are copied in, every row kept: task_id becomes id, statuses are mapped
--   (pending/running/completed spellings too), a Failed row's output_location (where the original tool
--   put the reason) becomes error_message, a row that was In Progress gets an expired lease so the first
--   sweep re-queues it, run_id and project_id come from the params where the columns are empty. A
--   Queued row whose dependency failed or does not exist ends Failed saying so (the original tool left
--   such rows queued forever). The original table then stays in wq_seed_backup as tasks_seed_<time>.
-- * The original tool's functions an app may still call keep working on the new table:
--   func_initialize_tasks_table (a check), func_add_task (enqueue), func_get_completed_travel_segments.
--   Its worker functions (func_claim_task, func_update_task_status, func_migrate_tasks_for_task_type) are
--   gone: they took rows without leases, dependencies or fencing.

ALTER TABLE tasks ADD COLUMN IF NOT EXISTS ignored_keys jsonb;

-- wq_tasks_assign_id_v1: params.task_id -> id, params.project_id -> an empty project_id.
CREATE OR REPLACE FUNCTION wq_tasks_assign_id_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF jsonb_typeof(NEW.params -> 'task_id') = 'string' AND btrim(NEW.params ->> 'task_id') <> '' THEN
        NEW.id := btrim(NEW.params ->> 'task_id');
    END IF;
    IF NEW.project_id IS NULL AND jsonb_typeof(NEW.params -> 'project_id') = 'string'
       AND btrim(NEW.params ->> 'project_id') <> '' THEN
        NEW.project_id := btrim(NEW.params ->> 'project_id');
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS tasks_assign_id ON tasks;
CREATE TRIGGER tasks_assign_id BEFORE INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION wq_tasks_assign_id_v1();

-- wq_record_ignored_keys_v1: the params keys the row's task type does not use, for an attempt this
-- worker still owns.
CREATE OR REPLACE FUNCTION wq_record_ignored_keys_v1(p_task_id text, p_worker_id text, p_attempt integer,
                                                     p_keys jsonb)
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE tasks SET ignored_keys = CASE WHEN jsonb_array_length(p_keys) = 0 THEN NULL ELSE p_keys END
    WHERE id = p_task_id AND worker_id = p_worker_id AND attempts = p_attempt AND status = 'In Progress';
    RETURN FOUND;
END $$;

-- ---- the original tool's rows ----------------------------------------------------------------------------

-- params as the original tool's clients wrote them: an object, or an object as JSON text.
CREATE OR REPLACE FUNCTION pg_temp.wq_seed_params(p_value jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_parsed jsonb;
BEGIN
    IF jsonb_typeof(p_value) = 'object' THEN
        RETURN p_value;
    END IF;
    IF jsonb_typeof(p_value) = 'string' THEN
        BEGIN
            v_parsed := (p_value #>> '{}')::jsonb;
        EXCEPTION WHEN others THEN
            RETURN jsonb_build_object('original_params', p_value);
        END;
        IF jsonb_typeof(v_parsed) = 'object' THEN
            RETURN v_parsed;
        END IF;
    END IF;
    RETURN CASE WHEN p_value IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('original_params', p_value) END;
END $$;

DO $seed_rows$
DECLARE
    v_copied integer;
    v_backup text := 'tasks_seed_' || to_char(clock_timestamp(), 'YYYYMMDD_HH24MISS');
BEGIN
    IF to_regclass('wq_seed_backup.tasks_pending_copy') IS NULL THEN
        RETURN;
    END IF;
    ALTER TABLE tasks DISABLE TRIGGER USER;

    CREATE TEMP TABLE wq_seed_rows ON COMMIT DROP AS
    SELECT coalesce(nullif(btrim(j ->> 'task_id'), ''), j ->> 'id') AS id,
           coalesce(nullif(btrim(j ->> 'task_type'), ''), nullif(btrim(p ->> 'task_type'), ''),
                    'standard_wgp_task') AS task_type,
           p AS params,
           CASE lower(btrim(coalesce(j ->> 'status', '')))
               WHEN 'queued' THEN 'Queued' WHEN 'pending' THEN 'Queued'
               WHEN 'in progress' THEN 'In Progress' WHEN 'in_progress' THEN 'In Progress'
               WHEN 'running' THEN 'In Progress'
               WHEN 'complete' THEN 'Complete' WHEN 'completed' THEN 'Complete'
               WHEN 'failed' THEN 'Failed' WHEN 'error' THEN 'Failed'
               WHEN 'cancelled' THEN 'Cancelled' WHEN 'canceled' THEN 'Cancelled'
               ELSE NULL END AS status,
           j ->> 'status' AS original_status,
           nullif(btrim(coalesce(j ->> 'dependant_on', j ->> 'depends_on', '')), '') AS dependant_on,
           coalesce(p #>> '{orchestrator_details,run_id}', p ->> 'orchestrator_run_id', p ->> 'run_id') AS run_id,
           coalesce(nullif(btrim(j ->> 'project_id'), ''), nullif(btrim(p ->> 'project_id'), '')) AS project_id,
           nullif(j ->> 'worker_id', '') AS worker_id,
           j ->> 'output_location' AS output_location,
           coalesce((j ->> 'created_at')::timestamptz, (j ->> 'updated_at')::timestamptz, now()) AS created_at,
           coalesce((j ->> 'updated_at')::timestamptz, (j ->> 'created_at')::timestamptz, now()) AS updated_at,
           (j ->> 'id') AS seq
    FROM (SELECT to_jsonb(s) AS j, pg_temp.wq_seed_params(to_jsonb(s) -> 'params') AS p
          FROM wq_seed_backup.tasks_pending_copy AS s) AS seed;

    INSERT INTO tasks (id, task_type, params, status, dependant_on, run_id, project_id, attempts, worker_id,
                       lease_expires_at, output_location, error_message, created_at, updated_at, finished_at)
    SELECT r.id, r.task_type, r.params, coalesce(r.status, 'Failed'),
           CASE WHEN r.dependant_on IS NULL THEN NULL
                ELSE to_jsonb(wq_parse_dependencies_v1(r.dependant_on))::text END,
           r.run_id, r.project_id,
           CASE WHEN r.status IN ('In Progress', 'Complete', 'Failed') THEN 1 ELSE 0 END,
           CASE WHEN r.status = 'In Progress' THEN coalesce(r.worker_id, 'original-tool') ELSE r.worker_id END,
           CASE WHEN r.status = 'In Progress' THEN now() END,
           CASE WHEN r.status IS DISTINCT FROM 'Failed' AND r.status IS NOT NULL THEN r.output_location END,
           CASE WHEN r.status IS NULL THEN 'the original queue gave this row the status ' ||
                                           coalesce(quote_literal(r.original_status), 'NULL')
                WHEN r.status = 'Failed' THEN coalesce(nullif(r.output_location, ''),
                                                       'failed in the original tool (no reason recorded)') END,
           r.created_at, r.updated_at,
           CASE WHEN coalesce(r.status, 'Failed') IN ('Complete', 'Failed', 'Cancelled') THEN r.updated_at END
    FROM wq_seed_rows AS r
    ORDER BY r.created_at, r.seq::numeric;
    GET DIAGNOSTICS v_copied = ROW_COUNT;

    -- Dependency edges to rows that exist; a Queued row waiting on a row that does not exist, or
    -- (transitively) on one that failed, ends Failed naming it.
    INSERT INTO task_dependencies (task_id, depends_on)
    SELECT t.id, d FROM tasks AS t JOIN wq_seed_rows AS r ON r.id = t.id,
                        unnest(wq_parse_dependencies_v1(t.dependant_on)) AS d
    WHERE EXISTS (SELECT 1 FROM tasks AS p WHERE p.id = d)
    ON CONFLICT DO NOTHING;
    UPDATE tasks AS t SET status = 'Failed', finished_at = now(),
           error_message = 'dependency ' || missing.d || ' does not exist (it was not in the original queue)'
    FROM (SELECT t2.id, min(d) AS d FROM tasks AS t2 JOIN wq_seed_rows AS r ON r.id = t2.id,
                 unnest(wq_parse_dependencies_v1(t2.dependant_on)) AS d
          WHERE t2.status = 'Queued' AND NOT EXISTS (SELECT 1 FROM tasks AS p WHERE p.id = d)
          GROUP BY t2.id) AS missing
    WHERE t.id = missing.id;
    LOOP
        UPDATE tasks AS t SET status = p.status, finished_at = now(),
               error_message = 'dependency ' || p.id || ' ' || lower(p.status) || ': ' ||
                               coalesce(p.error_message, lower(p.status))
        FROM task_dependencies AS d JOIN tasks AS p ON p.id = d.depends_on
        WHERE d.task_id = t.id AND t.status = 'Queued' AND p.status IN ('Failed', 'Cancelled');
        EXIT WHEN NOT FOUND;
    END LOOP;
    UPDATE tasks AS t SET unmet_dependencies = (
        SELECT count(*) FROM task_dependencies AS d JOIN tasks AS p ON p.id = d.depends_on
        WHERE d.task_id = t.id AND p.status <> 'Complete')
    WHERE t.id IN (SELECT id FROM wq_seed_rows) AND t.dependant_on IS NOT NULL;

    ALTER TABLE tasks ENABLE TRIGGER USER;
    EXECUTE format('ALTER TABLE wq_seed_backup.tasks_pending_copy RENAME TO %I', v_backup);
    RAISE NOTICE 'copied % row(s) from the original tool''s tasks table; the original is kept as wq_seed_backup.%',
        v_copied, v_backup;
END
$seed_rows$;

-- ---- the original tool's functions an app may still call ---------------------------------------------------

-- func_initialize_tasks_table: the queue's table exists already; only `tasks` is served.
CREATE OR REPLACE FUNCTION func_initialize_tasks_table(p_table_name text DEFAULT 'tasks')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_table_name IS DISTINCT FROM 'tasks' THEN
        RAISE EXCEPTION 'this queue keeps its rows in the table tasks; POSTGRES_TABLE_NAME=% is not supported', p_table_name
            USING ERRCODE = '22023';
    END IF;
END $$;

-- func_add_task: enqueue one row as the original tool's add_task did (params as an object or JSON text).
CREATE OR REPLACE FUNCTION func_add_task(p_task_id text, p_params jsonb, p_task_type text,
                                         p_project_id text DEFAULT NULL, p_dependant_on text DEFAULT NULL,
                                         p_table_name text DEFAULT 'tasks')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_params jsonb := CASE WHEN jsonb_typeof(p_params) = 'string' THEN (p_params #>> '{}')::jsonb ELSE p_params END;
    v_id text;
BEGIN
    PERFORM func_initialize_tasks_table(p_table_name);
    v_id := (wq_insert_tasks_v1(jsonb_build_array(jsonb_build_object(
        'id', p_task_id, 'task_type', p_task_type, 'params', v_params, 'project_id', p_project_id,
        'dependant_on', p_dependant_on))))[1];
    -- tasks_assign_id made params.task_id the id, when there is one
    RETURN CASE WHEN jsonb_typeof(v_params -> 'task_id') = 'string' AND btrim(v_params ->> 'task_id') <> ''
                THEN btrim(v_params ->> 'task_id') ELSE v_id END;
END $$;

-- func_get_completed_travel_segments: a travel run's finished segments, in order.
CREATE OR REPLACE FUNCTION func_get_completed_travel_segments(p_run_id text)
RETURNS TABLE (segment_index_out integer, output_location_out text) LANGUAGE sql STABLE AS $$
    SELECT (t.params ->> 'segment_index')::integer, t.output_location
    FROM tasks AS t
    WHERE t.task_type = 'travel_segment' AND t.status = 'Complete' AND t.output_location IS NOT NULL
      AND jsonb_typeof(t.params -> 'segment_index') = 'number'
      AND (t.run_id = p_run_id OR t.params ->> 'orchestrator_run_id' = p_run_id)
    ORDER BY 1;
$$;

-- As the queue's own functions (090_supabase_security.sql): SECURITY DEFINER with a fixed search_path,
-- callable by service_role and the migrating role only.
DO $seed_functions$
DECLARE
    v_fn regprocedure;
    v_role text;
BEGIN
    FOREACH v_fn IN ARRAY ARRAY['func_initialize_tasks_table(text)'::regprocedure,
                                'func_add_task(text, jsonb, text, text, text, text)'::regprocedure,
                                'func_get_completed_travel_segments(text)'::regprocedure] LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = pg_catalog, %I, pg_temp',
                       v_fn, current_schema());
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', v_fn);
        FOREACH v_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
                EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %I', v_fn, v_role);
            END IF;
        END LOOP;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO service_role', v_fn);
        END IF;
    END LOOP;
END
$seed_functions$;

SELECT wq_secure_queue_v1();
