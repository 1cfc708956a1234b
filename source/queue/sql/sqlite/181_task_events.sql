-- 181: counters of what happened to rows, for /metrics (source/dashboard/metrics.py). They only grow:
-- rows deleted or pruned later do not take anything back. Counted from this migration on.
--
-- Events: completed, failed, cancelled (a row reached that status); retried (a failed attempt went back
-- to the queue for another); lease_expired (a row In Progress whose lease had run out was taken back, by a
-- sweep or a requeue); operator_retried (a Failed or Cancelled row put back by `retry` or the dashboard).
-- Durations: each row that completes adds its run time (started_at -> finished_at) to the bucket of the
-- smallest bound of wq_duration_bounds at or above it (1e308 above them all), so a histogram needs no pass
-- over the rows. The bounds are DURATION_BOUNDS of source/dashboard/metrics.py.
-- The same rules live in sql/postgres/181_task_events.sql.

CREATE TABLE IF NOT EXISTS wq_task_events (
    event     TEXT NOT NULL,
    task_type TEXT NOT NULL,
    n         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (event, task_type)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS wq_duration_bounds (le REAL PRIMARY KEY) WITHOUT ROWID;
INSERT OR IGNORE INTO wq_duration_bounds (le)
VALUES (1), (5), (15), (30), (60), (120), (300), (600), (1200), (1800), (3600), (7200), (1e308);

CREATE TABLE IF NOT EXISTS wq_task_durations (
    task_type TEXT NOT NULL,
    le        REAL NOT NULL,
    n         INTEGER NOT NULL DEFAULT 0,
    seconds   REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (task_type, le)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS tasks_count_durations AFTER UPDATE OF status ON tasks
WHEN NEW.status = 'Complete' AND OLD.status <> 'Complete' AND NEW.started_at IS NOT NULL
BEGIN
    INSERT INTO wq_task_durations (task_type, le, n, seconds)
    SELECT NEW.task_type, (SELECT min(b.le) FROM wq_duration_bounds AS b WHERE b.le >= d.seconds), 1, d.seconds
    FROM (SELECT max(0.0, (julianday(coalesce(NEW.finished_at, strftime('%Y-%m-%d %H:%M:%f', 'now')))
                           - julianday(NEW.started_at)) * 86400.0) AS seconds) AS d
    WHERE true
    ON CONFLICT (task_type, le) DO UPDATE SET n = n + 1, seconds = seconds + excluded.seconds;
END;

CREATE TRIGGER IF NOT EXISTS tasks_count_events AFTER UPDATE OF status ON tasks
WHEN OLD.status <> NEW.status
BEGIN
    INSERT INTO wq_task_events (event, task_type, n)
    SELECT e.event, NEW.task_type, 1 FROM (
        SELECT 'completed' AS event WHERE NEW.status = 'Complete'
        UNION ALL SELECT 'failed' WHERE NEW.status = 'Failed'
        UNION ALL SELECT 'cancelled' WHERE NEW.status = 'Cancelled'
        UNION ALL SELECT 'lease_expired'
            WHERE OLD.status = 'In Progress' AND NEW.status IN ('Queued', 'Failed')
              AND OLD.lease_expires_at IS NOT NULL
              AND OLD.lease_expires_at < strftime('%Y-%m-%d %H:%M:%f', 'now') || '999'
        UNION ALL SELECT 'retried'
            WHERE OLD.status = 'In Progress' AND NEW.status = 'Queued' AND NEW.attempts = OLD.attempts
              AND NOT (OLD.lease_expires_at IS NOT NULL
                       AND OLD.lease_expires_at < strftime('%Y-%m-%d %H:%M:%f', 'now') || '999')
        UNION ALL SELECT 'operator_retried' WHERE OLD.status IN ('Failed', 'Cancelled')) AS e
    WHERE true
    ON CONFLICT (event, task_type) DO UPDATE SET n = n + 1;
END;
