-- 100: rows written in the original tool's format keep their meaning, and a row records the keys of its
-- params that its task type does not use.
--
-- * `ignored_keys`: a JSON list of those keys (with the closest known name), written by the worker when
--   it validates the row's params; NULL until then. Apps read it on the row; `add_task.py --status` and
--   `steerable_motion.py status` print it.
-- * `params.task_id`, when it is a non-empty string, is the row's id (the original tool stored a task's
--   id there). Rows the queue itself inserts always have id = params.task_id or no task_id key, so this
--   only renames rows an app writes directly with `task_type` and `params`. SQLite cannot change NEW in
--   a trigger, so the row is inserted again under its id and the first insert is dropped (RAISE(IGNORE):
--   the app's statement reports 0 rows changed). Columns a client may write are carried over; an id
--   that exists already makes the insert fail (UNIQUE), as it did in the original tool.
-- * `params.project_id` fills an empty `project_id`.

ALTER TABLE tasks ADD COLUMN ignored_keys TEXT;

CREATE TRIGGER IF NOT EXISTS tasks_id_from_params BEFORE INSERT ON tasks
WHEN CASE WHEN json_valid(NEW.params)
          THEN json_type(NEW.params, '$.task_id') = 'text' AND trim(json_extract(NEW.params, '$.task_id')) <> ''
               AND NEW.id IS NOT trim(json_extract(NEW.params, '$.task_id'))
          ELSE 0 END
BEGIN
    INSERT INTO tasks (id, task_type, params, status, dependant_on, run_id, project_id, parent_task_id,
                       priority, max_attempts, output_location, error_message, created_at, updated_at)
    VALUES (trim(json_extract(NEW.params, '$.task_id')), NEW.task_type, NEW.params, NEW.status,
            NEW.dependant_on, NEW.run_id, NEW.project_id, NEW.parent_task_id, NEW.priority, NEW.max_attempts,
            NEW.output_location, NEW.error_message, NEW.created_at, NEW.updated_at);
    SELECT RAISE(IGNORE);
END;

CREATE TRIGGER IF NOT EXISTS tasks_project_from_params AFTER INSERT ON tasks
WHEN NEW.project_id IS NULL AND CASE WHEN json_valid(NEW.params)
          THEN json_type(NEW.params, '$.project_id') = 'text' AND trim(json_extract(NEW.params, '$.project_id')) <> ''
          ELSE 0 END
BEGIN
    UPDATE tasks SET project_id = trim(json_extract(NEW.params, '$.project_id')) WHERE id = NEW.id;
END;
