-- 160: a deleted row hangs nothing, and dependant_on changed by an UPDATE is checked like an insert.
-- The same rules live in sql/postgres/160_deleted_rows.sql.
--
-- A row deleted while others still wait on it: its Queued / In Progress dependants fail naming it
-- ("dependency X was deleted"), and so do the orchestrators awaiting it; the trigger of 001_schema.sql
-- carries the failure on to their own dependants. Rows left waiting on a row deleted before this
-- migration fail the same way when it is applied.

CREATE TRIGGER IF NOT EXISTS tasks_after_delete AFTER DELETE ON tasks
BEGIN
    UPDATE tasks SET
        status = 'Failed',
        error_message = 'dependency ' || OLD.id || ' was deleted',
        lease_expires_at = NULL,
        finished_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000',
        updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'
    WHERE status IN ('Queued', 'In Progress')
      AND id IN (SELECT d.task_id FROM task_dependencies AS d WHERE d.depends_on = OLD.id);

    UPDATE tasks SET
        status = 'Failed',
        error_message = 'awaited task ' || OLD.id || ' was deleted',
        lease_expires_at = NULL,
        finished_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000',
        updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'
    WHERE status IN ('Queued', 'In Progress') AND awaiting_task_id = OLD.id;

    DELETE FROM task_dependencies WHERE task_id = OLD.id;
END;

-- dependant_on changed by an UPDATE: every id must exist, and the change must not close a cycle (the row
-- itself among what its new dependencies wait on, transitively); else the UPDATE is refused.
CREATE TRIGGER IF NOT EXISTS tasks_before_dependencies_update BEFORE UPDATE OF dependant_on ON tasks
WHEN NEW.dependant_on IS NOT OLD.dependant_on AND NEW.dependant_on IS NOT NULL
     AND trim(NEW.dependant_on) NOT IN ('', '[]')
BEGIN
    SELECT RAISE(ABORT, 'dependant_on names a task that does not exist (or the task itself)')
    WHERE EXISTS (
        SELECT 1 FROM json_each(CASE
                WHEN json_valid(NEW.dependant_on) AND json_type(NEW.dependant_on) = 'array' THEN json(NEW.dependant_on)
                WHEN json_valid(NEW.dependant_on) AND json_type(NEW.dependant_on) = 'text'
                    THEN json_array(trim(json_extract(NEW.dependant_on, '$')))
                ELSE json_array(trim(NEW.dependant_on)) END) AS dep
        WHERE dep.value = NEW.id OR NOT EXISTS (SELECT 1 FROM tasks AS p WHERE p.id = dep.value));

    SELECT RAISE(ABORT, 'dependant_on would make a dependency cycle (a task waiting, through others, on itself)')
    WHERE EXISTS (SELECT 1 FROM (
        WITH RECURSIVE up(id) AS (
            SELECT dep.value FROM json_each(CASE
                WHEN json_valid(NEW.dependant_on) AND json_type(NEW.dependant_on) = 'array' THEN json(NEW.dependant_on)
                WHEN json_valid(NEW.dependant_on) AND json_type(NEW.dependant_on) = 'text'
                    THEN json_array(trim(json_extract(NEW.dependant_on, '$')))
                ELSE json_array(trim(NEW.dependant_on)) END) AS dep
            UNION
            SELECT d.depends_on FROM task_dependencies AS d JOIN up ON d.task_id = up.id)
        SELECT id FROM up) AS reached WHERE reached.id = NEW.id);
END;

-- ... and once accepted, the row's edges and its count of unmet dependencies follow the new list (this
-- also runs, harmlessly, when the insert trigger of 001_schema.sql normalises a new row's list).
CREATE TRIGGER IF NOT EXISTS tasks_after_dependencies_update AFTER UPDATE OF dependant_on ON tasks
WHEN NEW.dependant_on IS NOT OLD.dependant_on
BEGIN
    UPDATE tasks SET dependant_on = CASE
            WHEN NEW.dependant_on IS NULL OR trim(NEW.dependant_on) IN ('', '[]') THEN NULL
            WHEN json_valid(NEW.dependant_on) AND json_type(NEW.dependant_on) = 'array' THEN json(NEW.dependant_on)
            WHEN json_valid(NEW.dependant_on) AND json_type(NEW.dependant_on) = 'text'
                THEN json_array(trim(json_extract(NEW.dependant_on, '$')))
            ELSE json_array(trim(NEW.dependant_on)) END
    WHERE id = NEW.id AND NEW.dependant_on IS NOT NULL;
    DELETE FROM task_dependencies WHERE task_id = NEW.id;
    INSERT OR IGNORE INTO task_dependencies (task_id, depends_on)
    SELECT NEW.id, dep.value FROM json_each(CASE
            WHEN NEW.dependant_on IS NULL OR trim(NEW.dependant_on) IN ('', '[]') THEN '[]'
            WHEN json_valid(NEW.dependant_on) AND json_type(NEW.dependant_on) = 'array' THEN json(NEW.dependant_on)
            WHEN json_valid(NEW.dependant_on) AND json_type(NEW.dependant_on) = 'text'
                THEN json_array(trim(json_extract(NEW.dependant_on, '$')))
            ELSE json_array(trim(NEW.dependant_on)) END) AS dep;
    UPDATE tasks SET unmet_dependencies = (
        SELECT count(*) FROM task_dependencies AS d JOIN tasks AS p ON p.id = d.depends_on
        WHERE d.task_id = NEW.id AND p.status <> 'Complete')
    WHERE id = NEW.id;
END;

-- Rows already waiting on a deleted row, or orchestrators awaiting one, when this migration runs.
UPDATE tasks SET
    status = 'Failed',
    error_message = 'dependency ' || (SELECT min(d.depends_on) FROM task_dependencies AS d
                                      WHERE d.task_id = tasks.id
                                        AND NOT EXISTS (SELECT 1 FROM tasks AS p WHERE p.id = d.depends_on))
                    || ' was deleted',
    lease_expires_at = NULL,
    finished_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000',
    updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'
WHERE status IN ('Queued', 'In Progress') AND EXISTS (
    SELECT 1 FROM task_dependencies AS d WHERE d.task_id = tasks.id
      AND NOT EXISTS (SELECT 1 FROM tasks AS p WHERE p.id = d.depends_on));

UPDATE tasks SET
    status = 'Failed',
    error_message = 'awaited task ' || awaiting_task_id || ' was deleted',
    lease_expires_at = NULL,
    finished_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000',
    updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'
WHERE status = 'In Progress' AND awaiting_task_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM tasks AS p WHERE p.id = tasks.awaiting_task_id);
