-- 130: an orchestrator's row tells its run's truth while the rows it fanned out work.
--
-- Once an orchestrator has fanned out (awaiting_task_id set) no worker holds it: its worker_id is
-- cleared. From then on, every change of a child's status, progress or progress message writes the
-- run's state onto the orchestrator's row: `progress` is the children's mean (a Complete child counts
-- 1), `progress_message` is the message of the child that reported ("segment 2/4 rendering: step 3/8"),
-- or "k of n steps done" between steps. The same rules live in sql/sqlite/130_run_summary.sql.
--
-- The summary is best effort and never waits: when the orchestrator's row is locked (a cancel walking
-- the run, another child writing its summary) this change skips it and the next one writes it. So a
-- child's progress write never waits on, or deadlocks with, a cancel that locks the orchestrator first.

-- wq_tasks_before_await_v1: an orchestrator that fans out is no worker's any more; its summary starts.
CREATE OR REPLACE FUNCTION wq_tasks_before_await_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    NEW.worker_id := NULL;
    SELECT coalesce(avg(CASE WHEN c.status = 'Complete' THEN 1.0 ELSE coalesce(c.progress, 0.0) END), 0.0),
           count(*) FILTER (WHERE c.status = 'Complete') || ' of ' || count(*) || ' steps done'
    INTO NEW.progress, NEW.progress_message
    FROM tasks AS c WHERE c.parent_task_id = NEW.id;
    RETURN NEW;
END $$;

-- wq_tasks_after_child_change_v1: a child's status or progress changed: its orchestrator's summary follows.
CREATE OR REPLACE FUNCTION wq_tasks_after_child_change_v1()
RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_progress float8;
    v_message text;
BEGIN
    PERFORM 1 FROM tasks
    WHERE id = NEW.parent_task_id AND status = 'In Progress' AND awaiting_task_id IS NOT NULL
    FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(avg(CASE WHEN c.status = 'Complete' THEN 1.0 ELSE coalesce(c.progress, 0.0) END), 0.0),
           count(*) FILTER (WHERE c.status = 'Complete') || ' of ' || count(*) || ' steps done'
    INTO v_progress, v_message
    FROM tasks AS c WHERE c.parent_task_id = NEW.parent_task_id;
    UPDATE tasks SET
        progress = v_progress,
        progress_message = CASE WHEN NEW.status = 'In Progress' AND NEW.progress_message IS NOT NULL
                                THEN NEW.progress_message ELSE v_message END,
        updated_at = now()
    WHERE id = NEW.parent_task_id;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS tasks_before_await ON tasks;
CREATE TRIGGER tasks_before_await BEFORE UPDATE OF awaiting_task_id ON tasks
    FOR EACH ROW WHEN (NEW.awaiting_task_id IS NOT NULL AND OLD.awaiting_task_id IS NULL)
    EXECUTE FUNCTION wq_tasks_before_await_v1();
DROP TRIGGER IF EXISTS tasks_after_child_change ON tasks;
CREATE TRIGGER tasks_after_child_change AFTER UPDATE OF status, progress, progress_message ON tasks
    FOR EACH ROW WHEN (NEW.parent_task_id IS NOT NULL AND (OLD.status, OLD.progress, OLD.progress_message)
                       IS DISTINCT FROM (NEW.status, NEW.progress, NEW.progress_message))
    EXECUTE FUNCTION wq_tasks_after_child_change_v1();

SELECT wq_secure_queue_v1();
