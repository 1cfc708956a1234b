-- 190: poster frames. A finished video's poster (its first frame, a small JPEG beside it) is recorded
-- in the row's params as `thumbnail_url`, where the original tool's apps read it, and an orchestrator
-- that completes with a child's output gets the child's poster too.

-- wq_record_thumbnail_v1: params.thumbnail_url for an attempt this worker still owns (written just
-- before the row completes).
CREATE OR REPLACE FUNCTION wq_record_thumbnail_v1(p_task_id text, p_worker_id text, p_attempt integer,
                                                  p_thumbnail_url text)
RETURNS boolean LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE tasks SET params = jsonb_set(coalesce(params, '{}'::jsonb), '{thumbnail_url}', to_jsonb(p_thumbnail_url))
    WHERE id = p_task_id AND worker_id = p_worker_id AND attempts = p_attempt AND status = 'In Progress'
      AND awaiting_task_id IS NULL;
    RETURN FOUND;
END $$;

-- wq_tasks_thumbnail_v1: a row became Complete with a poster: the orchestrators awaiting it (which
-- complete with its output), and those awaiting them, take the poster as well.
CREATE OR REPLACE FUNCTION wq_tasks_thumbnail_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.params ? 'thumbnail_url' THEN
        UPDATE tasks SET params = jsonb_set(coalesce(params, '{}'::jsonb), '{thumbnail_url}',
                                            NEW.params -> 'thumbnail_url')
        WHERE tasks.id IN (
            WITH RECURSIVE waiting(id) AS (
                SELECT t.id FROM tasks AS t WHERE t.awaiting_task_id = NEW.id
                UNION
                SELECT t.id FROM tasks AS t JOIN waiting AS w ON t.awaiting_task_id = w.id)
            SELECT id FROM waiting);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS tasks_thumbnail ON tasks;
CREATE TRIGGER tasks_thumbnail AFTER UPDATE OF status ON tasks
    FOR EACH ROW WHEN (NEW.status = 'Complete' AND OLD.status IS DISTINCT FROM 'Complete')
    EXECUTE FUNCTION wq_tasks_thumbnail_v1();

SELECT wq_secure_queue_v1();
