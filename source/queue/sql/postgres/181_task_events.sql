-- 181: counters of what happened to rows, for /metrics (source/dashboard/metrics.py). They only grow:
-- rows deleted or pruned later do not take anything back. Counted from this migration on.
--
-- Events: completed, failed, cancelled (a row reached that status); retried (a failed attempt went back
-- to the queue for another); lease_expired (a row In Progress whose lease had run out was taken back, by a
-- sweep or a requeue); operator_retried (a Failed or Cancelled row put back by `retry` or the dashboard).
-- The same rules live in sql/sqlite/181_task_events.sql.

CREATE TABLE IF NOT EXISTS wq_task_events (
    event     text NOT NULL,
    task_type text NOT NULL,
    n         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (event, task_type)
);

-- wq_tasks_count_events_v1: a row's status changed: count what that was.
CREATE OR REPLACE FUNCTION wq_tasks_count_events_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_expired boolean := OLD.status = 'In Progress' AND OLD.lease_expires_at IS NOT NULL
                         AND OLD.lease_expires_at < now();
BEGIN
    INSERT INTO wq_task_events AS c (event, task_type, n)
    SELECT e.event, NEW.task_type, 1
    FROM (VALUES
        ('completed', NEW.status = 'Complete'),
        ('failed', NEW.status = 'Failed'),
        ('cancelled', NEW.status = 'Cancelled'),
        ('lease_expired', v_expired AND NEW.status IN ('Queued', 'Failed')),
        ('retried', OLD.status = 'In Progress' AND NEW.status = 'Queued' AND NEW.attempts = OLD.attempts
                    AND NOT v_expired),
        ('operator_retried', OLD.status IN ('Failed', 'Cancelled'))) AS e(event, happened)
    WHERE e.happened
    ON CONFLICT (event, task_type) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS tasks_count_events ON tasks;
CREATE TRIGGER tasks_count_events AFTER UPDATE OF status ON tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION wq_tasks_count_events_v1();

-- wq_event_counts_v1: the counters, by event and task type.
CREATE OR REPLACE FUNCTION wq_event_counts_v1()
RETURNS TABLE (event text, task_type text, n bigint)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT c.event, c.task_type, c.n FROM wq_task_events AS c ORDER BY c.event, c.task_type;
$$;

SELECT wq_secure_queue_v1();
