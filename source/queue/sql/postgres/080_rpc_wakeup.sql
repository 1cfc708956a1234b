-- 080: what the supabase backend needs besides the queue functions. PostgREST offers no LISTEN, so an
-- idle worker polls a change counter instead: a sequence bumped (once per statement) on the same
-- events that NOTIFY wq_tasks -- rows inserted, a status changed. nextval() never blocks and is not
-- rolled back, so the counter costs no row lock; a rolled-back change at most wakes a worker for nothing.

CREATE SEQUENCE IF NOT EXISTS wq_change_seq;

-- wq_bump_change_v1: statement trigger, one nextval per inserting/status-changing statement.
CREATE OR REPLACE FUNCTION wq_bump_change_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM nextval('wq_change_seq');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS tasks_bump_change_insert ON tasks;
CREATE TRIGGER tasks_bump_change_insert AFTER INSERT ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION wq_bump_change_v1();
DROP TRIGGER IF EXISTS tasks_bump_change_status ON tasks;
CREATE TRIGGER tasks_bump_change_status AFTER UPDATE OF status ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION wq_bump_change_v1();

-- wq_poll_v1: the change counter, and seconds until the earliest retry back-off ends (NULL if none).
CREATE OR REPLACE FUNCTION wq_poll_v1()
RETURNS TABLE (change_counter bigint, next_wakeup float8)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM wq_change_seq), wq_next_wakeup_v1();
$$;

-- wq_schema_version_v1: the newest migration applied, so a worker can tell an outdated schema.
CREATE OR REPLACE FUNCTION wq_schema_version_v1()
RETURNS integer LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT max(version) FROM queue_migrations;
$$;
