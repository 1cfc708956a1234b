-- 005: how much work may still run, for workers started with --until-idle.

-- wq_pending_count_v1: rows Queued, or In Progress under a lease, optionally only of the given task types.
CREATE OR REPLACE FUNCTION wq_pending_count_v1(p_task_types text[] DEFAULT NULL)
RETURNS bigint LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT count(*) FROM tasks
    WHERE (status = 'Queued' OR (status = 'In Progress' AND lease_expires_at IS NOT NULL))
      AND (p_task_types IS NULL OR task_type = ANY (p_task_types));
$$;
