-- 180: what an operator does to rows from the dashboard or `steerable_motion.py retry`, and the runs list
-- with filters. The same rules live in sql/sqlite/queries.sql (retry_reach, retry_awaiting, retry_queued,
-- requeue_expired, list_roots_filtered).
--
-- Retry: a row that ended Failed or Cancelled goes back with its attempts reset, together with every
-- Failed/Cancelled row that ended through it or with it: its dependants, the orchestrators awaiting it
-- and the rows it (or they) fanned out, transitively. Ids, params, outputs of Complete rows and
-- error_message (the last error, history) stay; an orchestrator that had fanned out waits again (In
-- Progress, awaiting the same row), any other row is Queued. Dependency counters need no change: a
-- Failed or Cancelled dependency was counted unmet and still is.
--
-- Requeue: a row In Progress whose lease has expired (its worker is gone) is Queued again now, without
-- waiting for a worker's sweep; the attempt counts, as the sweep would count it.

-- wq_retry_reach_v1: the rows a retry of p_task_id puts back (p_task_id first when it ended).
CREATE OR REPLACE FUNCTION wq_retry_reach_v1(p_task_id text)
RETURNS TABLE (id text)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    WITH RECURSIVE reach(id) AS (
        SELECT t.id FROM tasks AS t WHERE t.id = p_task_id AND t.status IN ('Failed', 'Cancelled')
        UNION
        SELECT e.id
        FROM reach AS r
        CROSS JOIN LATERAL (
            SELECT d.task_id AS id FROM task_dependencies AS d WHERE d.depends_on = r.id
            UNION ALL
            SELECT t.id FROM tasks AS t WHERE t.awaiting_task_id = r.id
            UNION ALL
            SELECT t.id FROM tasks AS t WHERE t.parent_task_id = r.id
        ) AS e
        JOIN tasks AS t ON t.id = e.id
        WHERE t.status IN ('Failed', 'Cancelled'))
    SELECT reach.id FROM reach;
$$;

-- wq_retry_v1: put back a Failed/Cancelled row and what ended through it (above); returns rows changed.
CREATE OR REPLACE FUNCTION wq_retry_v1(p_task_id text, p_note text DEFAULT 'retried')
RETURNS integer LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_ids text[];
BEGIN
    SELECT array_agg(r.id) INTO v_ids FROM wq_retry_reach_v1(p_task_id) AS r;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM 1 FROM tasks WHERE id = ANY (v_ids) ORDER BY id FOR UPDATE;
    -- orchestrators first, so the summaries of their children's changes below land on them
    UPDATE tasks SET status = 'In Progress', worker_id = NULL, lease_expires_at = NULL, finished_at = NULL,
                     progress_message = p_note, updated_at = now()
    WHERE id = ANY (v_ids) AND awaiting_task_id IS NOT NULL AND status IN ('Failed', 'Cancelled');
    UPDATE tasks SET status = 'Queued', attempts = 0, worker_id = NULL, lease_expires_at = NULL,
                     scheduled_at = NULL, started_at = NULL, finished_at = NULL, progress = NULL,
                     progress_message = p_note, updated_at = now()
    WHERE id = ANY (v_ids) AND awaiting_task_id IS NULL AND status IN ('Failed', 'Cancelled');
    RETURN cardinality(v_ids);
END $$;

-- wq_requeue_expired_v1: a row In Progress past its lease is Queued again now; returns rows changed (0/1).
CREATE OR REPLACE FUNCTION wq_requeue_expired_v1(p_task_id text, p_note text DEFAULT 'requeued')
RETURNS integer LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE tasks SET status = 'Queued', worker_id = NULL, lease_expires_at = NULL, scheduled_at = NULL,
                     started_at = NULL, progress = NULL, progress_message = p_note,
                     error_message = 'worker ' || coalesce(worker_id, '?') || ' was lost (lease expired)',
                     updated_at = now()
    WHERE id = p_task_id AND status = 'In Progress' AND awaiting_task_id IS NULL
      AND lease_expires_at < now();
    RETURN CASE WHEN FOUND THEN 1 ELSE 0 END;
END $$;

-- wq_list_roots_v2: one page of root rows (a run each), newest first, filtered: status, task type,
-- project, created in the last p_since_seconds, and p_search (a row id or run id of the run, or text
-- in the root's params such as its prompt, case-insensitive). A NULL filter lets every row through.
CREATE OR REPLACE FUNCTION wq_list_roots_v2(p_status text, p_task_type text, p_project_id text,
                                            p_since_seconds float8, p_search text,
                                            p_limit integer, p_offset integer)
RETURNS SETOF tasks LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT * FROM tasks AS t
    WHERE t.parent_task_id IS NULL
      AND (p_status IS NULL OR t.status = p_status)
      AND (p_task_type IS NULL OR t.task_type = p_task_type)
      AND (p_project_id IS NULL OR t.project_id = p_project_id)
      AND (p_since_seconds IS NULL OR t.created_at >= now() - make_interval(secs => p_since_seconds))
      AND (p_search IS NULL OR t.id = p_search OR t.run_id = p_search
           OR t.run_id = (SELECT s.run_id FROM tasks AS s WHERE s.id = p_search)
           OR position(lower(p_search) IN lower(t.params::text)) > 0)
    ORDER BY t.created_at DESC, t.id DESC
    LIMIT greatest(0, p_limit) OFFSET greatest(0, p_offset);
$$;

SELECT wq_secure_queue_v1();
