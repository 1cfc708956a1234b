-- 181: counters of what happened to rows, for /metrics (source/dashboard/metrics.py). They only grow:
-- rows deleted or pruned later do not take anything back. Counted from this migration on.
--
-- Events: completed, failed, cancelled (a row reached that status); retried (a failed attempt went back
-- to the queue for another); lease_expired (a row In Progress whose lease had run out was taken back, by a
-- sweep or a requeue); operator_retried (a Failed or Cancelled row put back by `retry` or the dashboard).
-- Durations: each row that completes adds its run time (started_at -> finished_at) to the bucket of the
-- smallest bound of wq_duration_bounds at or above it (1e308 above them all), so a histogram needs no pass
-- over the rows. The bounds are DURATION_BOUNDS of source/dashboard/metrics.py.
-- The same rules live in sql/sqlite/181_task_events.sql.

CREATE TABLE IF NOT EXISTS wq_duration_bounds (le float8 PRIMARY KEY);
INSERT INTO wq_duration_bounds (le)
VALUES (1), (5), (15), (30), (60), (120), (300), (600), (1200), (1800), (3600), (7200), (1e308)
ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS wq_task_durations (
    task_type text NOT NULL,
    le        float8 NOT NULL,
    n         bigint NOT NULL DEFAULT 0,
    seconds   float8 NOT NULL DEFAULT 0,
    PRIMARY KEY (task_type, le)
);

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
    IF NEW.status = 'Complete' AND NEW.started_at IS NOT NULL THEN
        INSERT INTO wq_task_durations AS d (task_type, le, n, seconds)
        SELECT NEW.task_type, (SELECT min(b.le) FROM wq_duration_bounds AS b WHERE b.le >= s.seconds), 1, s.seconds
        FROM (SELECT greatest(0.0, extract(epoch FROM coalesce(NEW.finished_at, now()) - NEW.started_at)::float8)
                     AS seconds) AS s
        ON CONFLICT (task_type, le) DO UPDATE SET n = d.n + 1, seconds = d.seconds + excluded.seconds;
    END IF;
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

-- wq_duration_counts_v1: the completed rows' run times, by task type and bucket (le: its upper bound).
CREATE OR REPLACE FUNCTION wq_duration_counts_v1()
RETURNS TABLE (task_type text, le float8, n bigint, seconds float8)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT d.task_type, d.le, d.n, d.seconds FROM wq_task_durations AS d ORDER BY d.task_type, d.le;
$$;

CREATE INDEX IF NOT EXISTS tasks_by_type_status ON tasks (task_type, status);
CREATE INDEX IF NOT EXISTS tasks_by_status_created ON tasks (status, created_at);

SELECT wq_secure_queue_v1();
