-- 120: what a worker needs to recover from a claim whose answer was lost (the connection broke after the
-- claim was sent): the rows it holds under a lease. Its worker_id is unique per process start, so a row
-- In Progress under a lease with that worker_id is exactly the claim it did not hear about.

-- wq_claimed_by_v1: rows In Progress under a lease for this worker (not orchestrators awaiting a child),
-- newest first.
CREATE OR REPLACE FUNCTION wq_claimed_by_v1(p_worker_id text)
RETURNS SETOF tasks LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT * FROM tasks
     WHERE status = 'In Progress' AND worker_id = p_worker_id AND lease_expires_at IS NOT NULL
     ORDER BY started_at DESC, id;
$$;

SELECT wq_secure_queue_v1();
