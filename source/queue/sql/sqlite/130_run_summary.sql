-- 130: an orchestrator's row tells its run's truth while the rows it fanned out work.
--
-- Once an orchestrator has fanned out (awaiting_task_id set) no worker holds it: its worker_id is
-- cleared. From then on, every change of a child's status, progress or progress message writes the
-- run's state onto the orchestrator's row: `progress` is the children's mean (a Complete child counts
-- 1), `progress_message` is the message of the child that reported ("segment 2/4 rendering: step 3/8"),
-- or "k of n steps done" between steps. The same rules live in sql/postgres/130_run_summary.sql.

-- The run's progress and message from its children, for one orchestrator row.
CREATE TRIGGER IF NOT EXISTS tasks_after_await AFTER UPDATE OF awaiting_task_id ON tasks
WHEN NEW.awaiting_task_id IS NOT NULL AND OLD.awaiting_task_id IS NULL
BEGIN
    UPDATE tasks SET
        worker_id = NULL,
        progress = (SELECT avg(CASE WHEN c.status = 'Complete' THEN 1.0 ELSE coalesce(c.progress, 0.0) END)
                    FROM tasks AS c WHERE c.parent_task_id = NEW.id),
        progress_message = (SELECT sum(c.status = 'Complete') || ' of ' || count(*) || ' steps done'
                            FROM tasks AS c WHERE c.parent_task_id = NEW.id)
    WHERE id = NEW.id;
END;

CREATE TRIGGER IF NOT EXISTS tasks_after_child_change AFTER UPDATE OF status, progress, progress_message ON tasks
WHEN NEW.parent_task_id IS NOT NULL
BEGIN
    UPDATE tasks SET
        progress = (SELECT avg(CASE WHEN c.status = 'Complete' THEN 1.0 ELSE coalesce(c.progress, 0.0) END)
                    FROM tasks AS c WHERE c.parent_task_id = NEW.parent_task_id),
        progress_message = CASE
            WHEN NEW.status = 'In Progress' AND NEW.progress_message IS NOT NULL THEN NEW.progress_message
            ELSE (SELECT sum(c.status = 'Complete') || ' of ' || count(*) || ' steps done'
                  FROM tasks AS c WHERE c.parent_task_id = NEW.parent_task_id) END,
        updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'
    WHERE id = NEW.parent_task_id AND status = 'In Progress' AND awaiting_task_id IS NOT NULL;
END;
