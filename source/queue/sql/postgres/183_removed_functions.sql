-- 183: the original tool's worker functions, removed by the upgrade (docs/MIGRATING.md), answer with one
-- line naming what replaces them instead of "function ... does not exist". They change nothing: a worker
-- still calling them would take rows without leases, dependencies or fencing. Same signatures as the
-- original tool's, so a call from an old worker or app reaches them.

DROP FUNCTION IF EXISTS func_claim_task(text, text);
CREATE FUNCTION func_claim_task(p_table_name text, p_worker_id text)
RETURNS TABLE (task_id_out text, params_out jsonb, task_type_out text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'func_claim_task was removed: run workers with headless.py (they claim with wq_claim_v1: leases, dependencies, fencing); see docs/MIGRATING.md'
        USING ERRCODE = '0A000';
END $$;

DROP FUNCTION IF EXISTS func_update_task_status(text, text, text, text);
CREATE FUNCTION func_update_task_status(p_table_name text, p_task_id text, p_status text,
                                        p_output_location text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'func_update_task_status was removed: a worker writes a row''s end with wq_complete_v1 / wq_fail_v1 (headless.py does it); to stop a row use wq_cancel_v1 or `steerable_motion.py cancel`; see docs/MIGRATING.md'
        USING ERRCODE = '0A000';
END $$;

DROP FUNCTION IF EXISTS func_migrate_tasks_for_task_type(text);
CREATE FUNCTION func_migrate_tasks_for_task_type(p_table_name text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'func_migrate_tasks_for_task_type was removed: `headless.py --migrate-only` upgrades the queue; see docs/MIGRATING.md'
        USING ERRCODE = '0A000';
END $$;
