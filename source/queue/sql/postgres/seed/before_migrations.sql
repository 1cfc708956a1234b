-- Runs before the numbered migrations, every time they are applied (and first in scripts/supabase_sql.py's
-- script): a `tasks` table in the original tool's shape is moved out of the way so that 001 can create
-- this queue's table; 100_seed_compat.sql then copies its rows over.
--
-- The original tool's table (its README's func_initialize_tasks_table): `id BIGSERIAL`, `task_id TEXT
-- UNIQUE`, params, task_type, status, worker_id, output_location, created_at, updated_at (some
-- deployments added dependant_on / project_id). This queue's table never has a `task_id` column, so the
-- shape alone says which one is here; a second run finds this queue's table and does nothing.
--
-- The table moves, with its indexes, constraints and sequence, into the schema wq_seed_backup as
-- `tasks_pending_copy` (PostgREST does not serve that schema; nobody but the owner may use it). Views and
-- foreign keys that point at it follow it there. The original tool's worker functions are dropped: an
-- old worker left running then fails loudly instead of taking rows without a lease. The functions an
-- app of that era calls are created again by 100_seed_compat.sql, working on the new table.

DO $seed_before$
DECLARE
    v_id_type text;
    v_fn record;
    v_role text;
BEGIN
    IF to_regclass('tasks') IS NULL
       OR NOT EXISTS (SELECT 1 FROM information_schema.columns
                      WHERE table_schema = current_schema() AND table_name = 'tasks' AND column_name = 'task_id') THEN
        RETURN;
    END IF;
    SELECT data_type INTO v_id_type FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'tasks' AND column_name = 'id';
    IF v_id_type NOT IN ('bigint', 'integer') THEN
        RAISE EXCEPTION 'the table tasks has a task_id column but its id is %, not the original tool''s BIGSERIAL: not a queue this version knows; nothing was changed', v_id_type
            USING ERRCODE = '55000';
    END IF;
    IF to_regclass('wq_seed_backup.tasks_pending_copy') IS NOT NULL THEN
        RAISE EXCEPTION 'wq_seed_backup.tasks_pending_copy exists already (an earlier upgrade stopped half way?): rename or drop it, then run the upgrade again'
            USING ERRCODE = '55000';
    END IF;

    CREATE SCHEMA IF NOT EXISTS wq_seed_backup;
    REVOKE ALL ON SCHEMA wq_seed_backup FROM PUBLIC;
    FOREACH v_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
            EXECUTE format('REVOKE ALL ON SCHEMA wq_seed_backup FROM %I', v_role);
        END IF;
    END LOOP;
    ALTER TABLE tasks SET SCHEMA wq_seed_backup;
    ALTER TABLE wq_seed_backup.tasks RENAME TO tasks_pending_copy;

    FOR v_fn IN
        SELECT p.oid::regprocedure AS fn FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema()
          AND p.proname IN ('func_initialize_tasks_table', 'func_claim_task', 'func_update_task_status',
                            'func_migrate_tasks_for_task_type', 'func_get_completed_travel_segments',
                            'func_add_task')
    LOOP
        EXECUTE format('DROP FUNCTION %s', v_fn.fn);
    END LOOP;
    RAISE NOTICE 'the original tool''s tasks table moved to wq_seed_backup.tasks_pending_copy; its rows are copied into the new tasks table next';
END
$seed_before$;
