-- 190: poster frames. A finished video's poster is recorded in the row's params as `thumbnail_url`
-- (queries.sql: record_thumbnail), and an orchestrator that completes with a child's output gets the
-- child's poster too (this trigger, up the chain of awaiting orchestrators).
CREATE TRIGGER IF NOT EXISTS tasks_thumbnail AFTER UPDATE OF status ON tasks
WHEN NEW.status = 'Complete' AND OLD.status IS NOT 'Complete'
     AND json_extract(NEW.params, '$.thumbnail_url') IS NOT NULL
BEGIN
    UPDATE tasks SET params = json_set(params, '$.thumbnail_url', json_extract(NEW.params, '$.thumbnail_url'))
    WHERE id IN (SELECT id FROM (
        WITH RECURSIVE waiting(id) AS (
            SELECT t.id FROM tasks AS t WHERE t.awaiting_task_id = NEW.id
            UNION
            SELECT t.id FROM tasks AS t JOIN waiting AS w ON t.awaiting_task_id = w.id)
        SELECT id FROM waiting));
END;
