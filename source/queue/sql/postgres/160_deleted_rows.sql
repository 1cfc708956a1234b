-- 160: a deleted row hangs nothing, and dependant_on changed by an UPDATE is checked like an insert.
-- The same rules live in sql/sqlite/160_deleted_rows.sql.
--
-- A row deleted while others still wait on it: its Queued / In Progress dependants fail naming it
-- ("dependency X was deleted"), and so do the orchestrators awaiting it; wq_tasks_after_status_v1
-- carries the failure on to their own dependants. Rows left waiting on a row deleted before this
-- migration fail the same way when it is applied.

CREATE OR REPLACE FUNCTION wq_tasks_after_delete_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE tasks SET status = 'Failed', error_message = 'dependency ' || OLD.id || ' was deleted',
                     lease_expires_at = NULL, finished_at = now(), updated_at = now()
    WHERE tasks.status IN ('Queued', 'In Progress')
      AND tasks.id IN (SELECT d.task_id FROM task_dependencies AS d WHERE d.depends_on = OLD.id);
    UPDATE tasks SET status = 'Failed', error_message = 'awaited task ' || OLD.id || ' was deleted',
                     lease_expires_at = NULL, finished_at = now(), updated_at = now()
    WHERE tasks.status IN ('Queued', 'In Progress') AND tasks.awaiting_task_id = OLD.id;
    DELETE FROM task_dependencies WHERE task_id = OLD.id;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS tasks_after_delete ON tasks;
CREATE TRIGGER tasks_after_delete AFTER DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION wq_tasks_after_delete_v1();

-- wq_tasks_before_dependencies_update_v1: dependant_on changed by an UPDATE. Every id must exist and the
-- change must not close a cycle (the row among what its new dependencies wait on, transitively), else the
-- UPDATE is refused; once accepted, the row's edges and its count of unmet dependencies follow the list.
CREATE OR REPLACE FUNCTION wq_tasks_before_dependencies_update_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_deps text[] := wq_parse_dependencies_v1(NEW.dependant_on);
    v_missing text;
BEGIN
    NEW.dependant_on := CASE WHEN cardinality(v_deps) = 0 THEN NULL ELSE to_jsonb(v_deps)::text END;
    IF NEW.id = ANY (v_deps) THEN
        RAISE EXCEPTION 'task % lists itself in dependant_on', NEW.id USING ERRCODE = '22023';
    END IF;
    SELECT d INTO v_missing FROM unnest(v_deps) AS d
    WHERE NOT EXISTS (SELECT 1 FROM tasks AS t WHERE t.id = d) LIMIT 1;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'task %: dependant_on names task %, which does not exist', NEW.id, v_missing
            USING ERRCODE = '22023';
    END IF;
    IF EXISTS (
        WITH RECURSIVE up(id) AS (
            SELECT unnest(v_deps)
            UNION
            SELECT d.depends_on FROM task_dependencies AS d JOIN up ON d.task_id = up.id)
        SELECT 1 FROM up WHERE up.id = NEW.id)
    THEN
        RAISE EXCEPTION 'task %: dependant_on would make a dependency cycle (a task waiting, through others, on itself)',
            NEW.id USING ERRCODE = '22023';
    END IF;
    DELETE FROM task_dependencies WHERE task_id = NEW.id;
    INSERT INTO task_dependencies (task_id, depends_on)
    SELECT NEW.id, d FROM unnest(v_deps) AS d ON CONFLICT DO NOTHING;
    SELECT count(*) INTO NEW.unmet_dependencies FROM tasks AS t
    WHERE t.id = ANY (v_deps) AND t.status <> 'Complete';
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS tasks_before_dependencies_update ON tasks;
CREATE TRIGGER tasks_before_dependencies_update BEFORE UPDATE OF dependant_on ON tasks
    FOR EACH ROW WHEN (OLD.dependant_on IS DISTINCT FROM NEW.dependant_on)
    EXECUTE FUNCTION wq_tasks_before_dependencies_update_v1();

-- Rows already waiting on a deleted row, or orchestrators awaiting one, when this migration runs.
UPDATE tasks SET
    status = 'Failed',
    error_message = 'dependency ' || (SELECT min(d.depends_on COLLATE "C") FROM task_dependencies AS d
                                      WHERE d.task_id = tasks.id
                                        AND NOT EXISTS (SELECT 1 FROM tasks AS p WHERE p.id = d.depends_on))
                    || ' was deleted',
    lease_expires_at = NULL, finished_at = now(), updated_at = now()
WHERE status IN ('Queued', 'In Progress') AND EXISTS (
    SELECT 1 FROM task_dependencies AS d WHERE d.task_id = tasks.id
      AND NOT EXISTS (SELECT 1 FROM tasks AS p WHERE p.id = d.depends_on));

UPDATE tasks SET
    status = 'Failed', error_message = 'awaited task ' || awaiting_task_id || ' was deleted',
    lease_expires_at = NULL, finished_at = now(), updated_at = now()
WHERE status = 'In Progress' AND awaiting_task_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM tasks AS p WHERE p.id = tasks.awaiting_task_id);

SELECT wq_secure_queue_v1();
